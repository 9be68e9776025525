public import Foundation
import Logging

/// What ``Butler/mergeStaged(_:report:)`` takes.
public struct MergeOptions: Sendable {
    /// The staging area the jobs wrote into.
    public var stagingArea: String
    /// Records registered per transaction; memory stays bounded by it, whatever the number of records.
    public var batchSize = 2000
    /// Told of the staged folders handled as batches finish (of those in the area when the merge began; the
    /// names are counted first, only when this is set).
    public var progress: ProgressReport?

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
    /// - Merges of one staging area take turns (a lock file, `STAGING/.merge.lock`); a record that another merge
    ///   registered meanwhile is counted as merged before, never as a duplicate.
    /// - Duplicates (a job that ran twice): an output slot (dataset type, RUN, data ID) goes to the record registered
    ///   first; within one batch, to the succeeded record that ended first. The others are moved to
    ///   `STAGING/duplicates/` and reported, never registered.
    /// - A bad record is reported on one line naming its file and the reason, left where it is, and the merge goes
    ///   on: not a staged record, a newer format, any value `butler record` would refuse (checked by the same
    ///   function), an input the registry does not have, an output id that is another dataset's, an
    ///   environment or config whose content does not hash to its name, an output file that is missing, changed or a
    ///   symbolic link, a config that differs from the one its task used in the RUN, and anything else the registry
    ///   refuses for that record alone.
    /// - Links are never followed: a staging area that is a symbolic link is refused, a record folder that is one is
    ///   reported and left alone, and no file is hard-linked into the datastore through a link. An output file with
    ///   other hard links (another name outside the folder) is copied, so no name outside the datastore shares a
    ///   registered file.
    /// - Parameter report: receives one line per problem.
    public func mergeStaged(_ options: MergeOptions, report: (String) -> Void) throws -> MergeSummary {
        try requireWritable()
        let area = URL(fileURLWithPath: absolutePath(options.stagingArea))
        let areaFd = try StagedMerger.openArea(area)
        defer { close(areaFd) }
        try StagedMerger.lock(areaFd, area: area, logger: logger)
        guard let directory = fdopendir(dup(areaFd)) else {
            throw ButlerError(.io, "cannot read the staging area \(area.path): \(String(cString: strerror(errno)))")
        }
        defer { closedir(directory) }
        var summary = MergeSummary()
        var succeededJobs = Set<String>(), failedJobs = Set<String>()
        var total = 0, handled = 0
        if options.progress != nil, let counting = fdopendir(dup(areaFd)) {
            while let entry = readdir(counting) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if UUID(uuidString: name) != nil { total += 1 }
            }
            closedir(counting)
        }
        try withoutActuallyEscaping(report) { report in
            let merger = StagedMerger(butler: self, area: area, areaFd: areaFd, report: report)
            while true {
                // The next batch of folder names, in directory order; a batch is sorted so that ids (UUIDv7) go in time order.
                var names: [String] = []
                while names.count < max(1, options.batchSize), let entry = readdir(directory) {
                    let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                    if name.hasPrefix(StagedMerger.removedPrefix) {
                        // A merged folder whose removal was interrupted.
                        merger.removeAside(name)
                        continue
                    }
                    guard UUID(uuidString: name) != nil else { continue }  // `duplicates`, dot names, anything else
                    names.append(name)
                }
                if names.isEmpty { break }
                try merger.merge(names.sorted(), into: &summary)
                handled += names.count
                options.progress?(min(handled, max(total, handled)), max(total, handled))
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
    /// The staging area as named (for messages), and open (every file is reached through this descriptor, one
    /// component at a time, never through a link).
    let area: URL
    let areaFd: Int32
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

    /// The largest `quantum.json` read (a record is a few kilobytes; a larger file is not one).
    static let maxRecordBytes = 64 << 20

    init(butler: Butler, area: URL, areaFd: Int32, report: @escaping (String) -> Void) {
        self.butler = butler
        self.area = area
        self.areaFd = areaFd
        self.report = report
        self.lookup = ImportRecordLookup(registry: butler.registry)
        // Hard links when the staging area and the datastore share a file system (nothing is copied, and the staged
        // file stays until the commit); copies otherwise.
        var a = stat(), b = stat()
        let sameDevice = butler.bucket == nil && fstat(areaFd, &a) == 0 && stat(butler.datastoreRoot.path, &b) == 0 && a.st_dev == b.st_dev
        linkMode = sameDevice ? .hardlink : .copy
    }

    /// Opens the staging area without following a link: a staging area that is a symbolic link is refused (the merge
    /// would otherwise take, link and delete files wherever the link points).
    static func openArea(_ area: URL) throws -> Int32 {
        let fd = open(area.path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if fd >= 0 { return fd }
        let code = errno
        var st = stat()
        if code == ELOOP || (code == ENOTDIR && lstat(area.path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK) {
            let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: area.path)).map { " (to \($0))" } ?? ""
            throw ButlerError(.io, "the staging area \(area.path) is a symbolic link\(target); merge-staged never follows a link: "
                              + "give the folder itself with --staging")
        }
        if code == ENOTDIR { throw ButlerError(.io, "the staging area \(area.path) is not a folder") }
        throw ButlerError(code == ENOENT ? .notFound : .io, "cannot open the staging area \(area.path): \(String(cString: strerror(code)))")
    }

    /// Takes the staging area's merge lock (`.merge.lock`, held until the process ends), waiting for a merge of the
    /// same area that holds it.
    static func lock(_ areaFd: Int32, area: URL, logger: Logger) throws {
        let fd = openat(areaFd, ".merge.lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw ButlerError(.io, "cannot open the merge lock \(area.path)/.merge.lock: \(String(cString: strerror(errno)))")
        }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 { return }
        logger.info("waiting for another merge-staged of this staging area to finish", metadata: ["staging": "\(area.path)"])
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else {
                let reason = String(cString: strerror(errno))
                close(fd)
                throw ButlerError(.io, "cannot lock \(area.path)/.merge.lock: \(reason)")
            }
        }
        // The descriptor stays open (and the lock held) until the process ends.
    }

    /// A record's folder, opened without following a link.
    final class RecordFolder {
        let fd: Int32
        init(fd: Int32) { self.fd = fd }
        deinit { close(fd) }
        /// The path of a file through this open folder (`/proc/self/fd/N/name`): its last component is not followed
        /// by a hard link, and nothing above it is looked up again.
        func pinned(_ name: String) -> String { "/proc/self/fd/\(fd)/\(name)" }
        /// The file's status, the file itself when it is a link.
        func status(_ name: String) -> stat? {
            var st = stat()
            return fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ? st : nil
        }
    }

    /// Why a record's folder cannot be opened.
    enum FolderProblem: Error {
        case gone
        case link
        case other(String)
    }

    func openFolder(_ name: String) -> Result<RecordFolder, FolderProblem> {
        let fd = openat(areaFd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if fd >= 0 { return .success(RecordFolder(fd: fd)) }
        let code = errno
        if code == ENOENT { return .failure(.gone) }
        var st = stat()
        if code == ELOOP || (fstatat(areaFd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && (st.st_mode & S_IFMT) == S_IFLNK) { return .failure(.link) }
        return .failure(.other(code == ENOTDIR ? "not a folder" : String(cString: strerror(code))))
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
        let aside = Self.removedPrefix + name
        if renameat(areaFd, name, areaFd, aside) == 0 { removeAside(aside) }
    }

    /// Deletes a folder set aside (`.merged-<id>`) through the open staging area; a link is deleted, not followed.
    func removeAside(_ name: String) {
        Self.removeTree(name, in: areaFd)
    }

    /// Deletes `name` in the open folder `parent`: a file or a link is unlinked (a link is never followed), a folder
    /// is emptied the same way, through its own descriptor, then removed. Failures leave what could not go (a merge
    /// that finds it later removes it then). A system call per name: Foundation's `removeItem` took 13% of a merge.
    static func removeTree(_ name: String, in parent: Int32) {
        if unlinkat(parent, name, 0) == 0 || errno == ENOENT { return }
        guard errno == EISDIR || errno == EPERM else { return }
        let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return }
        guard let folder = fdopendir(fd) else {
            close(fd)
            return
        }
        var names: [String] = []
        while let entry = readdir(folder) {
            let child = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if child != "." && child != ".." { names.append(child) }
        }
        for child in names { removeTree(child, in: dirfd(folder)) }
        closedir(folder)
        unlinkat(parent, name, AT_REMOVEDIR)
    }

    /// Reports a record left where it is: `file` names the file at fault (nil: `quantum.json`; empty: the folder).
    func reject(_ name: String, _ file: String? = nil, _ reason: String, _ summary: inout MergeSummary) {
        summary.rejected += 1
        let path = file == "" ? folder(name).path : folder(name).appendingPathComponent(file ?? StagedQuantum.fileName).path
        report("\(path): \(reason)")
    }

    /// Reads a record folder's `quantum.json`: nil when the folder has none yet (or is gone).
    private func readRecord(_ name: String) throws(FileProblem) -> Data? {
        let folder: RecordFolder
        switch openFolder(name) {
        case .success(let opened): folder = opened
        case .failure(.gone): return nil
        case .failure(.link):
            throw FileProblem(file: "", message: "a symbolic link, not a record folder: merge-staged never follows a link out of the staging area; left alone")
        case .failure(.other(let reason)): throw FileProblem(file: "", message: "cannot open the record folder: \(reason)")
        }
        let fd = openat(folder.fd, StagedQuantum.fileName, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            if errno == ELOOP { throw FileProblem(file: nil, message: "a symbolic link, not a record; left alone") }
            throw FileProblem(file: nil, message: "cannot read: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { throw FileProblem(file: nil, message: "not a regular file, not a record; left alone") }
        guard Int(st.st_size) <= Self.maxRecordBytes else {
            throw FileProblem(file: nil, message: "\(st.st_size) bytes, more than a staged record can be (\(Self.maxRecordBytes))")
        }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileProblem(file: nil, message: "cannot read: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            data.append(contentsOf: buffer[0..<n])
            if data.count > Self.maxRecordBytes { throw FileProblem(file: nil, message: "more than a staged record can be (\(Self.maxRecordBytes) bytes)") }
        }
        return data
    }

    func merge(_ names: [String], into summary: inout MergeSummary) throws {
        let registry = butler.registry
        rejected = []
        // Read and decode.
        var records: [(String, StagedQuantum)] = []
        for name in names {
            let data: Data
            do {
                guard let read = try readRecord(name) else {
                    // No record yet (a job still running); a folder another merge removed meanwhile is not counted.
                    if case .success = openFolder(name) { summary.incomplete += 1 }
                    continue
                }
                data = read
            } catch {
                reject(name, error.file, error.message, &summary)
                continue
            }
            let path = folder(name).appendingPathComponent(StagedQuantum.fileName).path
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
        records = try settleRegistered(records, &summary)
        let (knownInputs, takenIds) = try registry.database.read { c in
            (try registry.presentDatasets(records.flatMap { $0.1.inputs.map(\.id) + $0.1.step.inputs.map(\.datasetId) }, in: c),
             try registry.presentDatasets(records.flatMap { $0.1.outputs.map(\.id) }, in: c))
        }
        var candidates: [Candidate] = []
        for (name, record) in records {
            do {
                candidates.append(try check(name, record, knownInputs: knownInputs, takenIds: takenIds))
            } catch let problem as FileProblem {
                reject(name, problem.file, problem.message, &summary)
            } catch let error as ButlerError {
                reject(name, nil, error.message, &summary)
            }
        }
        // One dataset id for two records of the batch: not a job run twice (each run draws new ids), a damaged record.
        var ids: [UUID: String] = [:]
        candidates = candidates.filter { candidate in
            for output in candidate.outputs {
                if let other = ids[output.output.id] {
                    reject(candidate.name, nil, "output \(output.output.role) has id \(output.output.id.lowercasedString), which record \(other) also gives an output; not registered", &summary)
                    return false
                }
            }
            for output in candidate.outputs { ids[output.output.id] = candidate.name }
            return true
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
        try writeIsolating(candidates, &summary)
    }

    /// Writes candidates; when the database refuses the batch, settles what another writer did meanwhile (records
    /// another merge registered, output slots taken), and otherwise halves the batch until the record at fault is
    /// alone, rejects it with the database's reason and writes the rest.
    private func writeIsolating(_ candidates: [Candidate], _ summary: inout MergeSummary) throws {
        var candidates = candidates
        while true {
            candidates.removeAll { rejected.contains($0.name) }
            if candidates.isEmpty { return }
            do {
                try write(candidates, &summary)
                return
            } catch let error as ButlerError where Self.isRecordFault(error) {
                let before = candidates.count
                // Registered meanwhile by another merge: merged before, not duplicates.
                let unregistered = try settleRegistered(candidates.map { ($0.name, $0.record) }, &summary)
                let left = Set(unregistered.map(\.0))
                candidates.removeAll { !left.contains($0.name) }
                // Slots taken by another run of the same job.
                let taken = try candidates.filter { try hasTakenSlot($0) }
                let names = Set(taken.map(\.name))
                for candidate in taken { setAside(candidate, "its outputs are registered already (by another run of the same job)", &summary) }
                candidates.removeAll { names.contains($0.name) }
                if candidates.count < before { continue }
                if candidates.count == 1 {
                    let reason = error.message.components(separatedBy: " - while executing ").first ?? error.message
                    reject(candidates[0].name, nil, "the registry refuses it: \(reason); not registered", &summary)
                    rejected.insert(candidates[0].name)
                    return
                }
                let half = candidates.count / 2
                try writeIsolating(Array(candidates[..<half]), &summary)
                try writeIsolating(Array(candidates[half...]), &summary)
                return
            }
        }
    }

    /// A refusal that one record of a batch can cause (a unique or foreign key, a check), as opposed to the
    /// database failing (locked, gone, full), which stops the merge.
    static func isRecordFault(_ error: ButlerError) -> Bool {
        switch error.code {
        case .conflict, .inUse, .invalidValue, .notFound, .integrity, .invalidName: return true
        case .database: return error.message.contains("constraint")
        default: return false
        }
    }

    /// Records whose step is in the registry already: with the same outputs, merged before (their folders are
    /// removed); with other outputs, a record that takes another step's id (rejected, left). Returns the others.
    private func settleRegistered(_ records: [(String, StagedQuantum)], _ summary: inout MergeSummary) throws -> [(String, StagedQuantum)] {
        let ids = records.map(\.1.step.id.lowercasedString)
        let outputsOf = try butler.registry.database.read { c -> [String: Set<String>] in
            var found: [String: Set<String>] = [:]
            for chunk in ids.chunked(500) {
                let marks = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
                for row in try c.query("SELECT id FROM quantum WHERE id IN (\(marks))", chunk.map { .text($0) }) {
                    if let id = row[0].string { found[id] = [] }
                }
                for row in try c.query("SELECT quantum_id, dataset_id FROM quantum_output WHERE quantum_id IN (\(marks))", chunk.map { .text($0) }) {
                    if let q = row[0].string, let d = row[1].string { found[q, default: []].insert(d.lowercased()) }
                }
            }
            return found
        }
        return records.filter { name, record in
            guard let registered = outputsOf[record.step.id.lowercasedString] else { return true }
            if registered == Set(record.step.outputs.map(\.datasetId.lowercasedString)) {
                summary.alreadyMerged += 1
                removeMerged(name)
            } else {
                reject(name, nil, "step \(record.step.id.lowercasedString) is registered already with other outputs: this record is not that step's; left alone", &summary)
            }
            return false
        }
    }

    static func slot(_ type: DatasetType, _ run: String, _ dataId: DataCoordinate) -> String {
        type.name + "\u{1}" + run + "\u{1}" + dataId.required.map(\.1.description).joined(separator: "\u{1}")
    }

    /// Checks one record against the registry and its files; throws a ButlerError whose context is the file at fault.
    private func check(_ name: String, _ record: StagedQuantum, knownInputs: Set<UUID>, takenIds: Set<UUID>) throws -> Candidate {
        let registry = butler.registry
        let step = record.step
        // Every value as `butler record` checks it, by the same function.
        try RecordSpecValidator.checkStep(step, metrics: record.metrics, universe: registry.universe, knownInputs: knownInputs)
        for input in record.inputs where !knownInputs.contains(input.id) {
            throw ButlerError(.notFound, "input \(input.role) \(input.id.lowercasedString) (\(input.datasetType) in \(input.run)) is not in the registry")
        }
        try checkConsistency(record, takenIds: takenIds)
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
        if let digest = step.configDigest, let known = digests[digestKey]!, known != digest {
            throw ButlerError(.conflict, "task '\(step.taskLabel)' ran with other configs or parameters than it already used in RUN \(step.run)")
        }
        var outputs: [(output: StagedQuantum.Output, type: DatasetType, dataId: DataCoordinate)] = []
        let folder: RecordFolder
        switch openFolder(name) {
        case .success(let opened): folder = opened
        case .failure(.link): throw ButlerError(.io, "the record folder became a symbolic link; left alone")
        case .failure(.gone): throw ButlerError(.notFound, "the record folder is gone")
        case .failure(.other(let reason)): throw ButlerError(.io, "cannot open the record folder: \(reason)")
        }
        for output in record.outputs {
            guard !output.file.contains("/"), !output.file.isEmpty, output.file != ".", output.file != "..", output.file != StagedQuantum.fileName else {
                throw ButlerError(.invalidValue, "output \(output.role) names file '\(escapedForMessage(output.file, limit: 80))', which is not a file of its folder")
            }
            guard let st = folder.status(output.file) else {
                throw FileProblem(file: output.file, message: "output \(output.role) (\(output.datasetType)) is missing: the job's file is not there")
            }
            if (st.st_mode & S_IFMT) == S_IFLNK {
                throw FileProblem(file: output.file, message: "output \(output.role) is a symbolic link, not the job's file: merge-staged never registers a file through a link")
            }
            guard (st.st_mode & S_IFMT) == S_IFREG else { throw FileProblem(file: output.file, message: "output \(output.role) is not a regular file") }
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
        if let digest = step.configDigest { digests[digestKey] = .some(digest) }
        return Candidate(name: name, record: record, outputs: outputs)
    }

    /// The record agrees with itself: the step's outputs are the record's files, its log one of them, no output id
    /// is a dataset's here, its environment and configs hash to their names, its config digest is that of its
    /// configs and parameters.
    private func checkConsistency(_ record: StagedQuantum, takenIds: Set<UUID>) throws {
        let step = record.step
        let files = record.outputs.map(\.id)
        guard Set(files).count == files.count else { throw ButlerError(.invalidValue, "two outputs have the same id") }
        guard Set(step.outputs.map(\.datasetId)) == Set(files), step.outputs.count == files.count else {
            throw ButlerError(.invalidValue, "the step's outputs are not the record's output files")
        }
        if let log = step.logDatasetId, !files.contains(log) { throw ButlerError(.invalidValue, "the step's log \(log.lowercasedString) is not one of its outputs") }
        if step.status == "failed" && !files.isEmpty { throw ButlerError(.invalidValue, "a failed step has no outputs") }
        for output in record.outputs where takenIds.contains(output.id) {
            throw ButlerError(.conflict, "output \(output.role) has id \(output.id.lowercasedString), which is the id of a dataset the registry holds already; not registered")
        }
        let env = record.environment
        let computed = SoftwareEnvironment(packages: env.packages, codeCommit: env.codeCommit, codeDirty: env.codeDirty, executableHash: env.executableHash).id
        guard computed == env.id else {
            throw ButlerError(.integrity, "environment \(escapedForMessage(env.id, limit: 80)): its content hashes to \(computed), not to its id")
        }
        for (package, version) in env.packages where package.isEmpty || package.utf8.contains(0) || version.utf8.contains(0) {
            throw ButlerError(.invalidValue, "environment: package \(escapedForMessage(package, limit: 80)) is empty or holds a NUL character")
        }
        for text in [env.codeCommit, env.executableHash] where text?.utf8.contains(0) == true {
            throw ButlerError(.invalidValue, "environment: a NUL character")
        }
        if let id = step.environmentId, id != env.id { throw ButlerError(.invalidValue, "the step's environment \(escapedForMessage(id, limit: 80)) is not the record's") }
        var hashes = Set<String>()
        for config in record.configs {
            let content: Data
            switch config.encoding {
            case nil: content = Data(config.content.utf8)
            case "base64"?:
                guard let data = Data(base64Encoded: config.content) else { throw ButlerError(.invalidValue, "config \(config.hash.prefix(16)): content is not base64") }
                content = data
            case let other?: throw ButlerError(.invalidValue, "config \(config.hash.prefix(16)): unknown encoding \(escapedForMessage(other, limit: 40))")
            }
            let computed = ConfigFile(name: "config", content: content).hash
            guard computed == config.hash else {
                throw ButlerError(.integrity, "config \(escapedForMessage(config.hash, limit: 80)): its content hashes to \(computed), not to its name")
            }
            if config.format.utf8.contains(0) { throw ButlerError(.invalidValue, "config \(config.hash.prefix(16)): a NUL character in its format") }
            hashes.insert(config.hash)
        }
        for (name, hash) in step.configs where !hashes.contains(hash) {
            throw ButlerError(.invalidValue, "configs.\(escapedForMessage(name, limit: 80)): \(escapedForMessage(hash, limit: 80)) is not a config of the record")
        }
        if let digest = step.configDigest {
            let named = step.configs.sorted { $0.key < $1.key }
            let quantum = Quantum(taskLabel: step.taskLabel, run: step.run, configs: named.map { ConfigFile(name: $0.key, content: Data()) }, parameters: step.parameters)
            let computed = quantum.configDigest(hashes: named.map(\.value))
            guard computed == digest else {
                throw ButlerError(.integrity, "config digest \(escapedForMessage(digest, limit: 80)) is not that of its configs and parameters (\(computed))")
            }
        }
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
        guard let type else { throw ButlerError(.notFound, "output dataset type '\(escapedForMessage(name, limit: 80))' is not registered here") }
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
        _ = mkdirat(areaFd, "duplicates", 0o755)
        var st = stat()
        // Into `duplicates` only when it is a folder of the staging area, not a link planted there.
        let moved = fstatat(areaFd, "duplicates", &st, AT_SYMLINK_NOFOLLOW) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
            && renameat(areaFd, candidate.name, areaFd, "duplicates/" + candidate.name) == 0
        let target = area.appendingPathComponent("duplicates").appendingPathComponent(candidate.name)
        let job = candidate.record.job.map { "job \($0), " } ?? ""
        report("\(folder(candidate.name).appendingPathComponent(StagedQuantum.fileName).path): duplicate (\(job)step \(candidate.record.step.taskLabel) "
               + "\(candidate.record.step.dataId)): \(reason); \(moved ? "moved to \(target.path)" : "left in place"), not registered")
    }

    /// Stages one record's files: each opened without following a link, hard-linked when it has no other name
    /// (copied otherwise, or across file systems), and checked against the SHA-256 the job recorded.
    private func stageFiles(of candidate: Candidate) throws -> (staged: [StagedFile], files: [Registry.ImportedFile]) {
        let record = candidate.record
        let datastore = butler.datastore
        var mine: [StagedFile] = [], myFiles: [Registry.ImportedFile] = []
        do {
            let folder: RecordFolder
            switch openFolder(candidate.name) {
            case .success(let opened): folder = opened
            case .failure(.link): throw FileProblem(file: nil, message: "the record folder became a symbolic link; left alone")
            case .failure(.gone): throw FileProblem(file: nil, message: "the record folder is gone")
            case .failure(.other(let reason)): throw FileProblem(file: nil, message: "cannot open the record folder: \(reason)")
            }
            for (output, type, dataId) in candidate.outputs {
                let fd = openat(folder.fd, output.file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
                guard fd >= 0 else {
                    throw FileProblem(file: output.file, message: errno == ELOOP ? "output \(output.role) is a symbolic link, not the job's file: merge-staged never registers a file through a link"
                                      : "output \(output.role) cannot be read: \(String(cString: strerror(errno)))")
                }
                defer { close(fd) }
                var st = stat()
                guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
                    throw FileProblem(file: output.file, message: "output \(output.role) is not a regular file")
                }
                // A hard link only of the very file opened, and only when it has no other name; else a copy of it.
                var mode = TransferMode.copy
                var source = "/proc/self/fd/\(fd)"
                if linkMode == .hardlink && st.st_nlink == 1, let now = folder.status(output.file), now.st_ino == st.st_ino, now.st_dev == st.st_dev {
                    mode = .hardlink
                    source = folder.pinned(output.file)
                }
                let values = try butler.templateValues(run: record.step.run, datasetType: type.name, dataId: dataId, cache: &templateCache)
                let relative = try butler.fileTemplate(for: type).format(values) + RawIngester.fitsExtensionOrOwn(of: output.file, storageClass: type.storageClass)
                let file = try datastore.stage(source, at: relative, mode: mode, checksum: butler.checksumsEnabled)
                mine.append(file)
                if let sum = file.checksum, sum != output.sha256 {
                    throw FileProblem(file: output.file, message: "SHA-256 \(sum), but the job recorded \(output.sha256): the file changed after the job ended")
                }
                if file.size != output.size {
                    throw FileProblem(file: output.file, message: "output \(output.role) is \(file.size) bytes, the job recorded \(output.size): the file changed after the job ended")
                }
                myFiles.append(.init(datasetType: type, run: record.step.run, ids: [output.id], dataIds: [dataId.values],
                                     file: StoredFileInfo(path: file.recordedPath, storageClass: type.storageClass, checksum: file.checksum, fileSize: file.size)))
            }
        } catch {
            for file in mine { datastore.discard(file) }
            throw error
        }
        return (mine, myFiles)
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
                do {
                    let (mine, myFiles) = try stageFiles(of: candidate)
                    staged += mine
                    files += myFiles
                } catch let problem as FileProblem {
                    reject(candidate.name, problem.file, problem.message, &summary)
                    rejected.insert(candidate.name)
                    continue
                }
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
            if bundle.steps.isEmpty { return }
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
