package import Foundation

/// What an import, a transfer or a Zip ingest brings, against which the provenance that came with it is admitted.
///
/// The trust rule: provenance that arrives from another repository is foreign. It may add facts about what it brings
/// (the datasets this import adds, and the steps upstream of them), never change what is said here. See
/// ``ProvenanceBundle/admitted(to:in:registry:)``.
package struct ForeignArrival: Sendable {
    /// The repository that sent the bundle (for a transfer: the source registry's identity; for an export directory
    /// or a Zip: what the bundle says), nil when unknown.
    package var sender: RepositoryIdentity?
    /// This repository.
    package var here: RepositoryIdentity
    /// The ids of the datasets this import adds (not those already here).
    package var datasets: Set<UUID>
    /// The RUNs this import creates.
    package var newRuns: Set<String>
    /// Names the bundle in errors (a file, a Zip member, a repository).
    package var source: String

    package init(sender: RepositoryIdentity?, here: RepositoryIdentity, datasets: Set<UUID>, newRuns: Set<String>, source: String) {
        self.sender = sender
        self.here = here
        self.datasets = datasets
        self.newRuns = newRuns
        self.source = source
    }

    /// The repository a step is recorded as made at: the one the bundle names for it, or the sender. Never "here":
    /// a bundle that claims a step was made in this repository is believed only as far as naming the sender.
    func origin(of step: ProvenanceBundle.Step, bundle: ProvenanceBundle) -> RepositoryIdentity {
        let claimed = step.origin ?? bundle.sourceRepository
        if let claimed, claimed.id != here.id { return claimed }
        return sender.flatMap { $0.id == here.id ? nil : $0 } ?? Self.unknown
    }

    /// The origin recorded when nothing names one.
    static let unknown = RepositoryIdentity(id: UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)), name: "unknown")
}

