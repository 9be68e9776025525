public import Foundation

/// How ``Butler/importContents(_:files:options:)`` brings datasets in.
public struct ImportOptions: Sendable {
    /// How files come into the datastore (`copy` by default; `direct` records them where they are).
    public var transfer: TransferMode = .copy
    /// Do not write dimension records: they must be in this repository already.
    public var skipDimensions = false
    /// Register dataset types that this repository lacks (otherwise such a type is an error).
    public var registerDatasetTypes = true
    /// Record each file's size and checksum (its checksum is always checked when the source recorded one).
    public var trackFileAttributes = true
    /// Check everything and report what would be written, writing nothing. The files are checked as the import
    /// would check them (present, regular, recorded size and checksum), unless ``withoutDatastore``.
    public var dryRun = false
    /// Register the datasets in the registry only (Rubin's `without_datastore=True`): dimension records,
    /// collections, tags, validity ranges, dataset types and datasets are written, but no file is read, placed or
    /// recorded in the datastore. For exports that list datasets without their files, as Rubin's registry test data.
    public var withoutDatastore = false
    /// The command doing it, recorded in each dataset's copy history (`import -t copy`).
    public var method = "import"
    /// Where the datasets come from, when known (recorded in each dataset's copy history).
    public var source: RepositoryIdentity?
    /// Files copied at once.
    public var parallelFiles = 4
    /// Told of the files placed (or, in a dry run, checked) as they are.
    public var progress: ProgressReport?
    /// Take files an export names by absolute path (a direct-mode export of Rubin's) where they are: only with
    /// ``transfer`` `direct`, which records them in place and never moves them. Otherwise an import reads only
    /// regular files inside its directory.
    public var allowAbsolutePaths = false
    /// Names the provenance bundle in errors (its file, Zip member or source repository).
    package var provenanceSource: String?

    public init() {}
}

/// What an import, a transfer or a Zip ingest did (or, in a dry run, would do).
public struct ImportReport: Sendable {
    /// Datasets added.
    public var datasets = 0
    /// Datasets that were here already with the same id, type, run and data ID (left alone).
    public var alreadyPresent = 0
    /// Files placed in the datastore, and their bytes.
    public var files = 0
    public var bytes: Int64 = 0
    /// Collections, dataset types and dimension records created.
    public var collections: [String] = []
    public var datasetTypes: [String] = []
    public var dimensionRecords = 0
    /// Provenance steps added (in a dry run: the steps the contents carry).
    public var steps = 0
    /// The added datasets' ids.
    public var datasetIds: [UUID] = []
    /// Whether nothing was written (a dry run).
    public var dryRun = false
    /// Whether the datasets were registered without files (``ImportOptions/withoutDatastore``).
    public var registryOnly = false
    /// One line each: what was accepted but deserves a look (a dataset type's storage class not known here).
    public var warnings: [String] = []

    public init() {}
}

/// Where an import takes a file from and how it puts it in place: given the file and its destination path in the
/// datastore, it stages the file (see ``FileDatastore/stage(_:at:mode:checksum:prepare:)``).
package typealias FileStager = @Sendable (_ file: ExportedFile, _ destination: String, _ checksum: Bool) throws -> StagedFile

/// What a dry run reads of a file instead of staging it: the file's size and, when `checksum`, its SHA-256 (hex),
/// after the same checks on where it is that staging makes.
package typealias FileProbe = @Sendable (_ file: ExportedFile, _ checksum: Bool) throws -> (size: Int64, checksum: String?)

/// Stages what several new files share (a Zip kept whole, whose members they are), once, before them: claimed,
/// published and discarded with them. Called only when there is something new to store.
package typealias SharedFileStager = @Sendable () throws -> [StagedFile]

