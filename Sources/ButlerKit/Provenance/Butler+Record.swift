public import Foundation

/// A batch of quanta to record at once (`butler record SPEC.json`), for workflow systems.
///
/// The JSON document:
/// ```json
/// {
///   "run": "u/me/run1",
///   "collections": ["LATISS/raw/all"],
///   "environments": {"stack": {"packages": {"ip_isr": "1.2"}, "code_commit": "abc", "code_dirty": false}},
///   "configs": {"isr.yaml": {"path": "configs/isr.yaml"}},
///   "quanta": [{
///     "task": "isr", "data_id": {"instrument": "LATISS", "detector": 0, "exposure": 2023032100053},
///     "status": "succeeded", "exit_code": 0, "environment": "stack", "configs": ["isr.yaml"], "parameters": {"doBias": "true"},
///     "inputs": [{"role": "raw", "dataset": "raw:instrument=LATISS,detector=0,exposure=2023032100053"}],
///     "outputs": [{"name": "isr-0", "role": "out", "dataset_type": "postISRCCD", "data_id": {...}, "file": "out.fits",
///                  "metrics": {"background": 12.5}}]
///   }]
/// }
/// ```
/// An input may also be `{"role": "in", "output": "isr-0"}`: an output of an earlier quantum of the same document.
public struct RecordSpec: Sendable {
    let object: [String: any Sendable]
    let source: String
    let baseDirectory: URL

    /// Parses and checks a JSON document; `source` names it in errors, relative file paths resolve against `baseDirectory`.
    ///
    /// - Throws: ``ButlerError/Code/invalidValue`` for a syntax error (with its line and column), an unknown key, or a
    ///   value of the wrong type or out of range (with its JSON path); see ``RecordSpecValidator``.
    public init(json: Data, source: String, baseDirectory: URL) throws {
        let parsed: JSONValue
        do { parsed = try JSONDocumentParser.parse([UInt8](json)) } catch {
            throw ButlerError(.invalidValue, "\(source): not valid JSON: \(error)")
        }
        var validator = RecordSpecValidator(source: source)
        self.object = try validator.document(parsed)
        self.source = source
        self.baseDirectory = baseDirectory
    }

    /// A path from the document: absolute, or relative to the document's folder.
    func resolve(_ path: String) -> String {
        path.hasPrefix("/") ? path : baseDirectory.appendingPathComponent(path).path
    }

    /// Checks a data ID of the document against the dimensions: known dimension names, integers for integer
    /// dimensions, strings for the others.
    func checkDataId(_ value: (any Sendable)?, _ path: String, universe: DimensionUniverse) throws {
        guard let d = value as? [String: any Sendable] else { return }
        for key in d.keys.sorted() {
            let p = "\(path).\(key)"
            guard let dim = universe[key], dim.isDimension, let type = dim.primaryKey?.type else {
                throw ButlerError(.invalidValue, "\(source): \(p): unknown dimension '\(key)'")
            }
            switch (type, d[key]) {
            case (.int, let s as String): throw ButlerError(.invalidValue, "\(source): \(p): \(escapedForMessage(s, limit: 80)) is not an integer (\(key) is an integer dimension)")
            case (.int, _), (_, is String): continue
            case (_, let i?): throw ButlerError(.invalidValue, "\(source): \(p): \(i) is a number, expected a string (\(key) is a string dimension)")
            default: continue
            }
        }
    }
}

