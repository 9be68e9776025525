/// The four kinds of collection, as in Rubin's butler (same integer codes in the registry).
public enum CollectionType: Int, Sendable, CaseIterable, CustomStringConvertible, Codable {
    /// Every dataset belongs to exactly one RUN, fixed when it is inserted.
    case run = 1
    /// Datasets are associated and disassociated freely.
    case tagged = 2
    /// An ordered, saved search path of child collections.
    case chained = 3
    /// Associations carry a validity timespan.
    case calibration = 4

    /// `RUN`, `TAGGED`, `CHAINED`, `CALIBRATION`.
    public var description: String {
        switch self {
        case .run: return "RUN"
        case .tagged: return "TAGGED"
        case .chained: return "CHAINED"
        case .calibration: return "CALIBRATION"
        }
    }

    /// Parses a type name, case-insensitively.
    public init?(name: String) {
        guard let t = Self.allCases.first(where: { $0.description == name.uppercased() }) else { return nil }
        self = t
    }
}

/// A collection as the registry holds it.
public struct CollectionRecord: Sendable, Hashable {
    /// The collection name.
    public let name: String
    /// Its type.
    public let type: CollectionType
    /// Its documentation string, if any.
    public let doc: String?
    /// For a CHAINED collection, its children in search order; empty otherwise.
    public let children: [String]
    package let id: Int64
}

/// How ``Registry/modifyChain(_:children:mode:doc:flatten:)`` changes a chain.
public enum ChainMode: String, Sendable, CaseIterable {
    /// Replace the children (creates the chain when missing).
    case redefine
    /// Append children at the end.
    case extend
    /// Remove the named children.
    case remove
    /// Insert children at the front.
    case prepend
    /// Remove children by position (0 when none is given; negative counts from the end).
    case pop
}
