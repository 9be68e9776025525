import Foundation

extension Registry {
    /// Inserts many datasets of one type into a RUN with prepared statements, without per-dataset data ID expansion:
    /// `dataIds` hold the required dimension values in the type's order, and their dimension records must exist.
    /// For generators and bulk loads; ``insertDatasets(_:run:dataIds:idGenerationMode:)`` is the checked path.
    /// - Returns: the new ids, in the order of `dataIds`.
    @discardableResult
    package func insertDatasetsUnchecked(_ datasetType: String, run: String, dataIds: [[DataIDValue]], idGenerationMode: DatasetIdGenerationMode) throws -> [String] {
        try database.write { c in
            let stored = try requireDatasetType(datasetType, in: c)
            let runRecord = try requireCollection(run, in: c)
            let dims = stored.type.dimensions.required
            let now = Int64(Date().timeIntervalSince1970 * 1_000_000_000) + 37_000_000_000
            var datasets: [[SQLValue]] = [], tags: [[SQLValue]] = []
            datasets.reserveCapacity(dataIds.count)
            tags.reserveCapacity(dataIds.count)
            for values in dataIds {
                let coordinate = DataCoordinate(dimensions: stored.type.dimensions, values: Dictionary(uniqueKeysWithValues: zip(dims, values)))
                let id = SQLValue.text(idGenerationMode.makeId(datasetType: datasetType, run: run, dataId: coordinate).lowercasedString)
                datasets.append([id, .integer(stored.id), .integer(runRecord.id), .integer(now)])
                tags.append([.integer(stored.id), id, .integer(runRecord.id)] + values.map(\.sqlValue))
            }
            try c.insertRows(into: "dataset", columns: ["id", "dataset_type_id", "run_id", "ingest_date"], rows: datasets)
            try c.insertRows(into: stored.tagTable, columns: ["dataset_type_id", "dataset_id", "collection_id"] + dims, rows: tags)
            try c.execute("\(c.dialect.insertOrIgnore) collection_summary_dataset_type (collection_id, dataset_type_id) VALUES (?, ?)\(c.dialect.insertOrIgnoreSuffix)",
                          [.integer(runRecord.id), .integer(stored.id)])
            return datasets.map { $0[0].string! }
        }
    }

    /// Inserts rows into any registry table in one transaction, unchecked: for generators and bulk loads of
    /// provenance (quanta, their edges, environments, configs).
    package func insertRowsUnchecked(_ table: String, columns: [String], rows: [[SQLValue]]) throws {
        guard !rows.isEmpty else { return }
        try database.write { c in try c.insertRows(into: table, columns: columns, rows: rows) }
    }

    /// Inserts many records of one element with prepared statements (fields as in ``DimensionRecord``), unchecked.
    package func insertDimensionRecordsUnchecked(_ element: String, _ records: [DimensionRecord]) throws {
        let e = try tableElement(element)
        let columns = DimensionSchema.columns(of: e, in: universe)
        try database.write { c in
            try c.insertRows(into: element, columns: columns.map(\.name), rows: records.map { r in columns.map { r[$0.name]?.sqlValue ?? .null } })
            if e.isSpatial { for r in records { try indexRegion(c, element: e, record: r) } }
        }
    }

    /// Refreshes the query planner's statistics after a bulk load (ANALYZE on both engines).
    ///
    /// Only this registry's tables: a bare `ANALYZE` in a transaction locks every table of every schema in the
    /// database at once, and runs out of PostgreSQL's shared lock table when many registries share one server.
    package func analyzeAfterBulkLoad() throws {
        guard database.dialect.engine == .postgresql else {
            // SQLite: every row is read (about a second per million datasets). Sampled statistics (analysis_limit)
            // are worse than none: the first rows of an index on time-ordered ids are one calibration's thousands of
            // uses, and SQLite then scans quantum_input for every lineage step.
            try database.write { c in try c.execute("ANALYZE") }
            return
        }
        try database.write { c in
            let tables = try c.tableNames()
            guard !tables.isEmpty else { return }
            try c.execute("ANALYZE " + tables.map(c.dialect.quote).joined(separator: ", "))
        }
    }
}
