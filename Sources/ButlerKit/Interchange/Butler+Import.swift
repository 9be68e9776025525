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
    /// Check everything and report what would be written, writing nothing.
    public var dryRun = false
    /// The command doing it, recorded in each dataset's copy history (`import -t copy`).
    public var method = "import"
    /// Where the datasets come from, when known (recorded in each dataset's copy history).
    public var source: RepositoryIdentity?
    /// Files copied at once.
    public var parallelFiles = 4
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

    public init() {}
}

/// Where an import takes a file from and how it puts it in place: given the file and its destination path in the
/// datastore, it stages the file (see ``FileDatastore/stage(_:at:mode:checksum:prepare:)``).
package typealias FileStager = @Sendable (_ file: ExportedFile, _ destination: String, _ checksum: Bool) throws -> StagedFile

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
    /// - Parameter files: stages each file (see ``FileStager``).
    package func importContents(_ contents: ExportContents, files stager: @escaping FileStager, options: ImportOptions) throws -> ImportReport {
        if !options.dryRun { try requireWritable() }
        var report = ImportReport()
        report.dryRun = options.dryRun
        let started = Date()
        let plan = try ImportPlan(contents: contents, butler: self, options: options)
        logger.debug("import planned", metadata: ["seconds": "\(Date().timeIntervalSince(started))", "files": "\(plan.newFiles.count)"])
        report.alreadyPresent = plan.presentCount
        report.datasetTypes = plan.newDatasetTypes.map(\.name)
        report.collections = plan.newCollections
        report.dimensionRecords = plan.newRecordCount
        report.datasets = plan.newFiles.reduce(0) { $0 + $1.file.refs.count }
        report.files = plan.newFiles.count
        report.datasetIds = plan.newFiles.flatMap { $0.file.refs.map(\.id) }
        report.steps = contents.provenance?.steps.count ?? 0
        if options.dryRun {
            report.bytes = plan.newFiles.reduce(0) { $0 + ($1.file.size ?? 0) }
            return report
        }
        // Files first, in parallel, each checked on arrival; nothing has a final name yet.
        let staged = try stageAll(plan.newFiles, stager: stager, options: options)
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
                    let placed = staged[index]
                    let type = plan.datasetTypes[entry.datasetType]!
                    var info = StoredFileInfo(path: placed.recordedPath, storageClass: type.storageClass, checksum: placed.checksum ?? entry.file.checksum,
                                              fileSize: options.trackFileAttributes ? placed.size : nil, formatter: entry.file.formatter)
                    info.hdu = entry.file.hdu
                    return Registry.ImportedFile(datasetType: type, run: entry.run, ids: entry.file.refs.map(\.id), dataIds: entry.dataIds, file: info)
                }, in: c)
                try registry.claimPaths(staged, in: c)
                try plan.writeAssociations(in: c, registry: registry)
                if let bundle = contents.provenance {
                    // Foreign: only facts about what this import brings (see ProvenanceBundle.admitted).
                    let arrival = ForeignArrival(sender: options.source ?? bundle.sourceRepository, here: identity, datasets: Set(report.datasetIds),
                                                 newRuns: Set(plan.collectionsToCreate.filter { $0.type == .run }.map(\.name)),
                                                 source: options.provenanceSource ?? "the provenance of the import")
                    steps = try registry.apply(bundle, arrival: arrival, in: c)
                }
                let copies = plan.newFiles.enumerated().flatMap { index, entry in
                    entry.file.refs.map { ref in
                        DatasetCopy(datasetId: ref.id, sourceRepository: options.source ?? contents.provenance?.sourceRepository,
                                    destinationRepository: identity, copiedAt: now, copiedBy: user, method: options.method,
                                    verifiedChecksum: entry.file.checksum.flatMap(Checksum.sha256Hex).flatMap { $0 == staged[index].checksum.flatMap(Checksum.sha256Hex) ? $0 : nil })
                    }
                }
                try registry.insertCopies(copies, in: c)
            }
        } catch {
            for file in staged { datastore.discard(file) }
            if let settled = try retryAfterLostRace(error, planned: report, contents: contents, files: stager, options: options) { return settled }
            throw error
        }
        report.steps = steps
        logger.debug("import committed", metadata: ["seconds": "\(Date().timeIntervalSince(started))"])
        try publish(staged)
        logger.debug("import published its files", metadata: ["seconds": "\(Date().timeIntervalSince(started))"])
        return report
    }

    /// Stages every new file (in parallel), checking each against its recorded size and checksum. On any failure
    /// every staged file is discarded and one error lists every bad file.
    private func stageAll(_ entries: [ImportPlan.NewFile], stager: @escaping FileStager, options: ImportOptions) throws -> [StagedFile] {
        let datastore = self.datastore
        let results: [Result<StagedFile, any Error>] = parallelMap(entries, workers: options.parallelFiles) { entry in
            Result {
                let staged = try stager(entry.file, entry.destination, true)
                let source = entry.file.path
                if let size = entry.file.size, size != staged.size {
                    datastore.discard(staged)
                    throw ButlerError(.integrity, "\(source): size \(staged.size) bytes, but the source recorded \(size)")
                }
                if let expected = entry.file.checksum.flatMap(Checksum.sha256Hex), let got = staged.checksum.flatMap(Checksum.sha256Hex), got != expected {
                    datastore.discard(staged)
                    throw ButlerError(.integrity, "\(source): checksum \(got) differs from the source's \(expected)")
                }
                return staged
            }
        }
        var staged: [StagedFile] = []
        var failures: [String] = []
        for (entry, result) in zip(entries, results) {
            switch result {
            case .success(let file): staged.append(file)
            case .failure(let error): failures.append((error as? ButlerError)?.message ?? "\(entry.file.path): \(error)")
            }
        }
        if !failures.isEmpty {
            for file in staged { datastore.discard(file) }
            // The first few failures, then a count: a full disk fails every file, and one line must stay readable.
            throw ButlerError(.integrity, failures.count == 1 ? ButlerError.summary(failures)
                              : "\(failures.count) files failed, nothing was imported: " + ButlerError.summary(failures))
        }
        return staged
    }
}
