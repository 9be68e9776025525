import Foundation

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
