import ArgumentParser
import ButlerKit
import Foundation

extension ButlerCommand {
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run one step and record it: inputs, outputs, log, code versions and configs.",
            discussion: """
                {ROLE} in the command's arguments becomes the input's file path, or a fresh path the command must write \
                for an output. The command runs directly (no shell). When it exits 0 and wrote every output, the outputs \
                are stored with full provenance; otherwise a failed quantum is recorded with its log and exit code, no \
                output is registered, and butler exits with the command's exit code. Example:
                  butler run REPO --run u/me/isr --task isr --input raw=raw:instrument=LATISS,detector=0,exposure=2023032100053 \\
                    --collections LATISS/raw/all --output out=postISRCCD:instrument=LATISS,detector=0,exposure=2023032100053 \\
                    --config isr.yaml -- ./isr {raw} {out}
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Option(name: .customLong("run"), help: "RUN collection of the outputs (created when missing).") var outputRun: String
        @OptionGroup var provenance: ProvenanceOptions
        @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Output the step writes, as ROLE=TYPE:key=value,... (repeatable).", valueName: "output"))
        var output: [String] = []
        @Option(name: .long, help: ArgumentHelp("Source tree whose git commit and dirty state are recorded.", valueName: "dir")) var code: String?
        @Flag(name: .long, help: "Do nothing when every output already exists in the run (re-running a batch after a crash).") var skipExisting = false
        @Argument(parsing: .postTerminator, help: ArgumentHelp("The command and its arguments, after --.", valueName: "command")) var command: [String] = []
        @OptionGroup var format: FormatOption

        func validate() throws {
            if command.isEmpty { throw ValidationError("give the command after --") }
            if provenance.task == nil { throw ValidationError("--task is required") }
            for item in output where Butler.parseInput(item).role == nil {
                throw ValidationError("--output takes ROLE=TYPE:key=value,..., not '\(item)'")
            }
        }

        func run() throws {
            let butler = try Butler(repository: repository.repo)
            var request = RunRequest(run: outputRun, taskLabel: provenance.task!, command: command)
            try provenance.apply(to: &request)
            request.outputs = output.map { let p = Butler.parseInput($0); return (p.role!, p.dataset) }
            request.codeDirectory = code
            request.skipExisting = skipExisting
            let result = try butler.run(request)
            if format.format == .json {
                emit("{\"quantum\": \(jsonString(result.quantumId.lowercasedString)), \"status\": \(jsonString(result.status.rawValue)), "
                     + "\"exit_code\": \(result.exitCode), \"outputs\": [\(result.outputs.map { jsonString($0.id.lowercasedString) }.joined(separator: ", "))]}\n")
            } else {
                emit("Quantum \(result.quantumId.lowercasedString) \(result.status.rawValue): \(result.outputs.count) output(s)\n")
            }
            if let failure = result.failure {
                throw CommandFailure(message: failure, exitCode: result.exitCode == 0 ? 1 : result.exitCode)
            }
        }
    }
}
