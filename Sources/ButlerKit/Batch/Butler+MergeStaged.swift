public import Foundation

/// What ``Butler/mergeStaged(_:report:)`` takes.
public struct MergeOptions: Sendable {
    /// The staging area the jobs wrote into.
    public var stagingArea: String
    /// Records registered per transaction; memory stays bounded by it, whatever the number of records.
    public var batchSize = 2000

    public init(stagingArea: String) { self.stagingArea = stagingArea }
}

/// What a merge did.
public struct MergeSummary: Sendable {
    /// Steps registered (succeeded and failed).
    public var steps = 0
    public var succeeded = 0
    public var failed = 0
    /// Datasets registered (outputs and logs).
    public var datasets = 0
    /// Records already in the registry (a merge that was interrupted after its commit): their folders were removed.
    public var alreadyMerged = 0
    /// Folders without a record yet (a job still running, or killed outright): left for a later merge.
    public var incomplete = 0
    /// Records whose outputs were registered already by another record: moved to `STAGING/duplicates/`.
    public var duplicates = 0
    /// Records that could not be registered (each reported on its own line): left where they are.
    public var rejected = 0
    /// Jobs (by jobs file) whose records in this merge all failed: the ones to submit again.
    public var failedJobs: [String: [Int]] = [:]
}

extension Butler {
    /// Registers what staged runs (``StagedRun``) left in a staging area: datasets, files (hard-linked into the
    /// datastore, or copied across file systems, and checked against the SHA-256 each job measured), and every step's
    /// provenance, failed steps included; in transactions of ``MergeOptions/batchSize`` records (COPY on PostgreSQL),
    /// then removes each merged record's folder.
    ///
    /// - It takes complete records only (a folder with `quantum.json`), so it can run while jobs are still finishing.
    /// - It can be stopped at any moment and run again: a batch is registered whole or not at all, its files are
    ///   links (the staged copies stay until the commit), and a record already registered is recognised by its step's
    ///   id and only has its folder removed. Running it again adds nothing.
    /// - Duplicates (a job that ran twice): an output slot (dataset type, RUN, data ID) goes to the record registered
    ///   first; within one batch, to the succeeded record that ended first. The others are moved to
    ///   `STAGING/duplicates/` and reported, never registered.
    /// - A bad record (not a staged record, a newer format, an input the registry does not have, an output file that
    ///   is missing or changed, a config that differs from the one its task used in the RUN) is reported on one line
    ///   naming its file and the reason, left where it is, and the merge goes on.
    /// - Parameter report: receives one line per problem.
    public func mergeStaged(_ options: MergeOptions, report: (String) -> Void) throws -> MergeSummary {
        try requireWritable()
        let area = URL(fileURLWithPath: absolutePath(options.stagingArea))
        guard let directory = opendir(area.path) else {
            throw ButlerError(.notFound, "cannot open the staging area \(area.path): \(String(cString: strerror(errno)))")
        }
        defer { closedir(directory) }
        var summary = MergeSummary()
        var succeededJobs = Set<String>(), failedJobs = Set<String>()
        try withoutActuallyEscaping(report) { report in
            let merger = StagedMerger(butler: self, area: area, report: report)
            while true {
                // The next batch of folder names, in directory order; a batch is sorted so that ids (UUIDv7) go in time order.
                var names: [String] = []
                while names.count < max(1, options.batchSize), let entry = readdir(directory) {
                    let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                    if name.hasPrefix(StagedMerger.removedPrefix) {
                        // A merged folder whose removal was interrupted.
                        try? FileManager.default.removeItem(at: area.appendingPathComponent(name))
                        continue
                    }
                    guard UUID(uuidString: name) != nil else { continue }  // `duplicates`, dot names, anything else
                    names.append(name)
                }
                if names.isEmpty { break }
                try merger.merge(names.sorted(), into: &summary)
                for (file, jobs) in merger.jobOutcomes {
                    for (job, ok) in jobs {
                        let key = "\(file)\t\(job)"
                        if ok { succeededJobs.insert(key) } else { failedJobs.insert(key) }
                    }
                }
                merger.jobOutcomes = [:]
            }
        }
        for key in failedJobs.subtracting(succeededJobs) {
            let parts = key.split(separator: "\t", maxSplits: 1).map(String.init)
            summary.failedJobs[parts[0], default: []].append(Int(parts[1]) ?? 0)
        }
        for file in summary.failedJobs.keys { summary.failedJobs[file]!.sort() }
        return summary
    }

