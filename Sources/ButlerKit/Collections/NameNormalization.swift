import Foundation

extension String {
    /// The name in Unicode normal form C (NFC), the one form every name takes in a repository.
    ///
    /// `u/é` typed as one code point (U+00E9) and as `e` + U+0301 are the same name to a person and to Swift's `==`,
    /// but two different rows to SQL and two different folders to the file system. Collection names, data ID values
    /// and the other names the library takes are brought to NFC where they come in (CLI arguments, library entry
    /// points, imports), so SQL only ever sees one form. ASCII text (most names) is returned as it is, without a copy.
    public var normalizedName: String {
        if utf8.allSatisfy({ $0 < 0x80 }) { return self }
        return precomposedStringWithCanonicalMapping
    }
}

extension DataIDValue {
    /// The value with a string in Unicode normal form C (see ``Swift/String/normalizedName``).
    public var normalized: DataIDValue {
        switch self {
        case .int: return self
        case .string(let s): return .string(s.normalizedName)
        }
    }
}
