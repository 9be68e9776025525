public import Foundation

/// A step's command as it was written, before `butler run` put paths in: what `butler reproduce` runs again.
///
/// Placeholders are `{ROLE}` (an input's or output's path), `{metrics}`, and `{config:NAME}`, which stands for a
/// config file the step was given by path (`--config isr.yaml ... -- ./isr --config isr.yaml`): a reproduction writes
/// the recorded content out and puts that file's path in its place. The folder the step ran in is kept too, for the
/// command's other relative paths. Stored in the registry as JSON: `{"arguments": [...], "directory": "..."}`.
public struct CommandTemplate: Sendable, Hashable {
    /// The program and its arguments.
    public let arguments: [String]
    /// The folder the step ran in (nil when unknown).
    public let directory: String?

    public init(_ arguments: [String], directory: String? = nil) {
        self.arguments = arguments
        self.directory = directory
    }

    /// The template of a command given with config files: each argument that names one of the files (the same path,
    /// or `--opt=PATH`) becomes `{config:NAME}`, and a program given by a relative path (`./isr`) its absolute path, so
    /// that it runs again from any folder (a bare name is looked up in PATH again).
    public init(command: [String], configs: [ConfigFile]) {
        let byPath = Dictionary(configs.compactMap { c in c.sourcePath.map { (Self.absolute($0), c.name) } }, uniquingKeysWith: { a, _ in a })
        directory = FileManager.default.currentDirectoryPath
        var command = command
        if let program = command.first, program.contains("/"), !program.hasPrefix("/") { command[0] = Self.absolute(program) }
        arguments = command.map { argument in
            if let name = byPath[Self.absolute(argument)] { return "{config:\(name)}" }
            if let equals = argument.firstIndex(of: "="), let name = byPath[Self.absolute(String(argument[argument.index(after: equals)...]))] {
                return argument[...equals] + "{config:\(name)}"
            }
            return argument
        }
    }

    /// The registry's text: `{"arguments": [...], "directory": "..."}`.
    public var text: String {
        "{\"arguments\": [" + arguments.map(jsonString).joined(separator: ", ") + "]" + (directory.map { ", \"directory\": " + jsonString($0) } ?? "") + "}"
    }

    /// Parses the registry's text (or a bare JSON array of arguments); nil for anything else.
    public init?(text: String) {
        let value = try? JSONSerialization.jsonObject(with: Data(text.utf8))
        let object = value as? [String: Any]
        guard let array = (object?["arguments"] ?? value) as? [Any] else { return nil }
        let strings = array.compactMap { $0 as? String }
        guard strings.count == array.count, !strings.isEmpty else { return nil }
        arguments = strings
        directory = object?["directory"] as? String
    }

    /// The command with each `{config:NAME}` replaced by the path of a file holding that config.
    public func filling(configs paths: [String: String]) -> [String] {
        arguments.map { argument in paths.reduce(argument) { $0.replacingOccurrences(of: "{config:\($1.key)}", with: $1.value) } }
    }

    private static func absolute(_ path: String) -> String {
        guard !path.isEmpty else { return path }
        let full = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        return URL(fileURLWithPath: full).standardizedFileURL.path
    }
}
