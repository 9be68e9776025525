public import Foundation
import FITS
internal import S3
internal import Glibc

/// Options of ``Butler/ingestRaws(_:options:)``, with Rubin's defaults.
public struct RawIngestOptions: Sendable {
    /// The RUN to ingest into; by default `<INSTRUMENT>/raw/all`.
    public var run: String?
    /// How files get into the datastore.
    public var transfer: TransferMode = .auto
    /// Files read at once (header reading, checksums and transfers run in parallel).
    public var processes: Int = ProcessInfo.processInfo.activeProcessorCount
    /// Which files in folders are raws (a regular expression matched against the file name).
    public var pattern: String = #"\.fit[s]?\b"#
    /// Skip files whose datasets are already ingested (from the same file); otherwise that is an error.
    public var skipExisting = true
    /// Stop at the first bad file (nothing from it is registered).
    public var failFast = false
    /// Record file size and SHA-256 checksum.
    public var trackFileAttributes = true
    /// Keep the ids of the ingested datasets in the report (``IngestReport/datasetIds``); turn off for huge ingests.
    public var collectDatasetIds = true
    /// Called after each batch with files done so far and the total.
    public var progress: (@Sendable (_ done: Int, _ total: Int) -> Void)?

    public init() {}
}

/// What an ingest did.
public struct IngestReport: Sendable {
    /// Files found.
    public var files = 0
    /// Datasets ingested (one per detector).
    public var ingested = 0
    /// Files that went in (each gives one dataset per detector).
    public var ingestedFiles = 0
    /// Files already ingested, left alone (``concurrentlyRegisteredFiles`` of them by another process during this ingest).
    public var skippedFiles = 0
    /// Of ``skippedFiles``, those another process registered while this ingest was running (it lost the race for
    /// them, staged copies removed): `ingestedFiles + skippedFiles + failures.count` is `files` when each failure is one file.
    public var concurrentlyRegisteredFiles = 0
    /// Files that failed, with the reason (one line each, naming the file).
    public var failures: [String] = []
    /// Problems that did not stop a file (stale checksums).
    public var warnings: [String] = []
    /// The runs that received datasets.
    public var runs: Set<String> = []
    /// The ingested datasets' ids, in file order.
    public var datasetIds: [UUID] = []
    /// Whether `failFast` stopped the ingest early.
    public var stoppedEarly = false
}

/// Raw ingest: find files, read headers in parallel, translate, place files, register everything.
///
/// Files are handled in batches so memory does not grow with the number of files. For each batch the files are
/// staged first (each under a temporary name), then registered with the claims on their paths in one transaction,
/// then published under their final names (see ``FileDatastore`` for the invariants); if the transaction fails,
/// only the staged files are removed.
struct RawIngester {
    let butler: Butler
    let options: RawIngestOptions
    let translators: TranslatorSet
    let datastore: any Datastore
    let template: FileTemplate
    let checksums: Bool

    static let batchSize = 2000

    /// One file after its headers were read and translated.
    struct Scanned: Sendable {
        var path: String
        var observations: [(hdu: Int, info: ObservationInfo)] = []
        var warnings: [String] = []
        var error: String?
    }

