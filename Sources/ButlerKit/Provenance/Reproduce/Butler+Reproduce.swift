public import Foundation

extension Butler {
    /// Runs again the steps that made datasets, as `butler run` recorded them, into a scratch RUN, and compares each
    /// new output with the recorded one.
    ///
    /// Each step runs its recorded command (``CommandTemplate``) with the same inputs resolved by id, its config files
    /// written out from the registry, its parameters and its recorded package versions. Each reproduction is
    /// recorded: the new step is linked to the step it reproduced, with the verdict, so the lineage of a product
    /// shows whether and when it was reproduced. A step that cannot run again (no command recorded, an input
    /// removed, another executable) is reported as not reproducible, with the reason; nothing is written for it.
    ///
    /// - Returns: one entry per recorded output (logs left out), steps in the order they ran.
    /// - Throws: for an unknown dataset or a bad scratch RUN name; a step that fails or differs is a result.
    public func reproduce(_ request: ReproduceRequest) throws -> [Reproduction] {
        let scratch = request.run ?? "reproduce/" + Self.compactUTC(Date())
        try Registry.validateCollectionName(scratch)
        // The graph: each target's making (its producer, or the whole chain upstream).
        var graph: Lineage?
        var targets: [UUID] = []
        for id in request.datasets where !targets.contains(id) {
            let lineage = try registry.lineage(of: id, direction: .upstream, depth: request.upstream ? nil : 1, includeConfigs: true)
            if graph == nil { graph = lineage } else { graph!.merge(lineage) }
            targets.append(id)
        }
        guard var graph else { return [] }
        let wanted = request.upstream ? Set(graph.steps.keys) : Set(targets.compactMap { graph.producer[$0] })
        // Every output of each step (an upstream walk reaches only those on the way), so that the command gets all
        // the paths it writes.
        for stepId in wanted {
            let known = Set(graph.steps[stepId]?.outputs.map(\.dataset) ?? [])
            for (id, role) in try registry.outputs(of: stepId) where role != "log" && !known.contains(id) {
                graph.merge(try registry.lineage(of: id, direction: .upstream, depth: 1, includeConfigs: true))
            }
        }
        var results: [Reproduction] = []
        // Targets that no step made.
        for id in targets where graph.producer[id] == nil {
            guard let dataset = graph.datasets[id] else { continue }
            results.append(Reproduction(dataset: dataset, step: "", originalStep: nil, newStep: nil, newDataset: nil, verdict: .notReproducible,
                                        detail: "no recorded step made it (ingested, imported, or put without a step)", seconds: 0))
        }
        // With --upstream, each step reads the reproductions of the outputs of the steps before it.
        var replacement: [UUID: UUID] = [:]  // recorded dataset -> its reproduction (itself in a dry run)
        var unreproduced: [UUID: String] = [:]  // recorded dataset -> why it could not be made again
        var executableHashes: [String: String] = [:]  // resolved path -> SHA-256, hashed once
        let work = localWorkRoot.appendingPathComponent(".butler-scratch/reproduce-\(FileDatastore.makeToken())")
        defer { try? FileManager.default.removeItem(at: work) }
        for stepId in graph.dependencyOrder(of: wanted) {
            let step = graph.steps[stepId]!
            let outputs = try orderedOutputs(of: step, in: graph)
            func report(_ verdict: ReproductionVerdict, _ detail: String, newStep: UUID? = nil, new: [String: UUID] = [:], seconds: Double = 0,
                        each: [String: (ReproductionVerdict, String)] = [:]) {
                for (role, dataset) in outputs {
                    let (v, d) = each[role] ?? (verdict, detail)
                    results.append(Reproduction(dataset: dataset, step: step.taskLabel, originalStep: stepId, newStep: newStep, newDataset: new[role],
                                                verdict: v, detail: d, seconds: seconds))
                    guard request.upstream else { continue }
                    if v == .wouldRun { replacement[dataset.id] = dataset.id }
                    if let made = new[role] { replacement[dataset.id] = made }
                    if v == .notReproducible || (v != .wouldRun && new[role] == nil) {
                        unreproduced[dataset.id] = "step \(step.taskLabel) that made it could not be run again"
                    }
                }
            }
            // Upstream, a step without a command (a calibration put by hand) is where the chain starts: its stored
            // outputs are inputs like raws.
            if step.commandTemplate == nil && !outputs.contains(where: { targets.contains($0.1.id) }) { continue }
            if let refusal = try foreignRefusal(step, request: request) {
                report(.notReproducible, refusal)
                continue
            }
            if let reason = try reasonNotReproducible(step, in: graph, replacement: replacement, unreproduced: unreproduced, packages: request.packages,
                                                      executableHashes: &executableHashes) {
                report(.notReproducible, reason)
                continue
            }
            let template = step.commandTemplate!
            if request.dryRun {
                report(.wouldRun, "would run: " + shellQuoted(template.arguments))
                continue
            }
            // The configs written out from the registry; the template's {config:NAME} become their paths.
            let folder = work.appendingPathComponent(stepId.lowercasedString)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            var configs: [ConfigFile] = [], paths: [String: String] = [:]
            for (index, config) in step.configs.enumerated() {
                let content = graph.configs[config.hash]!.content  // reasonNotReproducible checked it is there
                let name = config.name.isEmpty || config.name.contains("/") || config.name == "." || config.name == ".." ? "config-\(index)" : config.name
                let configFolder = folder.appendingPathComponent("config-\(index)")
                try FileManager.default.createDirectory(at: configFolder, withIntermediateDirectories: true)
                let path = configFolder.appendingPathComponent(name).path
                try content.write(to: URL(fileURLWithPath: path))
                configs.append(ConfigFile(name: config.name, content: content))
                paths[config.name] = path
            }
            let environment = step.environment.flatMap { graph.environments[$0] }
            var run = RunRequest(run: scratch, taskLabel: step.taskLabel, command: template.filling(configs: paths))
            run.inputs = step.inputs.map { ($0.role, (replacement[$0.dataset] ?? $0.dataset).lowercasedString) }
            run.outputs = outputs.map { ($0.0, "\($0.1.datasetType):\($0.1.dataId)") }
            run.configs = configs
            run.parameters = Dictionary(step.parameters.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
            var packages = Dictionary((environment?.packages ?? []).map { ($0.name, $0.version) }, uniquingKeysWith: { a, _ in a })
            packages.merge(request.packages ?? [:]) { _, here in here }
            run.environment = SoftwareEnvironment(packages: packages, codeCommit: environment?.codeCommit, codeDirty: environment?.codeDirty)
            // Always a fresh folder of its own: never the folder it was recorded in, which a bundle from elsewhere
            // could name.
            let workingFolder = folder.appendingPathComponent("work")
            try FileManager.default.createDirectory(at: workingFolder, withIntermediateDirectories: true)
            run.workingDirectory = workingFolder.path
            run.foreignOrigin = step.origin.map { ($0, step.receivedFrom) }
            // One task has one config per RUN, and one data ID one dataset of a type: a step that does not fit in the
            // scratch RUN (another config of the same task, a data ID already made there) goes to a RUN of its own
            // under it, named after the recorded RUN. Chosen before the command runs.
            let digest = Quantum(taskLabel: step.taskLabel, run: scratch, configs: configs, parameters: run.parameters).configDigest
            if try !fits(digest: digest, task: step.taskLabel, outputs: outputs.map(\.1), in: scratch) {
                run.run = scratch + "/" + step.run
                guard try fits(digest: digest, task: step.taskLabel, outputs: outputs.map(\.1), in: run.run) else {
                    report(.notReproducible, "the scratch RUNs \(scratch) and \(run.run) already hold these outputs or another config of \(step.taskLabel): give another --run")
                    continue
                }
            }
            let started = Date()
            let result: RunResult
            do { result = try self.run(run) } catch let error as ButlerError {
                report(.notReproducible, "cannot run it again: \(error.message)")
                continue
            }
            let seconds = Date().timeIntervalSince(started)
            guard result.status == .succeeded else {
                let detail = "the step failed when run again: " + (result.failure ?? "exit \(result.exitCode)")
                report(.differs, detail, newStep: result.quantumId, seconds: seconds)
                try registry.recordReproduction(of: stepId, by: result.quantumId, verdict: .differs, detail: detail)
                continue
            }
            var new: [String: UUID] = [:], each: [String: (ReproductionVerdict, String)] = [:]
            for ((role, recorded), ref) in zip(outputs, result.outputs) {
                new[role] = ref.id
                var (verdict, detail): (ReproductionVerdict, String)
                do { (verdict, detail) = try compareStored(recorded, with: ref.id, in: folder) } catch {
                    (verdict, detail) = (.differs, "cannot compare: \((error as? ButlerError)?.message ?? "\(error)")")
                }
                // The QA metrics the step wrote: their differences are named (the verdict is the file's).
                let metrics = try registry.metrics(of: [recorded.id, ref.id])
                let was = metrics[recorded.id] ?? [:], now = metrics[ref.id] ?? [:]
                let moved = Set(was.keys).union(now.keys).sorted().filter { was[$0] != now[$0] }
                if !moved.isEmpty && !recorded.removed {
                    detail += "; metrics differ: " + moved.map { "\($0) \(was[$0].map { "\($0)" } ?? "none") → \(now[$0].map { "\($0)" } ?? "none")" }.joined(separator: ", ")
                }
                each[role] = (verdict, detail)
            }
            let worst = each.values.map(\.0).max() ?? .identical
            report(worst, "", newStep: result.quantumId, new: new, seconds: seconds, each: each)
            let summary = outputs.count == 1 ? each[outputs[0].0]?.1 ?? ""
                : outputs.compactMap { output in each[output.0].map { "\(output.0): \($0.1)" } }.joined(separator: "; ")
            try registry.recordReproduction(of: stepId, by: result.quantumId, verdict: worst, detail: summary.isEmpty ? "no output but its log" : summary)
        }
        return results
    }

    /// A step's outputs (logs left out) in the order `butler run` was given them as far as the registry can tell:
    /// the one that carries the step's metrics and whose dimensions are its log's first (run attaches both to its
    /// first output), then by role.
    private func orderedOutputs(of step: Lineage.Step, in graph: Lineage) throws -> [(String, Lineage.Dataset)] {
        let outputs = step.outputs.filter { $0.role != "log" }.compactMap { edge in graph.datasets[edge.dataset].map { (edge.role, $0) } }
        guard outputs.count > 1 else { return outputs }
        let metrics = try registry.metrics(of: outputs.map(\.1.id))
        let logDimensions = try registry.datasetType(Self.logDatasetType(of: step.taskLabel))?.dimensions.required
        func rank(_ output: (String, Lineage.Dataset)) -> Int {
            let dimensions = Set(((try? parseDataIDString(output.1.dataId)) ?? [:]).keys)
            return (metrics[output.1.id]?.isEmpty == false ? 0 : 2) + (logDimensions.map { Set($0) == dimensions } == true ? 0 : 1)
        }
        return outputs.sorted { rank($0) != rank($1) ? rank($0) < rank($1) : $0.0 < $1.0 }
    }

    /// Whether a step's outputs and config fit in a RUN: none of its data IDs made there yet, and the task's config
    /// there (if any) the same.
    private func fits(digest: String, task: String, outputs: [Lineage.Dataset], in run: String) throws -> Bool {
        guard try registry.collection(run) != nil else { return true }
        if let existing = try registry.configDigest(ofTask: task, inRun: run), existing != digest { return false }
        for output in outputs {
            if try registry.findDataset(output.datasetType, dataId: parseDataIDString(output.dataId), collections: [run]) != nil { return false }
        }
        return true
    }

    /// Why a step that arrived from another repository is not run, or nil when it is this repository's own or the
    /// user allowed foreign steps.
    ///
    /// Only the user's word counts: the repository ids a bundle names (where a step was made, who sent it) are claims
    /// that nothing authenticates, so no id, however well known, makes a step runnable.
    private func foreignRefusal(_ step: Lineage.Step, request: ReproduceRequest) throws -> String? {
        guard let origin = step.origin, !request.allowForeign else { return nil }
        let from = step.receivedFrom.map { $0.id == origin.id ? "" : ", received from \($0.name) (\($0.id.lowercasedString))" } ?? ""
        let argv = step.commandTemplate.map { "[" + $0.arguments.map { escapedForMessage($0, limit: 1000) }.joined(separator: ", ") + "]" } ?? "none recorded"
        return "refused: the step came from another repository (made at \(origin.name) (\(origin.id.lowercasedString))\(from)) "
            + "and is not run unless you allow it (--allow-foreign); "
            + "it would run \(argv)"
    }

    /// Why a recorded step cannot be run again, or nil.
    private func reasonNotReproducible(_ step: Lineage.Step, in graph: Lineage, replacement: [UUID: UUID], unreproduced: [UUID: String],
                                       packages: [String: String]?, executableHashes: inout [String: String]) throws -> String? {
        guard let template = step.commandTemplate else {
            return "the step was recorded without a command to run again (by put or record)"
        }
        for input in step.inputs {
            if replacement[input.dataset] != nil { continue }
            if let why = unreproduced[input.dataset] { return "input '\(input.role)' \(input.dataset.lowercasedString): \(why)" }
            guard let dataset = graph.datasets[input.dataset] else {
                return "input '\(input.role)' \(input.dataset.lowercasedString) is not in this repository"
            }
            if dataset.removed {
                return "input '\(input.role)' (\(dataset.datasetType) \(dataset.dataId)) was removed; only its tombstone is left"
            }
            guard let path = dataset.path, try datastore.measure(recordedPath: path, checksum: false) != nil else {
                return "input '\(input.role)' (\(dataset.datasetType) \(dataset.dataId)) has no stored file"
            }
        }
        for config in step.configs where graph.configs[config.hash] == nil {
            return "config \(config.name) (\(config.hash.prefix(12))) is not in this registry"
        }
        let environment = step.environment.flatMap { graph.environments[$0] }
        let executable = template.arguments[0]
        guard let resolved = Self.resolveExecutable(executable) else { return "the environment differs: \(executable) is not found here" }
        if executableHashes[resolved] == nil { executableHashes[resolved] = try? FileDatastore.measure(resolved, checksum: true).1 }
        if let recorded = environment?.executableHash, let now = executableHashes[resolved], now != recorded {
            return "the environment differs: \(resolved) is another program (SHA-256 \(recorded.prefix(12)) recorded, \(now.prefix(12)) here)"
        }
        if let packages {
            let recorded = Dictionary((environment?.packages ?? []).map { ($0.name, $0.version) }, uniquingKeysWith: { a, _ in a })
            // Only the packages named: the others are taken to be as recorded.
            let changes = packages.keys.sorted().compactMap { name -> String? in
                recorded[name] == packages[name] ? nil : "\(name) \(recorded[name] ?? "absent") recorded, \(packages[name]!) here"
            }
            if !changes.isEmpty { return "the environment differs: " + changes.joined(separator: ", ") }
        }
        return nil
    }

    /// Compares a reproduced dataset's file with the recorded one's.
    private func compareStored(_ dataset: Lineage.Dataset, with reproduced: UUID, in folder: URL) throws -> (ReproductionVerdict, String) {
        let recorded = dataset.id
        if dataset.removed {
            // Only the tombstone's checksum is left to compare with.
            let sum = try registry.tombstone(recorded)?.checksum
            let now = try registry.storedFiles(of: reproduced).first?.checksum
            guard let sum, let now else { return (.differs, "the recorded output was removed and its checksum is unknown: nothing to compare with") }
            return sum == now ? (.identical, "same bytes as the removed output's recorded checksum")
                : (.differs, "the recorded output was removed: only its checksum is left, and the new file's differs (FITS data cannot be compared)")
        }
        let locations = try fileLocations([recorded, reproduced])
        func local(_ id: UUID, _ name: String) throws -> String? {
            guard let location = locations[id] else { return nil }
            if location.isPlainLocalFile { return location.path }
            let path = folder.appendingPathComponent(name + "-" + location.fileName).path
            try datastore.download(location, to: path)
            return path
        }
        guard let a = try local(recorded, "recorded"), let b = try local(reproduced, "reproduced") else {
            return (.differs, "a file is missing")
        }
        return try OutputComparison.compare(recorded: a, reproduced: b)
    }

    /// `20261204T203000Z`.
    static func compactUTC(_ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return f.string(from: date)
    }
}

extension Lineage {
    /// Adds another graph's datasets, steps (their edges joined), environments and configs to this one.
    mutating func merge(_ other: Lineage) {
        datasets.merge(other.datasets) { a, _ in a }
        for (id, step) in other.steps {
            guard var mine = steps[id] else { steps[id] = step; continue }
            mine.inputs = Array(Set(mine.inputs).union(step.inputs)).sorted { $0.role != $1.role ? $0.role < $1.role : $0.dataset < $1.dataset }
            mine.outputs = Array(Set(mine.outputs).union(step.outputs)).sorted { $0.role != $1.role ? $0.role < $1.role : $0.dataset < $1.dataset }
            steps[id] = mine
        }
        environments.merge(other.environments) { a, _ in a }
        configs.merge(other.configs) { a, _ in a }
        producer.merge(other.producer) { a, _ in a }
    }

    /// The given steps, each after the steps that made its inputs (then by start time).
    func dependencyOrder(of wanted: Set<UUID>) -> [UUID] {
        var order: [UUID] = [], done = Set<UUID>(), visiting = Set<UUID>()
        func visit(_ id: UUID) {
            guard wanted.contains(id), !done.contains(id), visiting.insert(id).inserted, let step = steps[id] else { return }
            for input in step.inputs { if let maker = producer[input.dataset] { visit(maker) } }
            visiting.remove(id)
            done.insert(id)
            order.append(id)
        }
        for step in orderedSteps where wanted.contains(step.id) { visit(step.id) }
        return order
    }
}
