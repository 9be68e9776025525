internal import Foundation

/// An `s3://BUCKET/PREFIX` datastore root, parsed.
package struct BucketLocation: Sendable, Hashable, CustomStringConvertible {
    package let bucket: String
    /// The key prefix under which the datastore's objects live, without a trailing `/` (empty for the bucket's top).
    package let prefix: String

    /// Parses `s3://bucket/prefix`; nil for anything else.
    package init?(_ text: String) {
        guard text.hasPrefix("s3://") else { return nil }
        let rest = text.dropFirst("s3://".count)
        let parts = rest.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let bucket = parts.first, !bucket.isEmpty else { return nil }
        self.bucket = String(bucket)
        self.prefix = parts.count > 1 ? String(parts[1]).trimmingCharacters(in: CharacterSet(charactersIn: "/")) : ""
    }

    /// The key of a datastore path.
    package func key(_ path: String) -> String { prefix.isEmpty ? path : prefix + "/" + path }

    package var description: String { "s3://\(bucket)" + (prefix.isEmpty ? "" : "/" + prefix) }
}
