extension Registry {
    /// Which of these data IDs already hold a dataset of `type` in RUN `run` (the slots a new dataset cannot take),
    /// by index, looked up in bulk in the caller's transaction (so that rows it wrote count).
    package func takenSlots(_ type: DatasetType, run: String, dataIds: [DataCoordinate], in c: any SQLConnection) throws -> [Int] {
        guard !dataIds.isEmpty, let runRecord = try collection(run, in: c) else { return [] }
        let stored = try requireDatasetType(type.name, in: c)
        let dims = stored.type.dimensions.required
        let q = c.dialect.quote
        let prefix = "SELECT \(dims.isEmpty ? "1" : dims.map(q).joined(separator: ", ")) FROM \(q(stored.tagTable)) WHERE dataset_type_id = ? AND collection_id = ?"
        let base: [SQLValue] = [.integer(stored.id), .integer(runRecord.id)]
        guard !dims.isEmpty else {
            return try c.queryOne(prefix, base) == nil ? [] : Array(dataIds.indices)
        }
        func key(_ values: [DataIDValue?]) -> String { values.map { $0?.description ?? "" }.joined(separator: "\u{1}") }
        var wanted: [String: [Int]] = [:]
        for (i, dataId) in dataIds.enumerated() { wanted[key(dims.map { dataId.values[$0] }), default: []].append(i) }
        // Narrowed by the dimension with the most distinct values; the rest compared here.
        let narrowing = dims.max { a, b in Set(dataIds.compactMap { $0.values[a] }).count < Set(dataIds.compactMap { $0.values[b] }).count }!
        let values = Array(Set(dataIds.compactMap { $0.values[narrowing] }))
        var taken: [Int] = []
        for chunk in values.chunked(500) {
            let sql = prefix + " AND \(q(narrowing)) IN (\(Array(repeating: "?", count: chunk.count).joined(separator: ", ")))"
            for row in try c.query(sql, base + chunk.map(\.sqlValue)) {
                let found = key(dims.indices.map { DataIDValue(row[$0]) })
                if let indices = wanted.removeValue(forKey: found) { taken += indices }
            }
        }
        return taken.sorted()
    }
}
