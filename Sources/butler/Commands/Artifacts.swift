import ArgumentParser
import ButlerKit
import Foundation

extension ButlerCommand {
    struct PruneDatasets: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "prune-datasets",
            abstract: "Remove the datasets a query finds: their files (--unstore, the default), completely (--purge RUN), or from a tag (--disassociate TAG).",
            discussion: "Registry rows go first, in one transaction, then files no remaining dataset uses. --dry-run lists what would go.")

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Argument(help: ArgumentHelp("Collections to search (in addition to --collections).", valueName: "collections")) var searched: [String] = []
        @OptionGroup var selection: DatasetSelection
        @Flag(name: .long, help: "Delete the files only; the registry keeps the datasets (the default).") var unstore = false
        @Option(name: .long, help: "Remove the datasets completely, with their files; they must belong to this RUN.") var purge: String?
        @Option(name: .long, help: "Remove the datasets from this TAGGED collection only.") var disassociate: String?
        @Flag(name: .long, help: "Only list what would be removed.") var dryRun = false
        @Flag(name: .long, help: "With --purge: also remove datasets that others were derived from (their provenance keeps a tombstone).") var force = false
        @OptionGroup var output: FormatOption

        func validate() throws {
            if [unstore, purge != nil, disassociate != nil].filter({ $0 }).count > 1 {
                throw ValidationError("choose one of --unstore, --purge RUN and --disassociate TAG")
            }
            if searched.isEmpty && selection.collections.isEmpty && purge == nil && disassociate == nil {
                throw ValidationError("name the collections to search")
            }
        }

        func run() throws {
            let butler = try Butler(repository: repository.repo)
            let extra = searched + (purge.map { [$0] } ?? []) + (disassociate.map { [$0] } ?? [])
            let refs = try selection.run(butler, collections: selection.collections.isEmpty ? extra : searched)
            let mode: PruneMode = purge.map { .purge(run: $0) } ?? disassociate.map { .disassociate(tag: $0) } ?? .unstore
            if dryRun {
                let table = ResultTable(columns: ["type", "run", "id", "data_id"], rows: refs.map {
                    [.string($0.datasetType.name), .string($0.run), .string($0.id.lowercasedString), .string($0.dataId.keyValueString)]
                })
                emit(render([table], as: output.format))
                return
            }
            let n = try butler.pruneDatasets(refs, mode: mode, force: force)
            switch mode {
            case .unstore: emit("Unstored \(n) dataset(s)\n")
            case .purge(let run): emit("Purged \(n) dataset(s) from \(run)\n")
            case .disassociate(let tag): emit("Removed \(n) dataset(s) from \(tag)\n")
            }
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
        @Flag(name: .long, help: "Overwrite files that exist in DEST.") var clobber = false
        @Flag(name: .long, help: "Write one Zip in Rubin's format into DEST (its _butler_zip_index.json, the files, and our provenance as _butler_provenance.json), which Rubin's and our ingest-zip read.")
        var zip = false
        @Flag(name: .long, inversion: .prefixedNo, help: "With --zip: carry the datasets' provenance (default).") var withProvenance = true

        func run() throws {
            let butler = try Butler(repository: repository.repo)
            if zip {
                var request = ExportRequest()
                request.query = try selection.datasetQuery(butler)
                request.collectionTypes = [.run]
                request.withProvenance = withProvenance
                let url = try butler.writeZip(try butler.exportContents(request), into: destination)
                emit("Zip file written to \(url.absoluteString)\n")
                return
            }
            let refs = try selection.run(butler)
            let written = try butler.retrieveArtifacts(refs, to: destination, preservePath: preservePath, clobber: clobber)
            emit(written.map { $0.path + "\n" }.joined() + "Retrieved \(written.count) file(s) into \(destination)\n")
        }
    }
}
