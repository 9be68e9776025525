public import Foundation

/// One execution of one step (a task label) on one data ID in one RUN, as recorded in the registry.
///
/// Build one, then record it with its outputs through ``Butler/put(_:)`` or ``Registry/record(_:)``.
public struct Quantum: Sendable {
    /// Whether the step succeeded.
    public enum Status: String, Sendable { case succeeded, failed }

    /// A time-ordered id (UUIDv7).
    public var id: UUID
    /// The step's label (`isr`, `calibrate`).
    public var taskLabel: String
    /// The RUN the outputs go to.
    public var run: String
    /// The data ID the step ran on, as `key=value` text.
    public var dataId: [String: String]
    public var host: String?
    public var user: String?
    /// The command line that ran.
    public var command: String?
    /// The command as written, before paths were put in (`{ROLE}`, `{metrics}`, `{config:NAME}`): what
    /// `butler reproduce` runs again. Nil for steps recorded by `put` or `record`.
    public var commandTemplate: CommandTemplate?
    public var start: Date?
    public var end: Date?
    public var status: Status
    public var exitCode: Int32?
    public var environment: SoftwareEnvironment
    public var configs: [ConfigFile]
    /// Simple `key=value` parameters.
    public var parameters: [String: String]
    /// Inputs with their roles (connection names: `raw`, `bias`, `flat`).
    public var inputs: [(role: String, ref: DatasetRef)]
    /// The dataset holding the captured log, if any.
    public var logDatasetId: UUID?
    /// For a step that runs again a step from another repository (`reproduce --allow-foreign`): that step's origin
    /// and sender, which the new step keeps, so that what came from elsewhere never becomes this repository's own.
    package var foreignOrigin: (origin: RepositoryIdentity, receivedFrom: RepositoryIdentity?)?

    public init(taskLabel: String, run: String, dataId: [String: String] = [:], status: Status = .succeeded,
                environment: SoftwareEnvironment = SoftwareEnvironment(), configs: [ConfigFile] = [], parameters: [String: String] = [:],
                inputs: [(role: String, ref: DatasetRef)] = []) {
        self.id = DatasetIdGenerationMode.uuid7()
        self.taskLabel = taskLabel
        self.run = run
        self.dataId = dataId
        self.status = status
        self.environment = environment
        self.configs = configs
        self.parameters = parameters
        self.inputs = inputs
        self.host = Self.hostName
        self.user = Self.userName
        self.start = Date()
        self.end = Date()
    }

    /// The user running this process: `$USER`, `$LOGNAME`, or the account of the user id.
    static let userName: String? = {
        let environment = ProcessInfo.processInfo.environment
        if let name = environment["USER"] ?? environment["LOGNAME"], !name.isEmpty { return name }
        guard let entry = getpwuid(getuid()), let name = entry.pointee.pw_name else { return nil }
        return String(cString: name)
    }()

    /// This machine's name (`gethostname`, no name service lookup: a batch job starts in milliseconds), read once.
    static let hostName: String? = {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return nil }
        return String(cString: buffer)
    }()

    /// The digest of the step's configuration (config file hashes and parameters), which must be the same for one
    /// task label within one RUN.
    var configDigest: String { configDigest(hashes: configs.map(\.hash)) }

    /// The digest, from config hashes already computed (in the order of ``configs``).
    func configDigest(hashes: [String]) -> String {
        let text = zip(configs, hashes).map { "file \($0.name) \($1)\n" }.sorted().joined()
            + parameters.sorted { $0.key < $1.key }.map { "param \($0.key)=\($0.value)\n" }.joined()
        return ConfigFile(name: "digest", content: Data(text.utf8)).hash
    }
}
