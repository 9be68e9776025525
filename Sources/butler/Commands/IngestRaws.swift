import ArgumentParser
import ButlerKit
import Foundation

/// Parses a transfer mode argument.
func transferModeArgument(_ text: String) throws -> TransferMode {
    guard let mode = TransferMode(rawValue: text.lowercased()) else {
        throw ValidationError("unknown transfer mode '\(text)': expected \(TransferMode.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return mode
}

extension ButlerCommand {
    struct IngestRaws: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ingest-raws",
            abstract: "Ingest raw FITS files: read their headers, create exposure, day_obs and group records, store the files.",
            discussion: """
                LOCATIONS are files or folders (searched recursively for names matching --regex). Headers are translated \
                by the built-in LATISS, LSSTCam, LSSTComCam, DECam, HSC and MegaPrime translators, or by a camera \
                registered from YAML with register-instrument; built-in instruments are registered on first use. \
                Each detector becomes a `raw` dataset with Rubin's DATAID_TYPE_RUN id in the run <INSTRUMENT>/raw/all \
                unless --output-run is given. Re-running the same ingest adds nothing. Bad files are reported one per \
                line on stderr; the good ones are ingested; the exit code is 1 when any file failed.
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Argument(help: ArgumentHelp("Raw files or folders.", valueName: "locations")) var locations: [String]
        @Option(name: .long, help: "RUN collection to ingest into (default <INSTRUMENT>/raw/all).") var outputRun: String?
        @Option(name: [.customShort("t"), .long], help: "Transfer mode: auto (default), copy, move, link, hardlink, symlink, relsymlink or direct.", transform: transferModeArgument)
        var transfer: TransferMode?
        @Option(name: [.customShort("j"), .long], help: "Files processed in parallel (default: the number of cores).") var processes: Int?
        @Option(name: [.customShort("C"), .long], help: ArgumentHelp(
            "Raw ingest config overrides, as Rubin's (config.transfer = \"copy\", config.failFast = True; or YAML transfer: copy); options given here win.",
            valueName: "file"))
        var configFile: String?
        @Option(name: .long, help: "Regular expression that file names in folders must match.") var regex: String = #"\.fit[s]?\b"#
        @Flag(name: .long, inversion: .prefixedNo, help: "Skip files already ingested (default); otherwise they are errors.") var skipExisting = true
        @Flag(name: .long, help: "Stop at the first bad file; nothing from it is registered.") var failFast = false
        @Flag(name: .long, inversion: .prefixedNo, help: "Record each file's size and SHA-256 checksum (default).") var trackFileAttrs = true
        @Flag(name: .long, inversion: .prefixedNo, help: "Show a progress bar on a terminal (default: when stderr is a terminal).") var progress = true
        @OptionGroup var output: FormatOption

        func validate() throws {
            if let processes, processes < 1 { throw ValidationError("--processes must be at least 1") }
            if locations.isEmpty { throw ValidationError("give at least one file or folder") }
        }

        func run() throws {
            let butler = try Butler(repository: repository.repo)
            var options = RawIngestOptions()
            if let configFile { try options.applyConfigFile(configFile) }
            options.run = outputRun
            if let transfer { options.transfer = transfer }
            if let processes { options.processes = processes }
            options.pattern = regex
            options.skipExisting = skipExisting
            if failFast { options.failFast = true }
            options.trackFileAttributes = trackFileAttrs
            options.collectDatasetIds = false
            let bar = ProgressBar(unit: "files", enabled: progress)
            options.progress = { done, total in bar.update(done, of: total) }
            let report = try butler.ingestRaws(locations, options: options)
            bar.finish()
            for warning in report.warnings { writeStandardError("butler: warning: \(warning)\n") }
            for failure in report.failures { writeStandardError("butler: error: \(failure)\n") }
            switch output.format {
            case .json:
                emit("{\"files\": \(report.files), \"ingested\": \(report.ingested), \"ingested_files\": \(report.ingestedFiles), "
                     + "\"skipped\": \(report.skippedFiles), \"registered_concurrently\": \(report.concurrentlyRegisteredFiles), \"failed\": \(report.failures.count), "
                     + "\"runs\": [\(report.runs.sorted().map(jsonString).joined(separator: ", "))], "
                     + "\"failures\": [\(report.failures.map(jsonString).joined(separator: ", "))], "
                     + "\"warnings\": [\(report.warnings.map(jsonString).joined(separator: ", "))]}\n")
            default:
                let concurrent = report.concurrentlyRegisteredFiles > 0
                    ? " (\(report.concurrentlyRegisteredFiles) of them by another process during this ingest)" : ""
                emit("Ingested \(report.ingested) dataset(s) from \(report.files) file(s): \(report.ingestedFiles) ingested, "
                     + "\(report.skippedFiles) already registered\(concurrent), \(report.failures.count) failed"
                     + (report.runs.isEmpty ? "" : "; run(s): \(report.runs.sorted().joined(separator: ", "))")
                     + (report.stoppedEarly ? " (stopped at the first failure)" : "") + "\n")
            }
            if !report.failures.isEmpty { throw CommandFailure(exitCode: 1) }
        }
    }

    struct RegisterInstrument: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "register-instrument",
            abstract: "Register an instrument with its detectors and physical filters (with bands).",
            discussion: """
                INSTRUMENT is a built-in camera (LATISS, LSSTCam, LSSTComCam, DECam, HSC, MegaPrime), by name or by \
                Rubin's class name (lsst.obs.lsst.Latiss, lsst.obs.lsst.LsstCam, lsst.obs.lsst.LsstComCam, \
                lsst.obs.decam.DarkEnergyCamera, lsst.obs.subaru.HyperSuprimeCam, lsst.obs.cfht.MegaPrime), or a YAML file that \
                describes another camera, including how to read its headers (see the README). Registering the same \
                definition again changes nothing.
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Argument(help: ArgumentHelp("Built-in instrument name, Rubin class name or YAML definition file.", valueName: "instrument")) var instruments: [String]
        @Flag(name: .long, help: "Update records that differ from the definition instead of failing.") var update = false

        func run() throws {
            let butler = try Butler(repository: repository.repo)
            for instrument in instruments {
                let definition = try butler.registerInstrument(instrument, update: update)
                emit("Registered instrument \(definition.name): \(definition.detectors.count) detector(s), \(definition.filters.count) physical filter(s)\n")
            }
        }
    }
}

