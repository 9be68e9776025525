import Foundation

/// The value of a header card.
public enum HeaderValue: Sendable, Hashable, CustomStringConvertible {
    /// A string (`'AT_O_20230321_000053'`), with long strings already joined from their CONTINUE cards.
    case string(String)
    /// An integer.
    case integer(Int)
    /// A floating-point number (`1.5`, `1.5E3`, `1.5D3`).
    case float(Double)
    /// A logical value (`T` or `F`).
    case logical(Bool)
    /// A complex number, kept as written (`(1.0, 2.0)`).
    case complex(String)
    /// A keyword with an empty value field: defined but undefined.
    case undefined

    public var description: String {
        switch self {
        case .string(let s): return s
        case .integer(let i): return String(i)
        case .float(let d): return String(d)
        case .logical(let b): return b ? "T" : "F"
        case .complex(let c): return c
        case .undefined: return ""
        }
    }
}

/// One header card: a keyword with a value and a comment, or a commentary card (COMMENT, HISTORY, blank).
public struct HeaderCard: Sendable, Hashable {
    /// The keyword, upper case; for HIERARCH cards the words after `HIERARCH` (`LSST BUTLER ID`).
    public let keyword: String
    /// The value, or `nil` for commentary cards.
    public let value: HeaderValue?
    /// The comment after `/`, or the text of a commentary card.
    public let comment: String

    public init(keyword: String, value: HeaderValue?, comment: String = "") {
        self.keyword = keyword
        self.value = value
        self.comment = comment
    }

    /// Whether this is a COMMENT, HISTORY or blank-keyword card.
    public var isCommentary: Bool { value == nil }
}

/// Parses 80-column FITS cards (the standard's section 4), including HIERARCH and CONTINUE.
///
/// Works on the bytes in place: this is the hot loop of a raw ingest (a few hundred cards per file).
enum CardParser {
    struct Problem: Error {
        let card: Int
        let keyword: String
        let message: String
    }

    typealias Bytes = UnsafeBufferPointer<UInt8>
    static let space = UInt8(ascii: " "), quote = UInt8(ascii: "'"), slash = UInt8(ascii: "/"), equals = UInt8(ascii: "=")

    /// Parses a header given as consecutive 80-byte cards, stopping at END.
    static func parse(_ bytes: Bytes) throws(Problem) -> [HeaderCard] {
        var cards: [HeaderCard] = []
        cards.reserveCapacity(bytes.count / 80)
        var offset = 0
        var index = 0
        while offset + 8 <= bytes.count {
            index += 1
            let end = min(offset + 80, bytes.count)
            let card = Bytes(rebasing: bytes[offset..<end])
            offset = end
            let keyword = text(card, 0, 8, trim: true)
            if keyword == "END" { break }
            for byte in card where byte < 0x20 || byte > 0x7E {
                throw Problem(card: index, keyword: keyword,
                              message: "card \(index) (\(keyword.isEmpty ? "blank keyword" : keyword)) holds byte 0x\(String(byte, radix: 16, uppercase: true)), outside printable ASCII")
            }
            if keyword == "CONTINUE" {
                let (value, comment) = parseValue(card, from: 8)
                if case .string(let more) = value, let last = cards.last, case .string(let s)? = last.value, s.hasSuffix("&") {
                    cards[cards.count - 1] = HeaderCard(keyword: last.keyword, value: .string(String(s.dropLast()) + more),
                                                        comment: last.comment.isEmpty ? comment : last.comment + (comment.isEmpty ? "" : " " + comment))
                } else {
                    cards.append(HeaderCard(keyword: "CONTINUE", value: nil, comment: text(card, 8, card.count, trim: false)))
                }
                continue
            }
            if keyword == "HIERARCH" {
                guard let eq = (8..<card.count).first(where: { card[$0] == equals }) else {
                    cards.append(HeaderCard(keyword: "HIERARCH", value: nil, comment: text(card, 8, card.count, trim: false)))
                    continue
                }
                let name = text(card, 8, eq, trim: true).uppercased()
                let (value, comment) = parseValue(card, from: eq + 1)
                cards.append(HeaderCard(keyword: name, value: value, comment: comment))
                continue
            }
            if card.count >= 10 && card[8] == equals && card[9] == space {
                let (value, comment) = parseValue(card, from: 10)
                cards.append(HeaderCard(keyword: keyword, value: value, comment: comment))
            } else {
                cards.append(HeaderCard(keyword: keyword, value: nil, comment: text(card, 8, card.count, trim: false).trimmingTrailingSpaces()))
            }
        }
        return cards
    }

