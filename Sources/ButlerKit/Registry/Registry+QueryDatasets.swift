public import Foundation

/// What to search for in ``Registry/queryDatasets(_:)-(DatasetQuery)``.
public struct DatasetQuery: Sendable {
    /// Dataset type names or glob patterns (all types when empty).
    public var datasetTypes: [String] = []
    /// Collections in search order (names, comma-separated lists or globs; all collections when empty).
    public var collections: [String] = []
    /// A `--where` expression in Rubin's language (empty: no constraint).
    public var `where` = ""
    /// Values for `:name` in the expression.
    public var binds: [String: BindValue] = [:]
    /// Dimension values the datasets must have (`["instrument": "LATISS"]`), as Rubin's `data_id` argument: equality
    /// constraints, and a governor named here satisfies the expression's need for it (`exposure = 5`).
    public var dataID: [String: DataIDValue] = [:]
    /// For each dataset type and data ID, only the dataset from the first collection in search order.
    public var findFirst = false
    /// Names to order by, `-name` for descending (data ID order by default).
    public var orderBy: [String] = []
    /// At most this many results per dataset type.
    public var limit: Int?
    /// Results to skip per dataset type.
    public var offset = 0
    /// Constraints on how the datasets were made (none by default).
    public var provenance = ProvenanceSelection()
    /// A named dataset type that does not exist matches nothing (with a reason), as in Rubin's `query-datasets`,
    /// instead of failing the query (the default, for commands that act on what they find).
    public var unknownTypesMatchNothing = false

    public init() {}
}

/// The datasets a query found, or why there are none.
public struct DatasetQueryResult: Sendable {
    public let datasets: [DatasetResult]
    /// When nothing was found: the reasons that could be found (no such collection, type not in these collections, ...).
    public let reasons: [String]
}

/// A dataset found by a query, with the collection it was found in.
public struct DatasetResult: Sendable, Hashable {
    /// The dataset.
    public let ref: DatasetRef
    /// The collection in which the search found it (its RUN, a TAGGED or a CALIBRATION collection).
    public let collection: String
    /// Found in a CALIBRATION collection: the validity range of this certification (a dataset certified several
    /// times is found once per range). `nil` for datasets found in RUN and TAGGED collections.
    public let validity: Timespan?

    public init(ref: DatasetRef, collection: String, validity: Timespan? = nil) {
        self.ref = ref
        self.collection = collection
        self.validity = validity
    }
}

extension Registry {
    /// Resolves collection arguments to an ordered list of non-chained collections to search.
    ///
    /// Names are expanded through chains, in order; glob patterns match collection names (any order, so they are
    /// refused with `findFirst`). No argument means every collection.
    /// - Throws: ``ButlerError/Code/notFound`` for a named collection that does not exist.
    package func resolveCollections(_ arguments: [String], findFirst: Bool, in c: any SQLConnection) throws -> [CollectionRecord] {
        let values = arguments.flatMap { $0.split(separator: ",").map { String($0).trimmedSpaces.normalizedName } }.filter { !$0.isEmpty }
        // Two queries load every collection and chain; chains are flattened in memory (a chain of hundreds of runs
        // costs no more than a short one). Names are keys as Swift compares them (canonically equivalent names are
        // one key): a registry made before names were normalized may hold one name in two Unicode forms, and a
        // search for it searches both rather than hiding one.
        var byName: [String: [CollectionRecord]] = [:]
        var children: [Int64: [String]] = [:]
        for row in try c.query("""
            SELECT collection_chain.parent, child.name FROM collection_chain
            JOIN collection AS child ON child.collection_id = collection_chain.child ORDER BY collection_chain.parent, collection_chain.position
            """) {
            if let p = row[0].int64, let n = row[1].string { children[p, default: []].append(n) }
        }
        var all: [CollectionRecord] = []
        for row in try c.query("SELECT collection_id, name, type, doc FROM collection ORDER BY name") {
            guard let id = row[0].int64, let name = row[1].string, let type = row[2].int.flatMap(CollectionType.init(rawValue:)) else { continue }
            let record = CollectionRecord(name: name, type: type, doc: row[3].string, children: children[id] ?? [], id: id)
            byName[name, default: []].append(record)
            all.append(record)
        }
        func flatten(_ name: String, _ path: Set<String>, _ out: inout [CollectionRecord]) {
            for record in byName[name] ?? [] {
                if record.type != .chained { out.append(record); continue }
                for child in record.children where !path.contains(child) { flatten(child, path.union([child]), &out) }
            }
        }
        var found: [CollectionRecord] = []
        if values.isEmpty || values == ["*"] || values == ["..."] {
            if findFirst {
                throw ButlerError(.invalidValue, "--find-first needs an ordered list of collections (--collections NAME,...), not all of them")
            }
            found = all.filter { $0.type != .chained }
        } else {
            for value in values {
                if NamePattern.hasWildcard(value) {
                    if findFirst {
                        throw ButlerError(.invalidValue, "--find-first needs collection names in search order, not the pattern '\(value)'")
                    }
                    let pattern = NamePattern([value])
                    for record in all where pattern.matches(record.name) { flatten(record.name, [record.name], &found) }
                } else {
                    guard byName[value] != nil else { throw ButlerError(.notFound, "no collection named '\(value)'") }
                    flatten(value, [value], &found)
                }
            }
        }
        var seen = Set<Int64>()
        return found.filter { seen.insert($0.id).inserted }
    }

