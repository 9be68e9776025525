public import Foundation

extension Butler {
    /// Records many quanta with their output files, environments, configs and metrics: all or nothing, in one
    /// transaction written in batches of `batchSize` quanta (rows sent in bulk, COPY on PostgreSQL), reading the
    /// text again quantum by quantum so that memory stays bounded whatever the number of quanta. Output files are
    /// staged as each batch is written, given their names after the commit, and removed again if anything fails.
    ///
    /// - Returns: the ids of the quanta recorded, in the order of the text.
    /// - Throws: ``ButlerError/Code/invalidValue`` naming the JSON path (or JSON Lines line) of a malformed or
    ///   missing field; ``ButlerError/Code/notFound`` for an unknown input; ``ButlerError/Code/conflict`` for an
    ///   output already registered or a config that differs from the one its task used in the RUN.
    /// - Parameter progress: told of the quanta written as each batch is (a transaction PostgreSQL runs again
    ///   counts from zero again).
    @discardableResult
    public func record(_ spec: RecordSpec, batchSize: Int = 2000, progress: ProgressReport? = nil) throws -> [UUID] {
        try requireWritable()
        let writer = try QuantumBatchWriter(butler: self, spec: spec, batchSize: max(1, batchSize))
        writer.progress = progress
        do {
            try registry.database.write { c in try writer.run(c) }
        } catch {
            writer.discardStaged()
            throw error
        }
        try writer.publishStaged()
        return writer.recorded
    }
}

/// The work of one ``Butler/record(_:batchSize:progress:)``: quanta converted and written a batch at a time, in the caller's
/// transaction. ``run(_:)`` starts from scratch each time it is called (PostgreSQL runs a failed transaction again).
final class QuantumBatchWriter {
    let butler: Butler
    let spec: RecordSpec
    let batchSize: Int
    let environments: [String: SoftwareEnvironment]
    /// Each environment's content hash, computed once (it hashes every package), and the default one's.
    let environmentIds: [String: String]
    let defaultEnvironmentId = SoftwareEnvironment().id
    let configs: [String: ConfigFile]
    /// Config name -> SHA-256, computed once.
    let configHashes: [String: String]
    let defaultRun: String?
    let collections: [String]

    private(set) var recorded: [UUID] = []
    /// Told of the quanta written, after each batch.
    var progress: ProgressReport?
    private let staged = StagedFileSpool()
    // Per attempt:
    private var pending: [(location: String, quantum: [String: any Sendable])] = []
    private var named: [String: DatasetRef] = [:]
    private var digests: [String: String] = [:]
    private var runs = Set<String>()
    private var writtenEnvironments = Set<String>(), writtenConfigs = Set<String>()
    private var outputCache: [String: DataCoordinate] = [:]
    /// Dimension records met by earlier outputs (the detectors of one exposure share its record).
    private let records = DimensionRecordCache()
    private var templateCache: [String: [String: String]] = [:]
    private var resolved: [String: DatasetRef] = [:]

    init(butler: Butler, spec: RecordSpec, batchSize: Int) throws {
        self.butler = butler
        self.spec = spec
        self.batchSize = batchSize
        let top = spec.header
        defaultRun = top["run"] as? String
        collections = (top["collections"] as? [any Sendable])?.compactMap { $0 as? String } ?? []
        func fail(_ path: String, _ why: String) -> ButlerError { ButlerError(.invalidValue, "\(spec.source): \(path): \(why)") }
        var environments: [String: SoftwareEnvironment] = [:]
        for (name, value) in (top["environments"] as? [String: any Sendable]) ?? [:] {
            guard let d = value as? [String: any Sendable] else { throw fail("environments.\(name)", "expected an object") }
            environments[name] = SoftwareEnvironment(packages: ((d["packages"] as? [String: any Sendable]) ?? [:]).mapValues { "\($0)" },
                                                     codeCommit: d["code_commit"] as? String, codeDirty: d["code_dirty"] as? Bool,
                                                     executableHash: d["executable_sha256"] as? String)
        }
        var configs: [String: ConfigFile] = [:]
        for (name, value) in (top["configs"] as? [String: any Sendable]) ?? [:] {
            guard let d = value as? [String: any Sendable] else { throw fail("configs.\(name)", "expected an object with path or content") }
            if let path = d["path"] as? String {
                configs[name] = ConfigFile(name: name, content: try ConfigFile(contentsOf: spec.resolve(path)).content)
            } else if let content = d["content"] as? String {
                configs[name] = ConfigFile(name: name, content: Data(content.utf8))
            } else {
                throw fail("configs.\(name)", "needs 'path' or 'content'")
            }
        }
        self.environments = environments
        self.environmentIds = environments.mapValues(\.id)
        self.configs = configs
        self.configHashes = configs.mapValues(\.hash)
    }