    func run(_ locations: [String]) throws -> IngestReport {
        var report = IngestReport()
        let pattern = try FileNamePattern(options.pattern)
        let include = { (name: String) throws -> Bool in try pattern.matches(name) }
        // A first, cheap pass counts the files (for the progress bar); the second streams them in batches,
        // so memory does not grow with the number of files.
        var roots: [(path: String, isFolder: Bool)] = []
        // Objects of a bucket (s3://BUCKET/KEY, or a prefix whose matching objects are all taken), for a bucket
        // datastore: their headers are read from a download, and they are copied on the service or, with direct,
        // recorded where they are.
        var objects: [String] = []
        for location in locations where location.hasPrefix("s3://") {
            guard butler.bucket != nil else {
                report.failures.append("\(location): raws in a bucket are ingested into a repository whose datastore is a bucket")
                continue
            }
            do {
                objects += try Self.objects(at: location, include: include)
            } catch {
                report.failures.append("\(location): \(error)")
            }
        }
        for location in locations where !location.hasPrefix("s3://") {
            let path = absolutePath(location)
            var st = stat()
            guard stat(path, &st) == 0 else {
                report.failures.append("\(location): no such file or folder")
                continue
            }
            if let kind = irregularFileKind(path) {
                report.failures.append("\(location): not a regular file (\(kind))")
                continue
            }
            roots.append((path, (st.st_mode & S_IFMT) == S_IFDIR))
        }
        if options.failFast && !report.failures.isEmpty {
            report.stoppedEarly = true
            report.files = report.failures.count
            return report
        }
        // Counting walks the folders too, so a --regex too slow for a name stops the ingest before anything is done.
        var total = 0
        var counter = FolderWalk(include: include)
        for root in roots {
            if root.isFolder { try counter.walk(root.path) { _ in total += 1 } } else { total += 1 }
        }
        total += objects.count
        report.files = total + report.failures.count

        var state = BatchState(instrumentsReady: try butler.registry.registeredInstruments())
        var batch: [String] = []
        var explicit = Set<String>()
        // Two stages in a pipeline: while one batch is registered, the next one's headers are read.
        var pending: PendingScan?
        struct Stop: Error {}
        func finishPending() throws {
            guard let p = pending else { return }
            pending = nil
            let stop = try process(p.wait(), into: &report, state: &state)
            state.done += p.count
            options.progress?(min(state.done, total), total)
            if stop { throw Stop() }
        }
        func flush() throws {
            guard !batch.isEmpty else { return }
            let next = PendingScan(batch, ingester: self)
            batch.removeAll(keepingCapacity: true)
            do {
                try finishPending()
            } catch {
                _ = next.wait()
                throw error
            }
            pending = next
        }
        var walker = FolderWalk(include: include, logger: butler.logger)
        do {
            for object in objects where explicit.insert(object).inserted {
                batch.append(object)
                if batch.count >= Self.batchSize { try flush() }
            }
            for root in roots {
                if !root.isFolder {
                    if explicit.insert(root.path).inserted { batch.append(root.path) }
                    if batch.count >= Self.batchSize { try flush() }
                    continue
                }
                try walker.walk(root.path) { path in
                    batch.append(path)
                    if batch.count >= Self.batchSize { try flush() }
                }
            }
            try flush()
            try finishPending()
        } catch is Stop {
            report.stoppedEarly = true
        }
        return report
    }

    /// A batch whose headers are being read in the background.
    final class PendingScan: @unchecked Sendable {
        // @unchecked: `result` is written once before `group` is left and read only after waiting on it.
        let count: Int
        private let group = DispatchGroup()
        private var result: [Scanned] = []

        init(_ paths: [String], ingester: RawIngester) {
            count = paths.count
            group.enter()
            DispatchQueue.global().async { [self] in
                result = ingester.parallelMap(paths) { ingester.scan($0) }
                group.leave()
            }
        }

        func wait() -> [Scanned] {
            group.wait()
            return result
        }
    }

    /// What carries over from one batch to the next.
    struct BatchState {
        var instrumentsReady: Set<String>
        var preparedRuns = Set<String>()
        var done = 0
    }