    /// Whether searching `collections` (names, lists or globs, chains expanded; all when empty) reaches a CALIBRATION
    /// collection, so that found datasets can carry validity ranges.
    public func searchesCalibrationCollection(_ collections: [String]) throws -> Bool {
        try database.read { c in try resolveCollections(collections, findFirst: false, in: c).contains { $0.type == .calibration } }
    }

    /// The memberships of a dataset type in `collections`, as a source for FROM with the columns of its tags table
    /// plus `validity_begin`, `validity_end` and `in_calib`: the tags table itself when no CALIBRATION collection is
    /// searched, else the tags rows of the other collections and the certifications (one row per validity range) of
    /// the CALIBRATION ones.
    ///
    /// - Returns: the SQL, and whether certifications are part of it.
    package func membershipSource(_ stored: StoredDatasetType, _ collections: [CollectionRecord], in c: any SQLConnection) throws -> (sql: String, validity: Bool) {
        let calibrations = collections.filter { $0.type == .calibration }
        let table = Self.calibTableName(Int64(stored.tagTable.suffix(8)) ?? 0)
        guard !calibrations.isEmpty, stored.type.isCalibration, try c.tableExists(table) else { return (q(stored.tagTable), false) }
        let columns = (["dataset_type_id", "dataset_id", "collection_id"] + stored.type.dimensions.required.map(q)).joined(separator: ", ")
        let others = collections.filter { $0.type != .calibration }
        let null = "CAST(NULL AS \(c.dialect.bigint))"
        var parts = ["SELECT \(columns), validity_begin, validity_end, 1 AS in_calib FROM \(q(table)) WHERE dataset_type_id = \(stored.id) AND collection_id IN (\(calibrations.map { String($0.id) }.joined(separator: ", ")))"]
        if !others.isEmpty {
            parts.append("SELECT \(columns), \(null) AS validity_begin, \(null) AS validity_end, 0 AS in_calib FROM \(q(stored.tagTable)) WHERE dataset_type_id = \(stored.id) AND collection_id IN (\(others.map { String($0.id) }.joined(separator: ", ")))")
        }
        return ("(" + parts.joined(separator: " UNION ALL ") + ")", true)
    }

    /// Datasets of the types matching `datasetTypes` (all when empty) in `collections`.
    ///
    /// - Parameters:
    ///   - findFirst: for each dataset type and data ID, keep only the dataset from the first collection, in search order.
    ///   - limit: at most this many results per dataset type (no limit when `nil`).
    /// - Returns: results grouped by dataset type (sorted by name), then by data ID.
    public func queryDatasets(_ datasetTypes: [String] = [], collections: [String] = [], findFirst: Bool = false,
                              limit: Int? = nil) throws -> [DatasetResult] {
        var query = DatasetQuery()
        query.datasetTypes = datasetTypes
        query.collections = collections
        query.findFirst = findFirst
        query.limit = limit
        return try queryDatasets(query).datasets
    }

    /// Runs a dataset query: dataset types, collections (in search order), a `--where` expression with bind values,
    /// find-first, ordering and paging. An empty result comes with the reasons that could be found.
    ///
    /// - Throws: ``ButlerError/Code/invalidValue`` for a bad expression (the message shows a caret under the problem),
    ///   ``ButlerError/Code/notFound`` for a named collection or dataset type that does not exist.
    public func queryDatasets(_ query: DatasetQuery) throws -> DatasetQueryResult {
        var results: [DatasetResult] = []
        let reasons = try forEachDataset(query) { results.append($0) }
        return DatasetQueryResult(datasets: results, reasons: reasons)
    }

