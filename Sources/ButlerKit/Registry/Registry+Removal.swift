public import Foundation

extension Registry {
    /// Removes datasets from the registry completely (their RUN, tags, certifications and file records).
    ///
    /// - Parameter releasing: called inside the transaction with the paths (and claim tokens) of their files that
    ///   no remaining dataset uses, whose claims were released (see ``FileDatastore``'s removal).
    package func purgeDatasets(_ ids: [UUID], force: Bool = false, releasing: ([(path: String, token: String)]) throws -> Void) throws {
        try database.write { c in
            try guardProvenance(removing: Set(ids.map(\.lowercasedString)), force: force, in: c)
            let paths = try filePaths(ids, in: c)
            for chunk in ids.chunked(500) {
                let list = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
                let args = chunk.map { SQLValue.text($0.lowercasedString) }
                for table in try tagTables(in: c) { try c.execute("DELETE FROM \(q(table)) WHERE dataset_id IN (\(list))", args) }
                for table in try calibTables(in: c) { try c.execute("DELETE FROM \(q(table)) WHERE dataset_id IN (\(list))", args) }
                try c.execute("DELETE FROM file_datastore_records WHERE dataset_id IN (\(list))", args)
                try c.execute("DELETE FROM dataset WHERE id IN (\(list))", args)
            }
            try releasing(try releaseUnreferencedPaths(paths, in: c))
        }
    }

    /// Removes the file records of datasets, keeping the datasets (Rubin's `--unstore`).
    ///
    /// - Parameter releasing: as for ``purgeDatasets(_:force:releasing:)``.
    package func removeFileRecords(_ ids: [UUID], releasing: ([(path: String, token: String)]) throws -> Void) throws {
        try database.write { c in
            let paths = try filePaths(ids, in: c)
            for chunk in ids.chunked(500) {
                try c.execute("DELETE FROM file_datastore_records WHERE dataset_id IN (\(Array(repeating: "?", count: chunk.count).joined(separator: ", ")))",
                              chunk.map { .text($0.lowercasedString) })
            }
            try releasing(try releaseUnreferencedPaths(paths, in: c))
        }
    }

    private func filePaths(_ ids: [UUID], in c: any SQLConnection) throws -> [String] {
        var paths = Set<String>()
        for chunk in ids.chunked(500) {
            let rows = try c.query("SELECT DISTINCT path FROM file_datastore_records WHERE dataset_id IN (\(Array(repeating: "?", count: chunk.count).joined(separator: ", ")))",
                                   chunk.map { .text($0.lowercasedString) })
            paths.formUnion(rows.compactMap { $0[0].string })
        }
        return paths.sorted()
    }

    package func calibTables(in c: any SQLConnection) throws -> [String] {
        try c.query("SELECT id FROM dimension_group ORDER BY id").compactMap { $0[0].int64 }.map(Self.calibTableName).filter { try c.tableExists($0) }
    }
}
