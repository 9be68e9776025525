public import Foundation

/// Selects datasets by how they were made; part of a ``DatasetQuery``.
///
/// Values of one kind are alternatives (any of them); kinds combine with each other and with `--where` (all of them).
public struct ProvenanceSelection: Sendable {
    /// Datasets derived, through any number of steps, from any of these.
    public var derivedFrom: [UUID] = []
    /// Datasets made by a step with one of these task labels.
    public var producedBy: [String] = []
    /// Datasets made by a step whose environment had one of these packages at this version. The name `code`
    /// matches the step's own code commit (a prefix of it is enough).
    public var producedWith: [(name: String, version: String)] = []
    /// Datasets made by a step that used a config file with one of these SHA-256 hashes (a prefix of at least
    /// 6 characters is enough).
    public var configHashes: [String] = []

    public init() {}

    /// Whether no provenance constraint is set.
    public var isEmpty: Bool { derivedFrom.isEmpty && producedBy.isEmpty && producedWith.isEmpty && configHashes.isEmpty }

    /// Parses `NAME=VERSION`.
    ///
    /// - Throws: ``ButlerError/Code/invalidValue`` naming the text when it has no `=` or an empty side.
    public static func package(_ text: String) throws -> (name: String, version: String) {
        let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map { String($0).trimmedSpaces }
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw ButlerError(.invalidValue, "--produced-with takes NAME=VERSION (a package and its version, or code=COMMIT), not '\(text)'")
        }
        return (parts[0], parts[1].hasPrefix("=") ? String(parts[1].dropFirst()) : parts[1])
    }

    /// One subquery per kind of constraint, each selecting dataset ids as `id`; values are bound through `bind`.
    ///
    /// - Throws: ``ButlerError/Code/invalidValue`` for a config hash that is not hex.
    func subqueries(bind: (SQLValue) -> String) throws -> [String] {
        var result: [String] = []
        let outputsOf = { (quanta: String) in "SELECT o.dataset_id AS id FROM quantum_output AS o WHERE o.quantum_id IN (\(quanta))" }
        if !producedBy.isEmpty {
            result.append(outputsOf("SELECT q.id FROM quantum AS q WHERE \(taskTest("q", bind: bind))"))
        }
        if !producedWith.isEmpty {
            result.append(outputsOf("SELECT q.id FROM quantum AS q WHERE \(environmentTest("q", bind: bind))"))
        }
        if !configHashes.isEmpty {
            result.append(outputsOf("SELECT c.quantum_id FROM quantum_config AS c WHERE " + (try configTest("c", bind: bind))))
        }
        if !derivedFrom.isEmpty { result.append(derivedSubquery(bind: bind)) }
        return result
    }

    /// The same constraints as ``subqueries(bind:)``, as conditions on the dataset id in `column` that look up that
    /// dataset's own step: for a query whose other terms already select few datasets (one night of a release), which
    /// then costs a few lookups per dataset instead of a pass over every output of a software release.
    ///
    /// - Throws: ``ButlerError/Code/invalidValue`` for a config hash that is not hex.
    func conditions(on column: String, bind: (SQLValue) -> String) throws -> [String] {
        var result: [String] = []
        let madeBy = { (test: String) in
            "EXISTS (SELECT 1 FROM quantum_output AS sel_o JOIN quantum AS sel_q ON sel_q.id = sel_o.quantum_id WHERE sel_o.dataset_id = \(column) AND \(test))"
        }
        if !producedBy.isEmpty { result.append(madeBy(taskTest("sel_q", bind: bind))) }
        if !producedWith.isEmpty { result.append(madeBy(environmentTest("sel_q", bind: bind))) }
        if !configHashes.isEmpty {
            result.append("EXISTS (SELECT 1 FROM quantum_output AS sel_o JOIN quantum_config AS sel_c ON sel_c.quantum_id = sel_o.quantum_id "
                          + "WHERE sel_o.dataset_id = \(column) AND (\(try configTest("sel_c", bind: bind))))")
        }
        if !derivedFrom.isEmpty { result.append("\(column) IN (\(derivedSubquery(bind: bind)))") }
        return result
    }

    /// The step `alias` ran one of the tasks.
    private func taskTest(_ alias: String, bind: (SQLValue) -> String) -> String {
        "\(alias).task_label IN (\(producedBy.map { bind(.text($0)) }.joined(separator: ", ")))"
    }

    /// The step `alias` ran in an environment with one of the package versions (or code commits).
    private func environmentTest(_ alias: String, bind: (SQLValue) -> String) -> String {
        let environments = producedWith.map { p -> String in
            p.name == "code"
                ? "SELECT e.id FROM software_environment AS e WHERE e.code_commit >= \(bind(.text(p.version))) AND e.code_commit < \(bind(.text(p.version + "~")))"
                : "SELECT p.environment_id FROM environment_package AS p WHERE p.name = \(bind(.text(p.name))) AND p.version = \(bind(.text(p.version)))"
        }.joined(separator: " UNION ")
        return "\(alias).environment_id IN (\(environments))"
    }

    /// The quantum_config row `alias` has one of the config hashes (or prefixes).
    private func configTest(_ alias: String, bind: (SQLValue) -> String) throws -> String {
        try configHashes.map { raw -> String in
            let hash = raw.lowercased()
            guard hash.count >= 6, hash.allSatisfy(\.isHexDigit) else {
                throw ButlerError(.invalidValue, "--config-hash takes a SHA-256 in hex (at least its first 6 characters), not '\(raw)'")
            }
            return "(\(alias).config_hash >= \(bind(.text(hash))) AND \(alias).config_hash < \(bind(.text(hash + "g"))))"
        }.joined(separator: " OR ")
    }

    /// Every dataset made, transitively, from the seeds.
    private func derivedSubquery(bind: (SQLValue) -> String) -> String {
        let seeds = derivedFrom.map { bind(.text($0.lowercasedString)) }.joined(separator: ", ")
        return """
            WITH RECURSIVE derived(id) AS (
                SELECT o.dataset_id FROM quantum_input AS i JOIN quantum_output AS o ON o.quantum_id = i.quantum_id WHERE i.dataset_id IN (\(seeds))
                UNION
                SELECT o.dataset_id FROM derived JOIN quantum_input AS i ON i.dataset_id = derived.id
                JOIN quantum_output AS o ON o.quantum_id = i.quantum_id)
            SELECT id FROM derived
            """
    }

    /// The name of the TEMP table ``materialize(in:)`` fills.
    static let table = "butler_selection"

    /// Evaluates the selection once into a TEMP table `butler_selection (id, dataset_type_id)`, so that each dataset
    /// type's query starts from the few selected datasets instead of scanning all of its datasets.
    ///
    /// - Returns: the dataset type ids that have selected datasets.
    func materialize(in c: any SQLConnection) throws -> Set<Int64> {
        var parameters: [SQLValue] = []
        let queries = try subqueries { parameters.append($0); return "?\(parameters.count)" }
        guard let first = queries.first else { return [] }
        let d = c.dialect
        try c.execute("CREATE TEMP TABLE IF NOT EXISTS \(Self.table) (dataset_type_id \(d.bigint) NOT NULL, id \(d.uuid) NOT NULL, PRIMARY KEY (dataset_type_id, id))")
        try c.execute("DELETE FROM \(Self.table)")
        // The selection is the outer loop and each of its datasets is looked up by id: SQLite's CROSS JOIN keeps that
        // order; on PostgreSQL a LATERAL lookup behind OFFSET 0 (which keeps it from being turned back into a join),
        // since its planner guesses a recursive --derived-from at ~180,000 rows and would hash the whole dataset
        // table for the 8 it finds (280 ms on the 1M release).
        let lookup = d.engine == .sqlite
            ? "CROSS JOIN dataset AS d ON d.id = s.id"
            : "CROSS JOIN LATERAL (SELECT dl.id, dl.dataset_type_id FROM dataset AS dl WHERE dl.id = s.id OFFSET 0) AS d"
        let others = queries.dropFirst().map { " AND d.id IN (\($0))" }.joined()
        try c.execute("""
            \(d.insertOrIgnore) \(Self.table) (id, dataset_type_id) SELECT d.id, d.dataset_type_id FROM (\(first)) AS s \(lookup)
            WHERE 1 = 1\(others)\(d.insertOrIgnoreSuffix)
            """, parameters)
        return Set(try c.query("SELECT DISTINCT dataset_type_id FROM \(Self.table)").compactMap { $0[0].int64 })
    }
}