    /// Registers one scanned batch; returns whether the ingest must stop (--fail-fast).
    func process(_ scannedBatch: [Scanned], into report: inout IngestReport, state: inout BatchState) throws -> Bool {
        var scanned = scannedBatch
        var stop = false
        // With --fail-fast, the first bad file ends the ingest: only the files before it go on.
        if options.failFast, let firstBad = scanned.firstIndex(where: { $0.error != nil }) {
            report.failures.append(scanned[firstBad].error!)
            scanned = Array(scanned[..<firstBad])
            stop = true
        }
        for s in scanned { report.warnings += s.warnings }
        report.failures += scanned.compactMap(\.error)
        let good = scanned.filter { $0.error == nil }

        // Instruments and runs this batch needs.
        let instruments = Set(good.flatMap { $0.observations.map(\.info.instrument) })
        for name in instruments.subtracting(state.instrumentsReady).sorted() {
            if let definition = try InstrumentDefinition.builtIn(name) {
                try butler.registry.registerInstrument(definition, update: false)
            } else {
                try butler.registry.syncDimensionRecord(DimensionRecord(element: "instrument", fields: ["name": .string(name)]))
            }
            state.instrumentsReady.insert(name)
        }
        let runs = Set(good.flatMap { $0.observations.map { runName(for: $0.info) } })
        if !runs.subtracting(state.preparedRuns).isEmpty {
            try butler.registry.prepareRawIngest(runs: runs.subtracting(state.preparedRuns))
            state.preparedRuns.formUnion(runs)
        }

        let outcome = try register(good)
        report.ingested += outcome.ingested.count
        if options.collectDatasetIds { report.datasetIds += outcome.ingested }
        report.ingestedFiles += outcome.ingestedFiles
        report.skippedFiles += outcome.skippedFiles
        report.concurrentlyRegisteredFiles += outcome.concurrentlyRegistered
        report.failures += outcome.failures
        report.runs.formUnion(outcome.runs)
        return stop || (options.failFast && !outcome.failures.isEmpty)
    }

    func runName(for info: ObservationInfo) -> String {
        options.run ?? "\(info.instrument)/raw/all"
    }

    /// Reads and translates one file.
    /// The objects a location names: the object itself, or every object under the prefix whose name matches.
    static func objects(at location: String, include: (String) throws -> Bool) throws -> [String] {
        guard let (bucket, key) = BucketDatastore.parse(location) ?? BucketLocation(location).map({ ($0.bucket, "") }) else {
            throw ButlerError(.invalidValue, "not an s3://BUCKET/KEY URI")
        }
        let client = S3Client(configuration: try s3 { try S3Configuration.fromEnvironment() })
        if !key.isEmpty, try s3({ try client.headObject(bucket: bucket, key: key) }) != nil { return [location] }
        let prefix = key.isEmpty || key.hasSuffix("/") ? key : key + "/"
        let keys = try s3 { try client.listObjects(bucket: bucket, prefix: prefix) }.map(\.key)
        let found = try keys.filter { try include(($0 as NSString).lastPathComponent) }.map { "s3://\(bucket)/\($0)" }
        guard !found.isEmpty else { throw ButlerError(.notFound, "no object there, nor under it") }
        return found
    }

    /// Reads an object's headers from a download into the scratch folder (removed after).
    func scanObject(_ uri: String) -> Scanned {
        let scratch = butler.root.appendingPathComponent(".butler-scratch")
        let local = scratch.appendingPathComponent(FileDatastore.makeToken() + "-" + (uri as NSString).lastPathComponent).path
        defer { unlink(local) }
        do {
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
            try BucketDatastore.download(uri: uri, to: local)
        } catch {
            return Scanned(path: uri, error: "\(uri): \(error)")
        }
        var result = scan(local)
        result.path = uri
        result.error = result.error?.replacingOccurrences(of: local, with: uri)
        result.warnings = result.warnings.map { $0.replacingOccurrences(of: local, with: uri) }
        return result
    }

    func scan(_ path: String) -> Scanned {
        if path.hasPrefix("s3://") { return scanObject(path) }
        var result = Scanned(path: path)
        do {
            let fits = try FITSScan.read(path, verifyChecksums: true)
            result.warnings = fits.warnings
            for (hdu, header) in fits.detectorHeaders {
                do {
                    let (info, problems) = try HeaderProblems.collect { try translators.translate(header) }
                    let place = fits.detectorHeaders.count > 1 ? "\(path)[HDU \(hdu)]" : path
                    result.warnings += problems.map { "\(place): \($0)" }
                    result.observations.append((hdu, info))
                } catch {
                    result.error = "\(path)\(fits.detectorHeaders.count > 1 ? "[HDU \(hdu)]" : ""): \(error)"
                    return result
                }
            }
        } catch let error as FITSError {
            result.error = error.hdu.map { "\(path)[HDU \($0)]: " } ?? "\(path): "
            let detail = "\(error.message)\(error.keyword.map { " (\($0))" } ?? "")"
            switch error.code {
            case .notFITS: result.error! += "not a FITS file: " + detail
            case .cannotOpen: result.error! += "cannot open: " + detail
            default: result.error! += error.code.rawValue < 9000 ? "not a readable FITS file: " + detail : error.message
            }
        } catch {
            result.error = "\(path): \(error)"
        }
        return result
    }

