import Foundation

extension Butler {
    /// Ingests files listed in a CSV table as datasets of an existing dataset type, as Rubin's `ingest-files`:
    /// the first column is the file, the others are data ID values named by their dimension. Rows that share a file
    /// become several datasets pointing at that one file. Dimension records must exist already.
    ///
    /// - Parameters:
    ///   - dataId: values for every row, overriding the table's columns.
    ///   - prefix: folder that relative paths are resolved against (the current folder by default).
    /// - Returns: a report: bad rows are listed (one line each, naming the file and the reason) and the good ones
    ///   ingested.
    /// - Throws: for problems with the whole request (no such dataset type or run, unreadable table).
    public func ingestFiles(datasetType: String, run: String, table: String, dataId: [String: String] = [:], prefix: String? = nil,
                            transfer: TransferMode = .auto, idGenerationMode: DatasetIdGenerationMode = .unique,
                            trackFileAttributes: Bool = true, formatter: String? = nil) throws -> IngestReport {
        if let formatter, !Self.isPythonClassPath(formatter) {
            throw ButlerError(.invalidValue, "--formatter '\(formatter)' is not a fully-qualified Python class (package.module.Class)")
        }
        guard let type = try registry.datasetType(datasetType) else {
            throw ButlerError(.notFound, "no dataset type named '\(datasetType)'; register it with register-dataset-type first")
        }
        // The RUN is created with the first dataset, in the same transaction: a batch whose every row fails leaves nothing.
        let run = try Registry.validateCollectionName(run)
        if let existing = try registry.collection(run), existing.type != .run {
            throw ButlerError(.conflict, "collection '\(run)' exists with type \(existing.type), not RUN")
        }
        let csv = try CSVTable(contentsOfFile: table)
        guard !csv.columns.isEmpty else { throw ButlerError(.invalidValue, "table \(table) has no columns") }
        for column in csv.columns.dropFirst() where registry.universe[column] == nil {
            throw ButlerError(.invalidValue, "table \(table): column '\(column)' is not a dimension")
        }
        let template = try fileTemplate(for: type)
        let checksum = trackFileAttributes && checksumsEnabled
        var report = IngestReport()
        report.files = Set(csv.rows.map { $0[0] }).count

        // Resolve every row to a file and a data ID; bad rows are reported.
        struct Row { let file: String; let dataId: DataCoordinate }
        var rows: [Row] = []
        for (index, values) in csv.rows.enumerated() {
            let path = values[0].hasPrefix("/") ? values[0] : ((prefix ?? FileManager.default.currentDirectoryPath) as NSString).appendingPathComponent(values[0])
            var raw: [String: String] = [:]
            for (column, value) in zip(csv.columns.dropFirst(), values.dropFirst()) where !value.isEmpty { raw[column] = value }
            for (k, v) in dataId { raw[k] = v }
            do {
                guard FileManager.default.fileExists(atPath: path) else {
                    throw ButlerError(.notFound, "no such file")
                }
                rows.append(Row(file: path, dataId: try registry.expandDataID(raw, dimensions: type.dimensions.names)))
            } catch let error as ButlerError {
                report.failures.append("\(path) (row \(index + 2) of \(table)): \(error.message)")
            }
        }
        // One staging per file, then one transaction for all datasets and the claims on their paths.
        var stagedByFile: [String: StagedFile] = [:]
        var staged: [StagedFile] = []
        var good: [Row] = []
        var recordCache: [String: [String: String]] = [:]
        for row in rows {
            if stagedByFile[row.file] == nil {
                do {
                    let values = try templateValues(run: run, datasetType: type.name, dataId: row.dataId, cache: &recordCache)
                    let relative = try template.format(values) + RawIngester.fitsExtensionOrOwn(of: row.file, storageClass: type.storageClass)
                    if transfer == .move { try checkMoveSource(row.file) }
                    let file = try datastore.stage(row.file, at: relative, mode: transfer, checksum: checksum)
                    stagedByFile[row.file] = file
                    staged.append(file)
                } catch let error as ButlerError {
                    report.failures.append("\(row.file): \(error.message)")
                    continue
                }
            }
            good.append(row)
        }
        if good.isEmpty { return report }
        do {
            let refs = try registry.database.write { c in
                _ = try registry.registerCollection(run, type: .run, doc: nil, in: c)
                let refs = try registry.insertDatasets(type.name, run: run, dataIds: good.map { $0.dataId.values.filter { type.dimensions.required.contains($0.key) } },
                                                       idGenerationMode: idGenerationMode,
                                                       files: good.map { row in
                                                           let placed = stagedByFile[row.file]!
                                                           var info = StoredFileInfo(path: placed.recordedPath, storageClass: type.storageClass, checksum: placed.checksum,
                                                                                     fileSize: trackFileAttributes ? placed.size : nil, formatter: formatter)
                                                           let source = URL(fileURLWithPath: row.file).standardizedFileURL.path
                                                           info.sourcePath = datastore.contains(source) ? nil : source
                                                           return info
                                                       }, in: c)
                try registry.claimPaths(staged, in: c)
                return refs
            }
            report.ingested = refs.count
            report.datasetIds = refs.map(\.id)
            report.runs = refs.isEmpty ? [] : [run]
        } catch {
            for file in staged { datastore.discard(file) }
            throw error
        }
        try publish(staged)
        return report
    }
}

