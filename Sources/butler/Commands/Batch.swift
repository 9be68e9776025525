import ArgumentParser
import ButlerKit
import Foundation

extension ButlerCommand {
    struct ResolveInputs: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "resolve-inputs",
            abstract: "Resolve the inputs of many batch jobs at once and write them to a jobs file, so the jobs never open the registry.",
            discussion: """
                One job per dataset of the first --input's type found in --collections (with --where), numbered from 1 \
                in data ID order; each other input is looked up with the job's data ID (calibrations by its observation \
                time), and each output gets the job's data ID cut to its type's dimensions. A job whose inputs cannot all \
                be found is reported on one line and left out (the exit code is then 1). Each job then runs with
                  butler run REPO --jobs FILE --job N --run RUN --task TASK -- COMMAND {ROLE}...
                Example:
                  butler resolve-inputs REPO jobs.jsonl --input raw=raw --input bias=bias --input flat=flat \\
                    --output postISRCCD=postISRCCD --collections LSSTCam/defaults --where "instrument = 'LSSTCam'"
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Argument(help: ArgumentHelp("The jobs file to write (JSON Lines).", valueName: "jobs-file")) var jobsFile: String
        @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Input as ROLE=DATASET_TYPE (repeatable; the first defines the jobs).", valueName: "role=type"))
        var input: [String] = []
        @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Output as ROLE=DATASET_TYPE (repeatable).", valueName: "role=type"))
        var output: [String] = []
        @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Collections to search, in order (comma-separated or repeated).", valueName: "collections"))
        var collections: [String] = []
        @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Constraint on the first input's datasets, in Rubin's expression language.", valueName: "expression"))
        var `where`: String = ""
        @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Value for :name in --where (repeatable).", valueName: "name=value"))
        var bind: [String] = []
        @OptionGroup var format: FormatOption

        func validate() throws {
            if input.isEmpty { throw ValidationError("give at least one --input ROLE=DATASET_TYPE") }
            if collections.isEmpty { throw ValidationError("give --collections to search") }
            for item in input + output where Butler.parseInput(item).role == nil {
                throw ValidationError("--input and --output take ROLE=DATASET_TYPE, not '\(item)'")
            }
        }

        func run() throws {
            let butler = try Butler(repository: repository.repo)
            let roles = { (items: [String]) in items.map { let p = Butler.parseInput($0); return (role: p.role!, datasetType: p.dataset) } }
            var request = JobsRequest(inputs: roles(input),
                                      collections: collections.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }.filter { !$0.isEmpty })
            request.outputs = roles(output)
            request.where = `where`
            for item in bind {
                let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                guard parts.count == 2, !parts[0].isEmpty else { throw ValidationError("--bind takes name=value, not '\(item)'") }
                request.binds[parts[0]] = try BindValue.parse(parts[1])
            }
            var skipped = 0
            let count = try butler.resolveJobs(request, to: jobsFile) { line in
                skipped += 1
                writeStandardError("butler: \(line)\n")
            }
            if format.format == .json {
                emit("{\"jobs\": \(count), \"skipped\": \(skipped), \"file\": \(jsonString(jobsFile))}\n")
            } else {
                emit("Wrote \(count) job\(count == 1 ? "" : "s") to \(jobsFile)\(skipped > 0 ? " (\(skipped) left out)" : "")\n")
            }
            if skipped > 0 { throw CommandFailure(message: "\(skipped) job(s) left out: inputs not found", exitCode: 1) }
        }
    }

    struct MergeStaged: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "merge-staged",
            abstract: "Register everything staged runs left in a staging area: datasets, files, and every step's provenance.",
            discussion: """
                Takes the complete records (folders with quantum.json) and leaves the rest, so it can run while jobs \
                are still finishing; registers them in batches (one transaction each), hard-linking the files into the \
                datastore (copying across file systems) and checking each against the SHA-256 its job measured; removes \
                each merged folder. It can be stopped at any moment and run again; running it again adds nothing. \
                Duplicates (a job that ran twice): an output goes to the record registered first (within a batch, the \
                succeeded one that ended first); the others are moved to STAGING/duplicates and reported. A bad record \
                is reported on one line naming its file and why, and left in place; the merge goes on and exits 1 \
                (duplicates alone do not make it fail). Every record is checked as `butler record` checks a quantum \
                (exit code, times, data ID, metric names, NUL characters, inputs), and its output ids must be new. \
                Merges of one staging area take turns (STAGING/.merge.lock). Links are never followed: a staging area \
                that is a symbolic link is refused, a record folder or output file that is one is reported and left, \
                and a file with another name outside its folder is copied, not hard-linked. \
                Failed steps are registered as failed steps (exit code, log); the jobs that failed are listed in Slurm \
                --array syntax for re-submission.
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Option(name: .long, help: ArgumentHelp("The staging area (default: REPO/staged).", valueName: "dir")) var staging: String?
        @Option(name: .long, help: ArgumentHelp("Records per transaction (memory stays bounded by it).", valueName: "n")) var batchSize = 2000
        @OptionGroup var format: FormatOption

        func validate() throws {
            if batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
        }

        func run() throws {
            let butler = try Butler(repository: repository.repo)
            var options = MergeOptions(stagingArea: staging ?? URL(fileURLWithPath: repository.repo).appendingPathComponent(StagedRun.defaultFolderName).path)
            options.batchSize = batchSize
            let bar = ProgressBar(unit: "folders")
            options.progress = bar.report
            let summary = try butler.mergeStaged(options) { line in
                bar.finish()  // a reported record on a line of its own; the bar goes on below it
                writeStandardError("butler: \(line)\n")
            }
            bar.finish()
            let failed = summary.failedJobs.sorted { $0.key < $1.key }
            if format.format == .json {
                let jobs = failed.map { "\(jsonString($0.key)): [\($0.value.map(String.init).joined(separator: ", "))]" }.joined(separator: ", ")
                emit("{\"steps\": \(summary.steps), \"succeeded\": \(summary.succeeded), \"failed\": \(summary.failed), \"datasets\": \(summary.datasets), "
                     + "\"already_merged\": \(summary.alreadyMerged), \"incomplete\": \(summary.incomplete), \"duplicates\": \(summary.duplicates), "
                     + "\"rejected\": \(summary.rejected), \"failed_jobs\": {\(jobs)}}\n")
            } else {
                emit("Merged \(summary.steps) step(s): \(summary.succeeded) succeeded, \(summary.failed) failed; \(summary.datasets) dataset(s)\n")
                if summary.alreadyMerged > 0 { emit("\(summary.alreadyMerged) record(s) were merged before (folders removed)\n") }
                if summary.incomplete > 0 { emit("\(summary.incomplete) folder(s) without a record yet (jobs still running?), left for later\n") }
                if summary.duplicates > 0 { emit("\(summary.duplicates) duplicate record(s) set aside, not registered\n") }
                if summary.rejected > 0 { emit("\(summary.rejected) record(s) rejected, left in place\n") }
                for (file, jobs) in failed { emit("Failed jobs of \(file): \(Butler.arraySpec(jobs))\n") }
            }
            // Duplicates are resolved (and reported); rejected records are errors.
            if summary.rejected > 0 {
                throw CommandFailure(message: "\(summary.rejected) record(s) rejected, not merged", exitCode: 1)
            }
        }
    }
}
