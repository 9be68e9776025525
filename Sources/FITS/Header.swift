/// The header of one HDU: its cards in order (keywords can repeat: COMMENT, HISTORY).
///
/// Typed access never throws for a missing keyword: it returns `nil`. An undefined value also reads as `nil`;
/// ``isUndefined(_:)`` tells the two apart.
public struct Header: Sendable {
    /// Every card in order, END excluded.
    public let cards: [HeaderCard]
    private let index: [String: Int]

    public init(cards: [HeaderCard]) {
        self.cards = cards
        var index: [String: Int] = [:]
        index.reserveCapacity(cards.count)
        for (i, card) in cards.enumerated() where !card.isCommentary && index[card.keyword] == nil {
            index[card.keyword] = i
        }
        self.index = index
    }

    /// The first card with this keyword (case-insensitive; HIERARCH keywords without the `HIERARCH` word).
    public func card(_ keyword: String) -> HeaderCard? {
        index[Self.normalized(keyword)].map { cards[$0] }
    }

    /// Upper case, without allocating for keywords that already are (the usual case).
    private static func normalized(_ keyword: String) -> String {
        keyword.utf8.contains(where: { $0 >= 0x61 && $0 <= 0x7A }) ? keyword.uppercased() : keyword
    }

    /// The value of a keyword, or `nil` when absent.
    public subscript(_ keyword: String) -> HeaderValue? { card(keyword)?.value }

    /// Whether the keyword is present.
    public func contains(_ keyword: String) -> Bool { index[Self.normalized(keyword)] != nil }

    /// Whether the keyword is present with an empty value field.
    public func isUndefined(_ keyword: String) -> Bool { self[keyword] == .undefined }

    /// A string value; numbers and logicals are rendered as text. `nil` when absent or undefined.
    public func string(_ keyword: String) -> String? {
        guard let v = self[keyword] else { return nil }
        switch v {
        case .undefined: return nil
        default: return v.description
        }
    }

    /// An integer value (also from an integral float or a numeric string).
    public func int(_ keyword: String) -> Int? {
        switch self[keyword] {
        case .integer(let i)?: return i
        case .float(let d)?: return Int(exactly: d)
        case .string(let s)?: return Int(s.trimmingSpaces())
        default: return nil
        }
    }

    /// A floating-point value (also from an integer or a numeric string).
    public func double(_ keyword: String) -> Double? {
        switch self[keyword] {
        case .integer(let i)?: return Double(i)
        case .float(let d)?: return d
        case .string(let s)?: return Double(s.trimmingSpaces())
        default: return nil
        }
    }

    /// A logical value.
    public func bool(_ keyword: String) -> Bool? {
        if case .logical(let b)? = self[keyword] { return b }
        return nil
    }

    /// The text of every COMMENT card.
    public var comments: [String] { cards.filter { $0.keyword == "COMMENT" && $0.isCommentary }.map(\.comment) }
    /// The text of every HISTORY card.
    public var history: [String] { cards.filter { $0.keyword == "HISTORY" && $0.isCommentary }.map(\.comment) }

    /// This header with the cards of `other` added, `other` winning where both define a keyword
    /// (an extension header over its primary header, as raw translators see it).
    public func merging(_ other: Header) -> Header {
        let overridden = Set(other.cards.filter { !$0.isCommentary }.map(\.keyword))
        return Header(cards: cards.filter { $0.isCommentary || !overridden.contains($0.keyword) } + other.cards)
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
