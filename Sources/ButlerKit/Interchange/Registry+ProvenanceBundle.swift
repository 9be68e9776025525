package import Foundation

extension Registry {
    /// The provenance of some datasets, as it travels: the steps that made them and every step upstream of those (with
    /// all their inputs and outputs, by id), the environments and configs those steps used, the run/task config digests, the datasets' metrics, the
    /// tombstones of removed inputs, and the datasets' earlier copies.
    package func provenanceBundle(for ids: [UUID], source: RepositoryIdentity?, in c: any SQLConnection) throws -> ProvenanceBundle {
        var bundle = ProvenanceBundle()
        bundle.sourceRepository = source
        let idTexts = ids.map(\.lowercasedString)
        // The steps that made the datasets, and those upstream of them (so that lineage answers the same at the
        // destination, whether or not the inputs travel).
        var quantumIds = Set<String>()
        var frontier = idTexts
        var visited = Set(idTexts)
        while !frontier.isEmpty {
            var newQuanta: [String] = []
            for chunk in frontier.chunked(500) {
                for row in try c.query("SELECT DISTINCT quantum_id FROM quantum_output WHERE dataset_id IN (\(placeholders(chunk.count)))", chunk.map { .text($0) }) {
                    if let q = row[0].string, quantumIds.insert(q).inserted { newQuanta.append(q) }
                }
            }
            frontier = []
            for chunk in newQuanta.chunked(500) {
                for row in try c.query("SELECT DISTINCT dataset_id FROM quantum_input WHERE quantum_id IN (\(placeholders(chunk.count)))", chunk.map { .text($0) }) {
                    if let d = row[0].string, visited.insert(d).inserted { frontier.append(d) }
                }
            }
        }
        var steps: [String: ProvenanceBundle.Step] = [:]
        for chunk in quantumIds.sorted().chunked(500) {
            let args = chunk.map { SQLValue.text($0) }
            let list = placeholders(chunk.count)
            for row in try c.query("""
                SELECT q.id, q.task_label, run.name, q.data_id, q.host, q.user_name, q.command, q.start_time, q.end_time, q.status, q.exit_code,
                       q.environment_id, q.config_digest, q.log_dataset_id, q.log_text, q.command_template, q.origin_id, q.origin_name
                FROM quantum AS q JOIN collection AS run ON run.collection_id = q.run_id WHERE q.id IN (\(list))
                """, args) {
                guard let id = row[0].string, let uuid = UUID(registryText: id) else { continue }
                steps[id] = ProvenanceBundle.Step(
                    id: uuid, taskLabel: row[1].string ?? "", run: row[2].string ?? "", dataId: row[3].string ?? "", host: row[4].string,
                    userName: row[5].string, command: row[6].string, startTime: row[7].int64, endTime: row[8].int64, status: row[9].string ?? "",
                    exitCode: row[10].int64.map { Int($0) }, environmentId: row[11].string, configDigest: row[12].string,
                    logDatasetId: row[13].string.flatMap(UUID.init(registryText:)), logText: row[14].string,
                    commandTemplate: row[15].string.flatMap(CommandTemplate.init(text:))?.arguments,
                    commandDirectory: row[15].string.flatMap(CommandTemplate.init(text:))?.directory,
                    origin: row[16].string.map { RepositoryIdentity(id: UUID(registryText: $0) ?? ForeignArrival.unknown.id, name: row[17].string ?? "unknown") })
            }
            for row in try c.query("SELECT quantum_id, name, config_hash FROM quantum_config WHERE quantum_id IN (\(list))", args) {
                steps[row[0].string ?? ""]?.configs[row[1].string ?? ""] = row[2].string ?? ""
            }
            for row in try c.query("SELECT quantum_id, original_id, verdict, detail, checked_at FROM quantum_reproduction WHERE quantum_id IN (\(list))", args) {
                guard let original = row[1].string.flatMap(UUID.init(registryText:)) else { continue }
                steps[row[0].string ?? ""]?.reproduces = .init(original: original, verdict: row[2].string ?? "", detail: row[3].string, checkedAt: row[4].int64 ?? 0)
            }
            for row in try c.query("SELECT quantum_id, name, value FROM quantum_parameter WHERE quantum_id IN (\(list))", args) {
                steps[row[0].string ?? ""]?.parameters[row[1].string ?? ""] = row[2].string ?? ""
            }
            for row in try c.query("SELECT quantum_id, dataset_id, role FROM quantum_input WHERE quantum_id IN (\(list)) ORDER BY role, dataset_id", args) {
                guard let d = row[1].string.flatMap(UUID.init(registryText:)) else { continue }
                steps[row[0].string ?? ""]?.inputs.append(.init(datasetId: d, role: row[2].string ?? ""))
            }
            for row in try c.query("SELECT quantum_id, dataset_id, role FROM quantum_output WHERE quantum_id IN (\(list)) ORDER BY role, dataset_id", args) {
                guard let d = row[1].string.flatMap(UUID.init(registryText:)) else { continue }
                steps[row[0].string ?? ""]?.outputs.append(.init(datasetId: d, role: row[2].string ?? ""))
            }
        }
        bundle.steps = steps.keys.sorted().map { steps[$0]! }
        let environmentIds = Set(bundle.steps.compactMap(\.environmentId)).sorted()
        for chunk in environmentIds.chunked(500) {
            let args = chunk.map { SQLValue.text($0) }
            var environments: [String: ProvenanceBundle.Environment] = [:]
            for row in try c.query("SELECT id, code_commit, code_dirty, executable_hash FROM software_environment WHERE id IN (\(placeholders(chunk.count)))", args) {
                let id = row[0].string ?? ""
                environments[id] = .init(id: id, codeCommit: row[1].string, codeDirty: row[2].int64.map { $0 != 0 }, executableHash: row[3].string, packages: [:])
            }
            for row in try c.query("SELECT environment_id, name, version FROM environment_package WHERE environment_id IN (\(placeholders(chunk.count)))", args) {
                environments[row[0].string ?? ""]?.packages[row[1].string ?? ""] = row[2].string ?? ""
            }
            bundle.environments += environments.keys.sorted().map { environments[$0]! }
        }
        let configHashes = Set(bundle.steps.flatMap(\.configs.values)).sorted()
        for chunk in configHashes.chunked(200) {
            for row in try c.query("SELECT hash, format, content FROM config_blob WHERE hash IN (\(placeholders(chunk.count))) ORDER BY hash", chunk.map { .text($0) }) {
                let data = row[2].data ?? Data(row[2].string?.utf8 ?? "".utf8)
                if let text = String(data: data, encoding: .utf8) {
                    bundle.configs.append(.init(hash: row[0].string ?? "", format: row[1].string ?? "", content: text, encoding: nil))
                } else {
                    bundle.configs.append(.init(hash: row[0].string ?? "", format: row[1].string ?? "", content: data.base64EncodedString(), encoding: "base64"))
                }
            }
        }
        let runTasks = Set(bundle.steps.map { [$0.run, $0.taskLabel] })
        for row in try c.query("SELECT c.name, r.task_label, r.config_digest FROM run_task_config AS r JOIN collection AS c ON c.collection_id = r.run_id") {
            let run = row[0].string ?? "", task = row[1].string ?? ""
            if runTasks.contains([run, task]) { bundle.runTaskConfigs.append(.init(run: run, taskLabel: task, configDigest: row[2].string ?? "")) }
        }
        bundle.runTaskConfigs.sort { ($0.run, $0.taskLabel) < ($1.run, $1.taskLabel) }
        for chunk in idTexts.chunked(500) {
            for row in try c.query("SELECT dataset_id, name, value FROM dataset_metric WHERE dataset_id IN (\(placeholders(chunk.count))) ORDER BY dataset_id, name", chunk.map { .text($0) }) {
                guard let d = row[0].string.flatMap(UUID.init(registryText:)) else { continue }
                bundle.metrics.append(.init(datasetId: d, name: row[1].string ?? "", value: row[2].double ?? 0))
            }
        }
        let inputIds = Set(bundle.steps.flatMap { $0.inputs.map(\.datasetId.lowercasedString) }).sorted()
        for chunk in inputIds.chunked(500) {
            for row in try c.query("SELECT dataset_id, dataset_type, data_id, run, checksum, removed_at FROM dataset_tombstone WHERE dataset_id IN (\(placeholders(chunk.count)))",
                                   chunk.map { .text($0) }) {
                guard let d = row[0].string.flatMap(UUID.init(registryText:)) else { continue }
                bundle.tombstones.append(.init(datasetId: d, datasetType: row[1].string ?? "", dataId: row[2].string ?? "", run: row[3].string ?? "",
                                               checksum: row[4].string, removedAt: row[5].int64 ?? 0))
            }
        }
        bundle.copies = try copies(of: ids, in: c)
        return bundle
    }