    struct Outcome {
        var ingested: [UUID] = []
        var ingestedFiles = 0
        var skippedFiles = 0
        var concurrentlyRegistered = 0
        var failures: [String] = []
        var runs = Set<String>()
    }

    /// Checks what exists, places the new files, registers them; undoes the placement on failure.
    func register(_ files: [Scanned]) throws -> Outcome {
        var outcome = Outcome()
        // Dataset ids of every detector of every file.
        struct Planned { let file: Scanned; let ids: [UUID] }
        let planned = files.map { file in
            Planned(file: file, ids: file.observations.map { datasetId(for: $0.info) })
        }
        let existing = try butler.registry.existingFiles(planned.flatMap(\.ids))
        var toPlace: [Planned] = []
        var claimed: [UUID: String] = [:]
        for plan in planned {
            let absolute = plan.file.path
            let present = plan.ids.compactMap { existing[$0] }
            if !present.isEmpty {
                let sameFile = present.allSatisfy {
                    $0.sourcePath == absolute || datastore.location(of: $0.path).path == absolute || datastore.location(of: $0.path).absoluteString == absolute
                }
                if sameFile && options.skipExisting {
                    outcome.skippedFiles += 1
                    continue
                }
                let other = present.first!.sourcePath ?? datastore.location(of: present.first!.path).path
                let info = plan.file.observations[0].info
                outcome.failures.append(sameFile
                    ? "\(plan.file.path): already ingested (exposure \(info.exposureId), detector \(info.detectorId)); pass --skip-existing to skip it"
                    : "\(plan.file.path): conflict: data ID {instrument: '\(info.instrument)', detector: \(info.detectorId), exposure: \(info.exposureId)} is already ingested from \(other)")
                continue
            }
            if let previous = plan.ids.lazy.compactMap({ claimed[$0] }).first {
                let info = plan.file.observations[0].info
                outcome.failures.append("\(plan.file.path): conflict: data ID {instrument: '\(info.instrument)', detector: \(info.detectorId), exposure: \(info.exposureId)} also comes from \(previous)")
                continue
            }
            for id in plan.ids { claimed[id] = plan.file.path }
            toPlace.append(plan)
        }

        // Stage the files in parallel (each under a temporary name beside its final path).
        // Uploads to a bucket wait on the network, not the cores: eight at a time at least.
        let workers = butler.bucket != nil ? max(8, options.processes) : options.processes
        let stagings: [Result<StagedFile, any Error>] = ButlerKit.parallelMap(toPlace, workers: workers) { plan in
            Result { try stage(plan.file) }
        }
        var raws: [RawDataset] = []
        var staged: [StagedFile] = []
        var stagedFor: [String: StagedFile] = [:]
        for (plan, staging) in zip(toPlace, stagings) {
            switch staging {
            case .failure(let error):
                outcome.failures.append("\(plan.file.path): \(error)")
            case .success(let file):
                staged.append(file)
                stagedFor[plan.file.path] = file
                let source = plan.file.path
                for ((hdu, info), id) in zip(plan.file.observations, plan.ids) {
                    var record = StoredFileInfo(path: file.recordedPath, storageClass: "Exposure", checksum: file.checksum,
                                                fileSize: options.trackFileAttributes ? file.size : nil, formatter: "FITS")
                    record.sourcePath = datastore.contains(source) ? nil : source
                    record.hdu = plan.file.observations.count > 1 ? hdu : nil
                    raws.append(RawDataset(info: info, id: id, run: runName(for: info), file: record))
                }
            }
        }
        let inserted: [RawDataset], skipped: [RawDataset]
        do {
            (inserted, skipped) = try butler.registry.insertRaws(raws, staged: staged)
        } catch {
            // Nothing was registered: remove what we staged, then report every file of the batch.
            for file in staged { datastore.discard(file) }
            if raws.count > 1 {
                // Find the culprit by registering file by file.
                var retried = Outcome()
                for plan in toPlace where stagedFor[plan.file.path] != nil {
                    do {
                        let one = try register([plan.file])
                        retried.ingested += one.ingested
                        retried.ingestedFiles += one.ingestedFiles
                        retried.skippedFiles += one.skippedFiles
                        retried.concurrentlyRegistered += one.concurrentlyRegistered
                        retried.failures += one.failures
                        retried.runs.formUnion(one.runs)
                    } catch let e {
                        retried.failures.append("\(plan.file.path): \(e)")
                    }
                }
                outcome.ingested += retried.ingested
                outcome.ingestedFiles += retried.ingestedFiles
                outcome.skippedFiles += retried.skippedFiles
                outcome.concurrentlyRegistered += retried.concurrentlyRegistered
                outcome.failures += retried.failures
                outcome.runs.formUnion(retried.runs)
                return outcome
            }
            throw error
        }
        outcome.ingested = inserted.map(\.id)
        outcome.runs = Set(inserted.map(\.run))
        // Files none of whose datasets went in: another process registered the same data IDs first.
        let used = Set(inserted.map(\.file.path))
        outcome.ingestedFiles = used.count
        for file in staged where !used.contains(file.recordedPath) { datastore.discard(file) }
        try butler.publish(staged.filter { used.contains($0.recordedPath) })
        if !skipped.isEmpty {
            let existing = try butler.registry.existingFiles(skipped.map(\.id))
            var reported = Set<String>()
            for raw in skipped where !used.contains(raw.file.path) {
                let source = raw.file.sourcePath ?? datastore.location(of: raw.file.path).path
                guard reported.insert(source).inserted else { continue }
                let i = raw.info
                let other = existing[raw.id].map { $0.sourcePath ?? datastore.location(of: $0.path).path } ?? source
                if other != source {
                    outcome.failures.append("\(source): conflict: data ID {instrument: '\(i.instrument)', detector: \(i.detectorId), exposure: \(i.exposureId)} is already ingested from \(other)")
                } else if options.skipExisting {
                    outcome.skippedFiles += 1
                    outcome.concurrentlyRegistered += 1
                } else {
                    outcome.failures.append("\(source): already ingested (exposure \(i.exposureId), detector \(i.detectorId)); pass --skip-existing to skip it")
                }
            }
        }
        return outcome
    }

