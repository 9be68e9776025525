import ArgumentParser
import ButlerKit
import FITS
import Foundation

extension ButlerCommand {
    struct Provenance: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show how a dataset was made: `provenance REPO REF` from the registry, or `provenance FILE.fits` from a file's LSST BUTLER cards.",
            discussion: "REF is a dataset UUID or TYPE:key=value,... (with --collections). The output is JSON.")

        @OptionGroup var global: GlobalOptions
        @Argument(help: ArgumentHelp("A repository and a dataset, or one FITS file.", valueName: "repo-or-file")) var arguments: [String]
        @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Collections searched for REF.", valueName: "collections")) var collections: [String] = []

        func validate() throws {
            if arguments.isEmpty || arguments.count > 2 { throw ValidationError("give REPO REF, or one FITS file") }
        }

        func run() throws {
            if arguments.count == 1 {
                let path = arguments[0]
                guard FITSWriter.looksLikeFITS(path) else { throw ButlerError(.invalidValue, "\(path) is not a FITS file; to ask a repository, give REPO REF") }
                let cards = try HeaderProvenance.read(path)
                let fields = cards.map { "  \(jsonString($0.keyword)): " + value($0.value) }
                emit(fields.isEmpty ? "{}\n" : "{\n" + fields.joined(separator: ",\n") + "\n}\n")
                if cards.isEmpty { FileHandle.standardError.write(Data("butler: \(path) carries no LSST BUTLER provenance cards\n".utf8)) }
                return
            }
            let butler = try Butler(repository: arguments[0])
            let ref = try butler.registry.resolveDataset(arguments[1], collections: collections)
            let p = try butler.registry.provenanceRecord(of: ref)
            func dict(_ d: [String: String]) -> String { "{" + d.sorted { $0.key < $1.key }.map { "\(jsonString($0.key)): \(jsonString($0.value))" }.joined(separator: ", ") + "}" }
            var lines = [
                "\"id\": \(jsonString(ref.id.lowercasedString))", "\"dataset_type\": \(jsonString(ref.datasetType.name))",
                "\"run\": \(jsonString(ref.run))", "\"data_id\": \(jsonString(ref.dataId.keyValueString))",
            ]
            if let quantum = p.quantum {
                lines += [
                    "\"quantum\": \(jsonString(quantum.lowercasedString))", "\"task\": \(jsonString(p.taskLabel ?? ""))",
                    "\"status\": \(jsonString(p.status ?? ""))", "\"exit_code\": \(p.exitCode.map(String.init) ?? "null")",
                    "\"host\": \(p.host.map(jsonString) ?? "null")", "\"user\": \(p.user.map(jsonString) ?? "null")",
                    "\"command\": \(p.command.map(jsonString) ?? "null")",
                    "\"start\": \(p.start.map { jsonString($0.isoTAI) } ?? "null")", "\"end\": \(p.end.map { jsonString($0.isoTAI) } ?? "null")",
                    "\"packages\": \(dict(p.packages))", "\"code_commit\": \(p.codeCommit.map(jsonString) ?? "null")",
                    "\"code_dirty\": \(p.codeDirty.map { $0 ? "true" : "false" } ?? "null")",
                    "\"executable_sha256\": \(p.executableHash.map(jsonString) ?? "null")",
                    "\"configs\": \(dict(p.configs))", "\"parameters\": \(dict(p.parameters))",
                    "\"inputs\": [" + p.inputs.map { "{\"role\": \(jsonString($0.role)), \"id\": \(jsonString($0.id.lowercasedString)), \"dataset_type\": \($0.datasetType.map(jsonString) ?? "null"), \"run\": \($0.run.map(jsonString) ?? "null"), \"removed\": \($0.removed)}" }.joined(separator: ", ") + "]",
                    "\"log\": \(p.logDataset.map { jsonString($0.lowercasedString) } ?? "null")",
                ]
            }
            lines.append("\"metrics\": {" + p.metrics.sorted { $0.key < $1.key }.map { "\(jsonString($0.key)): \($0.value)" }.joined(separator: ", ") + "}")
            emit("{\n  " + lines.joined(separator: ",\n  ") + "\n}\n")
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
}
