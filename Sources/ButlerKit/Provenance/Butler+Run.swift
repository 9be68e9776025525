public import Foundation
internal import Crypto

/// What ``Butler/run(_:)`` executes: one step on its inputs, with the outputs it must write.
public struct RunRequest: Sendable {
    public var run: String
    public var taskLabel: String
    /// Inputs as `(role, dataset name)`; `{ROLE}` in the arguments becomes the input's file path.
    public var inputs: [(role: String?, dataset: String)] = []
    /// Collections searched for inputs named by data ID.
    public var collections: [String] = []
    /// Outputs as `(role, "TYPE:key=value,...")`; `{ROLE}` becomes a fresh staging path the command must write.
    public var outputs: [(role: String, dataset: String)] = []
    public var configs: [ConfigFile] = []
    public var parameters: [String: String] = [:]
    public var environment = SoftwareEnvironment()
    /// A source tree whose git commit (and dirty state) is recorded.
    public var codeDirectory: String?
    /// The command and its arguments, run directly (no shell).
    public var command: [String]
    /// When every output already exists in the RUN (a re-run after a crash or a partial batch), do nothing.
    public var skipExisting = false
    /// The folder the command runs in (this process's when nil).
    public var workingDirectory: String?
    /// For `reproduce` of a foreign step: the origin the new step keeps (see ``Quantum/foreignOrigin``).
    package var foreignOrigin: (origin: RepositoryIdentity, receivedFrom: RepositoryIdentity?)?

    public init(run: String, taskLabel: String, command: [String]) {
        self.run = run
        self.taskLabel = taskLabel
        self.command = command
    }
}

/// What a ``Butler/run(_:)`` did.
public struct RunResult: Sendable {
    public let quantumId: UUID
    public let status: Quantum.Status
    /// The command's exit code (1 when it exited 0 but missed an output).
    public let exitCode: Int32
    /// The outputs registered (none when the step failed).
    public let outputs: [DatasetRef]
    /// Why the step failed, if it did.
    public let failure: String?
    /// The captured standard output and error.
    public let log: String
}

