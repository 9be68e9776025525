/// The one spelling of file checksums: the registry records SHA-256 as 64 lower-case hex digits; Rubin's Zip index and
/// our exports may carry it as `sha256:<hex>`.
enum Checksum {
    /// The 64 hex digits of a SHA-256 checksum written either way; nil for anything else (other algorithms, such as a
    /// Rubin datastore's, are not compared).
    static func sha256Hex(_ text: String) -> String? {
        let hex = text.hasPrefix("sha256:") ? String(text.dropFirst(7)) : text
        guard hex.count == 64, hex.allSatisfy(\.isHexDigit) else { return nil }
        return hex.lowercased()
    }

    /// The form Rubin's Zip index carries: `sha256:<hex>`.
    static func prefixed(_ text: String) -> String? { sha256Hex(text).map { "sha256:" + $0 } }
}