extension Butler {
    /// Records many quanta with their output files, environments, configs and metrics in one transaction: all or
    /// nothing. Output files are placed first and removed again if anything fails.
    ///
    /// - Returns: the ids of the quanta recorded, in document order.
    /// - Throws: ``ButlerError/Code/invalidValue`` naming the JSON path of a malformed or missing field.
    @discardableResult
    public func record(_ spec: RecordSpec) throws -> [UUID] {
        let top = spec.object
        func fail(_ path: String, _ why: String) -> ButlerError { ButlerError(.invalidValue, "\(spec.source): \(path): \(why)") }
        func string(_ d: [String: any Sendable], _ key: String, _ path: String) throws -> String {
            guard let s = d[key] as? String, !s.isEmpty else { throw fail("\(path).\(key)", "missing or not a string") }
            return s
        }
        func stringMap(_ value: (any Sendable)?, _ path: String) throws -> [String: String] {
            guard let value else { return [:] }
            guard let d = value as? [String: any Sendable] else { throw fail(path, "expected an object") }
            return d.mapValues { "\($0)" }
        }
        let defaultRun = top["run"] as? String
        let collections = (top["collections"] as? [any Sendable])?.compactMap { $0 as? String } ?? []
        // Environments and configs, by name.
        var environments: [String: SoftwareEnvironment] = [:]
        for (name, value) in (top["environments"] as? [String: any Sendable]) ?? [:] {
            guard let d = value as? [String: any Sendable] else { throw fail("environments.\(name)", "expected an object") }
            environments[name] = SoftwareEnvironment(packages: try stringMap(d["packages"], "environments.\(name).packages"),
                                                     codeCommit: d["code_commit"] as? String, codeDirty: d["code_dirty"] as? Bool,
                                                     executableHash: d["executable_sha256"] as? String)
        }
        var configs: [String: ConfigFile] = [:]
        for (name, value) in (top["configs"] as? [String: any Sendable]) ?? [:] {
            guard let d = value as? [String: any Sendable] else { throw fail("configs.\(name)", "expected an object with path or content") }
            if let path = d["path"] as? String {
                let file = try ConfigFile(contentsOf: spec.resolve(path))
                configs[name] = ConfigFile(name: name, content: file.content)
            } else if let content = d["content"] as? String {
                configs[name] = ConfigFile(name: name, content: Data(content.utf8))
            } else {
                throw fail("configs.\(name)", "needs 'path' or 'content'")
            }
        }
        guard let quantaList = top["quanta"] as? [any Sendable], !quantaList.isEmpty else { throw fail("quanta", "missing or empty list") }

        // Inputs named by UUID are looked up in bulk (a workflow may name hundreds of thousands).
        var byId: [String: DatasetRef] = [:]
        var wanted = Set<String>()
        for item in quantaList {
            for input in ((item as? [String: any Sendable])?["inputs"] as? [any Sendable]) ?? [] {
                if let name = (input as? [String: any Sendable])?["dataset"] as? String, let id = UUID(registryText: name) { wanted.insert(id.lowercasedString) }
            }
        }
        if !wanted.isEmpty { byId = try registry.datasetsById(Array(wanted)) }

        // Resolve everything before touching the datastore.
        struct Planned { var quantum: Quantum; var outputs: [(PreparedOutput, String, UUID, [String: Double], TransferMode)]; var outputRefs: [(String, DatasetRef)] }
        var planned: [Planned] = []
        var named: [String: DatasetRef] = [:]
        var expanded: [String: DataCoordinate] = [:]
        var resolved: [String: DatasetRef] = [:]
        for (i, item) in quantaList.enumerated() {
            let path = "quanta[\(i)]"
            guard let q = item as? [String: any Sendable] else { throw fail(path, "expected an object") }
            let task = try string(q, "task", path)
            try spec.checkDataId(q["data_id"], "\(path).data_id", universe: registry.universe)
            guard let run = (q["run"] as? String) ?? defaultRun else { throw fail(path, "no 'run' here or at the top level") }
            try Registry.validateCollectionName(run)
            var quantum = Quantum(taskLabel: task, run: run, dataId: try stringMap(q["data_id"], "\(path).data_id"),
                                  parameters: try stringMap(q["parameters"], "\(path).parameters"))
            if let env = q["environment"] as? String {
                guard let e = environments[env] else { throw fail("\(path).environment", "no environment named '\(env)'") }
                quantum.environment = e
            }
            quantum.configs = try ((q["configs"] as? [any Sendable]) ?? []).map { c -> ConfigFile in
                guard let name = c as? String, let file = configs[name] else { throw fail("\(path).configs", "no config named '\(c)'") }
                return file
            }
            if let status = q["status"] as? String {
                guard let s = Quantum.Status(rawValue: status) else { throw fail("\(path).status", "expected 'succeeded' or 'failed'") }
                quantum.status = s
            }
            quantum.exitCode = (q["exit_code"] as? Int).map(Int32.init)
            quantum.command = q["command"] as? String
            quantum.host = (q["host"] as? String) ?? quantum.host
            quantum.user = (q["user"] as? String) ?? quantum.user
            quantum.start = q["start"] as? Date
            quantum.end = q["end"] as? Date
            for (j, input) in ((q["inputs"] as? [any Sendable]) ?? []).enumerated() {
                guard let d = input as? [String: any Sendable] else { throw fail("\(path).inputs[\(j)]", "expected an object") }
                let role = d["role"] as? String
                if let outputName = d["output"] as? String {
                    guard let ref = named[outputName] else { throw fail("\(path).inputs[\(j)].output", "no earlier output named '\(outputName)'") }
                    quantum.inputs.append((role ?? ref.datasetType.name, ref))
                } else {
                    let name = try string(d, "dataset", "\(path).inputs[\(j)]")
                    if let id = UUID(registryText: name) {
                        guard let ref = byId[id.lowercasedString] else { throw fail("\(path).inputs[\(j)].dataset", "no dataset with id \(name)") }
                        quantum.inputs.append((role ?? ref.datasetType.name, ref))
                        continue
                    }
                    let ref = try resolved[name] ?? registry.resolveDataset(name, collections: collections)
                    resolved[name] = ref
                    quantum.inputs.append((role ?? ref.datasetType.name, ref))
                }
            }
            var outputs: [(PreparedOutput, String, UUID, [String: Double], TransferMode)] = []
            for (j, output) in ((q["outputs"] as? [any Sendable]) ?? []).enumerated() {
                let opath = "\(path).outputs[\(j)]"
                guard let d = output as? [String: any Sendable] else { throw fail(opath, "expected an object") }
                try spec.checkDataId(d["data_id"], "\(opath).data_id", universe: registry.universe)
                let prepared = try prepareOutput(role: d["role"] as? String, datasetType: try string(d, "dataset_type", opath),
                                                 dataId: try stringMap(d["data_id"], "\(opath).data_id"), cache: &expanded)
                let file = spec.resolve(try string(d, "file", opath))
                guard FileManager.default.fileExists(atPath: file) else { throw fail("\(opath).file", "no such file: \(file)") }
                var metrics: [String: Double] = [:]
                for (k, v) in (d["metrics"] as? [String: any Sendable]) ?? [:] {
                    guard let x = (v as? Double) ?? (v as? Int).map(Double.init) else { throw fail("\(opath).metrics.\(k)", "not a number") }
                    metrics[k] = x
                }
                let id = DatasetIdGenerationMode.uuid7()
                var transfer = TransferMode.copy
                if let t = d["transfer"] as? String {
                    guard let mode = TransferMode(rawValue: t) else { throw fail("\(opath).transfer", "unknown transfer mode '\(t)'") }
                    transfer = mode
                }
                outputs.append((prepared, file, id, metrics, transfer))
                if let name = d["name"] as? String {
                    named[name] = DatasetRef(id: id, datasetType: prepared.type, run: run, dataId: prepared.dataId)
                }
            }
            if quantum.status == .failed && !outputs.isEmpty { throw fail(path, "a failed quantum has no outputs") }
            planned.append(Planned(quantum: quantum, outputs: outputs, outputRefs: []))
        }
        for run in Set(planned.map(\.quantum.run)) { try registry.registerRun(run) }

        // Stage every file, then register everything (with the claims on the files' paths) in one transaction,
        // then give the files their names.
        var staged: [StagedFile] = []
        var cache: [String: [String: String]] = [:]
        do {
            var placements: [[StagedFile]] = []
            for plan in planned {
                var row: [StagedFile] = []
                for (output, file, id, _, transfer) in plan.outputs {
                    let place = try stageOutput(output, file: file, id: id, quantum: plan.quantum, transfer: transfer, cache: &cache)
                    staged.append(place)
                    row.append(place)
                }
                placements.append(row)
            }
            let cache = RecordCache()
            cache.knownDatasets = Set(byId.keys)
            try registry.database.write { c in
                for (plan, row) in zip(planned, placements) {
                    var refs: [(role: String, ref: DatasetRef)] = []
                    for ((output, file, id, metrics, _), place) in zip(plan.outputs, row) {
                        var info = StoredFileInfo(path: place.recordedPath, storageClass: output.type.storageClass, checksum: place.checksum, fileSize: place.size)
                        info.sourcePath = absolutePath(file)
                        let ref = try registry.insertDatasets(output.type.name, run: plan.quantum.run, dataIds: [output.dataId.values],
                                                              idGenerationMode: .unique, files: [info], ids: [id], expandedDataIds: true, in: c)[0]
                        try registry.recordMetrics(metrics, for: id, in: c)
                        refs.append((output.role, ref))
                    }
                    for ref in refs { cache.knownDatasets.insert(ref.ref.id.lowercasedString) }
                    try registry.record(plan.quantum, outputs: refs, in: c, cache: cache)
                }
                try registry.claimPaths(staged, in: c)
            }
        } catch {
            for file in staged { datastore.discard(file) }
            throw error
        }
        try publish(staged)
        return planned.map(\.quantum.id)
    }
}
