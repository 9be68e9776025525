import ArgumentParser
import Logging

/// Options every subcommand accepts.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Log level: CRITICAL, ERROR, WARNING, INFO, VERBOSE, DEBUG or TRACE (or COMPONENT=LEVEL). Logs go to stderr.",
        valueName: "level"))
    var logLevel: String?

    // Read before parsing (see ``OptionsFile``); declared here so that every subcommand's help shows it.
    @Option(name: [.customShort("@"), .customLong("options-file")], help: ArgumentHelp(
        "YAML file of option values for this subcommand (a mapping under the subcommand's name; the command line wins), as Rubin's.",
        valueName: "file"))
    var optionsFile: String?

    /// Removes `--log-level X` / `--log-level=X` from anywhere in the arguments (before or after the subcommand,
    /// as Rubin's `butler --log-level DEBUG ...`) and returns the level.
    ///
    /// - Throws: ``UsageError`` for a level that is not one of Rubin's names, or `--log-level` without a value.
    static func extractLogLevel(_ arguments: inout [String]) throws(UsageError) -> Logger.Level? {
        var level: Logger.Level?
        var i = 0
        while i < arguments.count {
            let arg = arguments[i]
            if arg == "--" { break }
            var value: String?
            if arg == "--log-level" {
                guard i + 1 < arguments.count else { throw UsageError("--log-level needs a value (\(levelNames))") }
                value = arguments[i + 1]
                arguments.removeSubrange(i...(i + 1))
            } else if arg.hasPrefix("--log-level=") {
                value = String(arg.dropFirst("--log-level=".count))
                arguments.remove(at: i)
            } else {
                i += 1
                continue
            }
            if let value {
                guard let parsed = parse(value) else {
                    throw UsageError("unknown log level '\(value)' for --log-level (expected \(levelNames), or COMPONENT=LEVEL)")
                }
                level = parsed
            }
        }
        return level
    }

    static let levelNames = "CRITICAL, ERROR, WARNING, INFO, VERBOSE, DEBUG or TRACE"

    /// A level by Rubin's name (any case), alone or as `COMPONENT=LEVEL`; nil for anything else.
    static func parse(_ text: String) -> Logger.Level? {
        let parts = text.split(separator: "=", omittingEmptySubsequences: false)
        guard parts.count <= 2, let last = parts.last else { return nil }
        let name = last.uppercased()
        switch name {
        case "CRITICAL": return .critical
        case "ERROR": return .error
        case "WARNING", "WARN": return .warning
        case "INFO": return .info
        case "VERBOSE": return .notice
        case "DEBUG": return .debug
        case "TRACE": return .trace
        default: return nil
        }
    }
}

/// A command line that cannot be run as typed, found before ArgumentParser sees it: exit code 2.
struct UsageError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

/// The repository argument, first in every command that works on one.
struct RepositoryArgument: ParsableArguments {
    @Argument(help: ArgumentHelp("Path to the butler repository.", valueName: "repo"))
    var repo: String
}