    /// `1-3,7,9-10`: job numbers as a Slurm `--array` (and HTCondor `queue ... in`) list.
    public static func arraySpec(_ numbers: [Int]) -> String {
        var parts: [String] = []
        var i = 0
        let sorted = Array(Set(numbers)).sorted()
        while i < sorted.count {
            var j = i
            while j + 1 < sorted.count, sorted[j + 1] == sorted[j] + 1 { j += 1 }
            parts.append(i == j ? "\(sorted[i])" : "\(sorted[i])-\(sorted[j])")
            i = j + 1
        }
        return parts.joined(separator: ",")
    }
}

/// One merge's working state: the registry lookups it caches across batches (dataset types, dimension records,
/// runs' config digests) and the batch logic.
final class StagedMerger {
    let butler: Butler
    let area: URL
    let report: (String) -> Void
    let lookup: ImportRecordLookup
    var types: [String: DatasetType] = [:]
    var templateCache: [String: [String: String]] = [:]
    /// (run, task) -> config digest, as registered or as set by an earlier record of this merge.
    var digests: [String: String?] = [:]
    var knownRuns = Set<String>()
    /// Jobs file -> job -> whether one of its records in the last batch succeeded.
    var jobOutcomes: [String: [Int: Bool]] = [:]
    /// Records of the batch in progress rejected while their files were staged.
    var rejected = Set<String>()
    let linkMode: TransferMode

    init(butler: Butler, area: URL, report: @escaping (String) -> Void) {
        self.butler = butler
        self.area = area
        self.report = report
        self.lookup = ImportRecordLookup(registry: butler.registry)
        // Hard links when the staging area and the datastore share a file system (nothing is copied, and the staged
        // file stays until the commit); copies otherwise.
        var a = stat(), b = stat()
        let sameDevice = butler.bucket == nil && stat(area.path, &a) == 0 && stat(butler.datastoreRoot.path, &b) == 0 && a.st_dev == b.st_dev
        linkMode = sameDevice ? .hardlink : .copy
    }

    /// A problem with one file of a record's folder (reported with that file's path).
    struct FileProblem: Error {
        let file: String?
        let message: String
    }

    /// A record that passed every check, with what its registration needs.
    struct Candidate {
        let name: String
        let record: StagedQuantum
        /// Per output: its type and full data ID.
        var outputs: [(output: StagedQuantum.Output, type: DatasetType, dataId: DataCoordinate)]
    }

    func folder(_ name: String) -> URL { area.appendingPathComponent(name) }

    /// The name a merged record's folder is renamed to before it is deleted.
    static let removedPrefix = ".merged-"

    /// Removes a merged record's folder: first renamed aside in one step, so that a merge killed while deleting
    /// never leaves a folder that looks like a job still running (its files but no `quantum.json`); the next merge
    /// deletes what is left of it.
    func removeMerged(_ name: String) {
        let aside = area.appendingPathComponent(Self.removedPrefix + name)
        let target = rename(folder(name).path, aside.path) == 0 ? aside : folder(name)
        try? FileManager.default.removeItem(at: target)
    }

    func reject(_ name: String, _ file: String? = nil, _ reason: String, _ summary: inout MergeSummary) {
        summary.rejected += 1
        report("\(folder(name).appendingPathComponent(file ?? StagedQuantum.fileName).path): \(reason)")
    }

