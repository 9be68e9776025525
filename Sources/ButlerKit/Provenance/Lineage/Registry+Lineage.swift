public import Foundation
import Logging

private let logger = Logger(label: "butler.lineage")

extension Registry {
    /// Reads the provenance graph around a dataset.
    ///
    /// Upstream follows each dataset to the step that made it and that step's inputs, down to datasets no step made
    /// (raws, calibrations put by hand); downstream follows each dataset to the steps that used it and their outputs.
    /// The walk reads one level at a time, in batches, so a graph of thousands of nodes costs a few queries per level.
    ///
    /// - Parameters:
    ///   - id: the dataset to start from (a removed dataset with a tombstone works too).
    ///   - direction: upstream (how it was made) or downstream (what was made from it).
    ///   - depth: at most this many levels of steps (no limit when `nil`).
    ///   - includeConfigs: also load the content of every config file.
    /// - Throws: ``ButlerError/Code/notFound`` when the registry knows no such dataset.
    public func lineage(of id: UUID, direction: Lineage.Direction = .upstream, depth: Int? = nil,
                        includeConfigs: Bool = false) throws -> Lineage {
        try database.read { c in
            let started = DispatchTime.now()
            func elapsed() -> String { String(format: "%.3f s", Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9) }
            var graph = Lineage(root: id, direction: direction)
            var frontier = [id.lowercasedString]
            var seenDatasets: Set<String> = [id.lowercasedString]
            var level = 0
            while !frontier.isEmpty {
                if let depth, level >= depth {
                    let link = direction == .upstream ? "quantum_output" : "quantum_input"
                    for chunk in frontier.chunked(500) {
                        for row in try c.query("SELECT DISTINCT dataset_id FROM \(link) WHERE dataset_id IN (\(placeholders(chunk.count)))",
                                               chunk.map { .text($0) }) {
                            if let id = row[0].string.flatMap(UUID.init(registryText:)) { graph.beyondDepth.insert(id) }
                        }
                    }
                    break
                }
                level += 1
                var next: [String] = []
                // Steps attached to the frontier: their producers (upstream) or consumers (downstream).
                let link = direction == .upstream ? "quantum_output" : "quantum_input"
                var newSteps: [String] = []
                for chunk in frontier.chunked(500) {
                    try c.forEachRow("""
                        SELECT l.dataset_id, l.role, \(Self.stepColumns) FROM \(link) AS l JOIN quantum AS q ON q.id = l.quantum_id
                        JOIN collection AS run ON run.collection_id = q.run_id WHERE l.dataset_id IN (\(placeholders(chunk.count)))
                        """, chunk.map { .text($0) }) { row in
                        guard let datasetText = row[0].string, let dataset = UUID(registryText: datasetText),
                              let stepId = row[2].string.flatMap(UUID.init(registryText:)) else { return }
                        if graph.steps[stepId] == nil, let step = Self.step(from: row, offset: 2) {
                            graph.steps[stepId] = step
                            newSteps.append(stepId.lowercasedString)
                        }
                        guard graph.steps[stepId] != nil else { return }
                        let edge = Lineage.Edge(role: row[1].string ?? "", dataset: dataset)
                        if direction == .upstream {
                            graph.steps[stepId]!.outputs.append(edge)
                            graph.producer[dataset] = stepId
                        } else {
                            graph.steps[stepId]!.inputs.append(edge)
                            graph.consumers[dataset, default: []].append(stepId)
                        }
                    }
                }
                // The other side of each new step: all its inputs (upstream) or outputs (downstream).
                let other = direction == .upstream ? "quantum_input" : "quantum_output"
                for chunk in newSteps.chunked(500) {
                    try c.forEachRow("SELECT quantum_id, dataset_id, role FROM \(other) WHERE quantum_id IN (\(placeholders(chunk.count)))",
                                     chunk.map { .text($0) }) { row in
                        guard let step = row[0].string.flatMap(UUID.init(registryText:)), let datasetText = row[1].string,
                              let dataset = UUID(registryText: datasetText) else { return }
                        let edge = Lineage.Edge(role: row[2].string ?? "", dataset: dataset)
                        if direction == .upstream {
                            graph.steps[step]!.inputs.append(edge)
                            graph.consumers[dataset, default: []].append(step)
                        } else {
                            graph.steps[step]!.outputs.append(edge)
                            graph.producer[dataset] = step
                        }
                        if seenDatasets.insert(datasetText).inserted { next.append(datasetText) }
                    }
                }
                frontier = next
            }
            logger.debug("lineage walked", metadata: ["levels": "\(level)", "steps": "\(graph.steps.count)", "elapsed": "\(elapsed())"])
            try loadDatasets(Array(seenDatasets), into: &graph, c)
            logger.debug("lineage datasets read", metadata: ["datasets": "\(graph.datasets.count)", "elapsed": "\(elapsed())"])
            guard graph.datasets[id] != nil else { throw ButlerError(.notFound, "no dataset with id \(id.lowercasedString)") }
            for copy in try copies(of: graph.datasets.values.filter { !$0.removed }.map(\.id), in: c) {
                graph.copies[copy.datasetId, default: []].append(copy)
            }
            logger.debug("lineage copies read", metadata: ["elapsed": "\(elapsed())"])
            try loadStepDetails(into: &graph, includeConfigs: includeConfigs, c)
            logger.debug("lineage step details read", metadata: ["elapsed": "\(elapsed())"])
            return graph
        }
    }