    /// Writes a provenance bundle in the caller's transaction, merging with what is here: environments and configs by
    /// content hash, steps by id (a step already here is kept) with the reproduction a step made, metrics of datasets
    /// that are here, tombstones and copies once each.
    ///
    /// With `arrival` (an import, a transfer, a Zip ingest), the bundle is foreign: only what
    /// ``ProvenanceBundle/admitted(to:in:registry:)`` admits is written, and each step keeps where it was made and
    /// which repository sent it. Without it the bundle is this repository's own (`record`, `merge-staged`).
    ///
    /// A foreign step whose RUN is not here is upstream of what came, its outputs held elsewhere: its RUN is registered
    /// here, empty, with a doc that says so, so that the lineage of what came reaches down to the raws. A local step
    /// whose RUN is not here is left out.
    /// - Throws: ``ButlerError/Code/conflict`` when an output here already has another producing step.
    /// - Returns: the number of steps added.
    @discardableResult
    package func apply(_ bundle: ProvenanceBundle, arrival: ForeignArrival? = nil, in c: any SQLConnection) throws -> Int {
        let bundle = try arrival.map { try bundle.admitted(to: $0, in: c, registry: self) } ?? bundle
        var added = 0
        let d = c.dialect
        let ignore = d.insertOrIgnore, suffix = d.insertOrIgnoreSuffix
        for env in bundle.environments {
            try SoftwareEnvironment(packages: env.packages, codeCommit: env.codeCommit, codeDirty: env.codeDirty, executableHash: env.executableHash)
                .checkUnambiguous()
            try c.execute("\(ignore) software_environment (id, code_commit, code_dirty, executable_hash) VALUES (?, ?, ?, ?)\(suffix)",
                          [.text(env.id), SQLValue(env.codeCommit), SQLValue(env.codeDirty), SQLValue(env.executableHash)])
            for (name, version) in env.packages.sorted(by: { $0.key < $1.key }) {
                try c.execute("\(ignore) environment_package (environment_id, name, version) VALUES (?, ?, ?)\(suffix)",
                              [.text(env.id), .text(name), .text(version)])
            }
        }
        for config in bundle.configs {
            let content = config.encoding == "base64" ? (Data(base64Encoded: config.content) ?? Data()) : Data(config.content.utf8)
            try c.execute("\(ignore) config_blob (hash, format, content) VALUES (?, ?, ?)\(suffix)",
                          [.text(config.hash), .text(config.format), .blob(content)])
        }
        var runIds: [String: Int64] = [:]
        func runId(_ name: String) throws -> Int64 {
            if let id = runIds[name] { return id }
            let record = try requireCollection(name, in: c)
            runIds[name] = record.id
            return record.id
        }
        // Steps already here, and outputs another step here made, looked up in bulk; new steps written in bulk (COPY on
        // PostgreSQL).
        var existingSteps = Set<String>()
        for chunk in bundle.steps.map(\.id.lowercasedString).chunked(500) {
            for row in try c.query("SELECT id FROM quantum WHERE id IN (\(placeholders(chunk.count)))", chunk.map { .text($0) }) {
                if let id = row[0].string { existingSteps.insert(id) }
            }
        }
        var producers: [String: String] = [:]
        for chunk in bundle.steps.flatMap({ $0.outputs.map(\.datasetId.lowercasedString) }).chunked(500) {
            for row in try c.query("SELECT dataset_id, quantum_id FROM quantum_output WHERE dataset_id IN (\(placeholders(chunk.count)))", chunk.map { .text($0) }) {
                if let d = row[0].string, let q = row[1].string { producers[d] = q }
            }
        }
        var quanta: [[SQLValue]] = [], configs: [[SQLValue]] = [], parameters: [[SQLValue]] = [], inputs: [[SQLValue]] = [], outputs: [[SQLValue]] = []
        for step in bundle.steps {
            let id = step.id.lowercasedString
            guard !existingSteps.contains(id) else { continue }
            if let arrival, runIds[step.run] == nil, let existing = try collection(step.run, in: c) {
                try checkForeignRun(existing, for: step, arrival: arrival, in: c)
            }
            // An upstream step of a RUN that is not here: its outputs stay where they were made, the step comes.
            if runIds[step.run] == nil, try collection(step.run, in: c) == nil {
                guard arrival != nil, let origin = step.origin else { continue }
                try registerCollection(step.run, type: .run, doc: "steps made at \(origin.name) (\(origin.id.lowercasedString)), upstream of datasets "
                                       + "imported here; their outputs are held there", in: c)
            }
            existingSteps.insert(id)
            quanta.append([.text(id), .text(step.taskLabel), .integer(try runId(step.run)), .text(step.dataId), SQLValue(step.host), SQLValue(step.userName),
                           SQLValue(step.command), SQLValue(step.startTime), SQLValue(step.endTime), .text(step.status), SQLValue(step.exitCode),
                           SQLValue(step.environmentId), SQLValue(step.configDigest), SQLValue(step.logDatasetId?.lowercasedString),
                           SQLValue(step.logText), SQLValue(step.commandTemplate.map { CommandTemplate($0, directory: step.commandDirectory).text }),
                           SQLValue(step.origin?.id.lowercasedString), SQLValue(step.origin?.name),
                           SQLValue(arrival?.sender?.id.lowercasedString), SQLValue(arrival?.sender?.name)])
            for (name, hash) in step.configs.sorted(by: { $0.key < $1.key }) { configs.append([.text(id), .text(name), .text(hash)]) }
            for (name, value) in step.parameters.sorted(by: { $0.key < $1.key }) { parameters.append([.text(id), .text(name), .text(value)]) }
            for edge in Set(step.inputs) { inputs.append([.text(id), .text(edge.datasetId.lowercasedString), .text(edge.role)]) }
            for edge in step.outputs {
                let dataset = edge.datasetId.lowercasedString
                if let other = producers[dataset], other != id {
                    throw ButlerError(.conflict, "dataset \(dataset) was made by step \(other) here and by step \(id) at the source")
                }
                producers[dataset] = id
                outputs.append([.text(id), .text(dataset), .text(edge.role)])
            }
        }
        try c.insertRows(into: "quantum", columns: ["id", "task_label", "run_id", "data_id", "host", "user_name", "command", "start_time", "end_time",
                                                    "status", "exit_code", "environment_id", "config_digest", "log_dataset_id", "log_text",
                                                    "command_template", "origin_id", "origin_name", "received_from_id", "received_from_name"],
                           rows: quanta)
        try c.insertRows(into: "quantum_config", columns: ["quantum_id", "name", "config_hash"], rows: configs)
        try c.insertRows(into: "quantum_parameter", columns: ["quantum_id", "name", "value"], rows: parameters)
        try c.insertRows(into: "quantum_input", columns: ["quantum_id", "dataset_id", "role"], rows: inputs)
        try c.insertRows(into: "quantum_output", columns: ["quantum_id", "dataset_id", "role"], rows: outputs)
        // A reproducing step's link, also when the step came earlier without it (from an older butler): once each.
        for step in bundle.steps where existingSteps.contains(step.id.lowercasedString) && (arrival == nil || step.origin != nil) {
            guard let r = step.reproduces else { continue }
            try c.execute("\(ignore) quantum_reproduction (quantum_id, original_id, verdict, detail, checked_at) VALUES (?, ?, ?, ?, ?)\(suffix)",
                          [.text(step.id.lowercasedString), .text(r.original.lowercasedString), .text(r.verdict), SQLValue(r.detail), .integer(r.checkedAt)])
        }
        added = quanta.count
        for entry in bundle.runTaskConfigs {
            guard let run = try collection(entry.run, in: c) else { continue }
            try c.execute("\(ignore) run_task_config (run_id, task_label, config_digest) VALUES (?, ?, ?)\(suffix)",
                          [.integer(run.id), .text(entry.taskLabel), .text(entry.configDigest)])
        }
        let present = try presentDatasets(bundle.metrics.map(\.datasetId) + bundle.tombstones.map(\.datasetId), in: c)
        for metric in bundle.metrics where present.contains(metric.datasetId) {
            try c.execute("\(ignore) dataset_metric (dataset_id, name, value) VALUES (?, ?, ?)\(suffix)",
                          [.text(metric.datasetId.lowercasedString), .text(metric.name), .real(metric.value)])
        }
        for stone in bundle.tombstones where !present.contains(stone.datasetId) {
            try c.execute("\(ignore) dataset_tombstone (dataset_id, dataset_type, data_id, run, checksum, removed_at) VALUES (?, ?, ?, ?, ?, ?)\(suffix)",
                          [.text(stone.datasetId.lowercasedString), .text(stone.datasetType), .text(stone.dataId), .text(stone.run),
                           SQLValue(stone.checksum), .integer(stone.removedAt)])
        }
        try insertCopies(bundle.copies, in: c)
        return added
    }