extension ProvenanceBundle {
    /// The part of a foreign bundle that may be written here, every value checked as `butler record` checks it.
    ///
    /// What is admitted:
    /// - steps upstream of the arriving datasets (a step that made one of them, a step that made an input of such a
    ///   step, and so on); other steps are left out. A step already here is left as it is.
    /// - environments and configs the admitted steps use, each checked against its content: an environment's id is
    ///   the hash of its packages and code fields, a config's hash the SHA-256 of its bytes, a step's config digest
    ///   that of its configs and parameters. A mismatch is refused, so nothing arriving can stand in for content
    ///   this repository already names by that hash.
    /// - metrics of arriving datasets only; tombstones only of inputs of admitted steps; run/task config digests only
    ///   for RUNs this import creates; the reproduction a step made, only with the step.
    ///
    /// What is refused, failing the whole import: a step that claims to have made a dataset that is here and does not
    /// arrive now (this repository's own data), or whose log is not one of its outputs; any value `record` would
    /// refuse (task labels, roles, RUN names, data ID keys, exit codes, times, metric names, NUL characters).
    ///
    /// - Returns: the admitted bundle, with each step's ``Step/command`` derived from its ``Step/commandTemplate``
    ///   where it has one (what `butler reproduce` would run, not the sender's text).
    package func admitted(to arrival: ForeignArrival, in c: any SQLConnection, registry: Registry) throws -> ProvenanceBundle {
        func refuse(_ what: String, _ why: String) -> ButlerError {
            ButlerError(.invalidValue, "\(arrival.source): \(what): \(why)")
        }
        var admitted = ProvenanceBundle()
        admitted.sourceRepository = sourceRepository

        // Steps upstream of what arrives.
        var makers: [UUID: [Int]] = [:]
        for (index, step) in steps.enumerated() {
            for edge in step.outputs { makers[edge.datasetId, default: []].append(index) }
        }
        var kept = Set<Int>()
        var frontier = Array(arrival.datasets)
        var reached = arrival.datasets
        while let dataset = frontier.popLast() {
            for index in makers[dataset] ?? [] where kept.insert(index).inserted {
                for edge in steps[index].inputs where reached.insert(edge.datasetId).inserted { frontier.append(edge.datasetId) }
            }
        }
        let keptSteps = kept.sorted().map { steps[$0] }

        // Outputs that are this repository's own: present here, not arriving now.
        let outputIds = keptSteps.flatMap { $0.outputs.map(\.datasetId) }.filter { !arrival.datasets.contains($0) }
        let ownHere = try registry.presentDatasets(outputIds, in: c).union(try registry.tombstonedDatasets(outputIds, in: c))
        let existing = try registry.existingSteps(keptSteps.map(\.id), in: c)

        var environmentsUsed = Set<String>(), configsUsed = Set<String>()
        for step in keptSteps {
            let name = "step \(step.id.lowercasedString)"
            try Self.check(step, named: name, universe: registry.universe, refuse: refuse)
            if existing.contains(step.id) { continue }
            for edge in step.outputs where ownHere.contains(edge.datasetId) {
                throw ButlerError(.conflict, "\(arrival.source): \(name) (\(step.taskLabel)) claims to have made dataset \(edge.datasetId.lowercasedString), "
                                  + "which this repository holds and the import does not bring: provenance from elsewhere cannot change what is said here")
            }
            // An output held elsewhere whose id is derived from its data ID (UUIDv5, as a raw's): the same id would be
            // given to that dataset when it is ingested here, which would then seem made by this step.
            for edge in step.outputs where !arrival.datasets.contains(edge.datasetId) && edge.datasetId.uuid.6 >> 4 == 5 {
                throw ButlerError(.conflict, "\(arrival.source): \(name) (\(step.taskLabel)) claims to have made dataset \(edge.datasetId.lowercasedString), "
                                  + "which the import does not bring and whose id is derived from its data ID (as a raw's is): a dataset ingested "
                                  + "here later would get that id and seem made by this step; refused")
            }
            if let log = step.logDatasetId, !step.outputs.contains(where: { $0.datasetId == log }) {
                throw refuse(name, "its log dataset \(log.lowercasedString) is not one of its outputs")
            }
            var step = step
            if let template = step.commandTemplate { step.command = shellQuoted(template) }
            step.origin = arrival.origin(of: step, bundle: self)
            if let env = step.environmentId { environmentsUsed.insert(env) }
            configsUsed.formUnion(step.configs.values)
            if let digest = step.configDigest {
                let hashes = step.configs.sorted { $0.key < $1.key }
                let quantum = Quantum(taskLabel: step.taskLabel, run: step.run, configs: hashes.map { ConfigFile(name: $0.key, content: Data()) },
                                      parameters: step.parameters)
                let computed = quantum.configDigest(hashes: hashes.map(\.value))
                guard computed == digest else {
                    throw refuse(name, "config digest \(digest.prefix(16)) is not that of its configs and parameters (\(computed.prefix(16)))")
                }
            }
            admitted.steps.append(step)
        }

        // Environments and configs, checked against their content.
        let environmentsHere = try registry.existingEnvironments(Array(environmentsUsed), in: c)
        for env in environments where environmentsUsed.contains(env.id) {
            let content = SoftwareEnvironment(packages: env.packages, codeCommit: env.codeCommit, codeDirty: env.codeDirty,
                                              executableHash: env.executableHash)
            do { try content.checkUnambiguous() } catch let error as ButlerError { throw refuse("environment \(escapedForMessage(env.id, limit: 80))", error.message) }
            let computed = content.id
            guard computed == env.id else {
                throw ButlerError(.integrity, "\(arrival.source): environment \(escapedForMessage(env.id, limit: 80)): its content hashes to \(computed), "
                                  + "not to its id: refused (an environment is named by the hash of what it holds)")
            }
            if !admitted.environments.contains(where: { $0.id == env.id }) { admitted.environments.append(env) }
        }
        for env in environmentsUsed.sorted() where !environmentsHere.contains(env) && !admitted.environments.contains(where: { $0.id == env }) {
            throw refuse("environment \(escapedForMessage(env, limit: 80))", "a step names it, but neither the bundle nor this repository has it")
        }
        let configsHere = try registry.existingConfigs(Array(configsUsed), in: c)
        for config in configs where configsUsed.contains(config.hash) {
            let content: Data
            if config.encoding == "base64" {
                guard let data = Data(base64Encoded: config.content) else { throw refuse("config \(config.hash.prefix(16))", "content is not base64") }
                content = data
            } else if config.encoding == nil {
                content = Data(config.content.utf8)
            } else {
                throw refuse("config \(config.hash.prefix(16))", "unknown encoding \(escapedForMessage(config.encoding!, limit: 40))")
            }
            guard ["yaml", "json", "py", "toml", "text"].contains(config.format) else {
                throw refuse("config \(config.hash.prefix(16))", "unknown format \(escapedForMessage(config.format, limit: 40))")
            }
            let computed = ConfigFile(name: "config", content: content).hash
            guard computed == config.hash else {
                throw ButlerError(.integrity, "\(arrival.source): config \(escapedForMessage(config.hash, limit: 80)): its content hashes to \(computed), "
                                  + "not to its name: refused (a config is named by the SHA-256 of its bytes)")
            }
            if !admitted.configs.contains(where: { $0.hash == config.hash }) { admitted.configs.append(config) }
        }
        for hash in configsUsed.sorted() where !configsHere.contains(hash) && !admitted.configs.contains(where: { $0.hash == hash }) {
            throw refuse("config \(escapedForMessage(hash, limit: 80))", "a step names it, but neither the bundle nor this repository has it")
        }

        // Facts about what arrives, and nothing else.
        for metric in metrics where arrival.datasets.contains(metric.datasetId) {
            do { try RecordSpecValidator.checkMetric(metric.name, metric.value, "metrics of dataset \(metric.datasetId.lowercasedString)") } catch let error as ButlerError {
                throw ButlerError(error.code, "\(arrival.source): \(error.message)")
            }
            admitted.metrics.append(metric)
        }
        let inputs = Set(admitted.steps.flatMap { $0.inputs.map(\.datasetId) })
        /// A text field: no NUL, no longer than its column.
        func checkField(_ text: String?, _ limit: Int, _ what: String, of subject: String) throws {
            guard let text else { return }
            if text.utf8.contains(0) { throw refuse(subject, "its \(what) holds a NUL character") }
            if text.unicodeScalars.count > limit { throw refuse(subject, "its \(what) is longer than \(limit) characters") }
        }
        for stone in tombstones where inputs.contains(stone.datasetId) {
            let subject = "tombstone \(stone.datasetId.lowercasedString)"
            try checkField(stone.datasetType, 128, "dataset type", of: subject)
            try checkField(stone.dataId, 4096, "data ID", of: subject)
            try checkField(stone.run, 64, "run", of: subject)
            try checkField(stone.checksum, 128, "checksum", of: subject)
            admitted.tombstones.append(stone)
        }
        // A RUN's config digest only as its steps in the bundle have it (a digest is a fact about those steps).
        let digests = Set(admitted.steps.compactMap { s in s.configDigest.map { [s.run, s.taskLabel, $0] } })
        for entry in runTaskConfigs where arrival.newRuns.contains(entry.run) && digests.contains([entry.run, entry.taskLabel, entry.configDigest]) {
            admitted.runTaskConfigs.append(entry)
        }
        for copy in copies where arrival.datasets.contains(copy.datasetId) {
            let subject = "copy record of dataset \(copy.datasetId.lowercasedString)"
            for repository in [copy.sourceRepository, copy.destinationRepository].compactMap({ $0 }) {
                try checkField(repository.name, 64, "repository name", of: subject)
            }
            try checkField(copy.copiedBy, 128, "user", of: subject)
            try checkField(copy.method, 64, "method", of: subject)
            try checkField(copy.verifiedChecksum, 128, "checksum", of: subject)
            admitted.copies.append(copy)
        }
        return admitted
    }

