import ArgumentParser
import Logging

/// Options every subcommand accepts.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Log level: CRITICAL, ERROR, WARNING, INFO, VERBOSE, DEBUG or TRACE (or COMPONENT=LEVEL). Logs go to stderr.",
        valueName: "level"))
    var logLevel: String?

    /// Removes `--log-level X` / `--log-level=X` from anywhere in the arguments (before or after the subcommand,
    /// as Rubin's `butler --log-level DEBUG ...`) and returns the level.
    static func extractLogLevel(_ arguments: inout [String]) -> Logger.Level? {
        var level: Logger.Level?
        var i = 0
        while i < arguments.count {
            let arg = arguments[i]
            if arg == "--" { break }
            var value: String?
            if arg == "--log-level", i + 1 < arguments.count {
                value = arguments[i + 1]
                arguments.removeSubrange(i...(i + 1))
            } else if arg.hasPrefix("--log-level=") {
                value = String(arg.dropFirst("--log-level=".count))
                arguments.remove(at: i)
            } else {
                i += 1
                continue
            }
            if let value { level = parse(value) ?? level }
        }
        return level
    }

    static func parse(_ text: String) -> Logger.Level? {
        let name = (text.split(separator: "=").last.map(String.init) ?? text).uppercased()
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

/// The repository argument, first in every command that works on one.
struct RepositoryArgument: ParsableArguments {
    @Argument(help: ArgumentHelp("Path to the butler repository.", valueName: "repo"))
    var repo: String
}
