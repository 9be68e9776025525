/// A value in a dimension record column.
public enum DimensionValue: Sendable, Hashable, CustomStringConvertible {
    case int(Int)
    case float(Double)
    case string(String)
    case bool(Bool)

    public var description: String {
        switch self {
        case .int(let v): return String(v)
        case .float(let v): return String(v)
        case .string(let v): return v
        case .bool(let v): return v ? "true" : "false"
        }
    }

    package var sqlValue: SQLValue {
        switch self {
        case .int(let v): return .integer(Int64(v))
        case .float(let v): return .real(v)
        case .string(let v): return .text(v)
        case .bool(let v): return .integer(v ? 1 : 0)
        }
    }

    /// The value as a data ID value, for key columns.
    public var dataIDValue: DataIDValue? {
        switch self {
        case .int(let v): return .int(v)
        case .string(let v): return .string(v)
        default: return nil
        }
    }
}

extension DimensionValue: ExpressibleByIntegerLiteral, ExpressibleByStringLiteral, ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral {
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(floatLiteral value: Double) { self = .float(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

/// One row of a dimension element: for a detector, `instrument`, `id`, `full_name`, `raft`, ...
///
/// Fields are named as the element's table columns: required dimensions by their dimension name
/// (`instrument`), the element's own keys by key name (`id`, `full_name`), implied dimensions by their
/// dimension name (`physical_filter`), then metadata columns and, for temporal elements,
/// `timespan_begin` and `timespan_end` (TAI nanoseconds).
public struct DimensionRecord: Sendable, Hashable {
    /// The element this record belongs to.
    public let element: String
    /// Column values; a missing column is NULL.
    public var fields: [String: DimensionValue]

    public init(element: String, fields: [String: DimensionValue]) {
        self.element = element
        self.fields = fields
    }

    public subscript(_ field: String) -> DimensionValue? {
        get { fields[field] }
        set { fields[field] = newValue }
    }
}
