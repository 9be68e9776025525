import ArgumentParser
import ButlerKit
import Foundation

extension ButlerCommand {
    struct PruneDatasets: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "prune-datasets",
            abstract: "Remove the datasets a query finds: their files (--unstore, the default), completely (--purge RUN), or from a tag (--disassociate TAG).",
            discussion: """
                As Rubin's: for each dataset type and data ID only the dataset found first in COLLECTIONS (in order) is \
                selected, unless --find-all; without COLLECTIONS the RUN of --purge or the TAGs of --disassociate are searched. \
                Before removing, the datasets are listed and "Continue? [y/N]" is asked (the answer is read from standard input, \
                also when it is not a terminal: at its end nothing is removed and the exit code is 1), unless --no-confirm or \
                --quiet. Registry rows go first, in one transaction, then files no remaining dataset uses. --dry-run lists what \
                would go.
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Argument(help: ArgumentHelp("Collections to search, in order (in addition to --collections).", valueName: "collections")) var searched: [String] = []
        @OptionGroup var selection: DatasetSelection
        @Flag(name: .long, help: "Select every dataset found in the collections, not only the first per dataset type and data ID.") var findAll = false
        @Flag(name: .long, help: "Delete the files only; the registry keeps the datasets (the default without --purge and --disassociate).") var unstore = false
        @Option(name: .long, help: ArgumentHelp("Remove the datasets completely, with their files; they must belong to this RUN.", valueName: "run")) var purge: String?
        @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Remove the datasets from this TAGGED collection (repeatable; with --unstore their files go too).", valueName: "tag"))
        var disassociate: [String] = []
        @Flag(name: .long, help: "Only list what would be removed.") var dryRun = false
        @Flag(name: .long, inversion: .prefixedNo, help: "List the datasets and ask before removing them (default).") var confirm = true
        @Flag(name: .long, help: "Print nothing; implies --no-confirm; not with --dry-run.") var quiet = false
        @Flag(name: .long, help: "With --purge: also remove datasets that others were derived from (their provenance keeps a tombstone).") var force = false
        @OptionGroup var output: FormatOption

        func validate() throws {
            if purge != nil && !disassociate.isEmpty {
                throw ValidationError("--disassociate and --purge may not be used together: --disassociate removes from the given TAGGED collections only, --purge from all of them")
            }
            if quiet && dryRun { throw ValidationError("--quiet and --dry-run may not be used together") }
            if searched.isEmpty && selection.collections.isEmpty && purge == nil && disassociate.isEmpty {
                throw ValidationError("name the collections to search (COLLECTIONS, --purge RUN or --disassociate TAG)")
            }
        }

        func run() throws {
            let butler = try Butler(repository: repository.repo)
            if let purge, let record = try butler.registry.collection(purge), record.type != .run {
                throw ButlerError(.invalidValue, "cannot purge from '\(purge)': it is a \(record.type) collection, not a RUN")
            }
            let explicit = searched + selection.collections
            let collections = explicit.isEmpty ? (purge.map { [$0] } ?? disassociate) : explicit
            var query = try selection.datasetQuery(butler)
            query.collections = collections
            query.findFirst = !findAll
            var seen = Set<UUID>()
            let refs = try butler.registry.queryDatasets(query).datasets.map(\.ref).filter { seen.insert($0.id).inserted }
            let table = ResultTable(columns: ["type", "run", "id", "data_id"], rows: refs.map {
                [.string($0.datasetType.name), .string($0.run), .string($0.id.lowercasedString), .dataId($0.dataId)]
            })
            if dryRun {
                if output.format == .table {
                    emit(disassociate.isEmpty ? "The following datasets will be removed:\n\n"
                         : "The following datasets will be removed from \(disassociate.joined(separator: ", "))\(unstore ? ", with their files" : ""):\n\n")
                }
                emit(render([table], as: output.format))
                return
            }
            if confirm && !quiet {
                if refs.isEmpty {
                    emit("Did not find any datasets.\n")
                    return
                }
                emit("The following datasets will be removed:\n\n" + render([table], as: .table) + "\n")
                guard try confirmOnStandardInput() else {
                    emit("Did not remove the datasets.\n")
                    return
                }
            }
            var done: [String] = []
            let bar = ProgressBar(unit: "files", enabled: !quiet)
            defer { bar.finish() }
            if let purge {
                let n = try butler.pruneDatasets(refs, mode: .purge(run: purge), force: force, progress: bar.report)
                done.append("Purged \(n) dataset(s) from \(purge)\n")
            } else {
                for tag in disassociate {
                    let n = try butler.pruneDatasets(refs, mode: .disassociate(tag: tag))
                    done.append("Removed \(n) dataset(s) from \(tag)\n")
                }
                if unstore || disassociate.isEmpty {
                    let n = try butler.pruneDatasets(refs, mode: .unstore, progress: bar.report)
                    done.append("Unstored \(n) dataset(s)\n")
                }
            }
            bar.finish()
            if !quiet { emit(done.joined() + (confirm ? "The datasets were removed.\n" : "")) }
        }

    }

    struct RetrieveArtifacts: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "retrieve-artifacts",
            abstract: "Copy the files of the datasets a query finds out of the repository.")

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Argument(help: ArgumentHelp("Destination folder.", valueName: "dest")) var destination: String
        @OptionGroup var selection: DatasetSelection
        @Flag(name: .long, inversion: .prefixedNo, help: "Keep the datastore layout under DEST (default).") var preservePath = true
        @Option(name: [.customShort("t"), .long], help: "Transfer mode: copy (the default; auto means copy). Files are always copied out, so that nothing outside the repository points into it.", transform: transferModeArgument)
        var transfer: TransferMode = .copy
        @Flag(name: [.customShort("v"), .long], help: "List every file retrieved (default; Rubin lists them only with -v).") var verbose = false
        @Flag(name: .long, inversion: .prefixedNo, help: "Overwrite files that exist in DEST.") var clobber = false
        @Flag(name: .long, inversion: .prefixedNo, help: "Write one Zip in Rubin's format into DEST (its _butler_zip_index.json, the files, and our provenance as _butler_provenance.json), which Rubin's and our ingest-zip read.")
        var zip = false
        @Flag(name: .long, inversion: .prefixedNo, help: "With --zip: carry the datasets' provenance (default).") var withProvenance = true

        func validate() throws {
            if transfer != .copy && transfer != .auto {
                throw ValidationError("retrieve-artifacts -t \(transfer.rawValue): files are only copied out of a repository (-t copy or auto)")
            }
        }

        func run() throws {
            let butler = try Butler(repository: repository.repo)
            if zip {
                var request = ExportRequest()
                request.query = try selection.datasetQuery(butler)
                request.collectionTypes = [.run]
                request.withProvenance = withProvenance
                let bar = ProgressBar(unit: "files")
                let url = try butler.writeZip(try butler.exportContents(request), into: destination, progress: bar.report)
                bar.finish()
                emit("Zip file written to \(url.absoluteString)\n")
                return
            }
            let refs = try selection.run(butler)
            let bar = ProgressBar(unit: "files")
            let written = try butler.retrieveArtifacts(refs, to: destination, preservePath: preservePath, clobber: clobber, progress: bar.report)
            bar.finish()
            emit(written.map { $0.path + "\n" }.joined() + "Retrieved \(written.count) file(s) into \(destination)\n")
        }
    }
}
