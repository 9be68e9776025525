/// The values a `--where` expression allows for a sky pixel dimension that is one of a query's dimensions
/// (`query-data-ids REPO visit htm7 --where "htm7 = 253952"`): the rows of such a query are pixels of records, so
/// a term on the pixel narrows the pixels listed, not only the records they come from.
///
/// Terms are read where they are top-level AND terms: `htm7 = N`, `N = htm7`, `htm7 IN (N, M..K)` (bind values
/// too). A pixel named anywhere else (under OR or NOT, in arithmetic) cannot be applied row by row here and is
/// refused, rather than answered with pixels the expression excludes.
extension Expression {
    /// The largest number of pixel values a range may list.
    static let skyPixValueLimit = 1_000_000

    /// The pixel values allowed for `dimension`, or `nil` when the expression does not constrain it.
    ///
    /// - Throws: ``ButlerError/Code/invalidValue`` when the pixel is named other than in a top-level AND term of
    ///   those forms.
    func allowedSkyPixels(of dimension: String, binds: [String: BindValue]) throws -> Set<Int>? {
        let terms: [Expression]
        if case .logical(let op, let items, _) = self, op.uppercased() == "AND" { terms = items } else { terms = [self] }
        var allowed: Set<Int>?
        for term in terms where term.names(dimension) {
            guard let values = try term.skyPixValues(of: dimension, binds: binds) else {
                throw ButlerError(.invalidValue, "invalid --where expression: \(dimension) is one of the query's dimensions, so it can only be "
                                  + "constrained by a term of its own joined with AND (\(dimension) = N or \(dimension) IN (...))")
            }
            allowed = allowed.map { $0.intersection(values) } ?? values
        }
        return allowed
    }

    /// Whether the expression names `dimension` anywhere.
    private func names(_ dimension: String) -> Bool {
        var found = false
        forEachName { parts, _ in if parts.first == dimension { found = true } }
        return found
    }

    /// The values of a term `dimension = N` or `dimension IN (...)`; nil for any other form.
    private func skyPixValues(of dimension: String, binds: [String: BindValue]) throws -> Set<Int>? {
        func isDimension(_ e: Expression) -> Bool { if case .name([dimension], _) = e { return true } else { return false } }
        func integers(_ e: Expression) -> [Int]? {
            switch e {
            case .literal(.integer(let n), _): return [n]
            case .bind(let name, _):
                switch binds[name] {
                case .integer(let n)?: return [n]
                case .list(let items)?:
                    let values = items.compactMap { item -> Int? in if case .integer(let n) = item { return n } else { return nil } }
                    return values.count == items.count ? values : nil
                default: return nil
                }
            default: return nil
            }
        }
        switch self {
        case .binary("=", let a, let b, _) where isDimension(a): return integers(b).map(Set.init)
        case .binary("=", let a, let b, _) where isDimension(b): return integers(a).map(Set.init)
        case .inList(let x, let items, negated: false, _) where isDimension(x):
            var values = Set<Int>()
            for item in items {
                switch item {
                case .value(let v):
                    guard let list = integers(v) else { return nil }
                    values.formUnion(list)
                case .range(let start, let stop, let stride, _):
                    let (span, overflow) = stop.subtractingReportingOverflow(start)
                    guard stride > 0, stop < start || (!overflow && span / stride < Self.skyPixValueLimit) else {
                        throw ButlerError(.invalidValue, "invalid --where expression: the range \(start)..\(stop) lists more than \(Self.skyPixValueLimit) \(dimension) values")
                    }
                    if start <= stop { values.formUnion(Swift.stride(from: start, through: stop, by: stride)) }
                }
            }
            return values
        default: return nil
        }
    }
}
