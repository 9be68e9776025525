import ArgumentParser
import ButlerKit
import Foundation

/// Options that describe how an output was made, shared by put and run.
struct ProvenanceOptions: ParsableArguments {
    @Option(name: .long, help: "The step (task label) that made the output.") var task: String?
    @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Input dataset, as [ROLE=]UUID or [ROLE=]TYPE:key=value,... (repeatable).", valueName: "input"))
    var input: [String] = []
    @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Collections searched for inputs named by data ID.", valueName: "collections"))
    var collections: [String] = []
    @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Config file of the step (repeatable); stored by content.", valueName: "file"))
    var config: [String] = []
    @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Parameter of the step (repeatable).", valueName: "key=value")) var param: [String] = []
    @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Software version (repeatable).", valueName: "name=version")) var package: [String] = []
    @Option(name: .long, help: ArgumentHelp("Read package versions from pip freeze output, a conda environment.yml or 'name version' lines.", valueName: "file"))
    var packagesFrom: String?

    func apply(to request: inout PutRequest) throws {
        request.taskLabel = task
        request.inputs = input.map(Butler.parseInput)
        request.collections = collections
        request.configs = try config.map { try ConfigFile(contentsOf: $0) }
        request.parameters = try pairs(param, "--param")
        request.environment = try environment()
        request.command = shellQuoted(CommandLine.arguments)
    }

    func apply(to request: inout RunRequest) throws {
        request.inputs = input.map(Butler.parseInput)
        request.collections = collections
        request.configs = try config.map { try ConfigFile(contentsOf: $0) }
        request.parameters = try pairs(param, "--param")
        request.environment = try environment()
    }

    /// The software environment from --packages-from and --package.
    func environment() throws -> SoftwareEnvironment {
        var packages: [String: String] = [:]
        if let packagesFrom {
            let text: String
            do { text = try String(contentsOfFile: packagesFrom, encoding: .utf8) } catch {
                throw ButlerError(.io, "cannot read \(packagesFrom): \(error.localizedDescription)")
            }
            packages = try SoftwareEnvironment.parsePackages(text, source: packagesFrom)
        }
        for (k, v) in try pairs(package, "--package") { packages[k] = v }
        return SoftwareEnvironment(packages: packages)
    }
}

/// `key=value` items as a dictionary; a bad item is a usage error naming the option.
func pairs(_ items: [String], _ option: String) throws -> [String: String] {
    var result: [String: String] = [:]
    for item in items {
        let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty else { throw ValidationError("\(option) takes key=value, not '\(item)'") }
        result[parts[0]] = parts[1]
    }
    return result
}

extension ButlerCommand {
    struct Put: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a file made elsewhere as a new dataset, with how it was made (step, inputs, configs, software, metrics).",
            discussion: "Prints the new dataset id. Inputs must be in the registry; a step's config must match what it used before in the same run.")

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Argument(help: ArgumentHelp("The file to store.", valueName: "file")) var file: String
        @Option(name: .customLong("run"), help: "RUN collection of the new dataset (created when missing).") var outputRun: String
        @Option(name: .long, help: "Dataset type of the new dataset.") var datasetType: String
        @Option(name: .long, help: ArgumentHelp("Data ID of the new dataset.", valueName: "k=v,...")) var dataId: String
        @OptionGroup var provenance: ProvenanceOptions
        @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("QA metric of the new dataset (repeatable).", valueName: "name=value")) var metric: [String] = []
        @Option(name: [.customShort("t"), .long], help: "Transfer mode: copy (default), move, link, hardlink, symlink, relsymlink or direct.", transform: transferModeArgument)
        var transfer: TransferMode = .copy
        @OptionGroup var output: FormatOption

        func run() throws {
            let butler = try Butler(repository: repository.repo)
            var request = PutRequest(file: file, run: outputRun, datasetType: datasetType, dataId: try parseDataIDString(dataId))
            try provenance.apply(to: &request)
            request.transfer = transfer
            for (name, text) in try pairs(metric, "--metric") {
                guard let value = Double(text) else { throw ValidationError("--metric \(name)=\(text): the value is not a number") }
                request.metrics[name] = value
            }
            let ref = try butler.put(request)
            if output.format == .json {
                emit("{\"id\": \(jsonString(ref.id.lowercasedString)), \"dataset_type\": \(jsonString(ref.datasetType.name)), \"run\": \(jsonString(ref.run))}\n")
            } else {
                emit(ref.id.lowercasedString + "\n")
            }
        }
    }
}
