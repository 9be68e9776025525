import ArgumentParser
import ButlerKit
import Foundation

/// Parses an id generation mode argument.
func idModeArgument(_ text: String) throws -> DatasetIdGenerationMode {
    guard let mode = DatasetIdGenerationMode(rawValue: text.uppercased()) else {
        throw ValidationError("unknown id generation mode '\(text)': expected UNIQUE, DATAID_TYPE or DATAID_TYPE_RUN")
    }
    return mode
}

extension ButlerCommand {
    struct IngestFiles: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ingest-files",
            abstract: "Ingest files listed in a CSV table as datasets of an existing dataset type.",
            discussion: """
                TABLE is a CSV file with a header row: the first column is the file, the other columns are dimensions \
                (their values form each file's data ID). Rows that share a file become several datasets of that one file. \
                Dimension records must exist already. Bad rows are reported one per line and the others ingested.
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Argument(help: ArgumentHelp("Dataset type of the files.", valueName: "dataset-type")) var datasetType: String
        @Argument(help: ArgumentHelp("RUN collection to ingest into (created when missing).", valueName: "run")) var outputRun: String
        @Argument(help: ArgumentHelp("CSV table of files and data IDs.", valueName: "table")) var table: String
        @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Data ID values for every row (k=v,...), overriding the table.", valueName: "k=v,..."))
        var dataId: [String] = []
        @Option(name: .long, help: "Folder that relative file paths are resolved against (default: the current folder).") var prefix: String?
        @Option(name: [.customShort("t"), .long], help: "Transfer mode: auto, copy, move, link, hardlink, symlink, relsymlink or direct.", transform: transferModeArgument)
        var transfer: TransferMode = .auto
        @Option(name: .long, help: "Dataset id mode: UNIQUE, DATAID_TYPE or DATAID_TYPE_RUN.", transform: idModeArgument)
        var idGenerationMode: DatasetIdGenerationMode = .unique
        @Flag(name: .long, inversion: .prefixedNo, help: "Record each file's size and SHA-256 checksum (default).") var trackFileAttrs = true
        @Option(name: .long, help: ArgumentHelp("Fully-qualified Python formatter class recorded for every file, as Rubin's (default: the storage class's).", valueName: "class"))
        var formatter: String?

        func run() throws {
            let butler = try Butler(repository: repository.repo)
            var fixed: [String: String] = [:]
            for item in dataId { for (k, v) in try parseDataIDString(item) { fixed[k] = v } }
            let report = try butler.ingestFiles(datasetType: datasetType, run: outputRun, table: table, dataId: fixed, prefix: prefix,
                                                transfer: transfer, idGenerationMode: idGenerationMode, trackFileAttributes: trackFileAttrs,
                                                formatter: formatter)
            for failure in report.failures { writeStandardError("butler: error: \(failure)\n") }
            emit("Ingested \(report.ingested) dataset(s) from \(report.files) file(s) into \(outputRun): \(report.failures.count) failed\n")
            if !report.failures.isEmpty { throw CommandFailure(exitCode: 1) }
        }
    }

    struct DefineVisits: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "define-visits",
            abstract: "Define one visit per science exposure of an instrument (visit, visit_definition and visit_system_membership records).",
            discussion: """
                Exposures that already belong to a visit are left alone, so running it again defines only new exposures. \
                --where selects exposures as in Rubin's define-visits ("exposure.day_obs = 20250609 AND exposure.seq_num < 100"); \
                with --exposures too, an exposure must satisfy both.
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Argument(help: ArgumentHelp("Instrument name.", valueName: "instrument")) var instrument: String
        @Option(name: .long, help: "Only these exposures: comma-separated ids.") var exposures: String?
        @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Only the exposures this expression selects (Rubin's expression language).", valueName: "expression"))
        var `where`: String = ""
        @Option(name: .long, parsing: .singleValue, help: ArgumentHelp(
            "Accepted as in Rubin's define-visits, where it names the collections holding the camera geometry; ours comes from the instrument definition.",
            valueName: "collections"))
        var collections: [String] = []

        func run() throws {
            let butler = try Butler(repository: repository.repo)
            var only: Set<Int>?
            if let exposures {
                only = Set(try exposures.split(separator: ",").map { text -> Int in
                    guard let v = Int(text.trimmingCharacters(in: .whitespaces)) else {
                        throw ValidationError("--exposures takes integer exposure ids, not '\(text)'")
                    }
                    return v
                })
            }
            if !`where`.isEmpty {
                var query = DimensionQuery()
                query.where = "instrument = :define_visits_instrument AND (\(`where`))"
                query.binds = ["define_visits_instrument": .string(instrument)]
                let selected = Set(try butler.registry.queryDimensionRecords("exposure", query).compactMap { record -> Int? in
                    if case .int(let id)? = record["id"] { return id }
                    return nil
                })
                only = only.map { $0.intersection(selected) } ?? selected
            }
            let bar = ProgressBar(unit: "exposures")
            let visits = try butler.registry.defineVisits(instrument: instrument, exposures: only, progress: bar.report)
            bar.finish()
            emit("Defined \(visits.count) visit(s) for \(instrument)\n")
        }
    }
}
