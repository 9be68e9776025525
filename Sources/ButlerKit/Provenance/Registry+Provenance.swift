public import Foundation

/// What one transaction has written already, so a batch of quanta does not repeat shared rows or checks.
package final class RecordCache {
    var environments = Set<String>()
    var configs = Set<String>()
    var taskDigests: [String: String] = [:]
    /// Datasets known to exist (looked up in bulk before the transaction, or inserted in it).
    package var knownDatasets = Set<String>()
    var runs: [String: Int64] = [:]
    package init() {}
}

extension Registry {
    /// Records a quantum with its outputs (datasets inserted in the same transaction) in the caller's transaction.
    ///
    /// - Throws: ``ButlerError/Code/notFound`` for an input that is not in the registry,
    ///   ``ButlerError/Code/conflict`` when the task label already ran in this RUN with another config (the message
    ///   shows what differs) or an output already has a producer.
    package func record(_ quantum: Quantum, outputs: [(role: String, ref: DatasetRef)], in c: any SQLConnection,
                        cache: RecordCache = RecordCache()) throws {
        let runId: Int64
        if let known = cache.runs[quantum.run] {
            runId = known
        } else {
            let run = try requireCollection(quantum.run, in: c)
            guard run.type == .run else { throw ButlerError(.invalidValue, "collection '\(quantum.run)' is \(run.type), not a RUN") }
            runId = run.id
            cache.runs[quantum.run] = run.id
        }
        for (role, ref) in quantum.inputs where !cache.knownDatasets.contains(ref.id.lowercasedString) {
            guard try c.queryOne("SELECT 1 FROM dataset WHERE id = ?", [.text(ref.id.lowercasedString)]) != nil else {
                throw ButlerError(.notFound, "input \(role)=\(ref.id.lowercasedString) is not in the registry")
            }
        }
        let d = c.dialect
        // The environment and configs, content-addressed: stored once, shared.
        let env = quantum.environment
        let envId = env.id
        if cache.environments.insert(envId).inserted {
            try env.checkUnambiguous()
            try c.execute("\(d.insertOrIgnore) software_environment (id, code_commit, code_dirty, executable_hash) VALUES (?, ?, ?, ?)\(d.insertOrIgnoreSuffix)",
                          [.text(envId), SQLValue(env.codeCommit), SQLValue(env.codeDirty), SQLValue(env.executableHash)])
            for (name, version) in env.packages.sorted(by: { $0.key < $1.key }) {
                try c.execute("\(d.insertOrIgnore) environment_package (environment_id, name, version) VALUES (?, ?, ?)\(d.insertOrIgnoreSuffix)",
                              [.text(envId), .text(name), .text(version)])
            }
        }
        let configHashes = quantum.configs.map(\.hash)
        for (config, hash) in zip(quantum.configs, configHashes) where cache.configs.insert(hash).inserted {
            try c.execute("\(d.insertOrIgnore) config_blob (hash, format, content) VALUES (?, ?, ?)\(d.insertOrIgnoreSuffix)",
                          [.text(hash), .text(config.format), .blob(config.content)])
        }
        // One task label in one RUN has one config.
        let digest = quantum.configDigest(hashes: configHashes)
        let taskKey = "\(runId)|\(quantum.taskLabel)"
        if let existing = try cache.taskDigests[taskKey] ?? c.queryOne("SELECT config_digest FROM run_task_config WHERE run_id = ? AND task_label = ?",
                                                                       [.integer(runId), .text(quantum.taskLabel)])?[0].string {
            if existing != digest {
                throw ButlerError(.conflict, "task '\(quantum.taskLabel)' already ran in run '\(quantum.run)' with another config: "
                                  + (try configDifferences(quantum, run: runId, in: c)) + "; use a new run for a new config")
            }
        } else {
            try c.execute("INSERT INTO run_task_config (run_id, task_label, config_digest) VALUES (?, ?, ?)",
                          [.integer(runId), .text(quantum.taskLabel), .text(digest)])
        }
        cache.taskDigests[taskKey] = digest
        let dataIdText = quantum.dataId.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        try c.execute("""
            INSERT INTO quantum (id, task_label, run_id, data_id, host, user_name, command, command_template, start_time, end_time, status, exit_code,
                                 environment_id, config_digest, log_dataset_id, origin_id, origin_name, received_from_id, received_from_name)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.text(quantum.id.lowercasedString), .text(quantum.taskLabel), .integer(runId), .text(dataIdText),
                  SQLValue(quantum.host), SQLValue(quantum.user), SQLValue(quantum.command), SQLValue(quantum.commandTemplate?.text),
                  SQLValue(quantum.start.map { Self.taiNanoseconds($0) }), SQLValue(quantum.end.map { Self.taiNanoseconds($0) }),
                  .text(quantum.status.rawValue), SQLValue(quantum.exitCode.map { Int($0) }), .text(envId), .text(digest),
                  SQLValue(quantum.logDatasetId?.lowercasedString),
                  SQLValue(quantum.foreignOrigin?.origin.id.lowercasedString), SQLValue(quantum.foreignOrigin?.origin.name),
                  SQLValue(quantum.foreignOrigin?.receivedFrom?.id.lowercasedString), SQLValue(quantum.foreignOrigin?.receivedFrom?.name)])
        for (config, hash) in zip(quantum.configs, configHashes) {
            try c.execute("INSERT INTO quantum_config (quantum_id, name, config_hash) VALUES (?, ?, ?)",
                          [.text(quantum.id.lowercasedString), .text(config.name), .text(hash)])
        }
        for (name, value) in quantum.parameters {
            try c.execute("INSERT INTO quantum_parameter (quantum_id, name, value) VALUES (?, ?, ?)",
                          [.text(quantum.id.lowercasedString), .text(name), .text(value)])
        }
        for (role, ref) in quantum.inputs {
            try c.execute("\(d.insertOrIgnore) quantum_input (quantum_id, dataset_id, role) VALUES (?, ?, ?)\(d.insertOrIgnoreSuffix)",
                          [.text(quantum.id.lowercasedString), .text(ref.id.lowercasedString), .text(role)])
        }
        for (role, ref) in outputs {
            do {
                try c.execute("INSERT INTO quantum_output (quantum_id, dataset_id, role) VALUES (?, ?, ?)",
                              [.text(quantum.id.lowercasedString), .text(ref.id.lowercasedString), .text(role)])
            } catch ButlerError.conflict {
                throw ButlerError(.conflict, "output \(ref.id.lowercasedString) already has a producing step; an output cannot be recorded twice")
            }
        }
    }

    /// What differs between a quantum's config and the one recorded for its task label in a run.
    package func configDifferences(_ quantum: Quantum, run: Int64, in c: any SQLConnection) throws -> String {
        guard let previous = try c.queryOne("SELECT id FROM quantum WHERE run_id = ? AND task_label = ? ORDER BY start_time LIMIT 1",
                                            [.integer(run), .text(quantum.taskLabel)])?[0].string else { return "config digests differ" }
        var old: [String: String] = [:], oldParams: [String: String] = [:]
        for row in try c.query("SELECT name, config_hash FROM quantum_config WHERE quantum_id = ?", [.text(previous)]) {
            old[row[0].string ?? ""] = row[1].string ?? ""
        }
        for row in try c.query("SELECT name, value FROM quantum_parameter WHERE quantum_id = ?", [.text(previous)]) {
            oldParams[row[0].string ?? ""] = row[1].string ?? ""
        }
        let new = Dictionary(quantum.configs.map { ($0.name, $0.hash) }, uniquingKeysWith: { a, _ in a })
        var differences: [String] = []
        for name in Set(old.keys).union(new.keys).sorted() where old[name] != new[name] {
            differences.append("config file \(name): \(old[name].map { String($0.prefix(12)) } ?? "absent") -> \(new[name].map { String($0.prefix(12)) } ?? "absent")")
        }
        for name in Set(oldParams.keys).union(quantum.parameters.keys).sorted() where oldParams[name] != quantum.parameters[name] {
            differences.append("parameter \(name): \(oldParams[name] ?? "absent") -> \(quantum.parameters[name] ?? "absent")")
        }
        return differences.isEmpty ? "config digests differ" : differences.joined(separator: "; ")
    }

    /// Attaches named QA metrics to a dataset (replacing values of the same name).
    package func recordMetrics(_ metrics: [String: Double], for dataset: UUID, in c: any SQLConnection) throws {
        for (name, value) in metrics {
            guard Butler.isIdentifier(name) else {
                throw ButlerError(.invalidName, "invalid metric name '\(name)': use letters, digits and '_'")
            }
            guard value.isFinite else { throw ButlerError(.invalidValue, "metric \(name) = \(value) is not a finite number") }
            try c.execute("DELETE FROM dataset_metric WHERE dataset_id = ? AND name = ?", [.text(dataset.lowercasedString), .text(name)])
            try c.execute("INSERT INTO dataset_metric (dataset_id, name, value) VALUES (?, ?, ?)", [.text(dataset.lowercasedString), .text(name), .real(value)])
        }
    }

    /// Attaches named QA metrics to a dataset.
    public func recordMetrics(_ metrics: [String: Double], for dataset: UUID) throws {
        try database.write { c in try recordMetrics(metrics, for: dataset, in: c) }
    }

    /// The QA metrics of a dataset.
    public func metrics(of dataset: UUID) throws -> [String: Double] {
        try metrics(of: [dataset])[dataset] ?? [:]
    }

    /// The QA metrics of many datasets at once.
    public func metrics(of datasets: [UUID]) throws -> [UUID: [String: Double]] {
        try database.read { c in
            var out: [UUID: [String: Double]] = [:]
            for chunk in datasets.map(\.lowercasedString).chunked(500) {
                for row in try c.query("SELECT dataset_id, name, value FROM dataset_metric WHERE dataset_id IN (\(placeholders(chunk.count)))",
                                       chunk.map { .text($0) }) {
                    guard let id = row[0].string.flatMap(UUID.init(registryText:)), let name = row[1].string, let value = row[2].double else { continue }
                    out[id, default: [:]][name] = value
                }
            }
            return out
        }
    }

    /// The names of the dataset types that have at least one dataset with a metric, sorted.
    package func datasetTypesWithMetrics() throws -> [String] {
        try database.read { c in
            try c.query("""
                SELECT DISTINCT dt.name FROM dataset_metric AS m JOIN dataset AS d ON d.id = m.dataset_id
                JOIN dataset_type AS dt ON dt.id = d.dataset_type_id ORDER BY dt.name
                """).compactMap { $0[0].string }
        }
    }

    /// Nanoseconds TAI of a wall-clock date.
    static func taiNanoseconds(_ date: Date) -> Int64 {
        let unix = Int64((date.timeIntervalSince1970 * 1e9).rounded())
        return unix + Int64(TAITime.taiMinusUTC(unixSeconds: unix / 1_000_000_000)) * 1_000_000_000
    }
}
