public import Foundation
internal import Yams

/// The storage classes a repository knows, read from a YAML resource.
public struct StorageClasses: Sendable {
    /// File extension of each storage class, by name.
    public let extensions: [String: String]

    /// The storage classes shipped with ButlerKit.
    public static let builtIn: StorageClasses = {
        guard let url = Bundle.module.url(forResource: "storageClasses", withExtension: "yaml", subdirectory: "Resources"),
              let text = try? String(contentsOf: url, encoding: .utf8),
              let file = try? YAMLLoader.decode(File.self, from: text)
        else { return StorageClasses(extensions: [:]) }
        return StorageClasses(extensions: file.storageClasses.mapValues(\.extension))
    }()

    /// Every known name, sorted.
    public var names: [String] { extensions.keys.sorted() }

    /// Checks that a storage class is known.
    ///
    /// - Throws: ``ButlerError/Code/notFound``, with the names that are known.
    public func validate(_ name: String) throws {
        guard extensions[name] != nil else {
            throw ButlerError(.notFound, "unknown storage class '\(name)'; known storage classes: \(names.joined(separator: ", "))")
        }
    }

    private struct File: Decodable {
        struct Entry: Decodable { var `extension`: String }
        var storageClasses: [String: Entry]
    }
}