    /// Runs a dataset query and hands each dataset to `body` as it is read, so memory does not grow with the
    /// number of results.
    ///
    /// - Returns: when nothing was found, the reasons that could be found.
    public func forEachDataset(_ query: DatasetQuery, _ body: (DatasetResult) throws -> Void) throws -> [String] {
        let expression: Expression?
        do { expression = try Parser.parse(query.where) } catch { throw error.butlerError }
        return try database.read { c in
            var reasons: [String] = []
            let searched = try resolveCollections(query.collections, findFirst: query.findFirst, in: c)
            if searched.isEmpty { reasons.append("no collection matched \(query.collections.isEmpty ? "(the repository has none)" : query.collections.joined(separator: ", "))") }
            let pattern = NamePattern(query.datasetTypes)
            for literal in pattern.literals where try datasetType(literal, in: c) == nil {
                // Rubin's words, as its query-datasets logs them.
                guard query.unknownTypesMatchNothing else { throw ButlerError(.notFound, "no dataset type named '\(literal)'") }
                reasons.append("Dataset type '\(literal)' does not exist.")
            }
            var types = try allDatasetTypes(in: c).filter { pattern.matches($0.type.name) }
            if types.isEmpty { reasons.append("no dataset type matched \(query.datasetTypes.joined(separator: ", "))") }
            if !query.provenance.isEmpty && !types.isEmpty && !Self.selectsProvenanceByLookup(query, expression) {
                let selectedTypes = try query.provenance.materialize(in: c)
                for stored in types where !selectedTypes.contains(stored.id) {
                    reasons.append("no '\(stored.type.name)' dataset matches the provenance selection")
                }
                types = types.filter { selectedTypes.contains($0.id) }
            }
            var count = 0
            for stored in types {
                // Collection summaries let the search skip collections that cannot hold this type.
                let holding = Set(try c.query("SELECT collection_id FROM collection_summary_dataset_type WHERE dataset_type_id = ?",
                                              [.integer(stored.id)]).compactMap { $0[0].int64 })
                let relevant = searched.filter { holding.contains($0.id) }
                guard !relevant.isEmpty else {
                    if !searched.isEmpty {
                        reasons.append("dataset type '\(stored.type.name)' has no datasets in \(searched.count == 1 ? "collection '\(searched[0].name)'" : "the \(searched.count) collections searched")")
                    }
                    continue
                }
                let found = try queryDatasets(of: stored, in: relevant, query: query, expression: expression, c, body)
                if found == 0 {
                    reasons.append(expression != nil || !query.provenance.isEmpty
                        ? "no '\(stored.type.name)' dataset in \(relevant.map(\.name).joined(separator: ", ")) matches \(expression != nil ? "the --where expression" : "")\(expression != nil && !query.provenance.isEmpty ? " and " : "")\(query.provenance.isEmpty ? "" : "the provenance selection")"
                        : "no '\(stored.type.name)' dataset in \(relevant.map(\.name).joined(separator: ", "))")
                }
                count += found
            }
            return count == 0 ? reasons : []
        }
    }

    /// Whether a provenance selection is tested dataset by dataset (``ProvenanceSelection/conditions(on:bind:)``)
    /// rather than evaluated once over the whole registry (``ProvenanceSelection/materialize(in:)``): when `--where`
    /// or a data ID narrows the datasets, so that the time follows the datasets asked about, not the registry's size.
    /// `--derived-from` starts from its seeds and is evaluated once.
    static func selectsProvenanceByLookup(_ query: DatasetQuery, _ expression: Expression?) -> Bool {
        query.provenance.derivedFrom.isEmpty && (expression != nil || !query.dataID.isEmpty)
    }

