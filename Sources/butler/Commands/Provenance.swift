import ArgumentParser
import ButlerKit
import FITS
import Foundation

/// A dataset named for a lineage question: a UUID (of a dataset or a tombstone) or TYPE:key=value,... in `collections`.
func lineageDatasetId(_ butler: Butler, _ ref: String, collections: [String]) throws -> UUID {
    if let id = UUID(uuidString: ref.trimmingCharacters(in: .whitespaces)), try butler.registry.tombstone(id) != nil {
        return id
    }
    return try butler.registry.resolveDataset(ref, collections: collections).id
}

/// The formats `verify --lineage` writes.
enum VerifyFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

/// The formats `provenance` writes.
enum LineageFormat: String, ExpressibleByArgument, CaseIterable {
    case tree, json, dot
    case provJSON = "prov-json"
    case provN = "prov-n"
}

extension ButlerCommand {
    struct Provenance: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show how a dataset was made (`provenance REPO REF`), what was made from it (`--downstream`), or what a FITS file's own LSST BUTLER cards say (`provenance FILE.fits`).",
            discussion: """
                REF is a dataset UUID (a removed dataset's tombstone works too) or TYPE:key=value,... with --collections.
                Upstream, each step shows its task, status, run, data ID, host, user, times (UTC), code versions, configs
                (hashes; contents with --show-config) and parameters, and each input its role, down to the raws and
                calibrations. A dataset or step reached twice is shown once and referred back to ([d3], [q2]).
                Formats: tree (default), json, dot (Graphviz: `dot -Tsvg`), prov-json (W3C PROV-JSON with IVOA
                ProvenanceDM attributes) and prov-n (the same document in PROV-N).
                """)

        @OptionGroup var global: GlobalOptions
        @Argument(help: ArgumentHelp("A repository and a dataset, or one FITS file.", valueName: "repo-or-file")) var arguments: [String]
        @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Collections searched for REF.", valueName: "collections")) var collections: [String] = []
        @Flag(name: .long, help: "Everything derived from the dataset, transitively, with the steps, instead of its origins.") var downstream = false
        @Option(name: .long, help: ArgumentHelp("Follow at most this many levels of steps (all when not given).", valueName: "n")) var depth: Int?
        @Option(name: .long, help: "Output format: tree, json, dot, prov-json or prov-n.") var format: LineageFormat = .tree
        @Flag(name: .long, help: "Include the content of each config file (tree and json).") var showConfig = false
        @Option(name: [.short, .long], help: ArgumentHelp("Write to this file instead of standard output.", valueName: "file")) var output: String?

        func validate() throws {
            if arguments.isEmpty || arguments.count > 2 { throw ValidationError("give REPO REF, or one FITS file") }
            if let depth, depth < 1 { throw ValidationError("--depth must be 1 or more") }
        }

        func run() throws {
            if arguments.count == 1 {
                try headerCards(arguments[0])
                return
            }
            let butler = try Butler(repository: arguments[0])
            let id = try datasetId(butler, arguments[1])
            let lineage = try butler.registry.lineage(of: id, direction: downstream ? .downstream : .upstream, depth: depth,
                                                      includeConfigs: showConfig || format == .provJSON || format == .provN)
            // Tree and JSON are written as they are made (a bias's downstream is tens of megabytes).
            try writeOutput { sink in
                switch format {
                case .tree: try lineage.writeTree(showConfigs: showConfig, to: sink)
                case .json: try lineage.writeJSON(to: sink)
                case .dot: try sink(lineage.dotText())
                case .provJSON: try sink(lineage.provDocument().jsonText())
                case .provN: try sink(lineage.provDocument().provNText())
                }
            }
        }

        /// Hands `body` a sink that writes to standard output, or to `--output` (a temporary file beside it, renamed
        /// into place at the end, so that a failed run leaves no half-written file).
        func writeOutput(_ body: ((String) throws -> Void) throws -> Void) throws {
            guard let output else {
                try body { emit($0) }
                return
            }
            let target = URL(fileURLWithPath: output)
            let temporary = target.deletingLastPathComponent().appendingPathComponent(".\(target.lastPathComponent).\(UUID().uuidString).tmp")
            guard FileManager.default.createFile(atPath: temporary.path, contents: nil),
                  let handle = try? FileHandle(forWritingTo: temporary) else {
                throw ButlerError(.io, "cannot write \(output): cannot create a file in \(target.deletingLastPathComponent().path)")
            }
            do {
                try body { text in
                    do { try handle.write(contentsOf: Data(text.utf8)) } catch {
                        throw ButlerError(.io, "cannot write \(output): \(error.localizedDescription)")
                    }
                }
                try handle.close()
                if rename(temporary.path, target.path) != 0 {
                    throw ButlerError(.io, "cannot write \(output): \(String(cString: strerror(errno)))")
                }
            } catch {
                try? handle.close()
                unlink(temporary.path)
                throw error
            }
        }

        func datasetId(_ butler: Butler, _ ref: String) throws -> UUID {
            try lineageDatasetId(butler, ref, collections: collections)
        }

        func headerCards(_ path: String) throws {
            if path.hasPrefix("s3://") {
                // An object of a bucket: its cards are read from a download.
                let local = FileManager.default.temporaryDirectory.appendingPathComponent("butler-\(UUID().uuidString)-" + (path as NSString).lastPathComponent).path
                defer { unlink(local) }
                try Butler.downloadObject(path, to: local)
                guard FITSWriter.looksLikeFITS(local) else { throw ButlerError(.invalidValue, "\(path) is not a FITS file; to ask a repository, give REPO REF") }
                try printCards(try HeaderProvenance.read(local), of: path)
                return
            }
            guard FITSWriter.looksLikeFITS(path) else { throw ButlerError(.invalidValue, "\(path) is not a FITS file; to ask a repository, give REPO REF") }
            try printCards(try HeaderProvenance.read(path), of: path)
        }

        func printCards(_ cards: [HeaderCard], of path: String) throws {
            let fields = cards.map { "  \(jsonString($0.keyword)): " + value($0.value) }
            emit(fields.isEmpty ? "{}\n" : "{\n" + fields.joined(separator: ",\n") + "\n}\n")
            if cards.isEmpty { writeStandardError("butler: \(path) carries no LSST BUTLER provenance cards\n") }
        }

        func value(_ v: HeaderValue?) -> String {
            switch v {
            case .integer(let i)?: return String(i)
            case .float(let d)?: return String(d)
            case .logical(let b)?: return b ? "true" : "false"
            case .string(let s)?: return jsonString(s)
            default: return "null"
            }
        }
    }

    struct ProvenanceDiff: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "provenance-diff",
            abstract: "Show what differs between how two datasets were made: tasks, code versions, config keys, parameters and inputs by role.",
            discussion: """
                Steps of the two upstream lineages are matched by task label. YAML and JSON configs are compared key by
                key, other configs line by line. Inputs made inside the lineage are compared by type and data ID, raws and
                calibrations by identity. Exit code 0 whether or not they differ; the table is empty when they do not.
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Argument(help: ArgumentHelp("The first dataset (UUID or TYPE:key=value,...).", valueName: "ref-a")) var refA: String
        @Argument(help: ArgumentHelp("The second dataset.", valueName: "ref-b")) var refB: String
        @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Collections searched for the datasets named by data ID.", valueName: "collections")) var collections: [String] = []
        @OptionGroup var output: FormatOption

        func run() throws {
            let butler = try Butler(repository: repository.repo)
            let a = try butler.registry.resolveDataset(refA, collections: collections)
            let b = try butler.registry.resolveDataset(refB, collections: collections)
            let diff = try butler.registry.lineageDiff(a.id, b.id)
            let table = ResultTable(columns: ["kind", "task", "name", "a", "b"], rows: diff.changes.map {
                [.string($0.kind.rawValue), .string($0.task), .string($0.name), $0.a.map { .string($0) } ?? .null, $0.b.map { .string($0) } ?? .null]
            })
            if output.format == .table {
                emit("A: \(a.datasetType.name)@\(a.run) {\(a.dataId.keyValueString)} \(a.id.lowercasedString)\n"
                     + "B: \(b.datasetType.name)@\(b.run) {\(b.dataId.keyValueString)} \(b.id.lowercasedString)\n")
                emit(diff.changes.isEmpty ? "No differences in tasks, code, configs, parameters or inputs.\n" : render([table], as: .table))
            } else {
                emit(render([table], as: output.format))
            }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check that registry, datastore and provenance agree; list problems one per line.",
            discussion: """
                Checks that every recorded file is present with its recorded size (and SHA-256 with --checksums), that no
                file in the datastore lacks a registry row (leftover temporary files included), that every provenance edge
                points at a dataset or a tombstone, and that no successful step lacks outputs.
                Each problem is one line: KIND PATH-OR-ID: DETAIL. Exit code 1 when there is any problem.
                With --lineage DATASET..., checks instead that the whole upstream lineage of those datasets (UUIDs, or
                TYPE:key=value,... found in --collections) is in this repository: every dataset they were made from, down
                to the raws, present with its files at the recorded size and SHA-256. Each gap is one line:
                ID TYPE RUN: REASON (DETAIL), the reason one of "not in this repository" (held by another repository),
                "removed (tombstone)", "file missing" or "size/checksum mismatch"; then a summary line. Exit code 1
                when anything is missing, 0 when the lineage is complete. --format json writes one JSON object instead.
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Only check the files of datasets in these collections (the datastore walk and provenance checks cover everything); with --lineage, where datasets named by data ID are found.", valueName: "collections"))
        var collections: [String] = []
        @Flag(name: .long, help: "Also recompute every file's SHA-256 and compare it with the recorded one (always done with --lineage).") var checksums = false
        @Option(name: .long, parsing: .upToNextOption, help: ArgumentHelp("Check that the whole upstream lineage of these datasets is here instead.", valueName: "dataset"))
        var lineage: [String] = []
        @Option(name: .long, help: "Output format of --lineage: text or json.") var format: VerifyFormat = .text

        func validate() throws {
            if format != .text && lineage.isEmpty { throw ValidationError("--format applies to --lineage only") }
        }

        func run() throws {
            let butler = try Butler(repository: repository.repo)
            if !lineage.isEmpty {
                try verifyLineage(butler)
                return
            }
            let bar = ProgressBar(unit: "files")
            let summary = try butler.verify(collections: collections, checksums: checksums, progress: bar.report) { problem in
                bar.finish()  // a problem on a line of its own; the bar goes on below it
                emit(problem.description + "\n")
            }
            bar.finish()
            let line = "Checked \(summary.filesChecked) file record(s)\(checksums ? " (\(summary.checksumsChecked) checksums)" : ""), "
                + "\(summary.datastoreFiles) datastore file(s), \(summary.edgesChecked) provenance edge(s): \(summary.problems) problem(s)\n"
            writeStandardError(line)
            if summary.problems > 0 { throw ExitCode(1) }
        }

        func verifyLineage(_ butler: Butler) throws {
            let roots = try lineage.map { try lineageDatasetId(butler, $0, collections: collections) }
            let result = try butler.verifyLineage(of: roots, checksums: true) { gap in
                if format == .text { emit(gap.description + "\n") }
            }
            let counts = Dictionary(grouping: result.gaps, by: \.reason).mapValues(\.count)
            let summary = "Lineage of \(roots.count) dataset(s): \(result.datasetsChecked) dataset(s), \(result.filesChecked) file(s) checked: "
                + (result.isComplete ? "complete" : LineageGap.Reason.allCases.compactMap { r in counts[r].map { "\($0) \(r.text)" } }.joined(separator: ", "))
            switch format {
            case .text:
                emit(summary + "\n")
            case .json:
                func text(_ s: String?) -> String { s.map(jsonString) ?? "null" }
                let gaps = result.gaps.map { g in
                    "{\"id\": \(jsonString(g.datasetId.lowercasedString)), \"dataset_type\": \(text(g.datasetType)), \"run\": \(text(g.run)), "
                        + "\"data_id\": \(g.dataId.map { Cell.dataId(text: $0).json } ?? "null"), \"reason\": \(jsonString(g.reason.rawValue)), \"reason_text\": \(jsonString(g.reason.text)), "
                        + "\"detail\": \(jsonString(g.detail))}"
                }
                emit("{\"roots\": [" + roots.map { jsonString($0.lowercasedString) }.joined(separator: ", ") + "], "
                     + "\"complete\": \(result.isComplete), \"datasets_checked\": \(result.datasetsChecked), \"files_checked\": \(result.filesChecked), "
                     + "\"checksums_checked\": \(result.checksumsChecked), \"gaps\": [" + (gaps.isEmpty ? "" : "\n  " + gaps.joined(separator: ",\n  ") + "\n") + "]}\n")
            }
            if !result.isComplete { throw ExitCode(1) }
        }
    }
}
