import ArgumentParser
import ButlerKit
import Foundation
import Logging

/// Rubin's global options other than `--log-level`: `--long-log`, `--log-file FILE`, `--log-tty/--no-log-tty`,
/// `--log-label KEY=VALUE` and `--progress/--no-progress`, accepted anywhere on the line (as `--log-level`).
struct LogSettings {
    var longFormat = false
    var files: [String] = []
    var toTerminal = true
    var labels: [String: String] = [:]
    /// `--progress` (true) or `--no-progress` (false); nil: progress bars only on a terminal.
    var progress: Bool?

    /// Whether the plain stderr handler of earlier versions is enough.
    var isDefault: Bool { !longFormat && files.isEmpty && toTerminal && labels.isEmpty }

    /// Removes Rubin's global log and progress options from `arguments` (before a `--`).
    ///
    /// - Throws: ``UsageError`` for an option without its value or a label that is not `KEY=VALUE`.
    static func extract(_ arguments: inout [String]) throws(UsageError) -> LogSettings {
        var settings = LogSettings()
        var i = 0
        while i < arguments.count {
            let arg = arguments[i]
            if arg == "--" { break }
            func value(_ name: String) throws(UsageError) -> String? {
                if arg == name {
                    guard i + 1 < arguments.count else { throw UsageError("\(name) needs a value") }
                    let v = arguments[i + 1]
                    arguments.removeSubrange(i...(i + 1))
                    return v
                }
                if arg.hasPrefix(name + "=") {
                    arguments.remove(at: i)
                    return String(arg.dropFirst(name.count + 1))
                }
                return nil
            }
            switch arg {
            case "--long-log": settings.longFormat = true; arguments.remove(at: i); continue
            case "--log-tty": settings.toTerminal = true; arguments.remove(at: i); continue
            case "--no-log-tty": settings.toTerminal = false; arguments.remove(at: i); continue
            case "--progress": settings.progress = true; arguments.remove(at: i); continue
            case "--no-progress": settings.progress = false; arguments.remove(at: i); continue
            default: break
            }
            if let file = try value("--log-file") {
                guard !file.isEmpty else { throw UsageError("--log-file needs a file name") }
                settings.files.append(file)
                continue
            }
            if let label = try value("--log-label") {
                for item in label.split(separator: ",") {
                    let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
                    guard parts.count == 2, !parts[0].isEmpty else { throw UsageError("--log-label takes KEY=VALUE, not '\(item)'") }
                    settings.labels[parts[0]] = parts[1]
                }
                continue
            }
            i += 1
        }
        return settings
    }

    /// The log handlers these settings ask for: standard error (short or long format) and each file (JSON lines for
    /// a name ending in `.json`, text otherwise; appended to).
    ///
    /// - Throws: ``ButlerError`` naming a log file that cannot be opened.
    func makeFactory(level: Logger.Level) throws -> @Sendable (String) -> any LogHandler {
        let sinks = try files.map { path -> LogSink in
            guard FileManager.default.fileExists(atPath: path) || FileManager.default.createFile(atPath: path, contents: nil),
                  let handle = FileHandle(forWritingAtPath: path) else {
                throw ButlerError(.io, "cannot open the log file \(path) (--log-file): \(String(cString: strerror(errno)))")
            }
            handle.seekToEndOfFile()
            return LogSink(handle: handle, json: path.lowercased().hasSuffix(".json"), longFormat: true)
        }
        let terminal: LogSink? = toTerminal ? LogSink(handle: .standardError, json: false, longFormat: longFormat) : nil
        let all = (terminal.map { [$0] } ?? []) + sinks
        let labels = labels
        let plain = isDefault
        return { label in
            if plain {
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
            var handler = RubinLogHandler(label: label, sinks: all)
            handler.logLevel = level
            for (k, v) in labels { handler.metadata[k] = .string(v) }
            return handler
        }
    }
}

/// Where log records go: a file handle, as text (short or long format) or JSON lines.
final class LogSink: @unchecked Sendable {
    let handle: FileHandle
    let json: Bool
    let longFormat: Bool
    private let lock = NSLock()

    init(handle: FileHandle, json: Bool, longFormat: Bool) {
        self.handle = handle
        self.json = json
        self.longFormat = longFormat
    }

