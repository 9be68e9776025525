public import Foundation

/// A file artifact of a dataset, as the datastore records it.
public struct StoredFileInfo: Sendable, Hashable {
    /// Path relative to the datastore root, or an absolute path or URI for files ingested in place (`direct`).
    public let path: String
    /// The storage class the file was written with.
    public let storageClass: String
    /// Component name, empty for the whole dataset.
    public let component: String
    /// Checksum: the SHA-256 as 64 hex digits, when tracked.
    public let checksum: String?
    /// Size in bytes, when tracked.
    public let fileSize: Int64?
    /// Reader/writer name, when known.
    public let formatter: String?
    /// The absolute path the file was ingested from, when it came from outside the datastore.
    public var sourcePath: String?
    /// The HDU that holds this dataset, when a file holds several (one per detector).
    public var hdu: Int?

    public init(path: String, storageClass: String, component: String = "", checksum: String? = nil,
                fileSize: Int64? = nil, formatter: String? = nil) {
        self.path = path
        self.storageClass = storageClass
        self.component = component
        self.checksum = checksum
        self.fileSize = fileSize
        self.formatter = formatter
    }

    /// Whether the file lives inside the datastore root (and so belongs to the repository).
    public var isInsideDatastore: Bool { !path.hasPrefix("/") && !path.contains("://") }
}

/// What ``Registry/removeRuns(_:unlinkFromChains:)`` removed.
public struct RemovedRuns: Sendable {
    /// The RUN collections removed.
    public var runs: [String] = []
    /// The number of datasets removed with them.
    public var datasetCount = 0
    /// The chains each run was unlinked from.
    public var unlinkedFrom: [String: [String]] = [:]
    /// The datastore files of the removed datasets, relative to the datastore root.
    package var files: [String] = []
}

extension Registry {
    /// Inserts new datasets of one type into a RUN, all or none.
    ///
    /// Data IDs are validated and expanded against the dimension records; ids are formed as `idGenerationMode` says.
    ///
    /// - Throws: ``ButlerError/Code/conflict`` when a dataset with the same type and data ID is in the run already
    ///   (or, with a deterministic id mode, anywhere), ``ButlerError/Code/notFound`` for a missing run, type or record.
    @discardableResult
    public func insertDatasets(_ datasetType: String, run: String, dataIds: [[String: DataIDValue]],
                               idGenerationMode: DatasetIdGenerationMode = .unique) throws -> [DatasetRef] {
        try database.write { c in
            try insertDatasets(datasetType, run: run, dataIds: dataIds, idGenerationMode: idGenerationMode, files: nil, in: c)
        }
    }

