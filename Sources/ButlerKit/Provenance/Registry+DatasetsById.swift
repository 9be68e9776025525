package import Foundation

extension Registry {
    /// Datasets by id, in bulk: type and run (the data ID is left empty); ids not found are absent.
    package func datasetsById(_ ids: [String]) throws -> [String: DatasetRef] {
        try database.read { c in
            var types: [String: StoredDatasetType] = [:]
            for stored in try allDatasetTypes(in: c) { types[stored.type.name] = stored }
            var result: [String: DatasetRef] = [:]
            for chunk in ids.chunked(500) {
                let list = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
                let sql = "SELECT d.id, dt.name, run.name FROM dataset AS d JOIN dataset_type AS dt ON dt.id = d.dataset_type_id "
                    + "JOIN collection AS run ON run.collection_id = d.run_id WHERE d.id IN (\(list))"
                for row in try c.query(sql, chunk.map { .text($0) }) {
                    guard let id = row[0].string, let uuid = UUID(registryText: id), let type = types[row[1].string ?? ""] else { continue }
                    result[id] = DatasetRef(id: uuid, datasetType: type.type, run: row[2].string ?? "",
                                            dataId: DataCoordinate(dimensions: type.type.dimensions, values: [:]))
                }
            }
            return result
        }
    }
}

extension Registry {
    /// Datasets by id, in bulk, with their data IDs (required values); ids not found are absent.
    package func datasetRefs(_ ids: [UUID]) throws -> [UUID: DatasetRef] {
        let byId = try datasetsById(ids.map(\.lowercasedString))
        guard !byId.isEmpty else { return [:] }
        return try database.read { c in
            var result: [UUID: DatasetRef] = [:]
            for (typeName, refs) in Dictionary(grouping: byId.values, by: \.datasetType.name) {
                let stored = try requireDatasetType(typeName, in: c)
                let dims = stored.type.dimensions.required
                var byText: [String: DatasetRef] = [:]
                for ref in refs { byText[ref.id.lowercasedString] = ref }
                for chunk in Array(byText.keys).chunked(500) {
                    let list = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
                    let columns = dims.map { ", t." + q($0) }.joined()
                    for row in try c.query("""
                        SELECT t.dataset_id\(columns) FROM \(q(stored.tagTable)) AS t JOIN dataset AS d ON d.id = t.dataset_id AND d.run_id = t.collection_id
                        WHERE t.dataset_id IN (\(list))
                        """, chunk.map { .text($0) }) {
                        guard let text = row[0].string, let ref = byText[text] else { continue }
                        var values: [String: DataIDValue] = [:]
                        for (i, d) in dims.enumerated() { values[d] = DataIDValue(row[1 + i]) }
                        result[ref.id] = DatasetRef(id: ref.id, datasetType: stored.type, run: ref.run,
                                                    dataId: DataCoordinate(dimensions: stored.type.dimensions, values: values))
                    }
                }
            }
            return result
        }
    }
}
