import ArgumentParser
import ButlerKit
import Foundation
import Logging

/// The `butler` command: parses, calls ButlerKit, prints. Exit codes: 0 success, 1 failure, 2 usage error.
@main
struct ButlerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "butler",
        abstract: "Keep astronomical data in a repository and know how every product was made.",
        discussion: """
            Exit codes: 0 success, 1 failure (the message names the file or value and the reason), 2 usage error.
            Global option (any position): --log-level LEVEL (CRITICAL, ERROR, WARNING, INFO, VERBOSE, DEBUG, TRACE).
            """,
        subcommands: [
            Create.self, ConfigDump.self,
            RegisterDatasetType.self, RemoveDatasetType.self, QueryDatasetTypes.self,
            RegisterCollection.self, QueryCollections.self, CollectionChain.self, RemoveCollections.self, RemoveRuns.self,
            RegisterInstrument.self, IngestRaws.self, IngestFiles.self, DefineVisits.self, RegisterSkymap.self,
            QueryDatasets.self, QueryDataIds.self, QueryDimensionRecords.self, FindDataset.self,
            Associate.self, Disassociate.self, CertifyCalibrations.self, DecertifyCalibrations.self,
            PruneDatasets.self, RetrieveArtifacts.self, Export.self, Import.self, TransferDatasets.self, ExportCalibs.self, IngestZip.self, Put.self, Run.self, ResolveInputs.self, MergeStaged.self, Record.self, Provenance.self, ProvenanceDiff.self, Verify.self, Reproduce.self, CompareRuns.self,
        ]
    )

    static func main() async {
        var arguments = Array(CommandLine.arguments.dropFirst())
        let level: Logger.Level?
        do throws(UsageError) {
            level = try GlobalOptions.extractLogLevel(&arguments)
            if let unknown = UnknownCommand.check(arguments) { throw unknown }
        } catch {
            writeStandardError("butler: error: \(error.message)\n")
            Foundation.exit(2)
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level ?? .warning
            return handler
        }
        do {
            var command = try parseAsRoot(arguments)
            if let writing = command as? any WritingCommand, writing.writes {
                try Butler.requireWritable(repository: writing.repository.repo)
            }
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as ButlerError {
            writeStandardError("butler: error: \(error.message)\n")
            Foundation.exit(1)
        } catch let error as CommandFailure {
            if !error.message.isEmpty { writeStandardError("butler: error: \(error.message)\n") }
            Foundation.exit(error.exitCode)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                emit(fullMessage(for: error) + "\n")
                Foundation.exit(0)
            }
            let message = fullMessage(for: error)
            if !message.isEmpty { writeStandardError(message + "\n", keepingLines: true) }
            // ArgumentParser reports usage errors as 64 (EX_USAGE); ours is 2.
            Foundation.exit(code.rawValue == 64 ? 2 : (code.rawValue == 0 ? 1 : code.rawValue))
        }
    }
}

/// A failure already reported (or with its own message) that ends the command with an exit code.
struct CommandFailure: Error {
    var message: String = ""
    var exitCode: Int32 = 1
}
