package import Foundation

/// One raw dataset ready for the registry: what its header said and where its file now is.
package struct RawDataset: Sendable {
    package let info: ObservationInfo
    package let id: UUID
    package let run: String
    package let file: StoredFileInfo
}

extension Registry {
    /// The dataset type raw ingest writes.
    package static let rawDatasetTypeName = "raw"

    /// Makes sure the `raw` dataset type and the runs exist.
    package func prepareRawIngest(runs: Set<String>) throws {
        let raw = try makeDatasetType(Self.rawDatasetTypeName, storageClass: "Exposure", dimensions: ["instrument", "detector", "exposure"])
        try registerDatasetType(raw)
        for run in runs.sorted() { try registerRun(run) }
    }

    /// The instruments that have a record.
    package func registeredInstruments() throws -> Set<String> {
        try database.read { c in Set(try c.query("SELECT name FROM instrument").compactMap { $0[0].string }) }
    }

    /// Writes an instrument definition: the instrument, filter and detector records (synced: an identical
    /// record is left alone, a different one is an error unless `update`), and the YAML itself.
    package func registerInstrument(_ definition: InstrumentDefinition, update: Bool) throws {
        try database.write { c in
            try syncDimensionRecords(definition.records, update: update, in: c)
            // Concurrent ingests register the same instrument at once: the row is inserted unless another writer's
            // is there (a delete and an insert would collide on its key), then given this definition's text.
            let name = SQLValue.text("instrument:" + definition.name), yaml = SQLValue.text(definition.yaml)
            try c.execute("\(c.dialect.insertOrIgnore) butler_attributes (name, value) VALUES (?, ?)\(c.dialect.insertOrIgnoreSuffix)", [name, yaml])
            try c.execute("UPDATE butler_attributes SET value = ? WHERE name = ? AND value <> ?", [yaml, name, yaml])
        }
    }

    /// The instrument definitions registered from YAML (custom cameras and registered built-ins).
    package func instrumentDefinitions() throws -> [InstrumentDefinition] {
        try database.read { c in
            try c.query("SELECT name, value FROM butler_attributes WHERE name LIKE 'instrument:%' ORDER BY name").compactMap { row in
                try InstrumentDefinition(yaml: row[1].string ?? "", source: "registry attribute \(row[0].string ?? "")")
            }
        }
    }

    /// What the registry already holds for some dataset ids: path, source and checksum of their first file.
    package func existingFiles(_ ids: [UUID]) throws -> [UUID: StoredFileInfo] {
        guard !ids.isEmpty else { return [:] }
        return try database.read { c in
            var result: [UUID: StoredFileInfo] = [:]
            for chunk in ids.chunked(500) {
                let sql = """
                    SELECT dataset.id, file_datastore_records.path, file_datastore_records.source_path, file_datastore_records.checksum,
                           file_datastore_records.file_size
                    FROM dataset LEFT JOIN file_datastore_records ON file_datastore_records.dataset_id = dataset.id
                    WHERE dataset.id IN (\(Array(repeating: "?", count: chunk.count).joined(separator: ", ")))
                    """
                for row in try c.query(sql, chunk.map { .text($0.lowercasedString) }) {
                    guard let id = row[0].string.flatMap(UUID.init(uuidString:)) else { continue }
                    var info = StoredFileInfo(path: row[1].string ?? "", storageClass: "Exposure", checksum: row[3].string, fileSize: row[4].int64)
                    info.sourcePath = row[2].string
                    result[id] = info
                }
            }
            return result
        }
    }

