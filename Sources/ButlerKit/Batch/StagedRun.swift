public import Foundation
import FITS

/// What ``StagedRun/execute(_:)`` runs: job N of a jobs file, one step, into a staging area.
public struct StagedRunRequest: Sendable {
    /// The jobs file (``JobsFile``) and the job's number in it.
    public var jobsFile: String
    public var job: Int
    /// The RUN the outputs will be registered in.
    public var run: String
    public var taskLabel: String
    /// The staging area: a folder on a file system the merging host sees (by default `REPO/staged`).
    public var stagingArea: String
    public var configs: [ConfigFile] = []
    public var parameters: [String: String] = [:]
    public var environment = SoftwareEnvironment()
    /// A source tree whose git commit (and dirty state) is recorded.
    public var codeDirectory: String?
    /// The command and its arguments, run directly (no shell); `{ROLE}` becomes an input's path or an output's
    /// path in the staging folder, `{metrics}` a JSON file of name -> number the step may write.
    public var command: [String]

    public init(jobsFile: String, job: Int, run: String, taskLabel: String, stagingArea: String, command: [String]) {
        self.jobsFile = jobsFile
        self.job = job
        self.run = run
        self.taskLabel = taskLabel
        self.stagingArea = stagingArea
        self.command = command
    }
}

/// What a staged run did.
public struct StagedRunResult: Sendable {
    public let quantumId: UUID
    public let status: Quantum.Status
    /// The command's exit code (1 when it exited 0 but missed an output; 128 + N when a signal stopped it).
    public let exitCode: Int32
    public let failure: String?
    /// The step's folder in the staging area.
    public let folder: String
    /// The ids the outputs will have once merged.
    public let outputIds: [UUID]
}

/// A batch job's step that never touches the registry: its inputs come from a jobs file, its outputs and their
/// whole provenance go into a folder of a staging area, which ``Butler/mergeStaged(_:)`` registers later in bulk.
///
/// The folder is `STAGING/<quantum id>/`: the outputs (`<role><ext>`, FITS outputs stamped with Rubin's `LSST BUTLER`
/// cards, ids and all), `log.txt`, and last `quantum.json` (``StagedQuantum``), written under a temporary name and
/// renamed, so that a folder with `quantum.json` is complete and one without it is a job still running (or killed
/// outright). A step that fails, or is stopped by SIGTERM or SIGINT (which are passed on to the command), leaves a
/// failed record with its exit code and log.
public enum StagedRun {
    /// The name of the staging area inside a repository folder when none is given.
    public static let defaultFolderName = "staged"

    /// Runs the step.
    /// - Throws: for problems before the command runs: a jobs file without the job, a bad name, an unusable staging
    ///   area. A failing command is a result, not an error.
    public static func execute(_ request: StagedRunRequest) throws -> StagedRunResult {
        guard let executable = request.command.first else { throw ButlerError(.invalidValue, "no command to run") }
        try Registry.validateCollectionName(request.run)
        try Butler.validateTaskLabel(request.taskLabel)
        let (header, job) = try JobsFile.job(request.job, in: request.jobsFile)
        for input in job.inputs { try Butler.validateTaskLabel(input.role, what: "input role") }
        for output in job.outputs {
            try Butler.validateTaskLabel(output.role, what: "output role")
            guard header.datasetTypes[output.datasetType] != nil else {
                throw ButlerError(.invalidValue, "\(request.jobsFile): job \(request.job): output type '\(output.datasetType)' is not in the file's dataset_types")
            }
        }
        let start = Date()
        let quantumId = DatasetIdGenerationMode.uuid7()
        var environment = request.environment
        if let code = request.codeDirectory { (environment.codeCommit, environment.codeDirty) = Butler.gitState(code) }
        let resolved = Butler.resolveExecutable(executable)
        environment.executableHash = resolved.flatMap { try? FileDatastore.measure($0, checksum: true).1 }

        // From here on a SIGTERM (scancel, a time limit) ends in a failed record, not a bare death.
        ChildProcess.installHandlers()
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: request.stagingArea, isDirectory: &isDirectory) {
            do { try FileManager.default.createDirectory(atPath: request.stagingArea, withIntermediateDirectories: true) } catch {
                throw ButlerError(.io, "cannot create the staging area \(request.stagingArea): \(error.localizedDescription)")
            }
        } else if !isDirectory.boolValue {
            throw ButlerError(.io, "staging area \(request.stagingArea) is not a folder")
        }
        let folder = URL(fileURLWithPath: absolutePath(request.stagingArea)).appendingPathComponent(quantumId.lowercasedString)
        guard mkdir(folder.path, 0o755) == 0 else {
            throw ButlerError(.io, "cannot create \(folder.path): \(String(cString: strerror(errno)))")
        }

