public import Foundation

/// Where a repository named on the command line is: a path, a `file://` URI, or a label of a repository index, as
/// Rubin's `ButlerRepoIndex` reads them.
///
/// The index is a YAML (or JSON) mapping of labels to repository URIs (or paths), found through the environment:
/// `DAF_BUTLER_REPOSITORY_INDEX` names the file (a path or `file://` URI), or `DAF_BUTLER_REPOSITORIES` holds the
/// mapping itself; setting both is an error. As in Rubin, a label known to the index wins over a path of the same
/// name, and a name that is no label is taken as a path.
///
/// ```swift
/// // DAF_BUTLER_REPOSITORY_INDEX=/etc/butler/repos.yaml holding `main: /data/repo`
/// let path = try RepositoryIndex.resolve("main")   // "/data/repo"
/// ```
public enum RepositoryIndex {
    /// The environment variable that names the index file.
    public static let indexVariable = "DAF_BUTLER_REPOSITORY_INDEX"
    /// The environment variable that holds the index itself.
    public static let repositoriesVariable = "DAF_BUTLER_REPOSITORIES"

    /// The local path of a repository given as a path, a `file://` URI, or an index label.
    ///
    /// - Parameter environment: where the index variables are read (the process's environment by default).
    /// - Throws: ``ButlerError/Code/invalidConfig`` for an index that cannot be read or is not a mapping of strings
    ///   (only when `repository` could be a label, an index is set and no file of that name exists),
    ///   ``ButlerError/Code/invalidValue`` for a URI
    ///   that is not a local file (`s3://`, `https://`: Rubin's remote repositories are not supported here).
    public static func resolve(_ repository: String,
                               environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        if let path = try localPath(ofURI: repository) { return path }
        guard isLabelLike(repository) else { return repository }
        let known: [String: String]?
        do {
            known = try index(environment: environment)
        } catch {
            // As Rubin: an unreadable index does not stop a path from working; it is the error when nothing is there.
            if FileManager.default.fileExists(atPath: repository) { return repository }
            throw error
        }
        guard let target = known?[repository] else { return repository }
        guard let path = try localPath(ofURI: target, label: repository) else {
            // A relative path in the index: as Rubin's ResourcePath, relative to the current folder.
            return target
        }
        return path
    }

    /// The path of a `file:` URI, nil for text without a scheme (a plain path).
    ///
    /// - Throws: ``ButlerError/Code/invalidValue`` for another scheme, or a `file:` URI naming another host.
    public static func localPath(ofURI text: String) throws -> String? {
        try localPath(ofURI: text, label: nil)
    }

    private static func localPath(ofURI text: String, label: String?) throws -> String? {
        let origin = label.map { " (repository index label '\($0)')" } ?? ""
        guard let colon = text.firstIndex(of: ":"), text[text.index(after: colon)...].hasPrefix("//") else { return nil }
        let scheme = text[..<colon].lowercased()
        guard !scheme.isEmpty, scheme.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == "." }) else { return nil }
        guard scheme == "file" else {
            throw ButlerError(.invalidValue, "repository '\(text)'\(origin): only local repositories (a path or a file:// URI) are supported, not \(scheme)://")
        }
        guard let url = URL(string: text), url.host == nil || url.host == "" || url.host == "localhost" else {
            throw ButlerError(.invalidValue, "repository '\(text)'\(origin): not a local file URI (expected file:///ABSOLUTE/PATH)")
        }
        let path = url.path
        guard !path.isEmpty else { throw ButlerError(.invalidValue, "repository '\(text)'\(origin): the URI has no path") }
        return path
    }

    /// A name that could be a label: no slash and no scheme (a path with a folder is never looked up).
    private static func isLabelLike(_ text: String) -> Bool {
        !text.isEmpty && !text.contains("/")
    }

    /// The index the environment names, nil when none is set.
    ///
    /// - Throws: ``ButlerError/Code/invalidConfig`` when both variables are set, or the index cannot be read or is
    ///   not a mapping of labels to strings.
    public static func index(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> [String: String]? {
        let file = environment[indexVariable].flatMap { $0.isEmpty ? nil : $0 }
        let direct = environment[repositoriesVariable].flatMap { $0.isEmpty ? nil : $0 }
        if file != nil && direct != nil {
            throw ButlerError(.invalidConfig, "only one of the environment variables \(repositoriesVariable) and \(indexVariable) may be set")
        }
        if let direct { return try parse(direct, source: "\(repositoriesVariable)") }
        guard let file else { return nil }
        let path = try localPath(ofURI: file) ?? file
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ButlerError(.invalidConfig, "repository index \(path) (\(indexVariable)) cannot be read: \(error.localizedDescription)")
        }
        return try parse(text, source: "repository index \(path) (\(indexVariable))")
    }

    private static func parse(_ text: String, source: String) throws -> [String: String] {
        let value: Any?
        do { value = try YAMLLoader.load(text) } catch {
            throw ButlerError(.invalidConfig, "\(source) is not valid YAML or JSON: \(error)")
        }
        guard let mapping = value as? [String: Any] else {
            throw ButlerError(.invalidConfig, "\(source) is not a mapping of labels to repository URIs")
        }
        var result: [String: String] = [:]
        for (label, target) in mapping {
            guard let uri = target as? String else {
                throw ButlerError(.invalidConfig, "\(source): the value of '\(label)' is not a string (expected a repository URI)")
            }
            result[label] = uri
        }
        return result
    }
}

/// Small YAML documents of the command line (Rubin's `-@` options files), read with the project's one YAML loader
/// and its bound on alias expansion.
public enum CommandLineYAML {
    /// The document as Foundation values (`[String: Any]`, `[Any]`, `String`, `Int`, `Double`, `Bool`), nil when empty.
    ///
    /// - Throws: an error describing invalid YAML, or a document whose aliases expand it beyond the loader's bound.
    public static func load(_ text: String) throws -> Any? {
        try YAMLLoader.load(text)
    }
}
