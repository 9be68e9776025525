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
enum CardParser {
    struct Problem: Error {
        let card: Int
        let keyword: String
        let message: String
    }

    /// Parses a header given as consecutive 80-byte cards, stopping at END.
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(Problem) -> [HeaderCard] {
        var cards: [HeaderCard] = []
        cards.reserveCapacity(bytes.count / 80)
        var offset = 0
        var index = 0
        while offset + 8 <= bytes.count {
            index += 1
            let end = min(offset + 80, bytes.count)
            let card = UnsafeBufferPointer(rebasing: bytes[offset..<end])
            offset = end
            let keyword = trimmed(card.prefix(8))
            if keyword == "END" { break }
            for byte in card where byte < 0x20 || byte > 0x7E {
                throw Problem(card: index, keyword: keyword,
                              message: "card \(index) (\(keyword.isEmpty ? "blank keyword" : keyword)) holds byte 0x\(String(byte, radix: 16, uppercase: true)), outside printable ASCII")
            }
            if keyword == "CONTINUE" {
                let (value, comment) = parseValue(card.count > 8 ? UnsafeBufferPointer(rebasing: card[8...]) : UnsafeBufferPointer(rebasing: card[8..<8]))
                if case .string(let more)? = value, let last = cards.last, case .string(let s)? = last.value, s.hasSuffix("&") {
                    cards[cards.count - 1] = HeaderCard(keyword: last.keyword, value: .string(String(s.dropLast()) + more),
                                                        comment: last.comment.isEmpty ? comment : last.comment + (comment.isEmpty ? "" : " " + comment))
                } else {
                    cards.append(HeaderCard(keyword: "CONTINUE", value: nil, comment: text(card.count > 8 ? Array(card[8...]) : [])))
                }
                continue
            }
            if keyword == "HIERARCH" {
                let rest = Array(card[8...])
                guard let eq = rest.firstIndex(of: UInt8(ascii: "=")) else {
                    cards.append(HeaderCard(keyword: "HIERARCH", value: nil, comment: text(rest)))
                    continue
                }
                let name = trimmed(rest[..<eq]).uppercased()
                let valueField = Array(rest[(eq + 1)...])
                let (value, comment) = valueField.withUnsafeBufferPointer { parseValue($0) }
                cards.append(HeaderCard(keyword: name, value: value ?? .undefined, comment: comment))
                continue
            }
            if card.count >= 10 && card[8] == UInt8(ascii: "=") && card[9] == UInt8(ascii: " ") {
                let (value, comment) = parseValue(UnsafeBufferPointer(rebasing: card[10...]))
                cards.append(HeaderCard(keyword: keyword, value: value ?? .undefined, comment: comment))
            } else {
                cards.append(HeaderCard(keyword: keyword, value: nil, comment: text(card.count > 8 ? Array(card[8...]) : []).trimmingTrailingSpaces()))
            }
        }
        return cards
    }

    /// Parses a value field: a quoted string, a logical, a number, a complex pair, or nothing, then `/ comment`.
    static func parseValue(_ field: UnsafeBufferPointer<UInt8>) -> (HeaderValue?, String) {
        var i = 0
        let n = field.count
        while i < n && field[i] == 0x20 { i += 1 }
        if i == n { return (.undefined, "") }
        if field[i] == UInt8(ascii: "'") {
            var bytes: [UInt8] = []
            i += 1
            while i < n {
                if field[i] == UInt8(ascii: "'") {
                    if i + 1 < n && field[i + 1] == UInt8(ascii: "'") {
                        bytes.append(UInt8(ascii: "'"))
                        i += 2
                        continue
                    }
                    i += 1
                    break
                }
                bytes.append(field[i])
                i += 1
            }
            while let last = bytes.last, last == 0x20 { bytes.removeLast() }
            return (.string(String(decoding: bytes, as: UTF8.self)), comment(field, from: i))
        }
        var j = i
        while j < n && field[j] != UInt8(ascii: "/") { j += 1 }
        let raw = trimmed(UnsafeBufferPointer(rebasing: field[i..<j]))
        let rest = comment(field, from: j)
        if raw.isEmpty { return (.undefined, rest) }
        if raw == "T" { return (.logical(true), rest) }
        if raw == "F" { return (.logical(false), rest) }
        if raw.hasPrefix("(") { return (.complex(raw), rest) }
        if let int = Int(raw) { return (.integer(int), rest) }
        let normalized = raw.replacingOccurrences(of: "D", with: "E").replacingOccurrences(of: "d", with: "e")
        if let double = Double(normalized) { return (.float(double), rest) }
        return (.string(raw), rest)
    }

    private static func comment(_ field: UnsafeBufferPointer<UInt8>, from start: Int) -> String {
        var i = start
        while i < field.count && field[i] != UInt8(ascii: "/") { i += 1 }
        guard i < field.count else { return "" }
        return trimmed(UnsafeBufferPointer(rebasing: field[(i + 1)...]))
    }

    private static func trimmed<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var s = Array(bytes)
        while let l = s.last, l == 0x20 { s.removeLast() }
        var start = 0
        while start < s.count && s[start] == 0x20 { start += 1 }
        return String(decoding: s[start...], as: UTF8.self)
    }

    private static func text<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        String(decoding: Array(bytes), as: UTF8.self)
    }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var s = Substring(self)
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