    static let stepColumns = """
        q.id, q.task_label, run.name, q.data_id, q.status, q.exit_code, q.host, q.user_name, q.command, q.start_time, q.end_time, q.environment_id, q.log_dataset_id, q.command_template,
        q.origin_id, q.origin_name, q.received_from_id, q.received_from_name
        """

    static func step(from row: SQLRow, offset o: Int) -> Lineage.Step? {
        guard let id = row[o].string.flatMap(UUID.init(registryText:)) else { return nil }
        return Lineage.Step(id: id, taskLabel: row[o + 1].string ?? "", run: row[o + 2].string ?? "", dataId: row[o + 3].string ?? "",
                            status: row[o + 4].string ?? "", exitCode: row[o + 5].int, host: row[o + 6].string, user: row[o + 7].string,
                            command: row[o + 8].string, start: row[o + 9].int64.map(TAITime.init(nanoseconds:)),
                            end: row[o + 10].int64.map(TAITime.init(nanoseconds:)), environment: row[o + 11].string,
                            logDataset: row[o + 12].string.flatMap(UUID.init(registryText:)),
                            commandTemplate: row[o + 13].string.flatMap(CommandTemplate.init(text:)),
                            origin: identity(row[o + 14], row[o + 15]), receivedFrom: identity(row[o + 16], row[o + 17]))
    }

    /// A repository named by a step's origin columns; an id that is there but unreadable is an unknown repository,
    /// never none (a step with any origin is foreign: fail closed).
    private static func identity(_ id: SQLValue, _ name: SQLValue) -> RepositoryIdentity? {
        guard let text = id.string else { return nil }
        return RepositoryIdentity(id: UUID(registryText: text) ?? ForeignArrival.unknown.id, name: name.string ?? "unknown")
    }

    /// Type, run, data ID and file of each dataset; tombstones for removed ones.
    private func loadDatasets(_ ids: [String], into graph: inout Lineage, _ c: any SQLConnection) throws {
        var byType: [String: [String]] = [:]
        var types: [String: StoredDatasetType] = [:]
        for stored in try allDatasetTypes(in: c) { types[stored.type.name] = stored }
        var found: [String: (type: String, run: String, runId: Int64, path: String?)] = [:]
        found.reserveCapacity(ids.count)
        for chunk in ids.chunked(500) {
            try c.forEachRow("""
                SELECT d.id, dt.name, run.name, d.run_id, (SELECT path FROM file_datastore_records AS f WHERE f.dataset_id = d.id LIMIT 1)
                FROM dataset AS d JOIN dataset_type AS dt ON dt.id = d.dataset_type_id JOIN collection AS run ON run.collection_id = d.run_id
                WHERE d.id IN (\(placeholders(chunk.count)))
                """, chunk.map { .text($0) }) { row in
                guard let id = row[0].string, let type = row[1].string else { return }
                found[id] = (type, row[2].string ?? "", row[3].int64 ?? -1, row[4].string)
                byType[type, default: []].append(id)
            }
        }
        var dataIds: [String: String] = [:]
        dataIds.reserveCapacity(found.count)
        for (typeName, members) in byType {
            guard let stored = types[typeName] else { continue }
            let dims = stored.type.dimensions.required
            guard !dims.isEmpty else { continue }
            for chunk in members.chunked(500) {
                // The row of each dataset's own RUN (a tag table also holds its TAGGED collections').
                try c.forEachRow("""
                    SELECT t.dataset_id, t.collection_id, \(dims.map { "t." + q($0) }.joined(separator: ", ")) FROM \(q(stored.tagTable)) AS t
                    WHERE t.dataset_id IN (\(placeholders(chunk.count)))
                    """, chunk.map { .text($0) }) { row in
                    guard let id = row[0].string, found[id]?.runId == row[1].int64 else { return }
                    var text = ""
                    for (i, dim) in dims.enumerated() {
                        if i > 0 { text += "," }
                        text += dim
                        text += "="
                        text += row[i + 2].string ?? ""
                    }
                    dataIds[id] = text
                }
            }
        }
        for (id, f) in found {
            guard let uuid = UUID(registryText: id) else { continue }
            graph.datasets[uuid] = Lineage.Dataset(id: uuid, datasetType: f.type, run: f.run, dataId: dataIds[id] ?? "",
                                                   storageClass: types[f.type]?.type.storageClass, path: f.path, removed: false)
        }
        let missing = ids.filter { found[$0] == nil }
        for chunk in missing.chunked(500) {
            for row in try c.query("SELECT dataset_id, dataset_type, data_id, run FROM dataset_tombstone WHERE dataset_id IN (\(placeholders(chunk.count)))",
                                   chunk.map { .text($0) }) {
                guard let uuid = row[0].string.flatMap(UUID.init(registryText:)) else { continue }
                graph.datasets[uuid] = Lineage.Dataset(id: uuid, datasetType: row[1].string ?? "", run: row[3].string ?? "",
                                                       dataId: row[2].string ?? "", storageClass: nil, path: nil, removed: true)
            }
        }
    }

