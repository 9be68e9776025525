import ArgumentParser
import ButlerKit
import Foundation

extension ButlerCommand {
    struct IngestZip: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ingest-zip",
            abstract: "Ingest a Zip in Rubin's format (made by retrieve-artifacts --zip, ours or Rubin's), keeping dataset ids.",
            discussion: """
                Creates the Zip's RUNs and dataset types, and with --transfer-dimensions its dimension records (otherwise they must be \
                here). The Zip is stored whole, as Rubin stores it (zips/<first 4>/<name>.zip in the datastore, each dataset recorded \
                as ...zip#zip-path=<member> and read from inside it); --extract copies each member out to a file of its own instead. \
                Every member is read through and checked against the index's size (and checksum when it has one) and the Zip's CRC \
                (Rubin stores what the index says); a missing member or a wrong size fails the whole ingest and writes nothing. \
                Ingesting the same Zip again adds nothing. Our provenance member, when present, is imported too.
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Argument(help: ArgumentHelp("The Zip file.", valueName: "zip")) var zip: String
        @Option(name: [.customShort("t"), .long], help: "How the Zip comes into the datastore: copy, move, link, hardlink, symlink, relsymlink, direct (left where it is) or auto. With --extract members are always copied out and the Zip is left alone.", transform: transferModeArgument)
        var transfer: TransferMode = .copy
        @Flag(name: .long, help: "Copy each member out into a file of its own at the file template's path, instead of storing the Zip whole.") var extract = false
        @Flag(name: .long, inversion: .prefixedNo, help: "Import the dimension records the Zip's index carries.") var transferDimensions = false
        @Flag(name: .long, inversion: .prefixedNo, help: "Check everything and report what would be ingested; write nothing.") var dryRun = false

        func run() throws {
            let butler = try Butler(repository: repository.repo)
            var options = ImportOptions()
            options.transfer = transfer
            options.skipDimensions = !transferDimensions
            options.dryRun = dryRun
            options.method = "ingest-zip"
            let bar = ProgressBar(unit: "files")
            options.progress = bar.report
            let report = try butler.ingestZip(zip, options: options, extract: extract)
            bar.finish()
            for warning in report.warnings { writeStandardError("butler: warning: \(warning)\n") }
            emit(describe(report, verb: "Ingested"))
        }
    }
}
