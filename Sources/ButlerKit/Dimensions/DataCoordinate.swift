/// The value of one dimension in a data ID: an integer (detector, exposure) or a string (instrument, band).
public enum DataIDValue: Sendable, Hashable, Comparable, CustomStringConvertible {
    case int(Int)
    case string(String)

    /// The value as Rubin's `str()` renders it, used in dataset IDs and file names.
    public var description: String {
        switch self {
        case .int(let v): return String(v)
        case .string(let s): return s
        }
    }

    public static func < (a: Self, b: Self) -> Bool {
        switch (a, b) {
        case (.int(let x), .int(let y)): return x < y
        case (.string(let x), .string(let y)): return x < y
        case (.int, .string): return true
        case (.string, .int): return false
        }
    }

    package var sqlValue: SQLValue {
        switch self {
        case .int(let v): return .integer(Int64(v))
        case .string(let s): return .text(s)
        }
    }

    package init?(_ value: SQLValue) {
        switch value {
        case .integer(let v): self = .int(Int(v))
        case .text(let s): self = .string(s)
        case .real(let d): if let i = Int(exactly: d) { self = .int(i) } else { return nil }
        default: return nil
        }
    }
}

extension DataIDValue: ExpressibleByIntegerLiteral, ExpressibleByStringLiteral {
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(stringLiteral value: String) { self = .string(value) }
}

/// A data ID: the values of a group of dimensions, for example `instrument=LATISS, detector=0, exposure=2023032100053`.
///
/// A data ID made by ``Butler/expandDataID(_:dimensions:)`` has been checked against the registry: every required
/// value is present and has its record, and the implied values (physical_filter, band, day_obs, ...) are filled in.
public struct DataCoordinate: Sendable, Hashable, CustomStringConvertible {
    /// The dimensions the data ID identifies.
    public let dimensions: DimensionGroup
    /// Values by dimension name: every required dimension, and the implied ones once expanded.
    public let values: [String: DataIDValue]

    /// String values are kept in Unicode normal form C (see ``Swift/String/normalizedName``).
    package init(dimensions: DimensionGroup, values: [String: DataIDValue]) {
        self.dimensions = dimensions
        let needsNormalizing = values.values.contains { value in
            if case .string(let s) = value { return !s.utf8.allSatisfy { $0 < 0x80 } }
            return false
        }
        self.values = needsNormalizing ? values.mapValues(\.normalized) : values
    }

    /// The value of one dimension, or `nil`.
    public subscript(_ dimension: String) -> DataIDValue? { values[dimension] }

    /// The required values, in universe order.
    public var required: [(String, DataIDValue)] {
        dimensions.required.compactMap { name in values[name].map { (name, $0) } }
    }

    /// Whether the implied values are all present.
    public var hasFull: Bool { dimensions.implied.allSatisfy { values[$0] != nil } }

    /// `{instrument: 'LATISS', detector: 0, exposure: 2023032100053}`, in universe order.
    public var description: String {
        let items = dimensions.names.compactMap { name -> String? in
            guard let v = values[name] else { return nil }
            switch v {
            case .int(let i): return "\(name): \(i)"
            case .string(let s): return "\(name): '\(s)'"
            }
        }
        return "{" + items.joined(separator: ", ") + "}"
    }

    /// `instrument=LATISS,detector=0`: the required values as `key=value` pairs, in universe order.
    public var keyValueString: String {
        required.map { "\($0.0)=\($0.1)" }.joined(separator: ",")
    }
}

/// Parses `key=value,key=value` into raw data ID values (typed later against the universe).
///
/// - Throws: ``ButlerError/Code/invalidValue`` when an item has no `=` or a key is repeated.
public func parseDataIDString(_ text: String) throws -> [String: String] {
    var result: [String: String] = [:]
    for item in text.split(separator: ",", omittingEmptySubsequences: true) {
        let parts = item.split(separator: "=", maxSplits: 1)
        let key = parts.first.map { String($0).trimmingCharacters(in: .whitespaces) } ?? ""
        guard parts.count == 2, !key.isEmpty else {
            throw ButlerError(.invalidValue, "invalid data ID item '\(item)' in '\(text)': expected key=value")
        }
        guard result[key] == nil else {
            throw ButlerError(.invalidValue, "data ID key '\(key)' given twice in '\(text)'")
        }
        result[key] = String(parts[1]).trimmingCharacters(in: .whitespaces)
    }
    return result
}
