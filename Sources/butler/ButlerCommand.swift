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
            Global options (any position), as Rubin's: --log-level LEVEL (CRITICAL, ERROR, WARNING, INFO, VERBOSE, DEBUG, TRACE, \
            or COMPONENT=LEVEL); --long-log (long log format); --log-file FILE (repeatable; appended to; JSON records for a name \
            ending in .json); --log-tty/--no-log-tty (log to the terminal, default on); --log-label KEY=VALUE (added to every \
            record); --progress/--no-progress (progress bars on standard error: by default only when it is a terminal).
            Every subcommand takes -@/--options-file FILE: YAML with a section per subcommand name mapping option names \
            (without dashes) to values, used for options not given on the command line.
            REPO may be a path, a file:// URI, or a label of the repository index named by DAF_BUTLER_REPOSITORY_INDEX \
            (a YAML or JSON file mapping labels to repository URIs) or held in DAF_BUTLER_REPOSITORIES.
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
        let logSettings: LogSettings
        do throws(UsageError) {
            level = try GlobalOptions.extractLogLevel(&arguments)
            logSettings = try LogSettings.extract(&arguments)
            ProgressBar.choice = logSettings.progress
            if let unknown = UnknownCommand.check(arguments) { throw unknown }
            try OptionsFile.apply(&arguments)
        } catch {
            writeStandardError("butler: error: \(error.message)\n")
            Foundation.exit(2)
        }
        do {
            LoggingSystem.bootstrap(try logSettings.makeFactory(level: level ?? .warning))
        } catch {
            writeStandardError("butler: error: \((error as? ButlerError)?.message ?? "\(error)")\n")
            Foundation.exit(1)
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