        // Paths: inputs where the jobs file says (an object of a bucket datastore is downloaded into the folder,
        // with the credentials of the environment), outputs in the folder.
        var substitutions: [String: String] = [:]
        for (index, input) in job.inputs.enumerated() {
            // Cancelled while downloading: the rest is not fetched, and the command is not started.
            if ChildProcess.receivedSignal != 0 { break }
            if let location = URL(string: input.path), location.zipMember != nil {
                // A member of a stored Zip (`file://` or `s3://…#zip-path=MEMBER`), taken out of it.
                let local = folder.appendingPathComponent("-input-\(index)-" + location.fileName).path
                try ZipReaderCache.extract(location, to: local)
                substitutions[input.role] = local
            } else if input.path.hasPrefix("s3://") {
                let local = folder.appendingPathComponent("-input-\(index)-" + (input.path as NSString).lastPathComponent).path
                try BucketDatastore.download(uri: input.path, to: local)
                substitutions[input.role] = local
            } else {
                substitutions[input.role] = input.path
            }
        }
        var outputs: [StagedQuantum.Output] = []
        for output in job.outputs {
            let info = header.datasetTypes[output.datasetType]!
            let ext = StorageClasses.builtIn.extensions[info.storageClass].map { "." + $0 } ?? ""
            let name = output.role + ext
            substitutions[output.role] = folder.appendingPathComponent(name).path
            outputs.append(.init(role: output.role, id: DatasetIdGenerationMode.uuid7(), datasetType: output.datasetType,
                                 dataId: output.dataId, file: name, size: 0, sha256: ""))
        }
        let metricsPath = folder.appendingPathComponent("-metrics.json").path
        substitutions["metrics"] = metricsPath
        let arguments = request.command.map { argument in
            substitutions.reduce(argument) { $0.replacingOccurrences(of: "{\($1.key)}", with: $1.value) }
        }
        let logPath = folder.appendingPathComponent("log.txt").path
        let cancelledBefore = ChildProcess.receivedSignal
        let exitCode = cancelledBefore != 0 ? 128 + cancelledBefore : ChildProcess.run(resolved ?? executable, Array(arguments.dropFirst()), logPath: logPath)
        let end = Date()

        var failure: String?
        let signal = ChildProcess.receivedSignal
        if signal != 0 {
            let why = "stopped by signal \(signal) (\(signal == SIGTERM ? "SIGTERM: cancelled, or a time limit" : "SIGINT"))"
            failure = cancelledBefore != 0 ? "\(why) before \(executable) started" : "\(why); \(executable) ended with code \(exitCode)"
        } else if exitCode != 0 {
            failure = "\(executable) exited with code \(exitCode)"
        } else {
            let missing = outputs.filter { !FileManager.default.fileExists(atPath: folder.appendingPathComponent($0.file).path) }.map(\.role)
            if !missing.isEmpty { failure = "\(executable) exited 0 but did not write output(s) \(missing.joined(separator: ", "))" }
        }
        var metrics: [String: Double] = [:]
        if failure == nil, let data = FileManager.default.contents(atPath: metricsPath) {
            do { metrics = try Butler.parseMetrics(data) } catch { failure = "\(error)" }
        }
        let inputs = job.inputs.map { (id: $0.id, run: $0.run, datasetType: $0.datasetType) }
        if failure == nil {
            do {
                for i in outputs.indices {
                    let path = folder.appendingPathComponent(outputs[i].file).path
                    if FITSWriter.looksLikeFITS(path) {
                        let required = header.datasetTypes[outputs[i].datasetType]!.dimensions.compactMap { d in outputs[i].dataId[d].map { (d, $0) } }
                        try FITSWriter.stampProvenance(path, cards: HeaderProvenance.cards(
                            id: outputs[i].id, run: request.run, datasetType: outputs[i].datasetType, dataId: required, quantum: quantumId, inputs: inputs))
                    }
                    let (size, sum) = try FileDatastore.measure(path, checksum: true)
                    outputs[i].size = size
                    outputs[i].sha256 = sum ?? ""
                }
            } catch {
                failure = "cannot finish the outputs: \(error)"
            }
        }
        let status: Quantum.Status = failure == nil ? .succeeded : .failed
        let code = exitCode == 0 && failure != nil ? 1 : exitCode
        let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""