    /// Configs, parameters and environments of every step; edges sorted.
    private func loadStepDetails(into graph: inout Lineage, includeConfigs: Bool, _ c: any SQLConnection) throws {
        let stepIds = graph.steps.keys.map(\.lowercasedString)
        var configHashes = Set<String>()
        for chunk in stepIds.chunked(500) {
            let args = chunk.map { SQLValue.text($0) }
            for row in try c.query("SELECT quantum_id, name, config_hash FROM quantum_config WHERE quantum_id IN (\(placeholders(chunk.count)))", args) {
                guard let step = row[0].string.flatMap(UUID.init(registryText:)), let hash = row[2].string else { continue }
                graph.steps[step]?.configs.append((row[1].string ?? "", hash))
                configHashes.insert(hash)
            }
            for row in try c.query("SELECT quantum_id, name, value FROM quantum_parameter WHERE quantum_id IN (\(placeholders(chunk.count)))", args) {
                guard let step = row[0].string.flatMap(UUID.init(registryText:)) else { continue }
                graph.steps[step]?.parameters.append((row[1].string ?? "", row[2].string ?? ""))
            }
            for row in try c.query("""
                SELECT r.original_id, r.quantum_id, r.verdict, r.detail, r.checked_at, q.origin_id, q.origin_name FROM quantum_reproduction AS r
                LEFT JOIN quantum AS q ON q.id = r.quantum_id WHERE r.original_id IN (\(placeholders(chunk.count))) ORDER BY r.checked_at
                """, args) {
                guard let step = row[0].string.flatMap(UUID.init(registryText:)), let by = row[1].string.flatMap(UUID.init(registryText:)) else { continue }
                graph.steps[step]?.reproductions.append(Lineage.Reproduction(step: by, verdict: row[2].string ?? "", detail: row[3].string ?? "",
                                                                             time: TAITime(nanoseconds: row[4].int64 ?? 0),
                                                                             reportedBy: Self.identity(row[5], row[6])))
            }
        }
        for key in Array(graph.steps.keys) {
            graph.steps[key]!.configs.sort { $0.name < $1.name }
            graph.steps[key]!.parameters.sort { $0.name < $1.name }
            graph.steps[key]!.inputs.sort { $0.role != $1.role ? $0.role < $1.role : $0.dataset < $1.dataset }
            graph.steps[key]!.outputs.sort { $0.role != $1.role ? $0.role < $1.role : $0.dataset < $1.dataset }
        }
        let environmentIds = Set(graph.steps.values.compactMap(\.environment))
        for env in environmentIds {
            let row = try c.queryOne("SELECT code_commit, code_dirty, executable_hash FROM software_environment WHERE id = ?", [.text(env)])
            let packages = try c.query("SELECT name, version FROM environment_package WHERE environment_id = ? ORDER BY name", [.text(env)])
                .map { (name: $0[0].string ?? "", version: $0[1].string ?? "") }
            graph.environments[env] = Lineage.Environment(id: env, packages: packages, codeCommit: row?[0].string,
                                                          codeDirty: row.flatMap { $0[1].isNull ? nil : $0[1].int != 0 },
                                                          executableHash: row?[2].string)
        }
        if includeConfigs {
            for hash in configHashes {
                guard let row = try c.queryOne("SELECT format, content FROM config_blob WHERE hash = ?", [.text(hash)]) else { continue }
                graph.configs[hash] = Lineage.Config(hash: hash, format: row[0].string ?? "text", content: row[1].data ?? Data())
            }
        }
    }
}

/// `?, ?, ...` for an IN list of `count` values.
func placeholders(_ count: Int) -> String {
    Array(repeating: "?", count: count).joined(separator: ", ")
}