    /// Inserts datasets and, when given, their datastore records (one per data ID), in the caller's transaction.
    package func insertDatasets(_ datasetTypeName: String, run: String, dataIds: [[String: DataIDValue]],
                                idGenerationMode: DatasetIdGenerationMode, files: [StoredFileInfo]?, ids: [UUID]? = nil,
                                expandedDataIds: Bool = false, in c: any SQLConnection) throws -> [DatasetRef] {
        let stored = try requireDatasetType(datasetTypeName, in: c)
        let runRecord = try requireCollection(run, in: c)
        guard runRecord.type == .run else {
            throw ButlerError(.invalidValue, "collection '\(run)' is \(runRecord.type), not a RUN; datasets are inserted into RUN collections")
        }
        let type = stored.type
        let dims = type.dimensions.required
        let now = Int64(Date().timeIntervalSince1970 * 1_000_000_000) + 37_000_000_000  // TAI = UTC + 37 s
        let tagSQL = "INSERT INTO \(q(stored.tagTable)) (dataset_type_id, dataset_id, collection_id\(dims.map { ", " + q($0) }.joined())) VALUES (?, ?, ?\(String(repeating: ", ?", count: dims.count)))"
        var refs: [DatasetRef] = []
        var governors = Set<[String]>()
        for (i, raw) in dataIds.enumerated() {
            // Data IDs already expanded by the caller (all implied values present) are not looked up again.
            let dataId = type.dimensions.names.allSatisfy({ raw[$0] != nil }) && raw.count == type.dimensions.names.count && expandedDataIds
                ? DataCoordinate(dimensions: type.dimensions, values: raw)
                : try expandDataID(raw, dimensions: type.dimensions.names, in: c)
            let id = ids?[i] ?? idGenerationMode.makeId(datasetType: type.name, run: run, dataId: dataId)
            do {
                try c.execute("INSERT INTO dataset (id, dataset_type_id, run_id, ingest_date) VALUES (?, ?, ?, ?)",
                              [.text(id.lowercasedString), .integer(stored.id), .integer(runRecord.id), .integer(now)])
                try c.execute(tagSQL, [.integer(stored.id), .text(id.lowercasedString), .integer(runRecord.id)]
                              + dims.map { dataId[$0]!.sqlValue })
            } catch ButlerError.conflict {
                throw ButlerError(.conflict, "a '\(type.name)' dataset with data ID \(dataId) already exists in run '\(run)'\(idGenerationMode == .unique ? "" : " (dataset id \(id.lowercasedString))")")
            }
            if let files {
                let f = files[i]
                try c.execute("""
                    INSERT INTO file_datastore_records (dataset_id, component, path, formatter, storage_class, checksum, file_size, source_path, hdu)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, [.text(id.lowercasedString), .text(f.component), .text(f.path), SQLValue(f.formatter),
                          .text(f.storageClass), SQLValue(f.checksum), SQLValue(f.fileSize), SQLValue(f.sourcePath), SQLValue(f.hdu)])
            }
            for governor in universe.governors where dataId[governor.name] != nil {
                governors.insert([governor.name, dataId[governor.name]!.description])
            }
            refs.append(DatasetRef(id: id, datasetType: type, run: run, dataId: dataId))
        }
        if !refs.isEmpty {
            try c.execute("\(c.dialect.insertOrIgnore) collection_summary_dataset_type (collection_id, dataset_type_id) VALUES (?, ?)\(c.dialect.insertOrIgnoreSuffix)",
                          [.integer(runRecord.id), .integer(stored.id)])
            for g in governors {
                try c.execute("\(c.dialect.insertOrIgnore) collection_summary_governor (collection_id, governor, value) VALUES (?, ?, ?)\(c.dialect.insertOrIgnoreSuffix)",
                              [.integer(runRecord.id), .text(g[0]), .text(g[1])])
            }
        }
        return refs
    }

    /// The datastore records of a dataset.
    public func storedFiles(of datasetId: UUID) throws -> [StoredFileInfo] {
        try database.read { c in
            try c.query("SELECT path, storage_class, component, checksum, file_size, formatter, source_path, hdu FROM file_datastore_records WHERE dataset_id = ? ORDER BY component",
                        [.text(datasetId.lowercasedString)]).map {
                var info = StoredFileInfo(path: $0[0].string!, storageClass: $0[1].string ?? "", component: $0[2].string ?? "",
                                          checksum: $0[3].string, fileSize: $0[4].int64, formatter: $0[5].string)
                info.sourcePath = $0[6].string
                info.hdu = $0[7].int
                return info
            }
        }
    }

    /// The number of datasets in a RUN.
    public func datasetCount(inRun run: String) throws -> Int {
        try database.read { c in
            let record = try requireCollection(run, in: c)
            return try c.queryOne("SELECT COUNT(*) FROM dataset WHERE run_id = ?", [.integer(record.id)])?[0].int ?? 0
        }
    }

    /// Removes RUN collections whose names match `patterns`, with their datasets, all or none.
    ///
    /// The caller deletes the returned files after this returns (``Butler/removeRuns(_:unlinkFromChains:)`` does).
    /// - Parameter unlinkFromChains: unlink runs that are children of chains; otherwise that is an error.
    /// - Throws: ``ButlerError/Code/inUse`` when a run is in a chain, ``ButlerError/Code/invalidValue`` when a
    ///   literal name is not a RUN, ``ButlerError/Code/notFound`` when it does not exist.
    public func removeRuns(_ patterns: [String], unlinkFromChains: Bool = false) throws -> RemovedRuns {
        try removeRuns(patterns, unlinkFromChains: unlinkFromChains) { _ in }
    }

    /// Removes RUN collections with their datasets and steps; `releasing` is called inside the transaction with the
    /// paths (and claim tokens) of the files no remaining dataset uses.
    ///
    /// The steps (quanta) recorded in a removed run go with it; steps elsewhere that used its datasets keep
    /// tombstones of them (only with `unlinkFromChains`, which forces the removal; otherwise they refuse it).
    package func removeRuns(_ patterns: [String], unlinkFromChains: Bool,
                            releasing: ([(path: String, token: String)]) throws -> Void) throws -> RemovedRuns {
        let pattern = NamePattern(patterns)
        return try database.write { c in
            var result = RemovedRuns()
            for literal in pattern.literals {
                let record = try requireCollection(literal, in: c)
                guard record.type == .run else {
                    throw ButlerError(.invalidValue, "'\(literal)' is a \(record.type) collection, not a RUN; remove it with remove-collections")
                }
            }
            let runs = try queryCollectionsIn(c, pattern: pattern, type: .run)
            for run in runs {
                let parents = try parentChains(of: run.name, in: c)
                if !parents.isEmpty {
                    guard unlinkFromChains else {
                        throw ButlerError(.inUse, "run '\(run.name)' is in chain(s) \(parents.map { "'\($0)'" }.joined(separator: ", ")); use --force to unlink it and remove it")
                    }
                    result.unlinkedFrom[run.name] = parents
                }
            }
            // The runs' own steps go with them (their inputs and outputs, configs and parameters by cascade).
            for run in runs {
                try c.execute("DELETE FROM quantum WHERE run_id = ?", [.integer(run.id)])
            }
            // Provenance: datasets that steps elsewhere used go only when unlinking is forced, leaving tombstones.
            var removing = Set<String>()
            for run in runs {
                removing.formUnion(try c.query("SELECT id FROM dataset WHERE run_id = ?", [.integer(run.id)]).compactMap { $0[0].string })
            }
            try guardProvenance(removing: removing, force: unlinkFromChains, in: c)
            for run in runs {
                result.files += try c.query("""
                    SELECT file_datastore_records.path FROM file_datastore_records
                    JOIN dataset ON dataset.id = file_datastore_records.dataset_id WHERE dataset.run_id = ?
                    """, [.integer(run.id)]).compactMap { $0[0].string }
                result.datasetCount += try c.queryOne("SELECT COUNT(*) FROM dataset WHERE run_id = ?", [.integer(run.id)])?[0].int ?? 0
                // Memberships in other (TAGGED) collections go with the datasets.
                for table in try tagTables(in: c) + calibTables(in: c) {
                    try c.execute("DELETE FROM \(q(table)) WHERE dataset_id IN (SELECT id FROM dataset WHERE run_id = ?)", [.integer(run.id)])
                }
                try c.execute("DELETE FROM file_datastore_records WHERE dataset_id IN (SELECT id FROM dataset WHERE run_id = ?)", [.integer(run.id)])
                try c.execute("DELETE FROM dataset WHERE run_id = ?", [.integer(run.id)])
                try unlinkFromParents(run, in: c)
                try deleteCollectionRow(run, in: c)
                result.runs.append(run.name)
            }
            try releasing(try releaseUnreferencedPaths(result.files, in: c))
            return result
        }
    }

    private func queryCollectionsIn(_ c: any SQLConnection, pattern: NamePattern, type: CollectionType) throws -> [CollectionRecord] {
        try c.query("SELECT name FROM collection WHERE type = ? ORDER BY name", [.integer(Int64(type.rawValue))])
            .compactMap { $0[0].string }.filter(pattern.matches).compactMap { try collection($0, in: c) }
    }
}
