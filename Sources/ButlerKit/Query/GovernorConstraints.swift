/// Rubin's sanity check on `--where` expressions: a term on a dimension that depends on a governor (`visit = 5`,
/// `tract = 4`, `detector.full_name = 'Ab'`) means nothing until that governor (`instrument`, `skymap`) is named too,
/// so a query whose expression never names it is refused rather than answered over every instrument or sky map.
///
/// The rule is Rubin's (`PredicateConstraintsSummary.apply_default_data_id`): governors needed are those of the
/// dimension keys and alternate keys the expression names; a governor counts as constrained when the expression names
/// its key anywhere (in any branch), as Rubin's does.
extension Expression {
    /// The first governor (in universe order) that a term of the expression depends on and that the expression never
    /// names, with the column of the first such term; `nil` when every such governor is named.
    ///
    /// - Parameters:
    ///   - given: dimensions whose values the query is given besides the expression (Rubin's `data_id`): a governor
    ///     among them is named.
    ///   - recordElement: the element of a records query, whose fields may be named without a prefix (`obs_id`).
    func unconstrainedGovernor(in universe: DimensionUniverse, given: some Sequence<String> = [String](),
                               recordElement: String? = nil) -> (governor: String, column: Int)? {
        var needed: [String: Int] = [:]
        var named = Set(given)
        forEachName { names, column in
            var parts = names
            // As Rubin reads names: a field of the records' element without its prefix (`obs_id`), and a dimension of
            // an element named through it (`visit.instrument` is the instrument, `exposure.physical_filter` the filter).
            if parts.count == 1, universe[parts[0]] == nil, let recordElement { parts.insert(recordElement, at: 0) }
            if parts.count == 2, let owner = universe[parts[0]], universe.requiredDimensions(of: owner.name).contains(parts[1]) || owner.implies.contains(parts[1]) {
                parts = [parts[1]]
            }
            guard let element = universe[parts[0]], element.isDimension else { return }
            // `visit` and `visit.id` name the key; `exposure.obs_id` an alternate key; other fields need no governor.
            let isKey = parts.count == 1 || parts[1] == element.primaryKey?.name
            let isAlternateKey = parts.count == 2 && element.keys.dropFirst().contains { $0.name == parts[1] }
            guard isKey || isAlternateKey else { return }
            if element.isGovernor {
                named.insert(element.name)
            } else if let governor = universe.requiredDimensions(of: element.name).first(where: { universe[$0]?.isGovernor == true }) {
                needed[governor] = min(needed[governor] ?? column, column)
            }
        }
        return universe.governors.map(\.name).lazy.compactMap { g in
            needed[g].flatMap { named.contains(g) ? nil : (g, $0) }
        }.first
    }
}
