public import Foundation

/// A dataset found by a query, with the collection it was found in.
public struct DatasetResult: Sendable, Hashable {
    /// The dataset.
    public let ref: DatasetRef
    /// The collection in which the search found it (its RUN, or a TAGGED collection).
    public let collection: String
}

extension Registry {
    /// Resolves collection arguments to an ordered list of non-chained collections to search.
    ///
    /// Names are expanded through chains, in order; glob patterns match collection names (any order, so they are
    /// refused with `findFirst`). No argument means every collection.
    /// - Throws: ``ButlerError/Code/notFound`` for a named collection that does not exist.
    package func resolveCollections(_ arguments: [String], findFirst: Bool, in c: any SQLConnection) throws -> [CollectionRecord] {
        let values = arguments.flatMap { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }.filter { !$0.isEmpty }
        var names: [String] = []
        if values.isEmpty || values == ["*"] || values == ["..."] {
            if findFirst {
                throw ButlerError(.invalidValue, "--find-first needs an ordered list of collections (--collections NAME,...), not all of them")
            }
            names = try c.query("SELECT name FROM collection WHERE type != ? ORDER BY name", [.integer(Int64(CollectionType.chained.rawValue))]).compactMap { $0[0].string }
        } else {
            for value in values {
                if NamePattern.hasWildcard(value) {
                    if findFirst {
                        throw ButlerError(.invalidValue, "--find-first needs collection names in search order, not the pattern '\(value)'")
                    }
                    let matched = try c.query("SELECT name FROM collection ORDER BY name").compactMap { $0[0].string }.filter { NamePattern([value]).matches($0) }
                    for name in matched { names += try flatten(name, in: c) }
                } else {
                    guard try collection(value, in: c) != nil else { throw ButlerError(.notFound, "no collection named '\(value)'") }
                    names += try flatten(value, in: c)
                }
            }
        }
        var seen = Set<String>()
        return try names.filter { seen.insert($0).inserted }.compactMap { try collection($0, in: c) }
    }

    /// Datasets of the types matching `datasetTypes` (all when empty) in `collections`.
    ///
    /// - Parameters:
    ///   - findFirst: for each dataset type and data ID, keep only the dataset from the first collection, in search order.
    ///   - limit: at most this many results per dataset type (no limit when `nil`).
    /// - Returns: results grouped by dataset type (sorted by name), then by data ID.
    public func queryDatasets(_ datasetTypes: [String] = [], collections: [String] = [], findFirst: Bool = false,
                              limit: Int? = nil) throws -> [DatasetResult] {
        try database.read { c in
            let searched = try resolveCollections(collections, findFirst: findFirst, in: c)
            let pattern = NamePattern(datasetTypes)
            for literal in pattern.literals where try datasetType(literal, in: c) == nil {
                throw ButlerError(.notFound, "no dataset type named '\(literal)'")
            }
            var results: [DatasetResult] = []
            for stored in try allDatasetTypes(in: c) where pattern.matches(stored.type.name) {
                // Collection summaries let the search skip collections that cannot hold this type.
                let holding = Set(try c.query("SELECT collection_id FROM collection_summary_dataset_type WHERE dataset_type_id = ?",
                                              [.integer(stored.id)]).compactMap { $0[0].int64 })
                let relevant = searched.filter { holding.contains($0.id) }
                guard !relevant.isEmpty else { continue }
                results += try queryDatasets(of: stored, in: relevant, findFirst: findFirst, limit: limit, c)
            }
            return results
        }
    }

    private func queryDatasets(of stored: StoredDatasetType, in collections: [CollectionRecord], findFirst: Bool, limit: Int?,
                               _ c: any SQLConnection) throws -> [DatasetResult] {
        let dims = stored.type.dimensions.required
        let dimColumns = dims.map { "t." + q($0) }
        let rank = "CASE t.collection_id " + collections.enumerated().map { "WHEN \($0.element.id) THEN \($0.offset)" }.joined(separator: " ") + " END"
        let ids = collections.map { String($0.id) }.joined(separator: ", ")
        var sql = """
            SELECT t.dataset_id, coll.name, run.name\(dimColumns.map { ", " + $0 }.joined()), \(rank) AS search_rank
            FROM \(q(stored.tagTable)) AS t
            JOIN dataset AS d ON d.id = t.dataset_id
            JOIN collection AS run ON run.collection_id = d.run_id
            JOIN collection AS coll ON coll.collection_id = t.collection_id
            WHERE t.dataset_type_id = ? AND t.collection_id IN (\(ids))
            """
        if findFirst {
            let partition = dims.isEmpty ? "" : "PARTITION BY " + dimColumns.joined(separator: ", ")
            sql = "SELECT * FROM (SELECT inner_q.*, ROW_NUMBER() OVER (\(partition.replacingOccurrences(of: "t.", with: "inner_q.")) ORDER BY inner_q.search_rank) AS rownum FROM (\(sql)) AS inner_q) AS ranked WHERE rownum = 1"
        }
        let order = (dims.map(q) + ["search_rank"]).joined(separator: ", ")
        sql = "SELECT * FROM (\(sql)) AS found ORDER BY \(order)"
        if let limit { sql += " LIMIT \(max(0, limit))" }
        var seen = Set<String>()
        var results: [DatasetResult] = []
        for row in try c.query(sql, [.integer(stored.id)]) {
            guard let idText = row[0].string, let id = UUID(uuidString: idText) else { continue }
            if !findFirst && !seen.insert(idText + "|" + (row[1].string ?? "")).inserted { continue }
            var values: [String: DataIDValue] = [:]
            for (i, dim) in dims.enumerated() { values[dim] = DataIDValue(row[3 + i]) }
            let ref = DatasetRef(id: id, datasetType: stored.type, run: row[2].string ?? "",
                                 dataId: DataCoordinate(dimensions: stored.type.dimensions, values: values))
            results.append(DatasetResult(ref: ref, collection: row[1].string ?? ""))
        }
        return results
    }

    /// The absolute location of each dataset's file (its first file record).
    public func fileLocations(_ ids: [UUID], datastoreRoot: URL) throws -> [UUID: URL] {
        try database.read { c in
            var result: [UUID: URL] = [:]
            for chunk in stride(from: 0, to: ids.count, by: 500).map({ Array(ids[$0..<min($0 + 500, ids.count)]) }) {
                let sql = "SELECT dataset_id, path FROM file_datastore_records WHERE dataset_id IN (\(Array(repeating: "?", count: chunk.count).joined(separator: ", ")))"
                for row in try c.query(sql, chunk.map { .text($0.uuidString.lowercased()) }) {
                    guard let id = row[0].string.flatMap(UUID.init(uuidString:)), let path = row[1].string else { continue }
                    result[id] = path.hasPrefix("/") ? URL(fileURLWithPath: path) : datastoreRoot.appendingPathComponent(path)
                }
            }
            return result
        }
    }
}
