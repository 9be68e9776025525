public import Foundation

/// The provenance of exported datasets, as it travels beside Rubin's formats: the file `butler_provenance.json` next
/// to `export.yaml`, the member `_butler_provenance.json` of a Zip, or in memory in a transfer.
///
/// Format `butler-provenance`, version 1 (JSON, keys in snake case). Every part is keyed by ids that stay the same
/// across repositories: dataset UUIDs, quantum UUIDs, content hashes of environments and configs. Inputs are kept
/// by id whether or not they travel with the datasets, so the lineage at the destination says an input lives
/// elsewhere rather than that it is missing. Environments and configs are content-addressed, so identical ones
/// merge at the destination.
public struct ProvenanceBundle: Codable, Sendable {
    public var format = "butler-provenance"
    public var version = 1
    /// The repository the bundle was written from.
    public var sourceRepository: RepositoryIdentity?
    public var environments: [Environment] = []
    public var configs: [Config] = []
    /// The steps that made the exported datasets (and their log datasets).
    public var steps: [Step] = []
    /// Which config digest each task of a RUN ran with.
    public var runTaskConfigs: [RunTaskConfig] = []
    public var metrics: [Metric] = []
    /// Tombstones of removed datasets that exported ones were made from.
    public var tombstones: [Tombstone] = []
    /// Where exported datasets were copied from before (earlier hops), so that their history keeps growing.
    public var copies: [DatasetCopy] = []

    public init() {}

    /// A software environment, keyed by its content hash.
    public struct Environment: Codable, Sendable, Hashable {
        public var id: String
        public var codeCommit: String?
        public var codeDirty: Bool?
        public var executableHash: String?
        /// Package name -> version.
        public var packages: [String: String]
    }

    /// A config file's content, keyed by its SHA-256.
    public struct Config: Codable, Sendable, Hashable {
        public var hash: String
        public var format: String
        /// The content as UTF-8 text, or base64 when it is not text (`encoding: base64`).
        public var content: String
        public var encoding: String?
    }

    /// One execution of one step (a quantum).
    public struct Step: Codable, Sendable {
        public struct Edge: Codable, Sendable, Hashable {
            public var datasetId: UUID
            public var role: String
        }
        public var id: UUID
        public var taskLabel: String
        public var run: String
        /// The data ID as the registry stores it (`key=value` text).
        public var dataId: String
        public var host: String?
        public var userName: String?
        public var command: String?
        /// TAI nanoseconds since 1970.
        public var startTime: Int64?
        public var endTime: Int64?
        public var status: String
        public var exitCode: Int?
        public var environmentId: String?
        public var configDigest: String?
        public var logDatasetId: UUID?
        /// The tail of a failed step's log (a succeeded step's log is the dataset ``logDatasetId``).
        public var logText: String?
        /// Config name -> content hash.
        public var configs: [String: String] = [:]
        public var parameters: [String: String] = [:]
        public var inputs: [Edge] = []
        public var outputs: [Edge] = []
        /// The command as written (``CommandTemplate``), for steps run by `butler run`.
        public var commandTemplate: [String]? = nil
        /// The folder the step ran in, with ``commandTemplate``.
        public var commandDirectory: String? = nil
        /// For a step of `butler reproduce`: the step it reproduced and the verdict.
        public var reproduces: Reproduction? = nil
        /// The repository that ran the step, when it is not the bundle's ``ProvenanceBundle/sourceRepository`` (a step
        /// that had arrived there from elsewhere). Nil: the step was made where the bundle was written.
        public var origin: RepositoryIdentity? = nil
    }

    /// What a reproducing step found (``Step/reproduces``).
    public struct Reproduction: Codable, Sendable, Hashable {
        /// The step that was reproduced.
        public var original: UUID
        /// `identical`, `same-data`, `differs` or `not-reproducible`.
        public var verdict: String
        public var detail: String?
        /// TAI nanoseconds since 1970.
        public var checkedAt: Int64
    }

    public struct RunTaskConfig: Codable, Sendable, Hashable {
        public var run: String
        public var taskLabel: String
        public var configDigest: String
    }

    public struct Metric: Codable, Sendable, Hashable {
        public var datasetId: UUID
        public var name: String
        public var value: Double
    }

    public struct Tombstone: Codable, Sendable, Hashable {
        public var datasetId: UUID
        public var datasetType: String
        public var dataId: String
        public var run: String
        public var checksum: String?
        /// TAI nanoseconds since 1970.
        public var removedAt: Int64
    }
}

extension ProvenanceBundle {
    /// The file name of the bundle beside `export.yaml`, and its member name in a Zip.
    public static let exportFileName = "butler_provenance.json"
    public static let zipMemberName = "_butler_provenance.json"

    /// Encodes the bundle as JSON (snake-case keys, sorted, so that identical bundles are identical bytes).
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(self)
    }

    /// Reads a bundle, refusing another format or a newer major version.
    /// - Parameter source: names the file in errors.
    public static func decode(_ data: Data, source: String) throws -> ProvenanceBundle {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let bundle: ProvenanceBundle
        do {
            bundle = try decoder.decode(ProvenanceBundle.self, from: data)
        } catch {
            throw ButlerError(.invalidValue, "\(source): not a butler provenance file (\(describeDecoding(error)))")
        }
        guard bundle.format == "butler-provenance" else {
            throw ButlerError(.invalidValue, "\(source): format '\(bundle.format)' is not butler-provenance")
        }
        guard bundle.version == 1 else {
            throw ButlerError(.invalidValue, "\(source): provenance format version \(bundle.version) is newer than this butler reads (1)")
        }
        return bundle
    }
}

/// A repository's stable identity: an id (a UUID) and a name, set when it is created.
public struct RepositoryIdentity: Codable, Sendable, Hashable {
    public var id: UUID
    public var name: String

    public init(id: UUID, name: String) {
        self.id = id
        self.name = name
    }
}

/// One arrival of a dataset in a repository from another one: where from, when, by whom, how, and whether its file
/// was checked against the recorded size and checksum.
public struct DatasetCopy: Codable, Sendable, Hashable {
    public var datasetId: UUID
    /// The repository it came from.
    public var sourceRepository: RepositoryIdentity?
    /// The repository it arrived in (so that a history carried on to a third repository says where each hop went).
    public var destinationRepository: RepositoryIdentity?
    /// TAI nanoseconds since 1970.
    public var copiedAt: Int64
    public var copiedBy: String?
    /// `import`, `transfer-datasets` or `ingest-zip`, with the transfer mode (`transfer-datasets -t copy`).
    public var method: String
    /// The checksum the file was verified against on arrival (SHA-256 as hex), nil when none was recorded.
    public var verifiedChecksum: String?

    public init(datasetId: UUID, sourceRepository: RepositoryIdentity?, destinationRepository: RepositoryIdentity?, copiedAt: Int64,
                copiedBy: String?, method: String, verifiedChecksum: String?) {
        self.datasetId = datasetId
        self.sourceRepository = sourceRepository
        self.destinationRepository = destinationRepository
        self.copiedAt = copiedAt
        self.copiedBy = copiedBy
        self.method = method
        self.verifiedChecksum = verifiedChecksum
    }
}
