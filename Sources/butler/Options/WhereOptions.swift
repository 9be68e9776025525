import ArgumentParser
import ButlerKit

/// `--where`, `--bind`, `--order-by`, `--limit` and `--offset`, shared by the query commands.
struct WhereOptions: ParsableArguments {
    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Constraint in Rubin's expression language, e.g. \"instrument = 'LATISS' AND exposure > 2023032100000\".", valueName: "expression"))
    var `where`: String = ""

    @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Value for :name in --where (repeatable; a comma-separated value is a list for IN).", valueName: "name=value"))
    var bind: [String] = []

    @Option(name: .long, parsing: .unconditionalSingleValue, help: ArgumentHelp("Order by these names (comma-separated or repeated; -name for descending).", valueName: "names"))
    var orderBy: [String] = []

    @Option(name: .long, help: "At most this many results (per dataset type for datasets; 0: no limit).")
    var limit: Int = 0

    @Option(name: .long, help: "Skip this many results first.")
    var offset: Int = 0

    func validate() throws {
        if limit < 0 { throw ValidationError("--limit must be 0 (no limit) or positive") }
        if offset < 0 { throw ValidationError("--offset must not be negative") }
        _ = try binds()
    }

    func binds() throws -> [String: BindValue] {
        var result: [String: BindValue] = [:]
        for item in bind {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else { throw ValidationError("--bind takes name=value, not '\(item)'") }
            result[parts[0]] = BindValue(parsing: parts[1])
        }
        return result
    }

    func apply(to query: inout DatasetQuery) throws {
        query.where = `where`
        query.binds = try binds()
        query.orderBy = orderBy
        query.limit = limit > 0 ? limit : nil
        query.offset = offset
    }
}