extension Butler {
    /// Brings exported datasets into this repository, keeping their ids: dimension records, collections (chains, tags,
    /// validity ranges), dataset types, datasets with their files, and their provenance, as one registry transaction.
    ///
    /// What holds:
    /// - A dataset already here with the same id, type, run and data ID is left alone (re-importing adds nothing).
    ///   The same id with another type, run or data ID, or the same data ID in a RUN under another id, is a conflict
    ///   naming both, and nothing is written.
    /// - Every file is placed under this repository's file template by the one write path, checked on arrival against
    ///   the size and SHA-256 the source recorded, and named by the registry only once it is in place. Any bad file
    ///   (absent, wrong size, wrong checksum) fails the whole import: every bad file is listed, nothing is written.
    /// - Each new dataset's arrival is recorded in its copy history (source repository, time, user, method, checksum).
    ///
    /// - With ``ImportOptions/withoutDatastore`` no file is read or placed: the datasets are registered only.
    /// - A dry run checks every file as the import would (with `probe`), and fails as the import would fail.
    ///
    /// - Parameters:
    ///   - files: stages each file (see ``FileStager``).
    ///   - probe: reads a file for a dry run (see ``FileProbe``); nil checks nothing of the files.
    ///   - shared: stages what the files share, before them (see ``SharedFileStager``).
    package func importContents(_ contents: ExportContents, files stager: @escaping FileStager, probe: FileProbe? = nil,
                                shared sharedStager: SharedFileStager? = nil, options: ImportOptions) throws -> ImportReport {
        if !options.dryRun { try requireWritable() }
        let registryOnly = options.withoutDatastore
        var report = ImportReport()
        report.dryRun = options.dryRun
        report.registryOnly = registryOnly
        // Records of an older universe take this universe's shape first, as Rubin converts them.
        var contents = contents
        report.warnings += UniverseConversion.convert(&contents, to: registry.universe)
        let started = Date()
        let plan = try ImportPlan(contents: contents, butler: self, options: options)
        logger.debug("import planned", metadata: ["seconds": "\(Date().timeIntervalSince(started))", "files": "\(plan.newFiles.count)"])
        report.alreadyPresent = plan.presentCount
        for (type, storageClass) in plan.unknownStorageClasses.sorted(by: { $0.key < $1.key }) where plan.newDatasetTypes.contains(where: { $0.name == type }) {
            report.warnings.append("dataset type '\(type)': storage class '\(storageClass)' is not known here; kept as a name (add it to storageClasses: in the repository's configuration to read its files)")
        }
        report.datasetTypes = plan.newDatasetTypes.map(\.name)
        report.collections = plan.newCollections
        report.dimensionRecords = plan.newRecordCount
        report.datasets = plan.newFiles.reduce(0) { $0 + $1.file.refs.count }
        report.files = registryOnly ? 0 : plan.newFiles.count
        report.datasetIds = plan.newFiles.flatMap { $0.file.refs.map(\.id) }
        report.steps = contents.provenance?.steps.count ?? 0
        if options.dryRun {
            if !registryOnly {
                if let probe {
                    report.bytes = try probeAll(plan.newFiles, probe: probe, options: options)
                } else {
                    report.bytes = plan.newFiles.reduce(0) { $0 + ($1.file.size ?? 0) }
                }
            }
            return report
        }
        // Files first (what they share, then each in parallel), each checked on arrival; nothing has a final name yet.
        let shared = registryOnly || plan.newFiles.isEmpty ? [] : try sharedStager?() ?? []
        let staged: [StagedFile]
        do {
            staged = registryOnly ? [] : try stageAll(plan.newFiles, stager: stager, options: options)
        } catch {
            for file in shared { datastore.discard(file) }
            throw error
        }
        logger.debug("import staged its files", metadata: ["seconds": "\(Date().timeIntervalSince(started))"])
        report.bytes = staged.reduce(0) { $0 + $1.size }
        let identity: RepositoryIdentity = self.identity
        let now = Registry.taiNanoseconds(Date())
        let user = ProcessInfo.processInfo.environment["USER"] ?? NSUserName()
        var steps = 0
        do {
            try registry.database.write { c in
                try plan.writeRegistry(in: c, registry: registry)
                try registry.insertImportedDatasets(plan.newFiles.enumerated().map { index, entry in
                    let type = plan.datasetTypes[entry.datasetType]!
                    guard !registryOnly else {
                        return Registry.ImportedFile(datasetType: type, run: entry.run, ids: entry.file.refs.map(\.id), dataIds: entry.dataIds, file: nil)
                    }
                    let placed = staged[index]
                    var info = StoredFileInfo(path: placed.recordedPath, storageClass: type.storageClass, checksum: placed.checksum ?? entry.file.checksum,
                                              fileSize: options.trackFileAttributes ? placed.size : nil, formatter: entry.file.formatter)
                    info.hdu = entry.file.hdu
                    return Registry.ImportedFile(datasetType: type, run: entry.run, ids: entry.file.refs.map(\.id), dataIds: entry.dataIds, file: info)
                }, in: c)
                try registry.claimPaths(shared + staged, in: c)
                try plan.writeAssociations(in: c, registry: registry)
                // The arrivals first: what came is recorded as having come before its provenance is admitted.
                let copies = plan.newFiles.enumerated().flatMap { index, entry in
                    entry.file.refs.map { ref in
                        DatasetCopy(datasetId: ref.id, sourceRepository: options.source ?? contents.provenance?.sourceRepository,
                                    destinationRepository: identity, copiedAt: now, copiedBy: user, method: options.method,
                                    verifiedChecksum: registryOnly ? nil
                                        : entry.file.checksum.flatMap(Checksum.sha256Hex).flatMap { $0 == staged[index].checksum.flatMap(Checksum.sha256Hex) ? $0 : nil })
                    }
                }
                try registry.insertCopies(copies, in: c)
                if let bundle = contents.provenance {
                    // Foreign: only facts about what this import brings (see ProvenanceBundle.admitted).
                    let arrival = ForeignArrival(sender: options.source ?? bundle.sourceRepository, here: identity, datasets: Set(report.datasetIds),
                                                 newRuns: Set(plan.collectionsToCreate.filter { $0.type == .run }.map(\.name)),
                                                 source: options.provenanceSource ?? "the provenance of the import")
                    steps = try registry.apply(bundle, arrival: arrival, in: c)
                }
            }
        } catch {
            for file in shared + staged { datastore.discard(file) }
            if let settled = try retryAfterLostRace(error, planned: report, contents: contents, files: stager, shared: sharedStager, options: options) {
                return settled
            }
            throw error
        }
        report.steps = steps
        logger.debug("import committed", metadata: ["seconds": "\(Date().timeIntervalSince(started))"])
        try publish(shared + staged)
        logger.debug("import published its files", metadata: ["seconds": "\(Date().timeIntervalSince(started))"])
        return report
    }

