import ArgumentParser
import ButlerKit
import Foundation

extension ButlerCommand {
    struct Record: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record many quanta (inputs, outputs with files, configs, environments, metrics) in one transaction.",
            discussion: """
                SPEC is a JSON document or a JSON Lines file (one quantum a line, header lines with run, collections, \
                environments and configs), in the forms documented in the README; - reads standard input. The text is \
                checked whole first, then read again and written in batches, so memory does not grow with the number \
                of quanta. All or nothing.
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Argument(help: ArgumentHelp("JSON document or JSON Lines file, or - for standard input.", valueName: "spec")) var spec: String
        @Option(help: ArgumentHelp("Quanta written per batch of rows (memory grows with it, not with the number of quanta).", valueName: "n"))
        var batchSize = 2000
        @OptionGroup var output: FormatOption

        func validate() throws {
            guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, not \(batchSize)") }
        }

        func run() throws {
            let butler = try Butler(repository: repository.repo)
            let text = spec == "-" ? try RecordSpec.standardInput(baseDirectory: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
                                   : try RecordSpec(contentsOf: spec)
            let bar = ProgressBar(unit: "quanta")
            let ids = try butler.record(text, batchSize: batchSize, progress: bar.report)
            bar.finish()
            if output.format == .json {
                var out = "{\"quanta\": ["
                for (i, id) in ids.enumerated() {
                    if i > 0 { out += ", " }
                    out += jsonString(id.lowercasedString)
                    if out.utf8.count >= 1 << 16 { emit(out); out = "" }
                }
                emit(out + "]}\n")
            } else {
                emit("Recorded \(ids.count) quant\(ids.count == 1 ? "um" : "a")\n")
            }
        }
    }
}
