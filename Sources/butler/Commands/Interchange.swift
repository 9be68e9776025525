import ArgumentParser
import ButlerKit
import Foundation

/// Which datasets an export or a transfer carries: dataset types (positional, as Rubin's), collections, `--where`,
/// find-first and the provenance selection.
struct ExportSelection: ParsableArguments {
    @Argument(help: ArgumentHelp("Dataset type names or globs (all when none).", valueName: "dataset-type")) var datasetTypes: [String] = []
    @Option(name: [.customShort("d"), .customLong("dataset-type")], parsing: .singleValue,
            help: ArgumentHelp("Dataset type names or globs, as Rubin's transfer-datasets (comma-separated or repeated; added to the positional ones).", valueName: "type"))
    var datasetTypeOptions: [String] = []
    @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Collections to search and carry (names or globs; comma-separated or repeated; all when none). Chains go with all their children, tags and validity ranges with the exported datasets.", valueName: "collections"))
    var collections: [String] = []
    @OptionGroup var query: WhereOptions
    @Flag(name: .long, inversion: .prefixedNo, help: "For each data ID, only the dataset from the first collection in search order.") var findFirst = false
    @OptionGroup(title: "Selection by provenance") var provenance: ProvenanceSelectionOptions
    @Flag(name: .long, inversion: .prefixedNo, help: "Carry the datasets' provenance (steps, inputs with roles, environments, configs, parameters, metrics, logs, tombstones, copies). On by default.")
    var withProvenance = true

    func request(_ butler: Butler) throws -> ExportRequest {
        var request = ExportRequest()
        request.query.datasetTypes = datasetTypes + datasetTypeOptions.flatMap { $0.split(separator: ",").map(String.init) }
        request.query.collections = collections
        request.query.findFirst = findFirst
        try query.apply(to: &request.query)
        request.query.provenance = try provenance.selection(butler, collections: collections)
        request.withProvenance = withProvenance
        return request
    }
}

/// Parses an export transfer mode: a datastore transfer mode, or `none` for no files.
func exportTransferArgument(_ text: String) throws -> TransferMode? {
    if text == "none" { return nil }
    let mode = try transferModeArgument(text)
    guard [.copy, .link, .hardlink, .symlink, .auto].contains(mode) else {
        throw ValidationError("export transfer mode '\(text)': expected copy, link, hardlink, symlink or none (an export never moves files out of a repository)")
    }
    return mode
}

func describe(_ report: ImportReport, verb: String) -> String {
    let bytes = report.bytes == 0 ? "0 bytes" : ByteCountFormatter.string(fromByteCount: report.bytes, countStyle: .file)
    var text = "\(report.dryRun ? "Would have \(verb.lowercased())" : verb) \(report.datasets) dataset(s) "
        + (report.registryOnly ? "in the registry only (no files)" : "in \(report.files) file(s) (\(bytes))")
    if report.alreadyPresent > 0 { text += "; \(report.alreadyPresent) already here, left alone" }
    var made: [String] = []
    if !report.datasetTypes.isEmpty { made.append("\(report.datasetTypes.count) dataset type(s)") }
    if !report.collections.isEmpty { made.append("\(report.collections.count) collection(s)") }
    if report.dimensionRecords > 0 { made.append("\(report.dimensionRecords) dimension record(s)") }
    if report.steps > 0 { made.append("provenance of \(report.steps) step(s)") }
    if !made.isEmpty { text += "; with " + made.joined(separator: ", ") }
    return text + "\n"
}