    private func fail(_ path: String, _ why: String) -> ButlerError {
        ButlerError(.invalidValue, "\(spec.source): \(RecordSpecValidator.trimmed(path)): \(why)")
    }

    /// Reads the text again and writes every quantum, a batch at a time.
    func run(_ c: any SQLConnection) throws {
        discardStaged()
        recorded = []
        pending = []
        named = [:]
        digests = [:]
        runs = []
        writtenEnvironments = []
        writtenConfigs = []
        resolved = [:]
        try RecordSpec.read(spec.text, source: spec.source) { item in
            guard case .quantum(let location, let quantum) = item else { return }
            pending.append((location, quantum))
            if pending.count >= batchSize {
                try flush(c)
                progress?(recorded.count, spec.quantumCount)
            }
        }
        try flush(c)
        progress?(recorded.count, spec.quantumCount)
    }

    /// Removes what was staged (after a rollback).
    func discardStaged() {
        try? staged.forEach { butler.datastore.discard($0) }
        staged.removeAll()
    }

    /// Gives the staged files their names (after the commit).
    func publishStaged() throws {
        try staged.forEach { try butler.datastore.publish($0) }
        staged.removeAll()
    }

    /// One output of a converted quantum.
    private struct Output {
        let prepared: Butler.PreparedOutput
        let file: String
        let id: UUID
        let metrics: [String: Double]
        let transfer: TransferMode
        let location: String
    }