    func datasetId(for info: ObservationInfo) -> UUID {
        let dims = try! butler.registry.universe.group(["instrument", "detector", "exposure"])
        let dataId = DataCoordinate(dimensions: dims, values: ["instrument": .string(info.instrument), "detector": .int(info.detectorId),
                                                               "exposure": .int(info.exposureId)])
        return DatasetIdGenerationMode.dataIdTypeRun.makeId(datasetType: Registry.rawDatasetTypeName, run: runName(for: info), dataId: dataId)
    }

    /// Stages one file for its templated path.
    func stage(_ file: Scanned) throws -> StagedFile {
        let info = file.observations[0].info
        let values: [String: String] = [
            "run": runName(for: info), "datasetType": Registry.rawDatasetTypeName, "instrument": info.instrument,
            "physical_filter": info.physicalFilter, "band": info.band, "day_obs": String(info.dayObs),
            "exposure.day_obs": String(info.dayObs), "group": info.group, "exposure.group": info.group,
            "exposure": String(info.exposureId), "exposure.obs_id": info.obsId, "detector": String(info.detectorId),
            "detector.full_name": file.observations.count > 1 ? "all" : info.detectorName,
        ]
        let relative = try template.format(values) + Self.fitsExtensionOrOwn(of: file.path, storageClass: "Exposure")
        if options.transfer == .move { try butler.checkMoveSource(file.path) }
        return try datastore.stage(file.path, at: relative, mode: options.transfer, checksum: checksums)
    }

    /// Maps `items` with `transform` on up to `options.processes` threads, keeping the order.
    func parallelMap<T: Sendable, R: Sendable>(_ items: [T], _ transform: @escaping @Sendable (T) -> R) -> [R] {
        ButlerKit.parallelMap(items, workers: options.processes, transform)
    }
}
