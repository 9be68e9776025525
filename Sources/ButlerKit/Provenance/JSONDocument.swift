/// A JSON value exactly as written: numbers keep their text, so nothing is rounded or coerced before a reader
/// decides what it accepts (an integer, a 32-bit integer, a finite double).
package enum JSONValue: Sendable {
    case object([String: JSONValue])
    case array([JSONValue])
    case string(String)
    /// The number's text, as in the document (`12`, `-0.5`, `1e20`).
    case number(String)
    case bool(Bool)
    case null

    /// What the value is, for error messages ("a string", "an object").
    package var kind: String {
        switch self {
        case .object: return "an object"
        case .array: return "a list"
        case .string: return "a string"
        case .number: return "a number"
        case .bool: return "a boolean"
        case .null: return "null"
        }
    }

    /// The value as it would be written in JSON, shortened for an error message.
    package var shown: String {
        switch self {
        case .object: return "an object"
        case .array: return "a list"
        case .string(let s): return escapedForMessage(s, limit: 80)
        case .number(let n): return n
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        }
    }
}

/// A strict JSON parser (RFC 8259): a syntax error names the line and column where it is; duplicate keys, nesting
/// deeper than ``maximumDepth``, invalid UTF-8, lone surrogates and trailing text are errors, not guesses.
package struct JSONDocumentParser {
    /// How deep objects and lists may nest.
    package static let maximumDepth = 64

    /// A syntax error, with its position (line and column from 1; the column counts characters).
    package struct SyntaxError: Error, Sendable, CustomStringConvertible {
        package let line: Int
        package let column: Int
        package let reason: String
        package var description: String { "line \(line), column \(column): \(reason)" }
    }

    /// Parses one JSON value that fills the whole text (a UTF-8 byte order mark is allowed at the start).
    package static func parse(_ bytes: [UInt8]) throws(SyntaxError) -> JSONValue {
        var parser = JSONDocumentParser(bytes: bytes)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { parser.offset = 3 }
        parser.skipSpace()
        let value = try parser.value(depth: 0)
        parser.skipSpace()
        if parser.offset < bytes.count { throw parser.error("unexpected text after the JSON value") }
        return value
    }

    /// Parses one value that fills the whole of `bytes`, as if nested `depth` levels deep in a larger text (a
    /// piece of a document read in chunks; see ``JSONStreamReader``).
    static func parse(_ bytes: [UInt8], depth: Int) throws(SyntaxError) -> JSONValue {
        var parser = JSONDocumentParser(bytes: bytes)
        let value = try parser.value(depth: depth)
        parser.skipSpace()
        if parser.offset < bytes.count { throw parser.error("unexpected text after the JSON value") }
        return value
    }

    private let bytes: [UInt8]
    private var offset = 0

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private func error(_ reason: String, at position: Int? = nil) -> SyntaxError {
        let end = min(position ?? offset, bytes.count)
        var line = 1
        var lineStart = 0
        for i in 0..<end where bytes[i] == 0x0A {
            line += 1
            lineStart = i + 1
        }
        // Columns count characters: every byte that does not continue a UTF-8 sequence.
        let column = bytes[lineStart..<end].reduce(1) { $0 + ($1 & 0xC0 == 0x80 ? 0 : 1) }
        return SyntaxError(line: line, column: column, reason: reason)
    }

    private var current: String {
        guard offset < bytes.count else { return "the end of the text" }
        let b = bytes[offset]
        if b >= 0x21 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
        return "byte 0x" + String(b, radix: 16, uppercase: true)
    }

    private mutating func skipSpace() {
        while offset < bytes.count {
            switch bytes[offset] {
            case 0x20, 0x09, 0x0A, 0x0D: offset += 1
            default: return
            }
        }
    }

    private mutating func value(depth: Int) throws(SyntaxError) -> JSONValue {
        guard offset < bytes.count else { throw error("expected a value, found the end of the text") }
        switch bytes[offset] {
        case UInt8(ascii: "{"): return try object(depth: depth + 1)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "'"): throw error("strings need double quotes")
        default: throw error("expected a value, found \(current)")
        }
    }

    private mutating func literal(_ word: String) throws(SyntaxError) {
        let start = offset
        for b in word.utf8 {
            guard offset < bytes.count, bytes[offset] == b else { throw error("expected '\(word)'", at: start) }
            offset += 1
        }
    }

    private mutating func object(depth: Int) throws(SyntaxError) -> JSONValue {
        if depth > Self.maximumDepth { throw error("nested deeper than \(Self.maximumDepth) levels") }
        offset += 1
        var members: [String: JSONValue] = [:]
        skipSpace()
        if offset < bytes.count, bytes[offset] == UInt8(ascii: "}") { offset += 1; return .object(members) }
        while true {
            skipSpace()
            guard offset < bytes.count, bytes[offset] == UInt8(ascii: "\"") else {
                throw error(offset < bytes.count && bytes[offset] == UInt8(ascii: "}") ? "a trailing ',' before '}'" : "expected a key in double quotes, found \(current)")
            }
            let keyStart = offset
            let key = try string()
            skipSpace()
            guard offset < bytes.count, bytes[offset] == UInt8(ascii: ":") else { throw error("expected ':' after the key, found \(current)") }
            offset += 1
            skipSpace()
            let member = try value(depth: depth)
            if members.updateValue(member, forKey: key) != nil { throw error("duplicate key \(escapedForMessage(key))", at: keyStart) }
            skipSpace()
            guard offset < bytes.count else { throw error("the object is not closed: expected ',' or '}', found the end of the text") }
            if bytes[offset] == UInt8(ascii: ",") { offset += 1; continue }
            if bytes[offset] == UInt8(ascii: "}") { offset += 1; return .object(members) }
            throw error("expected ',' or '}' after an object member, found \(current)")
        }
    }

    private mutating func array(depth: Int) throws(SyntaxError) -> JSONValue {
        if depth > Self.maximumDepth { throw error("nested deeper than \(Self.maximumDepth) levels") }
        offset += 1
        var elements: [JSONValue] = []
        skipSpace()
        if offset < bytes.count, bytes[offset] == UInt8(ascii: "]") { offset += 1; return .array(elements) }
        while true {
            skipSpace()
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "]") { throw error("a trailing ',' before ']'") }
            elements.append(try value(depth: depth))
            skipSpace()
            guard offset < bytes.count else { throw error("the list is not closed: expected ',' or ']', found the end of the text") }
            if bytes[offset] == UInt8(ascii: ",") { offset += 1; continue }
            if bytes[offset] == UInt8(ascii: "]") { offset += 1; return .array(elements) }
            throw error("expected ',' or ']' after a list element, found \(current)")
        }
    }

    private mutating func number() throws(SyntaxError) -> String {
        let start = offset
        func digits() -> Int {
            let from = offset
            while offset < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[offset]) { offset += 1 }
            return offset - from
        }
        if bytes[offset] == UInt8(ascii: "-") { offset += 1 }
        let intStart = offset
        let intDigits = digits()
        if intDigits == 0 { throw error("expected a digit, found \(current)") }
        if intDigits > 1 && bytes[intStart] == UInt8(ascii: "0") { throw error("a number cannot start with 0", at: intStart) }
        if offset < bytes.count, bytes[offset] == UInt8(ascii: ".") {
            offset += 1
            if digits() == 0 { throw error("expected a digit after '.', found \(current)") }
        }
        if offset < bytes.count, bytes[offset] | 0x20 == UInt8(ascii: "e") {
            offset += 1
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "+") || bytes[offset] == UInt8(ascii: "-") { offset += 1 }
            if digits() == 0 { throw error("expected a digit in the exponent, found \(current)") }
        }
        return String(decoding: bytes[start..<offset], as: UTF8.self)
    }

    private mutating func string() throws(SyntaxError) -> String {
        offset += 1
        var out: [UInt8] = []
        var runStart = offset
        while true {
            guard offset < bytes.count else { throw error("the string is not closed") }
            let b = bytes[offset]
            if b == UInt8(ascii: "\"") {
                out.append(contentsOf: bytes[runStart..<offset])
                offset += 1
                break
            }
            if b < 0x20 { throw error(b == 0x0A ? "a line break inside a string (write \\n)" : "a control character inside a string (write it as \\u00XX)") }
            if b == UInt8(ascii: "\\") {
                out.append(contentsOf: bytes[runStart..<offset])
                try escape(into: &out)
                runStart = offset
                continue
            }
            if b >= 0x80 { try skipUTF8() } else { offset += 1 }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Checks one multi-byte UTF-8 sequence (shortest form, no surrogates, at most U+10FFFF) and moves past it.
    private mutating func skipUTF8() throws(SyntaxError) {
        let b = bytes[offset]
        let count: Int
        var scalar: UInt32
        switch b {
        case 0xC2...0xDF: count = 2; scalar = UInt32(b & 0x1F)
        case 0xE0...0xEF: count = 3; scalar = UInt32(b & 0x0F)
        case 0xF0...0xF4: count = 4; scalar = UInt32(b & 0x07)
        default: throw error("invalid UTF-8")
        }
        guard offset + count <= bytes.count else { throw error("invalid UTF-8") }
        for i in 1..<count {
            let c = bytes[offset + i]
            guard c & 0xC0 == 0x80 else { throw error("invalid UTF-8") }
            scalar = scalar << 6 | UInt32(c & 0x3F)
        }
        let minimum: UInt32 = count == 3 ? 0x800 : count == 4 ? 0x10000 : 0x80
        guard scalar >= minimum, scalar <= 0x10FFFF, !(0xD800...0xDFFF).contains(scalar) else { throw error("invalid UTF-8") }
        offset += count
    }

    private mutating func escape(into out: inout [UInt8]) throws(SyntaxError) {
        let start = offset
        offset += 1
        guard offset < bytes.count else { throw error("the string is not closed") }
        let c = bytes[offset]
        offset += 1
        switch c {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(c)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try hex4()
            if (0xD800...0xDBFF).contains(scalar) {
                guard offset + 1 < bytes.count, bytes[offset] == UInt8(ascii: "\\"), bytes[offset + 1] == UInt8(ascii: "u") else {
                    throw error("a lone UTF-16 surrogate \\u\(String(scalar, radix: 16))", at: start)
                }
                offset += 2
                let low = try hex4()
                guard (0xDC00...0xDFFF).contains(low) else { throw error("a lone UTF-16 surrogate \\u\(String(scalar, radix: 16))", at: start) }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(scalar) {
                throw error("a lone UTF-16 surrogate \\u\(String(scalar, radix: 16))", at: start)
            }
            out.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
        default:
            throw error("unknown escape '\\\(Character(Unicode.Scalar(c)))'", at: start)
        }
    }

    private mutating func hex4() throws(SyntaxError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard offset < bytes.count, let digit = hexValue(bytes[offset]) else { throw error("expected 4 hexadecimal digits after \\u") }
            value = value << 4 | digit
            offset += 1
        }
        return value
    }

    private func hexValue(_ b: UInt8) -> UInt32? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(b - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(b - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(b - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }
}
