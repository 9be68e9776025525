import ArgumentParser
import ButlerKit
import Foundation

extension ButlerCommand {
    struct Reproduce: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run again the steps that made datasets, into a scratch RUN, and compare each new output with the recorded one.",
            discussion: """
                Each step runs the command `butler run` recorded, with the same inputs (by id), its config files written \
                out from the registry, its parameters and package versions. Verdicts: identical (the same bytes; for FITS, \
                the same data and headers apart from the LSST BUTLER provenance cards), same-data (FITS data identical HDU \
                by HDU; the header differences are listed, date cards only counted), differs (the first differing HDU and \
                how much differs, or the step failed), not-reproducible (no command recorded, an input removed, another \
                executable or, with --package, other package versions). Each reproduction is recorded: `butler provenance` \
                shows it under the step it reproduced. Exit code 0 when every output is identical or same-data, 1 otherwise. \
                Example:
                  butler reproduce REPO 6c1f...  --run u/me/repro
                  butler reproduce REPO --datasets calexp --collections drp/calibrate --where "instrument = 'LATISS' AND exposure = 2023032100053" --upstream
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Argument(help: ArgumentHelp("Datasets to reproduce: UUIDs or TYPE:key=value,... (or select them with --datasets/--where).", valueName: "dataset"))
        var datasets: [String] = []
        @Option(name: .customLong("run"), help: ArgumentHelp("Scratch RUN of the new outputs (default: reproduce/<UTC time>).", valueName: "run"))
        var scratchRun: String?
        @Flag(name: .long, help: "Also run again every step upstream, back to stored inputs, in dependency order (each reads the reproduced outputs before it).")
        var upstream = false
        @Flag(name: .long, help: "Only list what would run, and what cannot.") var dryRun = false
        @Flag(name: .long, help: ArgumentHelp("Also run steps that arrived from another repository (import, transfer, Zip).",
                                              discussion: "Without it such a step is refused, naming where it was made and the exact command it would run. No repository id in a bundle makes a step runnable: ids are claims that nothing authenticates."))
        var allowForeign = false
        @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("A package version of the environment reproducing (repeatable): steps recorded with other versions are not reproducible.", valueName: "name=version"))
        var package: [String] = []
        @OptionGroup(title: "Selection by query") var selection: DatasetSelection
        @OptionGroup var format: FormatOption

        func validate() throws {
            if datasets.isEmpty && selection.datasetTypes.isEmpty && selection.collections.isEmpty && selection.query.`where`.isEmpty {
                throw ValidationError("name the datasets to reproduce, or select them with --datasets, --collections or --where")
            }
        }

        func run() throws {
            let butler = try Butler(repository: repository.repo)
            var ids = try datasets.map { try lineageDatasetId(butler, $0, collections: selection.collections) }
            let byQuery = !selection.datasetTypes.isEmpty || !selection.query.`where`.isEmpty || (datasets.isEmpty && !selection.collections.isEmpty)
            if byQuery {
                ids += try selection.run(butler).map(\.id)
            }
            if ids.isEmpty { throw CommandFailure(message: "no dataset matched the selection", exitCode: 1) }
            var request = ReproduceRequest(datasets: ids)
            request.run = scratchRun
            request.upstream = upstream
            request.dryRun = dryRun
            request.allowForeign = allowForeign
            if !package.isEmpty { request.packages = try pairs(package, "--package") }
            let results = try butler.reproduce(request)
            var table = ResultTable(columns: ["dataset_type", "data_id", "id", "step", "verdict", "detail", "seconds", "new_id"])
            for r in results {
                table.rows.append([.string(r.dataset.datasetType), .dataId(text: r.dataset.dataId), .string(r.dataset.id.lowercasedString),
                                   .string(r.step), .string(r.verdict.rawValue), .string(r.detail),
                                   .double((r.seconds * 1000).rounded() / 1000), r.newDataset.map { .string($0.lowercasedString) } ?? .null])
            }
            emit(render([table], as: format.format))
            let bad = results.filter { $0.verdict == .differs || $0.verdict == .notReproducible }
            if !bad.isEmpty {
                throw CommandFailure(message: "\(bad.count) of \(results.count) output(s) not reproduced identically or with the same data", exitCode: 1)
            }
        }
    }
}
