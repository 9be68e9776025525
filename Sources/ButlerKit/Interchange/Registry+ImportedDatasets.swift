import Foundation

extension Registry {
    /// One file's datasets as an import writes them: their ids, full data IDs, and the file's datastore record (nil
    /// for a registry-only import: the datasets have no file here).
    struct ImportedFile {
        let datasetType: DatasetType
        let run: String
        let ids: [UUID]
        /// Full data IDs (required and implied values), one per id.
        let dataIds: [[String: DataIDValue]]
        let file: StoredFileInfo?
    }

    /// Inserts imported datasets with their tags-table rows, file records and collection summaries, in bulk (COPY on
    /// PostgreSQL), in the caller's transaction. The import plan has checked that no id and no data ID of a RUN is
    /// taken; a writer racing the import still hits the database's unique keys, and then the whole import fails.
    func insertImportedDatasets(_ files: [ImportedFile], in c: any SQLConnection) throws {
        let now = Registry.taiNanoseconds(Date())
        var types: [String: StoredDatasetType] = [:]
        var runs: [String: Int64] = [:]
        var datasets: [[SQLValue]] = [], records: [[SQLValue]] = []
        var tags: [String: (columns: [String], rows: [[SQLValue]])] = [:]
        var summaries = Set<[Int64]>(), governors = Set<[String]>()
        for entry in files {
            let stored: StoredDatasetType
            if let known = types[entry.datasetType.name] { stored = known } else {
                stored = try requireDatasetType(entry.datasetType.name, in: c)
                types[entry.datasetType.name] = stored
            }
            let runId: Int64
            if let known = runs[entry.run] { runId = known } else {
                runId = try requireCollection(entry.run, in: c).id
                runs[entry.run] = runId
            }
            let dims = stored.type.dimensions.required
            summaries.insert([runId, stored.id])
            for (id, dataId) in zip(entry.ids, entry.dataIds) {
                let text = SQLValue.text(id.lowercasedString)
                datasets.append([text, .integer(stored.id), .integer(runId), .integer(now)])
                tags[stored.tagTable, default: (["dataset_type_id", "dataset_id", "collection_id"] + dims, [])].rows
                    .append([.integer(stored.id), text, .integer(runId)] + dims.map { dataId[$0]!.sqlValue })
                if let f = entry.file {
                    records.append([text, .text(f.component), .text(f.path), SQLValue(f.formatter), .text(f.storageClass), SQLValue(f.checksum),
                                    SQLValue(f.fileSize), SQLValue(f.sourcePath), SQLValue(f.hdu)])
                }
                for governor in universe.governors where dataId[governor.name] != nil {
                    governors.insert([String(runId), governor.name, dataId[governor.name]!.description])
                }
            }
        }
        try c.insertRows(into: "dataset", columns: ["id", "dataset_type_id", "run_id", "ingest_date"], rows: datasets)
        for (table, rows) in tags.sorted(by: { $0.key < $1.key }) { try c.insertRows(into: table, columns: rows.columns, rows: rows.rows) }
        try c.insertRows(into: "file_datastore_records", columns: ["dataset_id", "component", "path", "formatter", "storage_class", "checksum",
                                                                   "file_size", "source_path", "hdu"], rows: records)
        let d = c.dialect
        for s in summaries {
            try c.execute("\(d.insertOrIgnore) collection_summary_dataset_type (collection_id, dataset_type_id) VALUES (?, ?)\(d.insertOrIgnoreSuffix)",
                          [.integer(s[0]), .integer(s[1])])
        }
        for g in governors {
            try c.execute("\(d.insertOrIgnore) collection_summary_governor (collection_id, governor, value) VALUES (?, ?, ?)\(d.insertOrIgnoreSuffix)",
                          [.integer(Int64(g[0])!), .text(g[1]), .text(g[2])])
        }
    }
}