extension ButlerCommand {
    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the datasets a query finds to a directory in Rubin's export format, with their provenance beside it.",
            discussion: """
                DIRECTORY gets export.yaml (Rubin's format 1.0.2: dimension records, RUN/TAGGED/CHAINED/CALIBRATION collections with \
                chains, tags and validity ranges, dataset types, datasets with ids, data IDs, paths and formatters, plus each file's size \
                and checksum, which Rubin ignores), the files under their datastore paths, and butler_provenance.json (how each dataset \
                was made; see the README). Rubin's `butler import` reads the directory; so does ours. DIRECTORY must not exist or be \
                empty; nothing is left of a failed export.
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Argument(help: ArgumentHelp("Directory to write.", valueName: "directory")) var directory: String
        @OptionGroup var selection: ExportSelection
        @Option(name: [.customShort("t"), .long], help: "How files get into DIRECTORY: copy (default), link, hardlink, symlink, or none.", transform: exportTransferArgument)
        var transfer: TransferMode? = .copy
        @Flag(name: .long, help: "Write one Zip in Rubin's format into DIRECTORY instead (as retrieve-artifacts --zip; collections other than RUNs do not go).")
        var zip = false

        func run() throws {
            if !zip { try Butler.checkExportDirectory(directory) }
            let butler = try Butler(repository: repository.repo)
            let contents = try butler.exportContents(try selection.request(butler))
            if zip {
                let bar = ProgressBar(unit: "files")
                let url = try butler.writeZip(contents, into: directory, progress: bar.report)
                bar.finish()
                emit("Zip file written to \(url.path)\n")
                return
            }
            let bar = ProgressBar(unit: "files")
            let files = try butler.export(contents, to: directory, transfer: transfer, progress: bar.report)
            bar.finish()
            let count = contents.datasets.reduce(0) { $0 + $1.files.reduce(0) { $0 + $1.refs.count } }
            emit("Exported \(count) dataset(s), \(contents.collections.count) collection(s) and \(files) file(s) to \(directory)"
                 + (contents.provenance.map { " with the provenance of \($0.steps.count) step(s)" } ?? "") + "\n")
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import",
            abstract: "Import an export directory (ours or Rubin's Butler.export, format 1.0.x) into a repository, keeping dataset ids.",
            discussion: """
                Reads DIRECTORY/export.yaml and butler_provenance.json when present. One registry transaction: a refused import writes \
                nothing. Datasets already here with the same id, type, run and data ID are left alone, so importing twice adds nothing; \
                the same id with other content, or the same data ID in a RUN under another id, is a conflict naming both. Files are \
                placed under this repository's file template and checked against the size and checksum the export recorded.
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Argument(help: ArgumentHelp("Export directory.", valueName: "directory")) var directory: String
        @Option(name: .long, help: ArgumentHelp("The export file, when not DIRECTORY/export.yaml.", valueName: "file")) var exportFile: String?
        @Flag(name: [.customShort("s"), .long], help: "Do not import dimension records: they must be here already.") var skipDimensions = false
        @Option(name: [.customShort("t"), .long], help: "Transfer mode: auto, copy (default), move, link, hardlink, symlink, relsymlink or direct.", transform: transferModeArgument)
        var transfer: TransferMode = .copy
        @Flag(name: .customLong("track-file-attrs"), inversion: .prefixedNo, help: "Record each file's size and checksum (default).") var trackFileAttributes = true
        @Flag(name: .long, help: "Check everything, the files included, and report what would be imported; write nothing.") var dryRun = false
        @Flag(name: .long, help: ArgumentHelp("Register the datasets in the registry only, without their files (as Rubin's import with without_datastore=True).",
                                              discussion: "Dimension records, collections, tags, validity ranges, dataset types and datasets are written; no file is read or placed. For exports that list datasets without files, such as Rubin's registry test data."))
        var withoutDatastore = false
        @Flag(name: .long, help: ArgumentHelp("With -t direct: take the files a direct-mode export names by absolute path where they are.",
                                              discussion: "Otherwise an import reads only regular files inside its directory, never through a symbolic link."))
        var allowAbsolutePaths = false

        func validate() throws {
            if withoutDatastore && transfer != .copy {
                throw ValidationError("--without-datastore reads no file: -t \(transfer.rawValue) has nothing to transfer")
            }
            if allowAbsolutePaths && transfer != .direct {
                throw ValidationError("--allow-absolute-paths needs -t direct: files outside the export are recorded where they are, never copied or moved")
            }
        }

