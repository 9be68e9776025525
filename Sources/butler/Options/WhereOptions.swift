import ArgumentParser
import ButlerKit
import Foundation

/// `--where`, `--bind`, `--order-by`, `--limit` and `--offset`, shared by the query commands.
struct WhereOptions: ParsableArguments {
    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Constraint in Rubin's expression language, e.g. \"instrument = 'LATISS' AND exposure > 2023032100000\".", valueName: "expression"))
    var `where`: String = ""

    @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Value for :name in --where (repeatable; a comma-separated value is a list for IN; a time T'...', a timespan (T'...', T'...'), UUID('...') or a region CIRCLE(...)/BOX(...)/POLYGON(...) is typed).", valueName: "name=value"))
    var bind: [String] = []

    @Option(name: .long, parsing: .unconditionalSingleValue, help: ArgumentHelp("Order by these names (comma-separated or repeated; -name for descending).", valueName: "names"))
    var orderBy: [String] = []

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp(
        "At most this many results (per dataset type for datasets); 0: no limit; -N (Rubin's form): at most N, with a warning when there are more.",
        valueName: "limit"))
    var limit: Int = 0

    @Option(name: .long, help: "Skip this many results first.")
    var offset: Int = 0

    func validate() throws {
        if offset < 0 { throw ValidationError("--offset must not be negative") }
        _ = try binds()
    }

    func binds() throws -> [String: BindValue] {
        var result: [String: BindValue] = [:]
        for item in bind {
            // `name=` binds the empty string, as Rubin's bind of "" does.
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else { throw ValidationError("--bind takes name=value, not '\(item)'") }
            do { result[parts[0]] = try BindValue.parse(parts[1]) } catch let error as ButlerError { throw ValidationError("--bind \(parts[0]): \(error.message)") }
        }
        return result
    }

    /// The most results to ask the registry for. A negative limit asks for one more than it shows when `warns`,
    /// so that ``capped(_:what:)`` knows there were more.
    func registryLimit(warns: Bool) -> Int? {
        limit > 0 ? limit : limit < 0 ? -limit + (warns ? 1 : 0) : nil
    }

    /// The rows a negative limit keeps (all for a positive or no limit), with Rubin's warning on stderr when some are
    /// left out.
    func capped<Row>(_ rows: [Row], what: String) -> [Row] {
        guard limit < 0, rows.count > -limit else { return rows }
        warnCapped(what)
        return Array(rows.prefix(-limit))
    }

    /// The warning of a negative limit that left results out.
    func warnCapped(_ what: String) {
        writeStandardError("butler: warning: more than \(-limit) \(what) match; showing the first \(-limit) (--limit 0 shows all)\n")
    }

    /// Puts the expression, binds, order, limit and offset into a dataset query.
    ///
    /// - Parameter warns: the caller shows results through ``capped(_:what:)`` (a query command), so a negative
    ///   limit fetches one more; otherwise (commands that act on what they find) it is exactly N.
    func apply(to query: inout DatasetQuery, warns: Bool = false) throws {
        query.where = `where`
        query.binds = try binds()
        query.orderBy = orderBy
        query.limit = registryLimit(warns: warns)
        query.offset = offset
    }
}