    func write(_ line: String) {
        lock.lock()
        defer { lock.unlock() }
        handle.write(Data(line.utf8))
    }
}

/// Rubin's log formats: short `NAME LEVEL: message`, long `LEVEL TIME NAME (MDC)(FILE:LINE) - message`, and a JSON
/// record per line for `.json` log files.
struct RubinLogHandler: LogHandler {
    let label: String
    let sinks: [LogSink]
    var logLevel: Logger.Level = .warning
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    static func levelName(_ level: Logger.Level) -> String {
        switch level {
        case .trace: return "TRACE"
        case .debug: return "DEBUG"
        case .info: return "INFO"
        case .notice: return "VERBOSE"
        case .warning: return "WARNING"
        case .error: return "ERROR"
        case .critical: return "CRITICAL"
        }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { $1 } }
        if let extra = event.metadata { all.merge(extra) { $1 } }
        let mdc = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
        let time = ISO8601DateFormatter.string(from: Date(), timeZone: TimeZone(identifier: "UTC")!,
                                               formatOptions: [.withInternetDateTime, .withFractionalSeconds])
        let file = (event.file as NSString).lastPathComponent
        let level = Self.levelName(event.level)
        for sink in sinks {
            if sink.json {
                let fields = all.sorted { $0.key < $1.key }.map { "\(jsonString($0.key)): \(jsonString("\($0.value)"))" }.joined(separator: ", ")
                sink.write("{\"name\": \(jsonString(label)), \"asctime\": \(jsonString(time)), \"message\": \(jsonString(event.message.description)), "
                           + "\"levelname\": \(jsonString(level)), \"filename\": \(jsonString(file)), \"lineno\": \(event.line), "
                           + "\"funcName\": \(jsonString(event.function)), \"process\": \(getpid()), \"MDC\": {\(fields)}}\n")
            } else if sink.longFormat {
                sink.write(terminalSafe("\(level) \(time) \(label) (\(mdc))(\(file):\(event.line)) - \(event.message)") + "\n")
            } else {
                sink.write(terminalSafe("\(label) \(level): \(event.message)") + "\n")
            }
        }
    }
}

/// Rubin's `-@ FILE` / `--options-file FILE`: a YAML file with a mapping per subcommand name of option names (long
/// or short, without dashes) to values, which are used for options not given on the command line (click's
/// `default_map`, as Rubin's `yaml_presets`).
enum OptionsFile {
    /// Replaces `-@ FILE` (or `--options-file FILE`, `--options-file=FILE`, `-@FILE`) in `arguments` with the options
    /// the file gives for the subcommand, after the command line's own.
    ///
    /// - Throws: ``UsageError`` (exit 2, as Rubin's) for a file that cannot be read, that has no section for the
    ///   subcommand, or that names an option the subcommand does not have.
    static func apply(_ arguments: inout [String]) throws(UsageError) {
        var files: [String] = []
        var i = 0
        while i < arguments.count {
            let arg = arguments[i]
            if arg == "--" { break }
            if arg == "-@" || arg == "--options-file" {
                guard i + 1 < arguments.count else { throw UsageError("\(arg) needs a file") }
                files.append(arguments[i + 1])
                arguments.removeSubrange(i...(i + 1))
            } else if arg.hasPrefix("--options-file=") {
                files.append(String(arg.dropFirst("--options-file=".count)))
                arguments.remove(at: i)
            } else if arg.hasPrefix("-@") {
                files.append(String(arg.dropFirst(2)))
                arguments.remove(at: i)
            } else {
                i += 1
            }
        }
        guard !files.isEmpty else { return }
        guard let command = arguments.first, !command.hasPrefix("-") else { throw UsageError("-@/--options-file needs a subcommand") }
        let options = try commandOptions(command)
        for file in files {
            let section = try read(file, command: command)
            var added: [String] = []
            for (key, value) in section.sorted(by: { $0.key < $1.key }) {
                guard let option = options.first(where: { $0.names.contains(key) }) else {
                    throw UsageError("error reading the options file \(file): '\(key)' is not a valid option for \(command)")
                }
                // Its inverse (`--no-x` for `--x`) is the same option for this purpose.
                let related = options.filter { other in
                    other.isFlag && option.isFlag && other.names.contains { n in option.names.contains { "no-" + $0 == n || $0 == "no-" + n } }
                }
                let spelled = Set(([option] + related).flatMap { $0.names.map { $0.count == 1 ? "-" + $0 : "--" + $0 } })
                let given = arguments.prefix { $0 != "--" }.contains { arg in
                    spelled.contains(arg) || spelled.contains { $0.hasPrefix("--") && arg.hasPrefix($0 + "=") }
                }
                if given { continue }
                added += try tokens(for: option, key: key, value: value, related: related, file: file)
            }
            let end = arguments.firstIndex(of: "--") ?? arguments.endIndex
            arguments.insert(contentsOf: added, at: end)
        }
    }