extension Butler {
    /// Runs one step and records it: resolves the inputs, runs the command (no shell) with `{ROLE}` replaced by input
    /// paths and fresh output paths, captures its log, and when it exits 0 having written every output, stores the
    /// outputs with full provenance, and its log as a `<task>_log` dataset. A failed step is recorded as a failed
    /// quantum with its exit code and the last 64 KiB of its log, and registers no dataset.
    ///
    /// A non-zero exit code is a normal result, reported in ``RunResult``, not a thrown error.
    /// - Throws: for problems before the command runs (unknown inputs, dataset types, a bad output name).
    public func run(_ request: RunRequest) throws -> RunResult {
        guard let executable = request.command.first else { throw ButlerError(.invalidValue, "no command to run") }
        // Every name that reaches a path or a dataset type is checked before anything is written.
        try Registry.validateCollectionName(request.run)
        try Self.validateTaskLabel(request.taskLabel)
        for input in request.inputs { if let role = input.role { try Self.validateTaskLabel(role, what: "input role") } }
        for output in request.outputs { try Self.validateTaskLabel(output.role, what: "output role") }
        try registry.registerRun(request.run)
        let inputs = try request.inputs.map { input -> (role: String, ref: DatasetRef) in
            let ref = try registry.resolveDataset(input.dataset, collections: request.collections)
            return (input.role ?? ref.datasetType.name, ref)
        }
        let inputPaths = try fileLocations(inputs.map(\.ref.id))
        let outputs = try request.outputs.map { output -> PreparedOutput in
            guard let colon = output.dataset.firstIndex(of: ":") else {
                throw ButlerError(.invalidValue, "output '\(output.role)=\(output.dataset)' must be ROLE=TYPE:key=value,...")
            }
            return try prepareOutput(role: output.role, datasetType: String(output.dataset[..<colon]),
                                     dataId: try parseDataIDString(String(output.dataset[output.dataset.index(after: colon)...])))
        }
        if request.skipExisting && !outputs.isEmpty {
            let existing = try outputs.compactMap { output in
                try registry.findDataset(output.type.name, dataId: output.dataId.required.reduce(into: [:]) { $0[$1.0] = $1.1.description },
                                         collections: [request.run])
            }
            if existing.count == outputs.count, let producer = try registry.producer(of: existing[0].id) {
                return RunResult(quantumId: producer, status: .succeeded, exitCode: 0, outputs: existing, failure: nil, log: "")
            }
        }
        var quantum = Quantum(taskLabel: request.taskLabel, run: request.run, environment: request.environment,
                              configs: request.configs, parameters: request.parameters, inputs: inputs)
        quantum.foreignOrigin = request.foreignOrigin
        quantum.dataId = Dictionary(uniqueKeysWithValues: (outputs.first?.dataId.required ?? inputs.first?.ref.dataId.required ?? []).map { ($0.0, $0.1.description) })
        if let code = request.codeDirectory { (quantum.environment.codeCommit, quantum.environment.codeDirty) = Self.gitState(code) }
        let resolvedExecutable = Self.resolveExecutable(executable)
        quantum.environment.executableHash = resolvedExecutable.flatMap { try? FileDatastore.measure($0, checksum: true).1 }

        // Staging: one folder per quantum inside the datastore (so moves are renames), made without following links;
        // for a bucket, in the repository folder, where the step's inputs are downloaded too.
        let stagingPath = try DatastorePath(".staging/\(quantum.id.lowercasedString)")
        try journal.recordFolder(stagingPath.description)
        _ = try DatastoreFolder.open(stagingPath.components[...], under: localWorkRoot, create: true, for: stagingPath.description)
        let staging = localWorkRoot.appendingPathComponent(stagingPath.description)
        defer { try? FileManager.default.removeItem(at: staging) }
        var substitutions: [String: String] = [:]
        for (index, (role, ref)) in inputs.enumerated() {
            guard let location = inputPaths[ref.id] else { continue }
            if location.isPlainLocalFile {
                substitutions[role] = location.path
            } else {
                let local = staging.appendingPathComponent("-input-\(index)-" + location.fileName).path
                try datastore.download(location, to: local)
                substitutions[role] = local
            }
        }
        var outputPaths: [String] = []
        for output in outputs {
            let ext = StorageClasses.builtIn.extensions[output.type.storageClass].map { "." + $0 } ?? ""
            let path = staging.appendingPathComponent(output.role + ext).path
            substitutions[output.role] = path
            outputPaths.append(path)
        }
        // {metrics}: a JSON object of name -> number the step may write; attached to its first output.
        // (Names with '-' cannot be a role's.)
        let metricsPath = staging.appendingPathComponent("-metrics.json").path
        substitutions["metrics"] = metricsPath
        let arguments = request.command.map { argument in
            substitutions.reduce(argument) { $0.replacingOccurrences(of: "{\($1.key)}", with: $1.value) }
        }
        quantum.command = shellQuoted(arguments)
        quantum.commandTemplate = CommandTemplate(command: request.command, configs: request.configs)
        quantum.start = Date()
        let (exitCode, log) = Self.execute(resolvedExecutable ?? executable, Array(arguments.dropFirst()), in: request.workingDirectory)
        quantum.end = Date()
        let missing = exitCode == 0 ? zip(outputs, outputPaths).filter { !FileManager.default.fileExists(atPath: $0.1) }.map(\.0.role) : []
        var failure: String?
        if exitCode != 0 {
            failure = "\(executable) exited with code \(exitCode)"
        } else if !missing.isEmpty {
            failure = "\(executable) exited 0 but did not write output(s) \(missing.joined(separator: ", "))"
        }
        quantum.status = failure == nil ? .succeeded : .failed
        quantum.exitCode = exitCode == 0 && failure != nil ? 1 : exitCode

        // A succeeded step's log is a dataset of its own; a failed step's stays in its quantum row (a log dataset
        // would take the data ID slot that the re-run's log needs in the same RUN).
        var stored: [(PreparedOutput, String)] = []
        if failure == nil {
            let logPath = staging.appendingPathComponent("-log.txt").path
            try log.write(toFile: logPath, atomically: true, encoding: .utf8)
            let logType = try registry.makeDatasetType(Self.logDatasetType(of: request.taskLabel), storageClass: "TextFile",
                                                       dimensions: (outputs.first?.dataId ?? inputs.first?.ref.dataId)?.dimensions.required ?? [])
            try registry.registerDatasetType(logType)
            let logOutput = PreparedOutput(role: "log", type: logType, dataId: try registry.expandDataID(
                (outputs.first?.dataId ?? inputs.first?.ref.dataId).map { $0.values.filter { logType.dimensions.names.contains($0.key) } } ?? [:],
                dimensions: logType.dimensions.names))
            stored = zip(outputs, outputPaths).map { ($0, $1) } + [(logOutput, logPath)]
        }
        var metrics: [String: Double] = [:]
        if failure == nil, let data = FileManager.default.contents(atPath: metricsPath) { metrics = try Self.parseMetrics(data) }
        let refs = try store(stored, quantum: quantum, transfer: .move, metrics: metrics) { c in
            if failure == nil {
                // The log is the last output stored; point the quantum at it.
                try c.execute("UPDATE quantum SET log_dataset_id = (SELECT dataset_id FROM quantum_output WHERE quantum_id = ? AND role = 'log') WHERE id = ?",
                              [.text(quantum.id.lowercasedString), .text(quantum.id.lowercasedString)])
            } else {
                try c.execute("UPDATE quantum SET log_text = ? WHERE id = ?", [.text(Self.logTail(log)), .text(quantum.id.lowercasedString)])
            }
        }
        return RunResult(quantumId: quantum.id, status: quantum.status, exitCode: quantum.exitCode ?? 0,
                         outputs: failure == nil ? Array(refs.dropLast()) : [], failure: failure, log: log)
    }

