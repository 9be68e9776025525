import ArgumentParser
import ButlerKit
import Foundation

extension ButlerCommand {
    struct Record: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record many quanta (inputs, outputs with files, configs, environments, metrics) in one transaction.",
            discussion: "SPEC is a JSON file (or - for standard input) in the form documented in the README. All or nothing.")

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Argument(help: ArgumentHelp("JSON document, or - for standard input.", valueName: "spec")) var spec: String
        @OptionGroup var output: FormatOption

        func run() throws {
            let butler = try Butler(repository: repository.repo)
            let data: Data
            if spec == "-" {
                data = FileHandle.standardInput.readDataToEndOfFile()
            } else {
                guard let d = FileManager.default.contents(atPath: spec) else { throw ButlerError(.io, "cannot read \(spec)") }
                data = d
            }
            let base = spec == "-" ? URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
                                   : URL(fileURLWithPath: spec).deletingLastPathComponent()
            let ids = try butler.record(try RecordSpec(json: data, source: spec == "-" ? "standard input" : spec, baseDirectory: base))
            if output.format == .json {
                emit("{\"quanta\": [" + ids.map { jsonString($0.lowercasedString) }.joined(separator: ", ") + "]}\n")
            } else {
                emit("Recorded \(ids.count) quant\(ids.count == 1 ? "um" : "a")\n")
            }
        }
    }
}