    func merge(_ names: [String], into summary: inout MergeSummary) throws {
        let registry = butler.registry
        rejected = []
        // Read and decode.
        var records: [(String, StagedQuantum)] = []
        for name in names {
            let path = folder(name).appendingPathComponent(StagedQuantum.fileName).path
            guard let data = FileManager.default.contents(atPath: path) else {
                summary.incomplete += 1
                continue
            }
            do {
                let record = try StagedQuantum.decode(data, source: path)
                guard record.step.id.lowercasedString == name.lowercased() else {
                    reject(name, nil, "the record is of step \(record.step.id.lowercasedString), not of its folder's", &summary)
                    continue
                }
                records.append((name, record))
            } catch let error as ButlerError {
                summary.rejected += 1
                report(error.message)
            }
        }
        if records.isEmpty { return }
        // Already registered (an earlier merge committed, then stopped before removing the folder).
        let present = try registry.database.read { c -> Set<String> in
            var found = Set<String>()
            for chunk in records.map(\.1.step.id.lowercasedString).chunked(500) {
                for row in try c.query("SELECT id FROM quantum WHERE id IN (\(Array(repeating: "?", count: chunk.count).joined(separator: ", ")))",
                                       chunk.map { .text($0) }) { if let id = row[0].string { found.insert(id) } }
            }
            return found
        }
        records = records.filter { name, record in
            guard present.contains(record.step.id.lowercasedString) else { return true }
            summary.alreadyMerged += 1
            removeMerged(name)
            return false
        }
        let knownInputs = try registry.database.read { c in try registry.presentDatasets(records.flatMap { $0.1.inputs.map(\.id) }, in: c) }
        var candidates: [Candidate] = []
        for (name, record) in records {
            do {
                candidates.append(try check(name, record, knownInputs: knownInputs))
            } catch let problem as FileProblem {
                reject(name, problem.file, problem.message, &summary)
            } catch let error as ButlerError {
                reject(name, nil, error.message, &summary)
            }
        }
        // Duplicates within the batch: the succeeded record that ended first keeps each slot.
        candidates.sort { ($0.record.step.endTime ?? 0, $0.name) < ($1.record.step.endTime ?? 0, $1.name) }
        var slots = Set<String>()
        candidates = candidates.filter { candidate in
            let keys = candidate.outputs.map { Self.slot($0.type, candidate.record.step.run, $0.dataId) }
            if keys.contains(where: slots.contains) {
                setAside(candidate, "its outputs were made by another record merged with it", &summary)
                return false
            }
            slots.formUnion(keys)
            return true
        }
        // Against the registry: optimistic; when the database refuses a taken slot, find the records that hit one,
        // set them aside and write the batch again.
        while !candidates.isEmpty {
            do {
                try write(candidates, &summary)
                break
            } catch let error as ButlerError where error.code == .conflict {
                let taken = try candidates.filter { try hasTakenSlot($0) }
                guard !taken.isEmpty else { throw error }
                let names = Set(taken.map(\.name))
                for candidate in taken { setAside(candidate, "its outputs are registered already (by another run of the same job)", &summary) }
                candidates.removeAll { names.contains($0.name) }
            }
        }
    }

    static func slot(_ type: DatasetType, _ run: String, _ dataId: DataCoordinate) -> String {
        type.name + "\u{1}" + run + "\u{1}" + dataId.required.map(\.1.description).joined(separator: "\u{1}")
    }

