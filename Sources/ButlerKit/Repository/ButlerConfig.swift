public import Foundation
internal import Yams
internal import S3

/// The configuration of a repository: `butler.yaml` merged over the defaults shipped with ButlerKit.
// @unchecked: the YAML node is an immutable value tree.
public struct ButlerConfig: @unchecked Sendable {
    /// The repository folder, which `<butlerRoot>` stands for.
    public let root: URL
    private let node: Node

    package static let fileName = "butler.yaml"
    package static let rootPlaceholder = "<butlerRoot>"

    /// The defaults shipped with ButlerKit, as YAML text.
    package static func defaultsText() throws -> String {
        guard let url = Bundle.module.url(forResource: "config", withExtension: "yaml", subdirectory: "Resources"),
              let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw ButlerError(.invalidConfig, "the default configuration is missing from the ButlerKit bundle")
        }
        return text
    }

    /// Reads `butler.yaml` of the repository at `root`.
    ///
    /// - Throws: ``ButlerError/Code/notARepository`` when there is none, ``ButlerError/Code/invalidConfig`` when it is
    ///   not valid YAML or not a mapping.
    package init(repository root: URL) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDirectory) else {
            throw ButlerError(.notARepository, "not a butler repository: \(root.path) does not exist")
        }
        let file = isDirectory.boolValue ? root.appendingPathComponent(Self.fileName) : root
        let repoRoot = isDirectory.boolValue ? root : root.deletingLastPathComponent()
        guard FileManager.default.fileExists(atPath: file.path) else {
            throw ButlerError(.notARepository, "not a butler repository: \(root.path) has no \(Self.fileName)")
        }
        let text: String
        do {
            text = try String(contentsOf: file, encoding: .utf8)
        } catch {
            throw ButlerError(.invalidConfig, "cannot read \(file.path): \(error.localizedDescription)")
        }
        try self.init(root: repoRoot, text: text, source: file.path)
    }

    /// A configuration from YAML text merged over the defaults.
    package init(root: URL, text: String, source: String) throws {
        let given = try Self.parse(text, source: source)
        self.root = root
        // A complete butler.yaml (as `create` writes) needs no defaults; read them only when something is missing.
        if ["registry.db", "datastore.root", "datastore.templates.default"].allSatisfy({ Self.sets(given, $0) }) {
            self.node = given
        } else {
            self.node = Self.merge(try Self.parse(try Self.defaultsText(), source: "default configuration"), given)
        }
        // Fail early on the values every repository needs.
        _ = try registryURL
        _ = try datastoreRoot
    }

    static func parse(_ text: String, source: String) throws -> Node {
        let node: Node?
        do {
            node = try YAMLLoader.compose(text)
        } catch {
            throw ButlerError(.invalidConfig, "invalid YAML in \(source): \(describeYAMLError(error))")
        }
        guard let node else { return Node.mapping(Node.Mapping([])) }
        guard node.mapping != nil else {
            throw ButlerError(.invalidConfig, "invalid configuration \(source): expected a mapping at the top level")
        }
        return node
    }

    /// `b` over `a`: mappings merge key by key, anything else in `b` replaces `a`.
    static func merge(_ a: Node, _ b: Node) -> Node {
        guard var am = a.mapping, let bm = b.mapping else { return b }
        for (key, value) in bm {
            if let existing = am[key] {
                am[key] = merge(existing, value)
            } else {
                am[key] = value
            }
        }
        return .mapping(am)
    }

    /// Whether the YAML text sets the value at a dotted path (`registry.db`).
    static func sets(_ node: Node, _ path: String) -> Bool {
        lookup(node, path) != nil
    }

    private static func lookup(_ node: Node, _ path: String) -> Node? {
        var current: Node? = node
        for part in path.split(separator: ".") where !part.isEmpty {
            current = current?.mapping?.value(String(part))
        }
        return current
    }

    /// A string value at a dotted path (`datastore.root`), with `<butlerRoot>` expanded.
    public func string(_ path: String) -> String? {
        guard let value = Self.lookup(node, path)?.string else { return nil }
        return value.replacingOccurrences(of: Self.rootPlaceholder, with: root.path)
    }

    /// The string values of a mapping at a dotted path (`datastore.templates`), in file order.
    public func strings(_ path: String) -> [(key: String, value: String)] {
        guard let mapping = Self.lookup(node, path)?.mapping else { return [] }
        return mapping.compactMap { key, value in
            guard let k = key.string, let v = value.string else { return nil }
            return (k, v)
        }
    }

    /// The registry database URL (`sqlite:///...` or `postgresql://...`), with `<butlerRoot>` expanded.
    public var registryURL: String {
        get throws {
            guard let db = string("registry.db"), !db.isEmpty else {
                throw ButlerError(.invalidConfig, "configuration of \(root.path) has no registry.db")
            }
            return db
        }
    }

    /// The bucket and prefix of an `s3://` datastore root; nil for a folder.
    package var datastoreBucket: BucketLocation? {
        get throws { BucketLocation(try datastoreRoot.absoluteString) }
    }

    /// The folder that holds the repository's files, or the `s3://BUCKET/PREFIX` URI of the bucket that does.
    public var datastoreRoot: URL {
        get throws {
            guard let path = string("datastore.root"), !path.isEmpty else {
                throw ButlerError(.invalidConfig, "configuration of \(root.path) has no datastore.root")
            }
            if path.hasPrefix("file://") { return URL(fileURLWithPath: String(path.dropFirst(7))) }
            if path.hasPrefix("s3://") {
                guard BucketLocation(path) != nil, let url = URL(string: path) else {
                    throw ButlerError(.invalidConfig, "datastore.root '\(SecretRedaction.redact(path))' is not an s3://BUCKET[/PREFIX] URI")
                }
                return url
            }
            if path.contains("://") {
                throw ButlerError(.invalidConfig, "datastore.root '\(SecretRedaction.redact(path))' is neither a local folder nor an s3:// bucket")
            }
            return URL(fileURLWithPath: path, relativeTo: root).standardizedFileURL
        }
    }

    /// The configuration as YAML, or one part of it (`datastore`, `.registry.db`).
    ///
    /// - Throws: ``ButlerError/Code/notFound`` when `subset` names nothing.
    public func yaml(subset: String? = nil) throws -> String {
        var target = node
        if let subset, !subset.isEmpty, subset != "." {
            guard let found = Self.lookup(node, subset) else {
                throw ButlerError(.notFound, "the configuration has no '\(subset)'")
            }
            target = found
        }
        if target.mapping == nil && target.sequence == nil {
            return (target.string ?? "").replacingOccurrences(of: Self.rootPlaceholder, with: root.path) + "\n"
        }
        return try Yams.serialize(node: target, sortKeys: false)
    }
}
