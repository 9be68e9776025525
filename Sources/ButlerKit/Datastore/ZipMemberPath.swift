package import Foundation

/// The recorded path of a dataset stored as a member of a Zip kept whole in the datastore, in Rubin's form:
/// `zips/e978/e9787abc-….zip#zip-path=MEMBER` (`ingest-zip` stores a Zip so). Its location is the Zip's with the
/// fragment `#zip-path=MEMBER` (``URL/zipMember``); readers take the member's bytes out of the Zip, never the Zip's.
///
/// The Zip is one file of the datastore: claimed once, by its own path, and removed with the last dataset that is
/// one of its members.
package struct ZipMemberPath: Sendable, Hashable {
    /// What separates the Zip's path from the member's name.
    package static let marker = "#zip-path="

    /// The Zip's recorded path (relative to the datastore root, or absolute for `-t direct`).
    package let container: String
    /// The member's name inside the Zip.
    package let member: String

    package init(container: String, member: String) {
        self.container = container
        self.member = member
    }

    /// Splits a recorded path; nil when it names a whole file.
    package init?(recordedPath: String) {
        guard let range = recordedPath.range(of: Self.marker) else { return nil }
        container = String(recordedPath[..<range.lowerBound])
        member = String(recordedPath[range.upperBound...])
        guard !container.isEmpty, !member.isEmpty else { return nil }
    }

    package var recordedPath: String { container + Self.marker + member }

    /// The path of the file that holds a recorded path's bytes: the Zip for a member, else the path itself.
    package static func file(of recordedPath: String) -> String {
        ZipMemberPath(recordedPath: recordedPath)?.container ?? recordedPath
    }

    /// Where `ingest-zip` keeps a Zip whole, as Rubin does: `zips/<first 4 characters>/<name>`.
    package static func storedZipPath(named name: String) -> String {
        "zips/\(name.prefix(4))/\(name)"
    }
}

extension URL {
    /// The Zip member this location names (`…zip#zip-path=MEMBER`), nil for a whole file.
    package var zipMember: String? {
        guard let fragment = URLComponents(url: self, resolvingAgainstBaseURL: false)?.fragment,
              fragment.hasPrefix("zip-path=") else { return nil }
        let member = String(fragment.dropFirst("zip-path=".count))
        return member.isEmpty ? nil : member
    }

    /// The location of the whole file: the Zip, for a member's location.
    package var withoutZipMember: URL {
        guard zipMember != nil, var components = URLComponents(url: self, resolvingAgainstBaseURL: false) else { return self }
        components.fragment = nil
        return components.url ?? self
    }

    /// The name of the file a location gives: the member's own name (its last component) for a Zip member.
    package var fileName: String {
        guard let member = zipMember else { return lastPathComponent }
        return member.split(separator: "/").last.map(String.init) ?? member
    }

    /// A local file's location whose bytes are the file's own (not a member of a Zip): one that can be opened by path.
    package var isPlainLocalFile: Bool { isFileURL && zipMember == nil }

    /// A file's location with `#zip-path=MEMBER` added.
    package func addingZipMember(_ member: String) -> URL {
        var components = URLComponents(url: self, resolvingAgainstBaseURL: false)
        components?.fragment = "zip-path=" + member
        return components?.url ?? self
    }
}
