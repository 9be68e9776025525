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
    /// metrics. A dataset ingested as a raw has no quantum.
    public func provenanceRecord(of ref: DatasetRef) throws -> ProvenanceRecord {
        try database.read { c in
            let id = ref.id.lowercasedString
            let q = try c.queryOne("""
                SELECT q.id, q.task_label, q.status, q.exit_code, q.host, q.user_name, q.command, q.start_time, q.end_time,
                       e.code_commit, e.code_dirty, e.executable_hash, q.environment_id, q.log_dataset_id
                FROM quantum_output AS o JOIN quantum AS q ON q.id = o.quantum_id LEFT JOIN software_environment AS e ON e.id = q.environment_id
                WHERE o.dataset_id = ?
                """, [.text(id)])
            var packages: [String: String] = [:], configs: [String: String] = [:], params: [String: String] = [:]
            var inputs: [ProvenanceRecord.Input] = []
            if let q, let qid = q[0].string {
                for row in try c.query("SELECT name, version FROM environment_package WHERE environment_id = ?", [q[12]]) { packages[row[0].string ?? ""] = row[1].string ?? "" }
                for row in try c.query("SELECT name, config_hash FROM quantum_config WHERE quantum_id = ?", [.text(qid)]) { configs[row[0].string ?? ""] = row[1].string ?? "" }
                for row in try c.query("SELECT name, value FROM quantum_parameter WHERE quantum_id = ?", [.text(qid)]) { params[row[0].string ?? ""] = row[1].string ?? "" }
                for row in try c.query("""
                    SELECT i.role, i.dataset_id, dt.name, run.name, t.dataset_type, t.run FROM quantum_input AS i
                    LEFT JOIN dataset AS d ON d.id = i.dataset_id LEFT JOIN dataset_type AS dt ON dt.id = d.dataset_type_id
                    LEFT JOIN collection AS run ON run.collection_id = d.run_id LEFT JOIN dataset_tombstone AS t ON t.dataset_id = i.dataset_id
                    WHERE i.quantum_id = ? ORDER BY i.role, i.dataset_id
                    """, [.text(qid)]) {
                    inputs.append(ProvenanceRecord.Input(role: row[0].string ?? "", id: UUID(registryText: row[1].string ?? "") ?? UUID(),
                                                         datasetType: row[2].string ?? row[4].string, run: row[3].string ?? row[5].string,
                                                         removed: row[2].isNull))
                }
            }
            var metrics: [String: Double] = [:]
            for row in try c.query("SELECT name, value FROM dataset_metric WHERE dataset_id = ?", [.text(id)]) { metrics[row[0].string ?? ""] = row[1].double }
            return ProvenanceRecord(
                dataset: ref, quantum: q?[0].string.flatMap(UUID.init(registryText:)), taskLabel: q?[1].string, status: q?[2].string,
                exitCode: q?[3].int, host: q?[4].string, user: q?[5].string, command: q?[6].string,
                start: q?[7].int64.map(TAITime.init(nanoseconds:)), end: q?[8].int64.map(TAITime.init(nanoseconds:)),
                packages: packages, codeCommit: q?[9].string, codeDirty: q?[10].int.map { $0 != 0 }, executableHash: q?[11].string,
                configs: configs, parameters: params, inputs: inputs, metrics: metrics, logDataset: q?[13].string.flatMap(UUID.init(registryText:)))
        }
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
}
