public import Foundation

/// A provenance graph read from the registry: datasets and the steps (quanta) that connect them, upstream from a
/// dataset to the raws and calibrations it came from, or downstream to everything derived from it.
///
/// ```swift
/// let lineage = try butler.registry.lineage(of: pvi, direction: .upstream)
/// print(lineage.treeText())
/// ```
public struct Lineage: Sendable {
    /// Which way the graph was walked from its root.
    public enum Direction: String, Sendable { case upstream, downstream }

    /// A dataset in the graph (or the tombstone of a removed one).
    public struct Dataset: Sendable {
        public let id: UUID
        public let datasetType: String
        public let run: String
        /// The data ID as `key=value,...`.
        public let dataId: String
        /// The storage class (nil for a removed dataset).
        public let storageClass: String?
        /// The file's path in the datastore (nil when it has no file).
        public let path: String?
        /// Whether only the dataset's tombstone remains.
        public let removed: Bool
    }

    /// A role-labelled edge between a step and a dataset.
    public struct Edge: Sendable, Hashable {
        /// The connection name (`raw`, `bias`, `calexp`).
        public let role: String
        public let dataset: UUID
    }

    /// A software environment: packages with versions, and the step's own code.
    public struct Environment: Sendable {
        public let id: String
        /// Packages sorted by name.
        public let packages: [(name: String, version: String)]
        public let codeCommit: String?
        public let codeDirty: Bool?
        public let executableHash: String?
    }

    /// A step: one execution of one task on one data ID.
    public struct Step: Sendable {
        public let id: UUID
        public let taskLabel: String
        public let run: String
        /// The data ID the step ran on, as `key=value,...`.
        public let dataId: String
        public let status: String
        public let exitCode: Int?
        public let host: String?
        public let user: String?
        public let command: String?
        public let start: TAITime?
        public let end: TAITime?
        /// The id of the step's ``Environment``.
        public let environment: String?
        /// The dataset holding the step's captured log, if any.
        public let logDataset: UUID?
        /// The command as written, for steps run by `butler run` (what `butler reproduce` runs again).
        public let commandTemplate: CommandTemplate?
        /// For a step that arrived from another repository: the repository that ran it (as the sender says). Nil for a
        /// step made here. A foreign step is not run again by `butler reproduce` unless the user allows it.
        public var origin: RepositoryIdentity? = nil
        /// For a step that arrived from another repository: the repository that sent it here.
        public var receivedFrom: RepositoryIdentity? = nil
        /// Whether the step arrived from another repository.
        public var isForeign: Bool { origin != nil }
        /// The times this step was reproduced (`butler reproduce`), oldest first.
        public internal(set) var reproductions: [Reproduction] = []
        /// Config files: name and SHA-256 of the content, sorted by name.
        public internal(set) var configs: [(name: String, hash: String)] = []
        /// Parameters, sorted by name.
        public internal(set) var parameters: [(name: String, value: String)] = []
        /// Inputs in the graph (upstream: all of them), sorted by role.
        public internal(set) var inputs: [Edge] = []
        /// Outputs in the graph (downstream: all of them), sorted by role.
        public internal(set) var outputs: [Edge] = []
    }

    /// One reproduction of a step: the step that ran it again and how its outputs compared.
    public struct Reproduction: Sendable {
        /// The reproducing step.
        public let step: UUID
        /// `identical`, `same-data`, `differs` (see ``ReproductionVerdict``).
        public let verdict: String
        public let detail: String
        public let time: TAITime
        /// For a reproduction made in another repository (its step arrived with the reproduced outputs): that
        /// repository. Its verdict is that repository's claim, shown as such.
        public var reportedBy: RepositoryIdentity? = nil
    }

    /// A config file's content, by hash.
    public struct Config: Sendable {
        public let hash: String
        /// `yaml`, `json`, `py`, `toml` or `text`.
        public let format: String
        public let content: Data
    }