    /// An option of a subcommand as ArgumentParser describes it.
    struct CommandOption {
        var names: [String]
        var isFlag: Bool
        var isRepeating: Bool
        var spelling: String { names.first { $0.count > 1 }.map { "--" + $0 } ?? "-" + names[0] }
    }

    /// The named options of `command`, from ArgumentParser's own description of it (`--experimental-dump-help`).
    static func commandOptions(_ command: String) throws(UsageError) -> [CommandOption] {
        let text: String
        do {
            _ = try ButlerCommand.parseAsRoot([command, "--experimental-dump-help"])
            throw UsageError("cannot describe the options of \(command)")
        } catch let error as UsageError {
            throw error
        } catch {
            text = ButlerCommand.fullMessage(for: error)
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
              let description = object["command"] as? [String: Any], let arguments = description["arguments"] as? [[String: Any]] else {
            throw UsageError("cannot describe the options of \(command)")
        }
        return arguments.compactMap { argument in
            guard let kind = argument["kind"] as? String, kind != "positional",
                  let names = argument["names"] as? [[String: Any]] else { return nil }
            return CommandOption(names: names.compactMap { $0["name"] as? String }, isFlag: kind == "flag",
                                 isRepeating: argument["isRepeating"] as? Bool ?? false)
        }
    }

    /// The subcommand's section of an options file.
    static func read(_ file: String, command: String) throws(UsageError) -> [String: Any] {
        let path: String
        do { path = try RepositoryIndex.localPath(ofURI: file) ?? file } catch { throw UsageError("error reading the options file \(file): \((error as? ButlerError)?.message ?? "\(error)")") }
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw UsageError("error reading the options file \(file): \(error.localizedDescription)")
        }
        let document: Any?
        do { document = try CommandLineYAML.load(text) } catch {
            throw UsageError("error reading the options file \(file): not valid YAML (\(error))")
        }
        guard let top = document as? [String: Any] else { throw UsageError("error reading the options file \(file): not a mapping of subcommand names") }
        guard let section = top[command] else { throw UsageError("error reading the options file \(file): it has no section '\(command)'") }
        guard let mapping = section as? [String: Any] else {
            throw UsageError("error reading the options file \(file): '\(command)' is not a mapping of option names to values")
        }
        return mapping
    }

    static func tokens(for option: CommandOption, key: String, value: Any, related: [CommandOption], file: String) throws(UsageError) -> [String] {
        func scalar(_ v: Any) throws(UsageError) -> String {
            switch v {
            case let s as String: return s
            case let b as Bool: return b ? "true" : "false"
            case let n as Int: return String(n)
            case let d as Double: return String(d)
            default: throw UsageError("error reading the options file \(file): the value of '\(key)' is not a string, number or list")
            }
        }
        if option.isFlag {
            let on: Bool
            switch value {
            case let b as Bool: on = b
            case let s as String where ["true", "yes", "on", "1"].contains(s.lowercased()): on = true
            case let s as String where ["false", "no", "off", "0"].contains(s.lowercased()): on = false
            case let n as Int: on = n != 0
            default: throw UsageError("error reading the options file \(file): '\(key)' is a flag: give true or false")
            }
            if on { return [option.spelling] }
            // false: the flag's inverse when it has one (`find-first: false` is `--no-find-first`), else nothing.
            if let inverse = related.first { return [inverse.spelling] }
            return []
        }
        if let list = value as? [Any] {
            let values = try list.map { v throws(UsageError) in try scalar(v) }
            return option.isRepeating ? values.flatMap { [option.spelling, $0] } : [option.spelling, values.joined(separator: ",")]
        }
        return [option.spelling, try scalar(value)]
    }
}