    /// The metrics a step wrote to `{metrics}`: a JSON object of name -> number.
    static func parseMetrics(_ data: Data) throws -> [String: Double] {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ButlerError(.invalidValue, "the metrics file the step wrote is not a JSON object of name -> number")
        }
        var metrics: [String: Double] = [:]
        for (name, value) in object {
            guard let number = (value as? Double) ?? (value as? Int).map(Double.init) else {
                throw ButlerError(.invalidValue, "metric '\(name)' written by the step is not a number")
            }
            metrics[name] = number
        }
        return metrics
    }

    /// The dataset type of a step's log: `<task>_log`, as in Rubin.
    static func logDatasetType(of taskLabel: String) -> String { "\(taskLabel)_log" }

    /// At most the last 64 KiB of a log (whole lines where it can), as a failed step keeps it.
    static func logTail(_ log: String) -> String {
        let limit = 64 * 1024
        let bytes = Array(log.utf8)
        guard bytes.count > limit else { return log }
        var tail = bytes.suffix(limit)
        if let newline = tail.firstIndex(of: 10), newline < tail.endIndex - 1 { tail = tail[(newline + 1)...] }
        return "[... \(bytes.count - tail.count) bytes before]\n" + String(decoding: tail, as: UTF8.self)
    }

    /// Runs a program, waits, and returns its exit code and combined output.
    static func execute(_ executable: String, _ arguments: [String], in directory: String? = nil) -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            return (127, "cannot run \(executable): \(error.localizedDescription)\n")
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let code = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        return (code, String(decoding: data, as: UTF8.self))
    }

    /// The absolute path of a command, searched in PATH when it has no slash.
    static func resolveExecutable(_ name: String) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? absolutePath(name) : nil }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The git commit of a source tree and whether it has uncommitted changes (nil when it is not a git tree).
    static func gitState(_ directory: String) -> (String?, Bool?) {
        guard let git = resolveExecutable("git") else { return (nil, nil) }
        let (code, head) = execute(git, ["-C", directory, "rev-parse", "HEAD"])
        guard code == 0 else { return (nil, nil) }
        let (_, status) = execute(git, ["-C", directory, "status", "--porcelain"])
        return (head.trimmingCharacters(in: .whitespacesAndNewlines), !status.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
    }
}