    /// Refuses to file a foreign step under a collection of this repository's own: one that is not a RUN, or a RUN
    /// that holds a step made here or a dataset that did not arrive from elsewhere (nor arrives now).
    private func checkForeignRun(_ run: CollectionRecord, for step: ProvenanceBundle.Step, arrival: ForeignArrival, in c: any SQLConnection) throws {
        let name = "\(arrival.source): step \(step.id.lowercasedString) (\(step.taskLabel))"
        guard run.type == .run else {
            throw ButlerError(.conflict, "\(name) names '\(run.name)' as its RUN, which is a \(run.type) collection here")
        }
        if try c.queryOne("SELECT 1 FROM quantum WHERE run_id = ? AND origin_id IS NULL LIMIT 1", [.integer(run.id)]) != nil {
            throw ButlerError(.conflict, "\(name) claims to have run in RUN '\(run.name)', where this repository's own steps ran: refused")
        }
        let local = try c.query("""
            SELECT d.id FROM dataset AS d WHERE d.run_id = ? AND NOT EXISTS (SELECT 1 FROM dataset_copy AS dc WHERE dc.dataset_id = d.id) LIMIT 1000
            """, [.integer(run.id)]).compactMap { $0[0].string.flatMap(UUID.init(registryText:)) }
        if let own = local.first(where: { !arrival.datasets.contains($0) }) {
            throw ButlerError(.conflict, "\(name) claims to have run in RUN '\(run.name)', which holds dataset \(own.lowercasedString) of this repository's own: refused")
        }
    }

    /// Which of these datasets are in the registry.
    package func presentDatasets(_ ids: [UUID], in c: any SQLConnection) throws -> Set<UUID> {
        var present = Set<UUID>()
        for chunk in Set(ids).map(\.lowercasedString).chunked(500) {
            for row in try c.query("SELECT id FROM dataset WHERE id IN (\(placeholders(chunk.count)))", chunk.map { .text($0) }) {
                if let id = row[0].string.flatMap(UUID.init(registryText:)) { present.insert(id) }
            }
        }
        return present
    }

    private func placeholders(_ n: Int) -> String { Array(repeating: "?", count: n).joined(separator: ", ") }
}