    /// The dataset the walk started from.
    public let root: UUID
    public let direction: Direction
    public internal(set) var datasets: [UUID: Dataset] = [:]
    public internal(set) var steps: [UUID: Step] = [:]
    public internal(set) var environments: [String: Environment] = [:]
    /// Config contents (loaded with `includeConfigs`).
    public internal(set) var configs: [String: Config] = [:]
    /// The step that made each dataset, where it is in the graph.
    public internal(set) var producer: [UUID: UUID] = [:]
    /// The steps that used each dataset, where they are in the graph.
    public internal(set) var consumers: [UUID: [UUID]] = [:]
    /// Whether the depth limit stopped the walk before its end.
    public var truncated: Bool { !beyondDepth.isEmpty }
    /// Datasets at the depth limit that have more steps beyond it.
    public internal(set) var beyondDepth: Set<UUID> = []
    /// How datasets of the graph came to this repository from others: each copy, oldest first (datasets made here
    /// have none).
    public internal(set) var copies: [UUID: [DatasetCopy]] = [:]

    /// Datasets that steps of the graph used or made but that this repository neither holds nor removed (no row, no
    /// tombstone): they are held by another repository, as happens when some datasets are copied without their
    /// inputs. Sorted.
    public var elsewhere: [UUID] {
        var ids = Set<UUID>()
        for s in steps.values {
            for e in s.inputs where datasets[e.dataset] == nil { ids.insert(e.dataset) }
            for e in s.outputs where datasets[e.dataset] == nil { ids.insert(e.dataset) }
        }
        return ids.sorted()
    }

    init(root: UUID, direction: Direction) {
        self.root = root
        self.direction = direction
    }

    /// Steps in a stable order: by start time, then id.
    public var orderedSteps: [Step] {
        // Sorted as keys, not as steps: a step is a large value, costly to move.
        let keys: [(start: Int64, id: UUID)] = steps.values.map { (start: $0.start?.nanoseconds ?? 0, id: $0.id) }
        return keys.sorted { $0.start != $1.start ? $0.start < $1.start : $0.id < $1.id }.map { steps[$0.id]! }
    }

    /// Datasets in a stable order: by type, data ID, then id.
    public var orderedDatasets: [Dataset] {
        typealias Key = (type: String, dataId: String, id: UUID)
        func before(_ a: Key, _ b: Key) -> Bool {
            if a.type != b.type { return a.type < b.type }
            if a.dataId != b.dataId { return a.dataId < b.dataId }
            return a.id < b.id
        }
        let keys: [Key] = datasets.values.map { (type: $0.datasetType, dataId: $0.dataId, id: $0.id) }
        return keys.sorted(by: before).map { datasets[$0.id]! }
    }

    /// The datasets at the start of the chain: those no step in the graph made (raws, calibrations put by hand).
    public var sources: [Dataset] { orderedDatasets.filter { producer[$0.id] == nil } }
}

extension Lineage.Dataset {
    /// The MIME type of the dataset's file, from its extension (`application/fits` for FITS files).
    public var contentType: String {
        let ext = path.map { String($0.split(separator: "/").last ?? "").lowercased() } ?? ""
        let fromStorage = storageClass.flatMap { StorageClasses.builtIn.extensions[$0] } ?? ""
        func has(_ e: String) -> Bool { ext.hasSuffix("." + e) || (ext.isEmpty && fromStorage == e) }
        if has("fits") || has("fit") || has("fz") || has("fits.gz") || has("fits.fz") { return "application/fits" }
        if has("yaml") || has("yml") { return "application/x-yaml" }
        if has("json") { return "application/json" }
        if has("txt") || has("log") { return "text/plain" }
        if has("ecsv") { return "text/x-ecsv" }
        if has("png") { return "image/png" }
        if has("parq") || has("parquet") { return "application/vnd.apache.parquet" }
        return "application/octet-stream"
    }

    /// `type@run` with the data ID: how a dataset is named in text output.
    public var label: String { "\(datasetType)@\(run)" + (dataId.isEmpty ? "" : " {\(dataId)}") }
}