    private func queryDatasets(of stored: StoredDatasetType, in collections: [CollectionRecord], query: DatasetQuery,
                               expression: Expression?, _ c: any SQLConnection, _ body: (DatasetResult) throws -> Void) throws -> Int {
        let dims = stored.type.dimensions.required
        let builder = QueryBuilder(universe: universe, expression: query.where)
            builder.dialect = c.dialect
        builder.binds = query.binds
        builder.datasetType = stored.type.name
        builder.datasetAlias = "d"
        builder.runAlias = "run"
        builder.collectionAlias = "coll"
        builder.extraNames = extraQueryNames
        for dim in dims { builder.dimensions[dim] = "t.\(q(dim))" }
        let source = try membershipSource(stored, collections, in: c)
        if source.validity { builder.validityColumns = (begin: "t.validity_begin", end: "t.validity_end", flag: "t.in_calib") }
        var condition = try builder.whereCondition(expression, dataID: query.dataID)
        let byLookup = !query.provenance.isEmpty && Self.selectsProvenanceByLookup(query, expression)
        if byLookup {
            let tests = try query.provenance.conditions(on: "t.dataset_id", bind: builder.bind)
            condition = ([condition].compactMap { $0 } + tests).joined(separator: " AND ")
        }
        // Rubin relates a sky pixel of the dataset type (a reference catalog's htm7) to the regions of the visits,
        // tracts or patches a query names; that join is not made here yet, so such a query is refused rather than
        // answered with every shard.
        if let pixel = dims.first(where: { universe[$0]?.isSkyPix == true }),
           let other = ["visit", "tract", "patch"].first(where: { builder.dimensions[$0] != nil && !dims.contains($0) }) {
            throw ButlerError(.invalidValue, "cannot relate the \(pixel) of '\(stored.type.name)' to the region of a \(other) here yet: "
                              + "select its datasets by pixel (--where \"\(pixel) IN (...)\")")
        }
        // With a provenance selection, the selected datasets of this type drive the query (see materialize(in:));
        // `+` keeps SQLite from looking the tags table up by type and collection instead of by dataset id.
        let selected = !query.provenance.isEmpty && !byLookup
        let selection = selected
            ? "\(ProvenanceSelection.table) AS sel \(c.dialect.engine == .sqlite ? "CROSS JOIN" : "JOIN") \(source.sql) AS t ON t.dataset_id = sel.id AND sel.dataset_type_id = \(stored.id)"
            : "\(source.sql) AS t"
        let plus = selected ? "+" : ""
        let order = try builder.orderBy(query.orderBy)
        try builder.requireIndexedRegions(c)
        let dimColumns = dims.map { "t." + q($0) }
        let validityColumns = source.validity ? "t.validity_begin, t.validity_end, t.in_calib" : "NULL AS validity_begin, NULL AS validity_end, 0 AS in_calib"
        let rank = "CASE t.collection_id " + collections.enumerated().map { "WHEN \($0.element.id) THEN \($0.offset)" }.joined(separator: " ") + " END"
        let ids = collections.map { String($0.id) }.joined(separator: ", ")
        let orderColumns = order.enumerated().map { "\($0.element.replacingOccurrences(of: " DESC", with: "")) AS order_\($0.offset)" }
        var sql = """
            SELECT \(builder.joinedSpatially ? "DISTINCT " : "")t.dataset_id, coll.name AS collection_name, run.name AS run_name\(dimColumns.map { ", " + $0 }.joined()), \(validityColumns), \(rank) AS search_rank\(orderColumns.map { ", " + $0 }.joined())
            FROM \(selection)
            JOIN dataset AS d ON d.id = t.dataset_id
            JOIN collection AS run ON run.collection_id = d.run_id
            JOIN collection AS coll ON coll.collection_id = t.collection_id
            \(builder.joins.joined(separator: "\n"))
            WHERE \(plus)t.dataset_type_id = \(stored.id) AND \(plus)t.collection_id IN (\(ids))\(condition.map { " AND " + $0 } ?? "")
            """
        // Position of the column that counts, after find-first, the rows of the winning collection for the data ID.
        let matchesColumn = 3 + dims.count + 3 + 1 + orderColumns.count + 1
        if query.findFirst {
            let dimPartition = dims.map { "inner_q." + q($0) }.joined(separator: ", ")
            let partition = dims.isEmpty ? "" : "PARTITION BY " + dimPartition
            // A CALIBRATION collection can hold several validity ranges for one data ID: Rubin refuses the search as
            // ambiguous when the first collection with a match has more than one (the count below).
            let matches = source.validity
                ? ", COUNT(*) OVER (PARTITION BY \(dims.isEmpty ? "" : dimPartition + ", ")inner_q.search_rank) AS matches"
                : ", 1 AS matches"
            sql = "SELECT * FROM (SELECT inner_q.*, ROW_NUMBER() OVER (\(partition) ORDER BY inner_q.search_rank\(source.validity ? ", COALESCE(inner_q.validity_begin, \(Int64.min))" : "")) AS rownum\(matches) FROM (\(sql)) AS inner_q) AS ranked WHERE rownum = 1"
        }
        let userOrder = order.enumerated().map { "order_\($0.offset)" + ($0.element.hasSuffix(" DESC") ? " DESC" : "") }
        // Certifications by start of validity, unbounded first (both engines: NULLs sort differently).
        let defaultOrder = dims.map(q) + ["search_rank"] + (source.validity ? ["COALESCE(validity_begin, \(Int64.min))"] : [])
        if query.findFirst && userOrder.isEmpty {
            // The window already sorts by data ID; a second sort of every row would only delay the first one.
            sql = "SELECT * FROM (\(sql)) AS found"
        } else {
            sql = "SELECT * FROM (\(sql)) AS found ORDER BY \((userOrder + defaultOrder).joined(separator: ", "))"
        }
        if let limit = query.limit { sql += " LIMIT \(max(0, limit))" } else if query.offset > 0 && c.dialect.engine == .sqlite { sql += " LIMIT -1" }
        if query.offset > 0 { sql += " OFFSET \(query.offset)" }
        // Rows are unique per (dataset, collection) by the tags table's key, and per certification in CALIBRATION
        // collections, so they stream without de-duplication; except that an ambiguous find-first search must fail
        // before anything is handed out, so those results are held until the end.
        let holdBack = query.findFirst && source.validity
        var held: [DatasetResult] = []
        var count = 0
        try c.forEachRow(sql, builder.parameters) { row in
            guard let idText = row[0].string, let id = UUID(registryText: idText) else { return }
            var values: [String: DataIDValue] = [:]
            for (i, dim) in dims.enumerated() { values[dim] = DataIDValue(row[3 + i]) }
            let ref = DatasetRef(id: id, datasetType: stored.type, run: row[2].string ?? "",
                                 dataId: DataCoordinate(dimensions: stored.type.dimensions, values: values))
            let v = 3 + dims.count
            let validity = row[v + 2].int == 1
                ? Timespan(begin: row[v].int64.map(TAITime.init(nanoseconds:)), end: row[v + 1].int64.map(TAITime.init(nanoseconds:)))
                : nil
            let result = DatasetResult(ref: ref, collection: row[1].string ?? "", validity: validity)
            if holdBack {
                if let n = row[matchesColumn].int, n > 1 {
                    throw ButlerError(.conflict, "ambiguous calibration lookup: '\(stored.type.name)' \(ref.dataId) has \(n) validity ranges in CALIBRATION collection '\(result.collection)'; constrain the time (--where \"\(stored.type.name).timespan OVERLAPS (T'2024-01-01', T'2024-01-02')\") or search without --find-first")
                }
                held.append(result)
            } else {
                try body(result)
            }
            count += 1
        }
        for result in held { try body(result) }
        return count
    }

