public import Foundation
internal import Yams

extension Butler {
    /// The storage classes this repository knows: the built-in ones and those of its configuration's
    /// `storageClasses:` (stored by `create --seed-config`, as Rubin users do), read once when it is opened (a
    /// configuration whose section is not a mapping of names fails the open).
    public var storageClasses: StorageClasses { registry.storageClasses }

    /// The storage classes of a configuration, for the registry of the butler opening it.
    static func storageClasses(configuredBy config: ButlerConfig) throws -> StorageClasses {
        guard let text = try? config.yaml(subset: "storageClasses") else { return .builtIn }
        return try StorageClasses.builtIn.merging(configYAML: text, source: config.root.appendingPathComponent(ButlerConfig.fileName).path)
    }
}

/// The storage classes a repository knows: those shipped with ButlerKit, and those of the repository's own
/// configuration (`storageClasses:` in `butler.yaml`, as `create --seed-config` stores it; see ``Butler/storageClasses``).
public struct StorageClasses: Sendable {
    /// File extension of each storage class that has one, by name.
    public let extensions: [String: String]
    /// Every known name (those without a file extension of their own too).
    public let known: Set<String>

    init(extensions: [String: String], known: Set<String>? = nil) {
        self.extensions = extensions
        self.known = known ?? Set(extensions.keys)
    }

    /// The storage classes shipped with ButlerKit.
    public static let builtIn: StorageClasses = {
        guard let url = Bundle.module.url(forResource: "storageClasses", withExtension: "yaml", subdirectory: "Resources"),
              let text = try? String(contentsOf: url, encoding: .utf8),
              let file = try? YAMLLoader.decode(File.self, from: text)
        else { return StorageClasses(extensions: [:]) }
        return StorageClasses(extensions: file.storageClasses.mapValues(\.extension))
    }()

    /// Every known name, sorted.
    public var names: [String] { known.sorted() }

    /// Whether a storage class is known.
    public func contains(_ name: String) -> Bool { known.contains(name) }

    /// These storage classes and those a configuration defines in its `storageClasses:` mapping, in Rubin's form
    /// (`SkyMap: {pytype: lsst.skymap.BaseSkyMap}`, `X: {inheritsFrom: Y}`, or a name with just its Python type).
    /// A class takes its file extension from its own `extension:`, else from the class it inherits from.
    ///
    /// - Throws: ``ButlerError/Code/invalidConfig`` when `storageClasses` is not a mapping of names.
    public func merging(configYAML text: String, source: String) throws -> StorageClasses {
        let root: Node?
        do {
            root = try YAMLLoader.compose(text)
        } catch {
            throw ButlerError(.invalidConfig, "\(source): storageClasses: \(error)")
        }
        guard let root else { return self }
        guard let mapping = root.mapping else {
            throw ButlerError(.invalidConfig, "\(source): storageClasses is not a mapping of storage class names")
        }
        var extensions = self.extensions
        var known = self.known
        var parents: [String: String] = [:]
        for (key, value) in mapping {
            guard let name = key.string, !name.isEmpty else {
                throw ButlerError(.invalidConfig, "\(source): storageClasses: \(key) is not a storage class name")
            }
            known.insert(name)
            if let ext = value.mapping?["extension"]?.string { extensions[name] = ext }
            if let parent = value.mapping?["inheritsFrom"]?.string { parents[name] = parent }
        }
        // Inherited extensions, following chains (a cycle stops where it repeats).
        for (name, _) in parents where extensions[name] == nil {
            var seen: Set<String> = [name]
            var current = parents[name]
            while let parent = current, seen.insert(parent).inserted {
                if let ext = extensions[parent] { extensions[name] = ext; break }
                current = parents[parent]
            }
        }
        return StorageClasses(extensions: extensions, known: known)
    }

    /// Checks that a storage class is known.
    ///
    /// - Throws: ``ButlerError/Code/notFound``, with the names that are known.
    public func validate(_ name: String) throws {
        guard known.contains(name) else {
            throw ButlerError(.notFound, "unknown storage class '\(name)'; known storage classes: \(names.joined(separator: ", "))")
        }
    }

    private struct File: Decodable {
        struct Entry: Decodable { var `extension`: String }
        var storageClasses: [String: Entry]
    }
}