    /// Inserts raws with their dimension records (day_obs, group, exposure, and any missing filter or detector)
    /// in one transaction. Records that exist are left alone. Datasets whose id exists already are skipped and
    /// returned. The paths of the `staged` files that inserted datasets use are claimed in the same transaction.
    package func insertRaws(_ raws: [RawDataset], staged: [StagedFile] = []) throws -> (inserted: [RawDataset], skipped: [RawDataset]) {
        guard !raws.isEmpty else { return ([], []) }
        return try database.write { c in
            let d = c.dialect
            let ignore = d.insertOrIgnore, suffix = d.insertOrIgnoreSuffix
            var seen = Set<String>()
            func once(_ key: String, _ body: () throws -> Void) rethrows {
                if seen.insert(key).inserted { try body() }
            }
            for raw in raws {
                let i = raw.info
                let inst = SQLValue.text(i.instrument)
                try once("f|\(i.instrument)|\(i.physicalFilter)") {
                    try c.execute("\(ignore) physical_filter (instrument, name, band) VALUES (?, ?, ?)\(suffix)", [inst, .text(i.physicalFilter), .text(i.band)])
                }
                try once("d|\(i.instrument)|\(i.detectorId)") {
                    try c.execute("\(ignore) detector (instrument, id, full_name, raft, name_in_raft) VALUES (?, ?, ?, ?, ?)\(suffix)",
                                  [inst, .integer(Int64(i.detectorId)), .text(i.detectorName), SQLValue(i.detectorGroup), SQLValue(i.detectorNameInGroup)])
                }
                try once("o|\(i.instrument)|\(i.dayObs)") {
                    let start = TAITime.startOfDayObs(i.dayObs, offsetSeconds: i.dayObsOffsetSeconds)
                    try c.execute("\(ignore) day_obs (instrument, id, timespan_begin, timespan_end) VALUES (?, ?, ?, ?)\(suffix)",
                                  [inst, .integer(Int64(i.dayObs)), .integer(start.nanoseconds), .integer(start.nanoseconds + 86_400_000_000_000)])
                }
                try once("g|\(i.instrument)|\(i.group)") {
                    try c.execute("\(ignore) \(q("group")) (instrument, name) VALUES (?, ?)\(suffix)", [inst, .text(i.group)])
                }
                try once("e|\(i.instrument)|\(i.exposureId)") {
                    try c.execute("""
                        \(ignore) exposure (instrument, id, obs_id, physical_filter, \(q("group")), day_obs, exposure_time, dark_time,
                            observation_type, observation_reason, seq_num, target_name, science_program, tracking_ra, tracking_dec,
                            sky_angle, azimuth, zenith_angle, has_simulated, can_see_sky, timespan_begin, timespan_end)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)\(suffix)
                        """, [inst, .integer(Int64(i.exposureId)), .text(i.obsId), .text(i.physicalFilter), .text(i.group), .integer(Int64(i.dayObs)),
                              SQLValue(i.exposureTime), SQLValue(i.darkTime), SQLValue(i.observationType.map { String($0.prefix(16)) }),
                              SQLValue(i.observationReason.map { String($0.prefix(68)) }), SQLValue(i.seqNum),
                              SQLValue(i.targetName.map { String($0.prefix(64)) }), SQLValue(i.scienceProgram.map { String($0.prefix(64)) }),
                              SQLValue(i.trackingRA), SQLValue(i.trackingDec), SQLValue(i.rotationAngle), SQLValue(i.azimuth), SQLValue(i.zenithAngle),
                              SQLValue(i.hasSimulatedContent), SQLValue(i.canSeeSky), SQLValue(i.datetimeBegin?.nanoseconds), SQLValue(i.datetimeEnd?.nanoseconds)])
                }
            }
            let stored = try requireDatasetType(Self.rawDatasetTypeName, in: c)
            var runIds: [String: Int64] = [:]
            for run in Set(raws.map(\.run)) { runIds[run] = try requireCollection(run, in: c).id }
            let existing = Set(try c.query("SELECT id FROM dataset WHERE id IN (\(Array(repeating: "?", count: raws.count).joined(separator: ", ")))",
                                           raws.map { .text($0.id.lowercasedString) }).compactMap { $0[0].string })
            var inserted: [RawDataset] = []
            var skipped: [RawDataset] = []
            let now = Int64(Date().timeIntervalSince1970 * 1_000_000_000) + 37_000_000_000
            var datasetRows: [[SQLValue]] = [], tagRows: [[SQLValue]] = [], fileRows: [[SQLValue]] = []
            var seenIds = Set<UUID>()
            for raw in raws {
                let id = raw.id.lowercasedString
                if existing.contains(id) || !seenIds.insert(raw.id).inserted { skipped.append(raw); continue }
                let runId = runIds[raw.run]!
                datasetRows.append([.text(id), .integer(stored.id), .integer(runId), .integer(now)])
                tagRows.append([.integer(stored.id), .text(id), .integer(runId), .text(raw.info.instrument),
                                .integer(Int64(raw.info.detectorId)), .integer(Int64(raw.info.exposureId))])
                let f = raw.file
                fileRows.append([.text(id), .text(""), .text(f.path), SQLValue(f.formatter), .text(f.storageClass), SQLValue(f.checksum),
                                 SQLValue(f.fileSize), SQLValue(f.sourcePath), SQLValue(f.hdu)])
                inserted.append(raw)
            }
            try c.insertRows(into: "dataset", columns: ["id", "dataset_type_id", "run_id", "ingest_date"], rows: datasetRows)
            do {
                try c.insertRows(into: stored.tagTable, columns: ["dataset_type_id", "dataset_id", "collection_id", "instrument", "detector", "exposure"], rows: tagRows)
            } catch ButlerError.conflict {
                throw ButlerError(.conflict, "a raw with the same data ID is already in the run under another dataset id")
            }
            try c.insertRows(into: "file_datastore_records",
                             columns: ["dataset_id", "component", "path", "formatter", "storage_class", "checksum", "file_size", "source_path", "hdu"],
                             rows: fileRows)
            let insertedPaths = Set(inserted.map(\.file.path))
            try claimPaths(staged.filter { insertedPaths.contains($0.recordedPath) }, in: c)
            for (run, runId) in runIds {
                try c.execute("\(ignore) collection_summary_dataset_type (collection_id, dataset_type_id) VALUES (?, ?)\(suffix)", [.integer(runId), .integer(stored.id)])
                for instrument in Set(inserted.filter { $0.run == run }.map(\.info.instrument)) {
                    try c.execute("\(ignore) collection_summary_governor (collection_id, governor, value) VALUES (?, 'instrument', ?)\(suffix)",
                                  [.integer(runId), .text(instrument)])
                }
            }
            return (inserted, skipped)
        }
    }
}