    /// Checks one step's values with the check `record` and `merge-staged` use (``RecordSpecValidator/checkStep``),
    /// and what only a bundle carries (a reproduction's verdict, an origin).
    private static func check(_ step: Step, named name: String, universe: DimensionUniverse,
                              refuse: (String, String) -> ButlerError) throws {
        do {
            try RecordSpecValidator.checkStep(step, metrics: [:], universe: universe, knownInputs: nil)
            for edge in step.inputs + step.outputs { try Butler.validateTaskLabel(edge.role, what: "role") }
        } catch let error as ButlerError {
            throw refuse(name, error.message)
        }
        if let r = step.reproduces {
            guard ReproductionVerdict(rawValue: r.verdict) != nil, r.verdict != ReproductionVerdict.wouldRun.rawValue else {
                throw refuse(name, "reproduction verdict \(escapedForMessage(r.verdict, limit: 40)) is not one butler reproduce gives")
            }
            if r.detail?.utf8.contains(0) == true { throw refuse(name, "its reproduction detail holds a NUL character") }
        }
        if let origin = step.origin, origin.name.utf8.contains(0) { throw refuse(name, "its origin's name holds a NUL character") }
    }
}

extension Registry {
    /// Which of these steps are in the registry.
    package func existingSteps(_ ids: [UUID], in c: any SQLConnection) throws -> Set<UUID> {
        Set(try existing(ids.map(\.lowercasedString), in: "quantum", column: "id", c).compactMap(UUID.init(registryText:)))
    }

    /// Which of these removed datasets have a tombstone here.
    package func tombstonedDatasets(_ ids: [UUID], in c: any SQLConnection) throws -> Set<UUID> {
        Set(try existing(ids.map(\.lowercasedString), in: "dataset_tombstone", column: "dataset_id", c).compactMap(UUID.init(registryText:)))
    }

    /// Which of these environment ids are here.
    package func existingEnvironments(_ ids: [String], in c: any SQLConnection) throws -> Set<String> {
        try existing(ids, in: "software_environment", column: "id", c)
    }

    /// Which of these config hashes are here.
    package func existingConfigs(_ hashes: [String], in c: any SQLConnection) throws -> Set<String> {
        try existing(hashes, in: "config_blob", column: "hash", c)
    }

    /// Which of these keys a table's column holds, looked up 500 at a time.
    private func existing(_ keys: [String], in table: String, column: String, _ c: any SQLConnection) throws -> Set<String> {
        var found = Set<String>()
        for chunk in Set(keys).sorted().chunked(500) {
            for row in try c.query("SELECT \(column) FROM \(table) WHERE \(column) IN (\(placeholders(chunk.count)))", chunk.map { .text($0) }) {
                if let key = row[0].string { found.insert(key) }
            }
        }
        return found
    }
}