    /// Parses a value field from `start`: a quoted string, a logical, a number, a complex pair, or nothing,
    /// then `/ comment`.
    static func parseValue(_ card: Bytes, from start: Int) -> (HeaderValue, String) {
        var i = start
        let n = card.count
        while i < n && card[i] == space { i += 1 }
        if i == n { return (.undefined, "") }
        if card[i] == quote {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(n - i)
            i += 1
            while i < n {
                if card[i] == quote {
                    if i + 1 < n && card[i + 1] == quote {
                        bytes.append(quote)
                        i += 2
                        continue
                    }
                    i += 1
                    break
                }
                bytes.append(card[i])
                i += 1
            }
            while let last = bytes.last, last == space { bytes.removeLast() }
            return (.string(String(decoding: bytes, as: UTF8.self)), comment(card, from: i))
        }
        var j = i
        while j < n && card[j] != slash { j += 1 }
        var k = j
        while k > i && card[k - 1] == space { k -= 1 }
        let rest = comment(card, from: j)
        if k == i { return (.undefined, rest) }
        if k == i + 1 {
            if card[i] == UInt8(ascii: "T") { return (.logical(true), rest) }
            if card[i] == UInt8(ascii: "F") { return (.logical(false), rest) }
        }
        if card[i] == UInt8(ascii: "(") { return (.complex(text(card, i, k, trim: false)), rest) }
        if let number = parseNumber(Bytes(rebasing: card[i..<k])) { return (number, rest) }
        return (.string(text(card, i, k, trim: false)), rest)
    }

    /// An integer or a float (`1.5D3` allowed), or `nil`.
    static func parseNumber(_ raw: Bytes) -> HeaderValue? {
        var isInteger = true
        var hasD = false
        for (position, c) in raw.enumerated() {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): continue
            case UInt8(ascii: "+"), UInt8(ascii: "-"): if position != 0 { isInteger = false }
            case UInt8(ascii: "."), UInt8(ascii: "E"), UInt8(ascii: "e"): isInteger = false
            case UInt8(ascii: "D"), UInt8(ascii: "d"): isInteger = false; hasD = true
            default: return nil
            }
        }
        if isInteger {
            var value = 0
            var negative = false
            for (position, c) in raw.enumerated() {
                if position == 0 && (c == UInt8(ascii: "-") || c == UInt8(ascii: "+")) { negative = c == UInt8(ascii: "-"); continue }
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(Int(c - UInt8(ascii: "0")))
                if o1 || o2 { isInteger = false; break }
                value = a
            }
            if isInteger && raw.count > (negative || raw.first == UInt8(ascii: "+") ? 1 : 0) { return .integer(negative ? -value : value) }
        }
        var text = String(decoding: raw, as: UTF8.self)
        if hasD { text = String(text.map { $0 == "D" ? "E" : ($0 == "d" ? "e" : $0) }) }
        return Double(text).map { .float($0) }
    }

    private static func comment(_ card: Bytes, from start: Int) -> String {
        var i = start
        while i < card.count && card[i] != slash { i += 1 }
        guard i < card.count else { return "" }
        return text(card, i + 1, card.count, trim: true)
    }

    /// The bytes `from..<to` as a string, optionally without leading and trailing spaces.
    static func text(_ card: Bytes, _ from: Int, _ to: Int, trim: Bool) -> String {
        var a = min(from, card.count), b = min(to, card.count)
        if trim {
            while a < b && card[a] == space { a += 1 }
            while b > a && card[b - 1] == space { b -= 1 }
        }
        return a < b ? String(decoding: Bytes(rebasing: card[a..<b]), as: UTF8.self) : ""
    }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var s = Substring(self)
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