    /// Stages every new file (in parallel), checking each against its recorded size and checksum. On any failure
    /// every staged file is discarded and one error lists every bad file.
    private func stageAll(_ entries: [ImportPlan.NewFile], stager: @escaping FileStager, options: ImportOptions) throws -> [StagedFile] {
        let datastore = self.datastore
        let counter = ProgressCounter(total: entries.count, report: options.progress)
        let results: [Result<StagedFile, any Error>] = parallelMap(entries, workers: options.parallelFiles) { entry in
            defer { counter.advance() }
            return Result {
                let staged = try stager(entry.file, entry.destination, true)
                do {
                    try Self.checkArrival(entry.file, size: staged.size, checksum: staged.checksum)
                } catch {
                    datastore.discard(staged)
                    throw error
                }
                return staged
            }
        }
        var staged: [StagedFile] = []
        for case .success(let file) in results { staged.append(file) }
        do {
            try Self.throwFailures(entries, results)
        } catch {
            for file in staged { datastore.discard(file) }
            throw error
        }
        return staged
    }

    /// A dry run's look at every new file (in parallel): the checks of ``stageAll(_:stager:options:)`` without placing
    /// anything. Returns the files' bytes; throws as the import would.
    private func probeAll(_ entries: [ImportPlan.NewFile], probe: @escaping FileProbe, options: ImportOptions) throws -> Int64 {
        let counter = ProgressCounter(total: entries.count, report: options.progress)
        let results: [Result<Int64, any Error>] = parallelMap(entries, workers: options.parallelFiles) { entry in
            defer { counter.advance() }
            return Result {
                let measured = try probe(entry.file, entry.file.checksum != nil)
                try Self.checkArrival(entry.file, size: measured.size, checksum: measured.checksum)
                return measured.size
            }
        }
        try Self.throwFailures(entries, results)
        return results.reduce(0) { $0 + ((try? $1.get()) ?? 0) }
    }

    /// Refuses a file whose size or checksum is not what the source recorded.
    private static func checkArrival(_ file: ExportedFile, size: Int64, checksum: String?) throws {
        if let recorded = file.size, recorded != size {
            throw ButlerError(.integrity, "\(file.path): size \(size) bytes, but the source recorded \(recorded)")
        }
        if let expected = file.checksum.flatMap(Checksum.sha256Hex), let got = checksum.flatMap(Checksum.sha256Hex), got != expected {
            throw ButlerError(.integrity, "\(file.path): checksum \(got) differs from the source's \(expected)")
        }
    }

    /// One error listing the failed files, when any failed.
    private static func throwFailures<T>(_ entries: [ImportPlan.NewFile], _ results: [Result<T, any Error>]) throws {
        var failures: [String] = []
        var missing = false
        for (entry, result) in zip(entries, results) {
            guard case .failure(let error) = result else { continue }
            if (error as? ButlerError)?.code == .notFound { missing = true }
            failures.append((error as? ButlerError)?.message ?? "\(entry.file.path): \(error)")
        }
        guard !failures.isEmpty else { return }
        // The first few failures, then a count: a full disk fails every file, and one line must stay readable.
        let hint = missing ? " (to register the datasets without their files: --without-datastore)" : ""
        throw ButlerError(.integrity, (failures.count == 1 ? ButlerError.summary(failures)
                          : "\(failures.count) files failed, nothing was imported: " + ButlerError.summary(failures)) + hint)
    }
}
