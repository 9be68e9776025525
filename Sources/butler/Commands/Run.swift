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

                Staged (batch jobs): with --jobs FILE --job N the run opens no registry at all. Inputs and outputs come \
                from job N of a jobs file written by resolve-inputs; the outputs, the log and the step's whole provenance \
                go into a folder of the staging area (--staging, by default REPO/staged), which merge-staged registers \
                later. A failed or cancelled (SIGTERM) step leaves a failed record there too. Example, in a Slurm job \
                script:
                  butler run REPO --jobs jobs.jsonl --job $SLURM_ARRAY_TASK_ID --run u/me/isr --task isr \\
                    --config isr.yaml -- ./isr {raw} {bias} {flat} {postISRCCD} {metrics}
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Option(name: .customLong("run"), help: "RUN collection of the outputs (created when missing).") var outputRun: String
        @OptionGroup var provenance: ProvenanceOptions
        @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Output the step writes, as ROLE=TYPE:key=value,... (repeatable).", valueName: "output"))
        var output: [String] = []
        @Option(name: .long, help: ArgumentHelp("Source tree whose git commit and dirty state are recorded.", valueName: "dir")) var code: String?
        @Flag(name: .long, help: "Do nothing when every output already exists in the run (re-running a batch after a crash).") var skipExisting = false
        @Option(name: .long, help: ArgumentHelp("Staged run: the jobs file (from resolve-inputs) that gives this job's inputs and outputs.", valueName: "file"))
        var jobs: String?
        @Option(name: .long, help: ArgumentHelp("Staged run: the job's number in the jobs file (from 1; a Slurm array index).", valueName: "n")) var job: Int?
        @Option(name: .long, help: ArgumentHelp("Staged run: the staging area (default: REPO/staged).", valueName: "dir")) var staging: String?
        @Argument(parsing: .postTerminator, help: ArgumentHelp("The command and its arguments, after --.", valueName: "command")) var command: [String] = []
        @OptionGroup var format: FormatOption

        func validate() throws {
            if command.isEmpty { throw ValidationError("give the command after --") }
            if provenance.task == nil { throw ValidationError("--task is required") }
            if (jobs == nil) != (job == nil) { throw ValidationError("--jobs and --job go together") }
            if jobs != nil {
                if !provenance.input.isEmpty || !output.isEmpty || !provenance.collections.isEmpty {
                    throw ValidationError("a staged run (--jobs) takes its inputs and outputs from the jobs file: drop --input, --output and --collections")
                }
                if skipExisting { throw ValidationError("--skip-existing needs the registry; a staged run never reads it") }
            } else if staging != nil {
                throw ValidationError("--staging is for a staged run (--jobs FILE --job N)")
            }
            for item in output where Butler.parseInput(item).role == nil {
                throw ValidationError("--output takes ROLE=TYPE:key=value,..., not '\(item)'")
            }
        }

        func run() throws {
            if let jobs, let job { return try runStaged(jobs: jobs, job: job) }
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

        /// The staged run: no registry, only the jobs file and the staging area.
        private func runStaged(jobs: String, job: Int) throws {
            var request = StagedRunRequest(jobsFile: jobs, job: job, run: outputRun, taskLabel: provenance.task!,
                                           stagingArea: staging ?? URL(fileURLWithPath: repository.repo).appendingPathComponent(StagedRun.defaultFolderName).path,
                                           command: command)
            request.configs = try provenance.config.map { try ConfigFile(contentsOf: $0) }
            request.parameters = try pairs(provenance.param, "--param")
            request.environment = try provenance.environment()
            request.codeDirectory = code
            let result = try StagedRun.execute(request)
            if format.format == .json {
                emit("{\"quantum\": \(jsonString(result.quantumId.lowercasedString)), \"status\": \(jsonString(result.status.rawValue)), "
                     + "\"exit_code\": \(result.exitCode), \"staged\": \(jsonString(result.folder))}\n")
            } else {
                emit("Quantum \(result.quantumId.lowercasedString) \(result.status.rawValue), staged in \(result.folder)\n")
            }
            if let failure = result.failure {
                throw CommandFailure(message: failure, exitCode: result.exitCode == 0 ? 1 : result.exitCode)
            }
        }
    }
}