        func run() throws {
            let butler = try Butler(repository: repository.repo)
            var options = ImportOptions()
            options.transfer = transfer
            options.allowAbsolutePaths = allowAbsolutePaths
            options.skipDimensions = skipDimensions
            options.trackFileAttributes = trackFileAttributes
            options.dryRun = dryRun
            options.withoutDatastore = withoutDatastore
            options.method = withoutDatastore ? "import --without-datastore" : "import -t \(transfer.rawValue)"
            let bar = ProgressBar(unit: "files")
            options.progress = bar.report
            let report = try butler.importDirectory(directory, exportFile: exportFile, options: options)
            bar.finish()
            for warning in report.warnings { writeStandardError("butler: warning: \(warning)\n") }
            emit(describe(report, verb: "Imported"))
        }
    }

    struct TransferDatasets: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "transfer-datasets",
            abstract: "Copy the datasets a query finds from one repository to another, with their provenance, keeping dataset ids.",
            discussion: """
                Any pair of registry backends (SQLite, PostgreSQL). No intermediate directory: files are copied in parallel straight \
                from the source datastore and checked on arrival against the source's size and checksum. Re-sending adds nothing. \
                The copy is recorded in each dataset's history at the destination (source repository, time, user, method).
                """)

        @OptionGroup var global: GlobalOptions
        @Argument(help: ArgumentHelp("The repository to read.", valueName: "source-repo")) var source: String
        @Argument(help: ArgumentHelp("The repository to write.", valueName: "dest-repo")) var destination: String
        @OptionGroup var selection: ExportSelection
        @Option(name: [.customShort("t"), .long], help: "Transfer mode: copy (default), link, hardlink, symlink, relsymlink, auto or direct.", transform: transferModeArgument)
        var transfer: TransferMode = .copy
        @Flag(name: .long, help: "Register dataset types the destination lacks (otherwise such a type is an error).") var registerDatasetTypes = false
        @Flag(name: .long, inversion: .prefixedNo, help: "Copy the dimension records the datasets need (default).") var transferDimensions = true
        @Flag(name: .long, inversion: .prefixedNo, help: "Report what would be transferred; write nothing.") var dryRun = false

        func validate() throws {
            if transfer == .move { throw ValidationError("transfer-datasets -t move: a transfer never takes files away from the source; use copy") }
        }

        func run() throws {
            if !dryRun { try Butler.requireWritable(repository: destination) }
            let sourceButler = try Butler(repository: source)
            let destinationButler = try Butler(repository: destination)
            var options = ImportOptions()
            options.transfer = transfer
            options.skipDimensions = !transferDimensions
            options.registerDatasetTypes = registerDatasetTypes
            options.dryRun = dryRun
            options.method = "transfer-datasets -t \(transfer.rawValue)"
            let bar = ProgressBar(unit: "files")
            options.progress = bar.report
            let report = try destinationButler.transferDatasets(from: sourceButler, try selection.request(sourceButler), options: options)
            bar.finish()
            for warning in report.warnings { writeStandardError("butler: warning: \(warning)\n") }
            emit(describe(report, verb: "Transferred"))
        }
    }

    struct ExportCalibs: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export-calibs",
            abstract: "Export the certified calibrations of CALIBRATION collections, with their validity ranges, as Rubin's export-calibs.",
            discussion: "Writes export.yaml and the files to DIRECTORY, which must not exist; prints the calibrations exported.")

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Argument(help: ArgumentHelp("Directory to write (must not exist).", valueName: "directory")) var directory: String
        @Argument(help: ArgumentHelp("CALIBRATION collections (names or globs; all when none).", valueName: "collections")) var collections: [String] = []
        @Option(name: [.customShort("d"), .long], parsing: .singleValue, help: ArgumentHelp("Calibration dataset types (names or globs; comma-separated or repeated; all when none).", valueName: "dataset-type"))
        var datasetType: [String] = []
        @Option(name: [.customShort("t"), .long], help: "How files get into DIRECTORY: copy (default), link, hardlink, symlink, or none.", transform: exportTransferArgument)
        var transfer: TransferMode? = .copy
        @Flag(name: .long, inversion: .prefixedNo, help: "Carry the calibrations' provenance beside export.yaml (default).") var withProvenance = true
        @OptionGroup var output: FormatOption

        func run() throws {
            if FileManager.default.fileExists(atPath: directory) { throw ButlerError(.alreadyExists, "\(directory): export directory exists") }
            let butler = try Butler(repository: repository.repo)
            let types = datasetType.flatMap { $0.split(separator: ",").map(String.init) }
            let contents = try butler.calibrationExportContents(collections: collections, datasetTypes: types, withProvenance: withProvenance)
            try butler.export(contents, to: directory, transfer: transfer)
            var rows: [[Cell]] = []
            var columns = ["calibrationType", "run"]
            for group in contents.datasets {
                for file in group.files {
                    for ref in file.refs {
                        for key in ref.dataId.keys.sorted() where !columns.contains(key) { columns.append(key) }
                    }
                }
            }
            for group in contents.datasets {
                for file in group.files {
                    for ref in file.refs {
                        rows.append([.string(group.datasetType), .string(group.run)] + columns.dropFirst(2).map { .string(ref.dataId[$0]?.description ?? "") })
                    }
                }
            }
            emit(render([ResultTable(columns: columns, rows: rows)], as: output.format))
        }
    }
}