    /// Converts, checks, stages and writes the pending quanta.
    private func flush(_ c: any SQLConnection) throws {
        guard !pending.isEmpty else { return }
        let registry = butler.registry
        defer { pending = [] }
        // Lookups that grow with the data IDs seen are kept for one batch only.
        if outputCache.count > 50_000 { outputCache = [:] }
        if templateCache.count > 50_000 { templateCache = [:] }
        if resolved.count > 50_000 { resolved = [:] }

        // Inputs named by UUID, looked up in bulk.
        var wanted = Set<String>()
        for (_, q) in pending {
            for input in (q["inputs"] as? [any Sendable]) ?? [] {
                if let name = (input as? [String: any Sendable])?["dataset"] as? String, let id = UUID(registryText: name) { wanted.insert(id.lowercasedString) }
            }
        }
        let byId = wanted.isEmpty ? [:] : try registry.datasetsById(Array(wanted))

        var quanta: [(quantum: Quantum, outputs: [Output], environmentId: String)] = []
        for (location, q) in pending { quanta.append(try convert(q, at: location, byId: byId, c)) }

        // Output slots (type, RUN, data ID) already taken, here or earlier in this text.
        var slots = Set<String>()
        var groups: [String: [(Output, String)]] = [:]
        for (quantum, outputs, _) in quanta {
            for output in outputs {
                let key = StagedMerger.slot(output.prepared.type, quantum.run, output.prepared.dataId)
                if !slots.insert(key).inserted {
                    throw fail(RecordSpec.path(output.location, "data_id"), "\(output.prepared.type.name) \(output.prepared.dataId) is made by another output of the same batch; an output cannot be recorded twice")
                }
                groups[output.prepared.type.name + "\u{1}" + quantum.run, default: []].append((output, quantum.run))
            }
        }
        for (_, group) in groups.sorted(by: { $0.key < $1.key }) {
            let taken = try registry.takenSlots(group[0].0.prepared.type, run: group[0].1, dataIds: group.map(\.0.prepared.dataId), in: c)
            if let first = taken.min() {
                let output = group[first].0
                throw ButlerError(.conflict, "\(spec.source): \(RecordSpec.path(output.location, "data_id")): \(output.prepared.type.name) \(output.prepared.dataId) "
                                  + "is already in RUN \(group[first].1); an output cannot be recorded twice")
            }
        }

        // Stage the files, then write every row in bulk.
        var files: [Registry.ImportedFile] = []
        var batchStaged: [StagedFile] = []
        var bundle = ProvenanceBundle()
        var metrics: [[SQLValue]] = []
        for ((quantum, outputs, environmentId), location) in zip(quanta, pending.map(\.location)) {
            var edges: [ProvenanceBundle.Step.Edge] = []
            for output in outputs {
                let place = try butler.stageOutput(output.prepared, file: output.file, id: output.id, quantum: quantum, transfer: output.transfer, cache: &templateCache)
                try staged.append(place)
                batchStaged.append(place)
                var info = StoredFileInfo(path: place.recordedPath, storageClass: output.prepared.type.storageClass, checksum: place.checksum, fileSize: place.size)
                info.sourcePath = absolutePath(output.file)
                files.append(.init(datasetType: output.prepared.type, run: quantum.run, ids: [output.id], dataIds: [output.prepared.dataId.values], file: info))
                for (name, value) in output.metrics.sorted(by: { $0.key < $1.key }) {
                    metrics.append([.text(output.id.lowercasedString), .text(name), .real(value)])
                }
                edges.append(.init(datasetId: output.id, role: output.prepared.role))
            }
            if writtenEnvironments.insert(environmentId).inserted {
                let e = quantum.environment
                bundle.environments.append(.init(id: environmentId, codeCommit: e.codeCommit, codeDirty: e.codeDirty, executableHash: e.executableHash, packages: e.packages))
            }
            for config in quantum.configs {
                let hash = configHashes[config.name] ?? config.hash
                guard writtenConfigs.insert(hash).inserted else { continue }
                bundle.configs.append(String(data: config.content, encoding: .utf8).map { .init(hash: hash, format: config.format, content: $0, encoding: nil) }
                                      ?? .init(hash: hash, format: config.format, content: config.content.base64EncodedString(), encoding: "base64"))
            }
            let digest = digests[quantum.run + "\u{1}" + quantum.taskLabel]!
            bundle.runTaskConfigs.append(.init(run: quantum.run, taskLabel: quantum.taskLabel, configDigest: digest))
            var seen = Set<ProvenanceBundle.Step.Edge>()
            bundle.steps.append(ProvenanceBundle.Step(
                id: quantum.id, taskLabel: quantum.taskLabel, run: quantum.run,
                dataId: quantum.dataId.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","),
                host: quantum.host, userName: quantum.user, command: quantum.command,
                startTime: quantum.start.map { Registry.taiNanoseconds($0) }, endTime: quantum.end.map { Registry.taiNanoseconds($0) },
                status: quantum.status.rawValue, exitCode: quantum.exitCode.map { Int($0) }, environmentId: environmentId, configDigest: digest,
                logDatasetId: nil, logText: nil,
                configs: Dictionary(quantum.configs.map { ($0.name, configHashes[$0.name] ?? $0.hash) }, uniquingKeysWith: { a, _ in a }),
                parameters: quantum.parameters,
                inputs: quantum.inputs.map { ProvenanceBundle.Step.Edge(datasetId: $0.ref.id, role: $0.role) }.filter { seen.insert($0).inserted },
                outputs: edges))
            // The rules every step obeys, whichever command brings it (merge-staged checks its records with this function too).
            do {
                try RecordSpecValidator.checkStep(bundle.steps[bundle.steps.count - 1], metrics: outputs.reduce(into: [:]) { $0.merge($1.metrics) { a, _ in a } },
                                                  universe: registry.universe, knownInputs: nil)
            } catch let error as ButlerError {
                throw ButlerError(error.code, "\(spec.source): \(RecordSpecValidator.trimmed(location)): \(error.message)")
            }
            recorded.append(quantum.id)
        }
        // run_task_config rows: once per (run, task) in the batch.
        var runTasks = Set<String>()
        bundle.runTaskConfigs = bundle.runTaskConfigs.filter { runTasks.insert($0.run + "\u{1}" + $0.taskLabel).inserted }
        try registry.insertImportedDatasets(files, in: c)
        try registry.claimPaths(batchStaged, in: c)
        try registry.apply(bundle, in: c)
        try c.insertRows(into: "dataset_metric", columns: ["dataset_id", "name", "value"], rows: metrics)
    }

    /// One quantum of the text as the registry will hold it, checked against the registry, with its environment's id.
    private func convert(_ q: [String: any Sendable], at location: String, byId: [String: DatasetRef], _ c: any SQLConnection) throws -> (Quantum, [Output], environmentId: String) {
        let registry = butler.registry
        func path(_ sub: String) -> String { RecordSpec.path(location, sub) }
        func stringMap(_ value: (any Sendable)?) -> [String: String] {
            ((value as? [String: any Sendable]) ?? [:]).mapValues { "\($0)" }
        }
        guard let task = q["task"] as? String, !task.isEmpty else { throw fail(path("task"), "missing or not a string") }
        try spec.checkDataId(q["data_id"], path("data_id"), universe: registry.universe)
        guard let run = (q["run"] as? String) ?? defaultRun else { throw fail(location, "no 'run' here or at the top level") }
        if !runs.contains(run) {
            try Registry.validateCollectionName(run)
            _ = try registry.registerCollection(run, type: .run, doc: nil, in: c)
            runs.insert(run)
        }
        var quantum = Quantum(taskLabel: task, run: run, dataId: stringMap(q["data_id"]), parameters: stringMap(q["parameters"]))
        if let env = q["environment"] as? String {
            guard let e = environments[env] else { throw fail(path("environment"), "no environment named '\(env)'") }
            quantum.environment = e
        }
        quantum.configs = try ((q["configs"] as? [any Sendable]) ?? []).map { c -> ConfigFile in
            guard let name = c as? String, let file = configs[name] else { throw fail(path("configs"), "no config named '\(c)'") }
            return file
        }
        if let status = q["status"] as? String {
            guard let s = Quantum.Status(rawValue: status) else { throw fail(path("status"), "expected 'succeeded' or 'failed'") }
            quantum.status = s
        }
        quantum.exitCode = (q["exit_code"] as? Int).map(Int32.init)
        quantum.command = q["command"] as? String
        quantum.host = (q["host"] as? String) ?? quantum.host
        quantum.user = (q["user"] as? String) ?? quantum.user
        quantum.start = q["start"] as? Date
        quantum.end = q["end"] as? Date
        // One task label in one RUN has one config.
        let digest = quantum.configDigest(hashes: quantum.configs.map { configHashes[$0.name] ?? $0.hash })
        let taskKey = run + "\u{1}" + task
        if digests[taskKey] == nil, let known = try c.queryOne(
            "SELECT r.config_digest FROM run_task_config AS r JOIN collection AS c ON c.collection_id = r.run_id WHERE c.name = ? AND r.task_label = ?",
            [.text(run), .text(task)])?[0].string {
            digests[taskKey] = known
        }
        if let known = digests[taskKey], known != digest {
            throw ButlerError(.conflict, "\(spec.source): \(RecordSpecValidator.trimmed(location)): task '\(task)' already ran in run '\(run)' with another config: "
                              + (try registry.configDifferences(quantum, run: try registry.requireCollection(run, in: c).id, in: c))
                              + "; use a new run for a new config")
        }
        digests[taskKey] = digest
        for (j, input) in ((q["inputs"] as? [any Sendable]) ?? []).enumerated() {
            let p = path("inputs[\(j)]")
            guard let d = input as? [String: any Sendable] else { throw fail(p, "expected an object") }
            let role = d["role"] as? String
            if let outputName = d["output"] as? String {
                guard let ref = named[outputName] else { throw fail(p + ".output", "no earlier output named '\(outputName)'") }
                quantum.inputs.append((role ?? ref.datasetType.name, ref))
                continue
            }
            guard let name = d["dataset"] as? String, !name.isEmpty else { throw fail(p + ".dataset", "missing or not a string") }
            if let id = UUID(registryText: name) {
                guard let ref = byId[id.lowercasedString] else { throw ButlerError(.notFound, "\(spec.source): \(p).dataset: no dataset with id \(name)") }
                quantum.inputs.append((role ?? ref.datasetType.name, ref))
                continue
            }
            let ref: DatasetRef
            do { ref = try resolved[name] ?? registry.resolveDataset(name, collections: collections) } catch let error as ButlerError {
                throw ButlerError(error.code, "\(spec.source): \(p).dataset: \(error.message)")
            }
            resolved[name] = ref
            quantum.inputs.append((role ?? ref.datasetType.name, ref))
        }
        var outputs: [Output] = []
        for (j, output) in ((q["outputs"] as? [any Sendable]) ?? []).enumerated() {
            let p = path("outputs[\(j)]")
            guard let d = output as? [String: any Sendable] else { throw fail(p, "expected an object") }
            try spec.checkDataId(d["data_id"], p + ".data_id", universe: registry.universe)
            guard let typeName = d["dataset_type"] as? String, !typeName.isEmpty else { throw fail(p + ".dataset_type", "missing or not a string") }
            let prepared: Butler.PreparedOutput
            do {
                prepared = try butler.prepareOutput(role: d["role"] as? String, datasetType: typeName, dataId: stringMap(d["data_id"]), cache: &outputCache, records: records)
            } catch let error as ButlerError {
                throw ButlerError(error.code, "\(spec.source): \(p): \(error.message)")
            }
            guard let fileName = d["file"] as? String, !fileName.isEmpty else { throw fail(p + ".file", "missing or not a string") }
            let file = spec.resolve(fileName)
            guard FileManager.default.fileExists(atPath: file) else { throw fail(p + ".file", "no such file: \(file)") }
            var metrics: [String: Double] = [:]
            for (k, v) in (d["metrics"] as? [String: any Sendable]) ?? [:] {
                guard let x = v as? Double else { throw fail("\(p).metrics.\(k)", "not a finite number") }
                do { try RecordSpecValidator.checkMetric(k, x, "\(p).metrics") } catch let error as ButlerError {
                    throw ButlerError(error.code, "\(spec.source): \(error.message)")
                }
                metrics[k] = x
            }
            var transfer = TransferMode.copy
            if let t = d["transfer"] as? String {
                guard let mode = TransferMode(rawValue: t) else { throw fail(p + ".transfer", "unknown transfer mode '\(t)'") }
                transfer = mode
            }
            let id = DatasetIdGenerationMode.uuid7()
            outputs.append(Output(prepared: prepared, file: file, id: id, metrics: metrics, transfer: transfer, location: p))
            if let name = d["name"] as? String {
                named[name] = DatasetRef(id: id, datasetType: prepared.type, run: run, dataId: DataCoordinate(dimensions: prepared.type.dimensions, values: [:]))
            }
        }
        if quantum.status == .failed && !outputs.isEmpty { throw fail(location, "a failed quantum has no outputs") }
        return (quantum, outputs, (q["environment"] as? String).flatMap { environmentIds[$0] } ?? defaultEnvironmentId)
    }
}