        // The log of a succeeded step becomes a `<task>_log` dataset with the first output's data ID.
        var types = header.datasetTypes.filter { t in outputs.contains { $0.datasetType == t.key } }
        if status == .succeeded {
            let logType = Butler.logDatasetType(of: request.taskLabel)
            let (size, sum) = try FileDatastore.measure(logPath, checksum: true)
            let dims = outputs.first.map { header.datasetTypes[$0.datasetType]!.dimensions } ?? []
            types[logType] = JobsFile.TypeInfo(storageClass: "TextFile", dimensions: dims)
            outputs.append(.init(role: "log", id: DatasetIdGenerationMode.uuid7(), datasetType: logType,
                                 dataId: outputs.first?.dataId ?? job.dataId.filter { dims.contains($0.key) }, file: "log.txt", size: size, sha256: sum ?? ""))
        } else {
            outputs = []
        }
        let configs = request.configs.map { config in
            String(data: config.content, encoding: .utf8).map { ProvenanceBundle.Config(hash: config.hash, format: config.format, content: $0, encoding: nil) }
                ?? ProvenanceBundle.Config(hash: config.hash, format: config.format, content: config.content.base64EncodedString(), encoding: "base64")
        }
        var quantum = Quantum(taskLabel: request.taskLabel, run: request.run, configs: request.configs, parameters: request.parameters)
        quantum.id = quantumId
        let template = CommandTemplate(command: request.command, configs: request.configs)
        let step = ProvenanceBundle.Step(
            id: quantumId, taskLabel: request.taskLabel, run: request.run,
            dataId: job.dataId.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","),
            host: Quantum.hostName, userName: Quantum.userName, command: shellQuoted(arguments),
            startTime: Registry.taiNanoseconds(start), endTime: Registry.taiNanoseconds(end), status: status.rawValue, exitCode: Int(code),
            environmentId: environment.id, configDigest: quantum.configDigest,
            logDatasetId: outputs.last { $0.role == "log" }?.id, logText: status == .failed ? Butler.logTail(log).replacingOccurrences(of: "\u{0}", with: "\u{FFFD}") : nil,
            configs: Dictionary(request.configs.map { ($0.name, $0.hash) }, uniquingKeysWith: { a, _ in a }), parameters: request.parameters,
            inputs: job.inputs.map { .init(datasetId: $0.id, role: $0.role) }, outputs: outputs.map { .init(datasetId: $0.id, role: $0.role) },
            commandTemplate: template.arguments, commandDirectory: template.directory)
        let record = StagedQuantum(
            job: request.job, jobsFile: absolutePath(request.jobsFile), step: step,
            environment: .init(id: environment.id, codeCommit: environment.codeCommit, codeDirty: environment.codeDirty,
                               executableHash: environment.executableHash, packages: environment.packages),
            configs: configs, failure: failure, metrics: metrics, inputs: job.inputs, outputs: outputs, datasetTypes: types)
        // Written last, under a temporary name, then renamed: a folder with quantum.json is complete.
        let temporary = folder.appendingPathComponent(".\(StagedQuantum.fileName).tmp")
        do {
            try record.encoded().write(to: temporary)
            guard rename(temporary.path, folder.appendingPathComponent(StagedQuantum.fileName).path) == 0 else {
                throw ButlerError(.io, String(cString: strerror(errno)))
            }
        } catch {
            throw ButlerError(.io, "cannot write the record of job \(request.job) in \(folder.path): \(error)")
        }
        return StagedRunResult(quantumId: quantumId, status: status, exitCode: code, failure: failure, folder: folder.path,
                               outputIds: outputs.map(\.id))
    }
}
