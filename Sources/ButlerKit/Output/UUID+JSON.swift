public import Foundation

/// Every UUID this module encodes (jobs files, staged quanta, provenance bundles, Zip indexes) is written in the
/// canonical lower-case form, as the registry stores ids, queries print them and Rubin writes them; Foundation's own
/// encoding would write `uuidString`, in upper case. Synthesized `Codable` conformances in this module call these
/// overloads rather than the generic ones. Reading accepts either case.
extension KeyedEncodingContainer {
    /// Encodes a UUID as its lower-case text.
    public mutating func encode(_ value: UUID, forKey key: Key) throws {
        try encode(value.lowercasedString, forKey: key)
    }

    /// Encodes a UUID, when there is one, as its lower-case text.
    public mutating func encodeIfPresent(_ value: UUID?, forKey key: Key) throws {
        guard let value else { return }
        try encode(value.lowercasedString, forKey: key)
    }
}
