public import Foundation

extension Registry {
    /// Checks that datasets about to be removed have no surviving derived datasets, or, with `force`, writes
    /// tombstones (id, type, data ID, run, checksum) for every removed dataset that provenance refers to, so that
    /// lineage never dangles. Runs in the removal's transaction.
    ///
    /// - Throws: ``ButlerError/Code/inUse`` naming a dataset and what was derived from it.
    package func guardProvenance(removing ids: Set<String>, force: Bool, in c: any SQLConnection) throws {
        guard !ids.isEmpty else { return }
        var referenced: [String] = []
        for chunk in Array(ids).chunked(500) {
            let list = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
            let args = chunk.map { SQLValue.text($0) }
            if !force {
                let rows = try c.query("""
                    SELECT qi.dataset_id, qo.dataset_id FROM quantum_input AS qi
                    JOIN quantum_output AS qo ON qo.quantum_id = qi.quantum_id
                    JOIN dataset AS d ON d.id = qo.dataset_id
                    WHERE qi.dataset_id IN (\(list))
                    """, args)
                if let row = rows.first(where: { !ids.contains($0[1].string ?? "") }) {
                    let dependents = Set(rows.filter { $0[0].string == row[0].string && !ids.contains($0[1].string ?? "") }.compactMap { $0[1].string })
                    throw ButlerError(.inUse, "dataset \(row[0].string ?? "") has \(dependents.count) derived dataset(s) (\(dependents.sorted().prefix(3).joined(separator: ", "))\(dependents.count > 3 ? ", ..." : "")); remove them too, or force the removal to keep a tombstone")
                }
            }
            let inputs = try c.query("SELECT DISTINCT dataset_id FROM quantum_input WHERE dataset_id IN (\(list))", args).compactMap { $0[0].string }
            let outputs = try c.query("SELECT DISTINCT dataset_id FROM quantum_output WHERE dataset_id IN (\(list))", args).compactMap { $0[0].string }
            referenced += Set(inputs + outputs)
        }
        let now = Self.taiNanoseconds(Date())
        for id in referenced {
            guard let row = try c.queryOne("""
                SELECT dt.name, run.name, (SELECT checksum FROM file_datastore_records WHERE dataset_id = d.id LIMIT 1), dt.tag_association_table, dt.id
                FROM dataset AS d JOIN dataset_type AS dt ON dt.id = d.dataset_type_id JOIN collection AS run ON run.collection_id = d.run_id
                WHERE d.id = ?
                """, [.text(id)]), let typeName = row[0].string else { continue }
            let stored = try requireDatasetType(typeName, in: c)
            let dims = stored.type.dimensions.required
            var dataId = ""
            if !dims.isEmpty, let tag = try c.queryOne("SELECT \(dims.map(q).joined(separator: ", ")) FROM \(q(stored.tagTable)) WHERE dataset_id = ? LIMIT 1", [.text(id)]) {
                dataId = dims.enumerated().map { "\($0.element)=\(tag[$0.offset].string ?? "")" }.joined(separator: ",")
            }
            try c.execute("\(c.dialect.insertOrIgnore) dataset_tombstone (dataset_id, dataset_type, data_id, run, checksum, removed_at) VALUES (?, ?, ?, ?, ?, ?)\(c.dialect.insertOrIgnoreSuffix)",
                          [.text(id), .text(typeName), .text(dataId), .text(row[1].string ?? ""), row[2], .integer(now)])
        }
    }

    /// The tombstone of a removed dataset, if provenance kept one: type, data ID (`key=value,...`), run and checksum.
    public func tombstone(_ id: UUID) throws -> (datasetType: String, dataId: String, run: String, checksum: String?)? {
        try database.read { c in
            guard let row = try c.queryOne("SELECT dataset_type, data_id, run, checksum FROM dataset_tombstone WHERE dataset_id = ?", [.text(id.lowercasedString)]) else { return nil }
            return (row[0].string ?? "", row[1].string ?? "", row[2].string ?? "", row[3].string)
        }
    }
}

extension Array {
    func chunked(_ size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}