    /// Names beyond dimensions and dataset fields that `--where` understands: `metrics.NAME`, a dataset's QA metric
    /// (no value when the dataset has none).
    var extraQueryNames: ((QueryBuilder, [String]) throws -> (String, ValueType)?)? {
        { builder, parts in
            guard parts.count == 2, parts[0] == "metrics", let dataset = builder.datasetAlias else { return nil }
            let name = builder.bind(.text(parts[1]))
            return ("(SELECT value FROM dataset_metric WHERE dataset_metric.dataset_id = \(dataset).id AND dataset_metric.name = \(name))", .float)
        }
    }

    /// The recorded path of each dataset's file (its first file record), as the datastore gives it a location
    /// (``Butler/fileLocations(_:)``).
    package func recordedPaths(_ ids: [UUID]) throws -> [UUID: String] {
        try database.read { c in
            var result: [UUID: String] = [:]
            for chunk in ids.chunked(500) {
                let sql = "SELECT dataset_id, path FROM file_datastore_records WHERE dataset_id IN (\(Array(repeating: "?", count: chunk.count).joined(separator: ", ")))"
                for row in try c.query(sql, chunk.map { .text($0.lowercasedString) }) {
                    guard let id = row[0].string.flatMap(UUID.init(uuidString:)), let path = row[1].string else { continue }
                    result[id] = path
                }
            }
            return result
        }
    }
}
