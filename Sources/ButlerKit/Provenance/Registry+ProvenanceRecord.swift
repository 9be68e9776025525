public import Foundation

/// What the registry recorded about how one dataset was made (its producing step, one level up).
public struct ProvenanceRecord: Sendable {
    public struct Input: Sendable {
        public let role: String
        public let id: UUID
        public let datasetType: String?
        public let run: String?
        /// Whether the input was removed (only its tombstone remains).
        public let removed: Bool
    }
    public let dataset: DatasetRef
    public let quantum: UUID?
    public let taskLabel: String?
    public let status: String?
    public let exitCode: Int?
    public let host: String?
    public let user: String?
    public let command: String?
    public let start: TAITime?
    public let end: TAITime?
    public let packages: [String: String]
    public let codeCommit: String?
    public let codeDirty: Bool?
    public let executableHash: String?
    /// Config files: name -> SHA-256.
    public let configs: [String: String]
    public let parameters: [String: String]
    public let inputs: [Input]
    public let metrics: [String: Double]
    public let logDataset: UUID?
}

extension Registry {
    /// How a dataset was made: its producing quantum with environment, configs, parameters and inputs, and its
    /// metrics. A dataset ingested as a raw has no quantum. (One level of ``lineage(of:direction:depth:includeConfigs:)``.)
    public func provenanceRecord(of ref: DatasetRef) throws -> ProvenanceRecord {
        let lineage = try lineage(of: ref.id, depth: 1)
        let step = lineage.producer[ref.id].flatMap { lineage.steps[$0] }
        let environment = step?.environment.flatMap { lineage.environments[$0] }
        let inputs = (step?.inputs ?? []).map { edge in
            let input = lineage.datasets[edge.dataset]
            return ProvenanceRecord.Input(role: edge.role, id: edge.dataset, datasetType: input?.datasetType, run: input?.run,
                                          removed: input?.removed ?? true)
        }
        return ProvenanceRecord(
            dataset: ref, quantum: step?.id, taskLabel: step?.taskLabel, status: step?.status, exitCode: step?.exitCode,
            host: step?.host, user: step?.user, command: step?.command, start: step?.start, end: step?.end,
            packages: Dictionary((environment?.packages ?? []).map { ($0.name, $0.version) }, uniquingKeysWith: { a, _ in a }),
            codeCommit: environment?.codeCommit, codeDirty: environment?.codeDirty, executableHash: environment?.executableHash,
            configs: Dictionary((step?.configs ?? []).map { ($0.name, $0.hash) }, uniquingKeysWith: { a, _ in a }),
            parameters: Dictionary((step?.parameters ?? []).map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a }),
            inputs: inputs, metrics: try metrics(of: ref.id), logDataset: step?.logDataset)
    }
}

extension Registry {
    /// The step (quantum) that made a dataset, if one did.
    public func producer(of id: UUID) throws -> UUID? {
        try database.read { c in
            try c.queryOne("SELECT quantum_id FROM quantum_output WHERE dataset_id = ?", [.text(id.lowercasedString)])?[0].string
                .flatMap(UUID.init(registryText:))
        }
    }

    /// The datasets a step made, with their roles.
    public func outputs(of quantum: UUID) throws -> [(dataset: UUID, role: String)] {
        try database.read { c in
            try c.query("SELECT dataset_id, role FROM quantum_output WHERE quantum_id = ? ORDER BY role, dataset_id", [.text(quantum.lowercasedString)])
                .compactMap { row in row[0].string.flatMap(UUID.init(registryText:)).map { ($0, row[1].string ?? "") } }
        }
    }

    /// The config digest a task label has in a RUN (nil when it has not run there).
    package func configDigest(ofTask task: String, inRun run: String) throws -> String? {
        try database.read { c in
            guard let collection = try collection(run, in: c) else { return nil }
            return try c.queryOne("SELECT config_digest FROM run_task_config WHERE run_id = ? AND task_label = ?",
                                  [.integer(collection.id), .text(task)])?[0].string
        }
    }

    /// Links a reproducing step to the step it reproduced, with the verdict (`butler reproduce`).
    package func recordReproduction(of original: UUID, by step: UUID, verdict: ReproductionVerdict, detail: String) throws {
        try database.write { c in
            try c.execute("INSERT INTO quantum_reproduction (quantum_id, original_id, verdict, detail, checked_at) VALUES (?, ?, ?, ?, ?)",
                          [.text(step.lowercasedString), .text(original.lowercasedString), .text(verdict.rawValue), .text(detail),
                           .integer(Registry.taiNanoseconds(Date()))])
        }
    }
}