    /// Checks one record against the registry and its files; throws a ButlerError whose context is the file at fault.
    private func check(_ name: String, _ record: StagedQuantum, knownInputs: Set<UUID>) throws -> Candidate {
        let registry = butler.registry
        let step = record.step
        try Registry.validateCollectionName(step.run)
        try Butler.validateTaskLabel(step.taskLabel)
        guard step.status == "succeeded" || step.status == "failed" else { throw ButlerError(.invalidValue, "status '\(step.status)' is neither succeeded nor failed") }
        for input in record.inputs where !knownInputs.contains(input.id) {
            throw ButlerError(.notFound, "input \(input.role) \(input.id.lowercasedString) (\(input.datasetType) in \(input.run)) is not in the registry")
        }
        // The RUN and the task's config digest (the same for every step of a task in a RUN).
        if !knownRuns.contains(step.run) {
            try registry.registerRun(step.run)
            knownRuns.insert(step.run)
        }
        let digestKey = step.run + "\u{1}" + step.taskLabel
        if digests[digestKey] == nil {
            digests[digestKey] = .some(try registry.database.read { c in
                try c.queryOne("SELECT r.config_digest FROM run_task_config AS r JOIN collection AS c ON c.collection_id = r.run_id WHERE c.name = ? AND r.task_label = ?",
                               [.text(step.run), .text(step.taskLabel)])?[0].string
            })
        }
        if let digest = step.configDigest {
            if let known = digests[digestKey]!, known != digest {
                throw ButlerError(.conflict, "task '\(step.taskLabel)' ran with other configs or parameters than it already used in RUN \(step.run)")
            }
            digests[digestKey] = .some(digest)
        }
        var outputs: [(output: StagedQuantum.Output, type: DatasetType, dataId: DataCoordinate)] = []
        for output in record.outputs {
            let file = folder(name).appendingPathComponent(output.file)
            guard !output.file.contains("/"), output.file != StagedQuantum.fileName else {
                throw ButlerError(.invalidValue, "output \(output.role) names file '\(output.file)', which is not a file of its folder")
            }
            var st = stat()
            guard lstat(file.path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
                throw FileProblem(file: output.file, message: "output \(output.role) (\(output.datasetType)) is missing: the job's file is not there")
            }
            guard Int64(st.st_size) == output.size else {
                throw FileProblem(file: output.file, message: "output \(output.role) is \(st.st_size) bytes, the job recorded \(output.size)")
            }
            let type = try datasetType(output.datasetType, record)
            let full = try lookup.expand(output.dataId, type: type, universe: registry.universe)
            outputs.append((output, type, DataCoordinate(dimensions: type.dimensions, values: full)))
        }
        if step.status == "succeeded" && outputs.isEmpty && !record.outputs.isEmpty {
            throw ButlerError(.invalidValue, "a succeeded step without outputs")
        }
        return Candidate(name: name, record: record, outputs: outputs)
    }

    /// A dataset type here, checked against what the job was told; a step's log type is registered when missing.
    private func datasetType(_ name: String, _ record: StagedQuantum) throws -> DatasetType {
        if let known = types[name] { return known }
        let registry = butler.registry
        var type = try registry.datasetType(name)
        if type == nil, name == Butler.logDatasetType(of: record.step.taskLabel), let info = record.datasetTypes[name] {
            let made = try registry.makeDatasetType(name, storageClass: info.storageClass, dimensions: info.dimensions)
            try registry.registerDatasetType(made)
            type = made
        }
        guard let type else { throw ButlerError(.notFound, "output dataset type '\(name)' is not registered here") }
        if let info = record.datasetTypes[name], info.dimensions != type.dimensions.required || info.storageClass != type.storageClass {
            throw ButlerError(.conflict, "dataset type '\(name)' is \(type.storageClass) (\(type.dimensions.required.joined(separator: ", "))) here, "
                              + "but the job was told \(info.storageClass) (\(info.dimensions.joined(separator: ", ")))")
        }
        types[name] = type
        return type
    }

    private func hasTakenSlot(_ candidate: Candidate) throws -> Bool {
        for output in candidate.outputs {
            if try butler.registry.findDataset(output.type.name, dataId: output.dataId.required.reduce(into: [:]) { $0[$1.0] = $1.1.description },
                                               collections: [candidate.record.step.run]) != nil { return true }
        }
        return false
    }

    private func setAside(_ candidate: Candidate, _ reason: String, _ summary: inout MergeSummary) {
        summary.duplicates += 1
        let duplicates = area.appendingPathComponent("duplicates")
        try? FileManager.default.createDirectory(at: duplicates, withIntermediateDirectories: true)
        let target = duplicates.appendingPathComponent(candidate.name)
        let moved = rename(folder(candidate.name).path, target.path) == 0
        let job = candidate.record.job.map { "job \($0), " } ?? ""
        report("\(folder(candidate.name).appendingPathComponent(StagedQuantum.fileName).path): duplicate (\(job)step \(candidate.record.step.taskLabel) "
               + "\(candidate.record.step.dataId)): \(reason); \(moved ? "moved to \(target.path)" : "left in place"), not registered")
    }