extension Butler {
    /// The values a file template can use for a dataset: run, dataset type, data ID values, and the fields of its
    /// detector, exposure and visit records (`detector.full_name`, `exposure.obs_id`, ...), looked up once per record.
    func templateValues(run: String, datasetType: String, dataId: DataCoordinate, cache: inout [String: [String: String]]) throws -> [String: String] {
        var values: [String: String] = ["run": run, "datasetType": datasetType]
        for (k, v) in dataId.values { values[k] = v.description }
        for element in ["detector", "exposure", "visit"] where dataId[element] != nil {
            // Keyed by the record's own key values (instrument, detector), so that a batch looks each record up once.
            var filter: [String: DataIDValue] = ["id": dataId[element]!]
            for dim in registry.universe.requiredDimensions(of: element) { filter[dim] = dataId[dim] }
            let key = element + "|" + filter.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
            if cache[key] == nil {
                let fields = try registry.fetchDimensionRecords(element, dataId: filter).first?.fields ?? [:]
                cache[key] = Dictionary(uniqueKeysWithValues: fields.map { ("\(element).\($0.key)", $0.value.description) })
            }
            values.merge(cache[key]!) { a, _ in a }
        }
        return values
    }
}

extension RawIngester {
    /// The extension a stored file keeps: its FITS extension (`.fits`, `.fits.fz`, `.fits.gz`, `.fit`, `.fz`), or its
    /// own, or the storage class's.
    static func fitsExtensionOrOwn(of path: String, storageClass: String) -> String {
        let name = URL(fileURLWithPath: path).lastPathComponent.lowercased()
        for ext in [".fits.fz", ".fits.gz", ".fit.gz", ".fits", ".fit", ".fz"] where name.hasSuffix(ext) { return ext }
        let own = URL(fileURLWithPath: path).pathExtension
        if !own.isEmpty { return "." + own }
        return StorageClasses.builtIn.extensions[storageClass].map { "." + $0 } ?? ""
    }
}

extension Butler {
    /// Whether `name` is a fully-qualified Python class (`lsst.obs.base.formatters.fitsGeneric.FitsGenericFormatter`):
    /// dotted identifiers, at least a module and a class, as Rubin's `--formatter` takes.
    static func isPythonClassPath(_ name: String) -> Bool {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count >= 2 && parts.allSatisfy { part in
            guard let first = part.first, first == "_" || (first.isASCII && first.isLetter) else { return false }
            return part.allSatisfy { $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }
        }
    }
}