    /// Stages the files of a batch and registers everything in one transaction, then publishes the files and removes
    /// the folders. On any failure nothing is registered and only the staged links are removed.
    private func write(_ candidates: [Candidate], _ summary: inout MergeSummary) throws {
        let registry = butler.registry
        let datastore = butler.datastore
        var staged: [StagedFile] = []
        var files: [Registry.ImportedFile] = []
        var bundle = ProvenanceBundle()
        var environments = Set<String>(), configs = Set<String>(), runTasks = Set<String>()
        var metrics: [[SQLValue]] = []
        do {
            for candidate in candidates where !rejected.contains(candidate.name) {
                let record = candidate.record
                // This record's files; one that changed since the job measured it rejects the record alone.
                var mine: [StagedFile] = [], myFiles: [Registry.ImportedFile] = []
                do {
                    for (output, type, dataId) in candidate.outputs {
                        let source = folder(candidate.name).appendingPathComponent(output.file).path
                        let values = try butler.templateValues(run: record.step.run, datasetType: type.name, dataId: dataId, cache: &templateCache)
                        let relative = try butler.fileTemplate(for: type).format(values) + RawIngester.fitsExtensionOrOwn(of: source, storageClass: type.storageClass)
                        let file = try datastore.stage(source, at: relative, mode: linkMode, checksum: butler.checksumsEnabled)
                        mine.append(file)
                        if let sum = file.checksum, sum != output.sha256 {
                            throw FileProblem(file: output.file, message: "SHA-256 \(sum), but the job recorded \(output.sha256): the file changed after the job ended")
                        }
                        myFiles.append(.init(datasetType: type, run: record.step.run, ids: [output.id], dataIds: [dataId.values],
                                             file: StoredFileInfo(path: file.recordedPath, storageClass: type.storageClass, checksum: file.checksum, fileSize: file.size)))
                    }
                } catch let problem as FileProblem {
                    for file in mine { datastore.discard(file) }
                    reject(candidate.name, problem.file, problem.message, &summary)
                    rejected.insert(candidate.name)
                    continue
                } catch {
                    for file in mine { datastore.discard(file) }
                    throw error
                }
                staged += mine
                files += myFiles
                if let first = record.outputs.first {
                    for (name, value) in record.metrics.sorted(by: { $0.key < $1.key }) {
                        metrics.append([.text(first.id.lowercasedString), .text(name), .real(value)])
                    }
                }
                if environments.insert(record.environment.id).inserted { bundle.environments.append(record.environment) }
                for config in record.configs where configs.insert(config.hash).inserted { bundle.configs.append(config) }
                if let digest = record.step.configDigest, runTasks.insert(record.step.run + "\u{1}" + record.step.taskLabel).inserted {
                    bundle.runTaskConfigs.append(.init(run: record.step.run, taskLabel: record.step.taskLabel, configDigest: digest))
                }
                bundle.steps.append(record.step)
            }
            try registry.database.write { c in
                try registry.insertImportedDatasets(files, in: c)
                try registry.claimPaths(staged, in: c)
                try registry.apply(bundle, in: c)
                try c.insertRows(into: "dataset_metric", columns: ["dataset_id", "name", "value"], rows: metrics)
            }
        } catch {
            for file in staged { datastore.discard(file) }
            throw error
        }
        try butler.publish(staged)
        for candidate in candidates where !rejected.contains(candidate.name) {
            removeMerged(candidate.name)
            summary.steps += 1
            if candidate.record.step.status == "succeeded" { summary.succeeded += 1 } else { summary.failed += 1 }
            summary.datasets += candidate.outputs.count
            if let job = candidate.record.job {
                let file = candidate.record.jobsFile ?? ""
                let ok = candidate.record.step.status == "succeeded"
                jobOutcomes[file, default: [:]][job] = (jobOutcomes[file]?[job] ?? false) || ok
            }
        }
    }
}
