/// YAML scalars as PyYAML reads and writes them (YAML 1.1, the safe loader and dumper Rubin's export uses), without a
/// YAML library: what an untagged plain scalar means, and how a string must be written so that it reads back as the
/// same string.
///
/// The export writer quotes exactly the strings PyYAML would quote (a data ID value `'0012'`, a group
/// `'2024-06-25T00:59:45.004'`) and leaves the others plain (`2024-06-25T01:26:31.895#1`); the export reader types
/// untagged plain scalars as PyYAML does (`0012` is the octal integer 10), whichever YAML library composed them.
enum YAMLPlainScalar {
    /// What an untagged plain scalar resolves to.
    enum Value: Equatable {
        case null
        case bool(Bool)
        case int(Int)
        case float(Double)
        /// A timestamp (`2024-06-25`, `2024-06-25 01:02:03.5Z`), kept as its text.
        case timestamp(String)
        /// The merge key `<<` or the value key `=`.
        case special(String)
        case string(String)
    }

    // MARK: Reading

    /// The value of an untagged plain scalar, by PyYAML's implicit resolvers.
    static func resolve(_ text: String) -> Value {
        guard let first = text.utf8.first else { return .null }
        // Most text starts with a letter other than those of null and the booleans: a string, without more work.
        if isLetter(first) && !"nNyYtTfFoO".utf8.contains(first) { return .string(text) }
        let s = Array(text.utf8)
        switch first {
        case UInt8(ascii: "~"), UInt8(ascii: "n"), UInt8(ascii: "N"):
            if text == "~" || text == "null" || text == "Null" || text == "NULL" { return .null }
        default: break
        }
        if let b = boolValue(text) { return .bool(b) }
        let isNumberStart = (first >= 48 && first <= 57) || first == UInt8(ascii: "-") || first == UInt8(ascii: "+") || first == UInt8(ascii: ".")
        guard isNumberStart else { return text == "<<" || text == "=" ? .special(text) : .string(text) }
        if isInt(s) { return intValue(s).map(Value.int) ?? .string(text) }
        if isFloat(s) { return floatValue(text).map(Value.float) ?? .string(text) }
        if isTimestamp(s) { return .timestamp(text) }
        return .string(text)
    }

    /// Whether PyYAML would read this plain text as something other than a string.
    static func resolvesToNonString(_ text: String) -> Bool {
        if case .string = resolve(text) { return false }
        return true
    }

    private static let trueWords: Set<String> = ["yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"]
    private static let falseWords: Set<String> = ["no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"]

    private static func boolValue(_ text: String) -> Bool? {
        guard text.utf8.count <= 5 else { return nil }
        if trueWords.contains(text) { return true }
        if falseWords.contains(text) { return false }
        return nil
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }

    /// `[-+]?0b[01_]+ | [-+]?0[0-7_]+ | [-+]?(0|[1-9][0-9_]*) | [-+]?0x[0-9a-fA-F_]+ | [-+]?[1-9][0-9_]*(:[0-5]?[0-9])+`
    private static func isInt(_ s: [UInt8]) -> Bool {
        var i = 0
        if s[0] == UInt8(ascii: "-") || s[0] == UInt8(ascii: "+") { i = 1 }
        guard i < s.count else { return false }
        let body = s[i...]
        if body.first == UInt8(ascii: "0") {
            if body.count == 1 { return true }
            let second = body[body.startIndex + 1]
            let rest = body.dropFirst(2)
            if second == UInt8(ascii: "b") { return !rest.isEmpty && rest.allSatisfy { $0 == 48 || $0 == 49 || $0 == 95 } }
            if second == UInt8(ascii: "x") {
                return !rest.isEmpty && rest.allSatisfy { isDigit($0) || (65...70).contains($0) || (97...102).contains($0) || $0 == 95 }
            }
            return body.dropFirst().allSatisfy { ($0 >= 48 && $0 <= 55) || $0 == 95 }
        }
        guard let f = body.first, f >= 49 && f <= 57 else { return false }
        if body.allSatisfy({ isDigit($0) || $0 == 95 }) { return true }
        // Sexagesimal: [1-9][0-9_]* then one or more groups :[0-5]?[0-9].
        let parts = body.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        guard parts.count > 1, parts[0].allSatisfy({ isDigit($0) || $0 == 95 }) else { return false }
        return parts.dropFirst().allSatisfy(isSexagesimalGroup)
    }

    private static func isSexagesimalGroup(_ p: ArraySlice<UInt8>) -> Bool {
        switch p.count {
        case 1: return isDigit(p[p.startIndex])
        case 2: return p[p.startIndex] >= 48 && p[p.startIndex] <= 53 && isDigit(p[p.startIndex + 1])
        default: return false
        }
    }

    private static func intValue(_ s: [UInt8]) -> Int? {
        var text = String(decoding: s.filter { $0 != 95 }, as: UTF8.self)
        var sign = 1
        if text.hasPrefix("-") { sign = -1; text.removeFirst() } else if text.hasPrefix("+") { text.removeFirst() }
        let magnitude: Int?
        if text == "0" {
            magnitude = 0
        } else if text.hasPrefix("0b") {
            magnitude = Int(text.dropFirst(2), radix: 2)
        } else if text.hasPrefix("0x") {
            magnitude = Int(text.dropFirst(2), radix: 16)
        } else if text.hasPrefix("0") {
            magnitude = Int(text.dropFirst(), radix: 8)
        } else if text.contains(":") {
            var v = 0
            for part in text.split(separator: ":") {
                guard let d = Int(part) else { return nil }
                let (m, o1) = v.multipliedReportingOverflow(by: 60)
                let (a, o2) = m.addingReportingOverflow(d)
                if o1 || o2 { return nil }
                v = a
            }
            magnitude = v
        } else {
            magnitude = Int(text)
        }
        return magnitude.map { $0 * sign }
    }

    /// `[-+]?[0-9][0-9_]*\.[0-9_]*([eE][-+][0-9]+)? | \.[0-9][0-9_]*([eE][-+][0-9]+)? | [-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*
    /// | [-+]?\.(inf|Inf|INF) | \.(nan|NaN|NAN)`
    private static func isFloat(_ s: [UInt8]) -> Bool {
        let text = String(decoding: s, as: UTF8.self)
        if [".nan", ".NaN", ".NAN"].contains(text) { return true }
        var i = 0
        if s[0] == UInt8(ascii: "-") || s[0] == UInt8(ascii: "+") { i = 1 }
        let body = Array(s[i...])
        if [".inf", ".Inf", ".INF"].contains(String(decoding: body, as: UTF8.self)) { return true }
        func exponentOK(_ e: ArraySlice<UInt8>) -> Bool {
            // [eE][-+][0-9]+ or nothing
            if e.isEmpty { return true }
            let a = Array(e)
            guard a.count >= 3, a[0] == UInt8(ascii: "e") || a[0] == UInt8(ascii: "E"),
                  a[1] == UInt8(ascii: "-") || a[1] == UInt8(ascii: "+") else { return false }
            return a[2...].allSatisfy(isDigit)
        }
        guard let dot = body.firstIndex(of: UInt8(ascii: ".")) else { return false }
        let head = body[..<dot]
        let tail = body[(dot + 1)...]
        if head.isEmpty {
            // `.5`, only without a sign.
            guard i == 0, let f = tail.first, isDigit(f) else { return false }
            let digitsEnd = tail.firstIndex { !(isDigit($0) || $0 == 95) } ?? tail.endIndex
            return exponentOK(tail[digitsEnd...])
        }
        guard isDigit(head[head.startIndex]) else { return false }
        if head.allSatisfy({ isDigit($0) || $0 == 95 }) {
            let digitsEnd = tail.firstIndex { !(isDigit($0) || $0 == 95) } ?? tail.endIndex
            return exponentOK(tail[digitsEnd...])
        }
        // Sexagesimal float: the fraction has no exponent.
        let parts = head.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        guard parts.count > 1, parts[0].allSatisfy({ isDigit($0) || $0 == 95 }),
              parts.dropFirst().allSatisfy(isSexagesimalGroup) else { return false }
        return tail.allSatisfy { isDigit($0) || $0 == 95 }
    }

    private static func floatValue(_ text: String) -> Double? {
        var t = text.replacingOccurrences(of: "_", with: "")
        var sign = 1.0
        if t.hasPrefix("-") { sign = -1; t.removeFirst() } else if t.hasPrefix("+") { t.removeFirst() }
        switch t.lowercased() {
        case ".inf": return sign * .infinity
        case ".nan": return .nan
        default: break
        }
        if t.contains(":") {
            var v = 0.0
            for part in t.split(separator: ":") {
                guard let d = Double(part) else { return nil }
                v = v * 60 + d
            }
            return sign * v
        }
        return Double(t).map { sign * $0 }
    }

    /// `YYYY-MM-DD`, or `YYYY-M[M]-D[D]` then `T`/`t`/spaces, `H[H]:MM:SS[.f*]` and an optional zone.
    private static func isTimestamp(_ s: [UInt8]) -> Bool {
        var i = 0
        func digits(_ min: Int, _ max: Int) -> Bool {
            var n = 0
            while i < s.count, n < max, isDigit(s[i]) { i += 1; n += 1 }
            return n >= min
        }
        func char(_ c: Character) -> Bool {
            guard i < s.count, s[i] == c.asciiValue! else { return false }
            i += 1
            return true
        }
        guard digits(4, 4), char("-") else { return false }
        let afterYear = i
        if digits(2, 2), char("-"), digits(2, 2), i == s.count { return true }
        i = afterYear
        guard digits(1, 2), char("-"), digits(1, 2) else { return false }
        guard i < s.count else { return false }
        if s[i] == UInt8(ascii: "T") || s[i] == UInt8(ascii: "t") {
            i += 1
        } else {
            var spaces = 0
            while i < s.count, s[i] == 32 || s[i] == 9 { i += 1; spaces += 1 }
            guard spaces > 0 else { return false }
        }
        guard digits(1, 2), char(":"), digits(2, 2), char(":"), digits(2, 2) else { return false }
        if char(".") { _ = digits(0, Int.max) }
        while i < s.count, s[i] == 32 || s[i] == 9 { i += 1 }
        if i == s.count { return true }
        if char("Z") { return i == s.count }
        guard i < s.count, s[i] == UInt8(ascii: "-") || s[i] == UInt8(ascii: "+") else { return false }
        i += 1
        guard digits(1, 2) else { return false }
        if char(":") { guard digits(2, 2) else { return false } }
        return i == s.count
    }

    // MARK: Writing

    /// The string as PyYAML's dumper writes it in block context (`allow_unicode` off, as Rubin dumps): plain when it
    /// reads back as the same string, else single-quoted, else (control or non-ASCII characters, line breaks)
    /// double-quoted with escapes. Line breaks always go double-quoted here (PyYAML may fold them into a
    /// single-quoted form; both read back the same).
    static func quoted(_ text: String) -> String {
        if isSafePlain(text) { return text }
        switch style(of: text) {
        case .plain: return text
        case .singleQuoted: return "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
        case .doubleQuoted: return doubleQuoted(text)
        }
    }

    enum Style { case plain, singleQuoted, doubleQuoted }

    private static func isLetter(_ c: UInt8) -> Bool { (c >= 65 && c <= 90) || (c >= 97 && c <= 122) }

    /// The common case, decided in one pass: a letter (not one that starts null or a boolean), then only letters,
    /// digits and `_ . / ~ + -`. Such text is always written plain.
    private static func isSafePlain(_ text: String) -> Bool {
        var first = true
        for c in text.utf8 {
            if first {
                guard isLetter(c), c != 110, c != 78, c != 121, c != 89, c != 116, c != 84, c != 102, c != 70, c != 111, c != 79 else { return false }
                first = false
                continue
            }
            guard isLetter(c) || isDigit(c) || c == 95 || c == 46 || c == 47 || c == 126 || c == 43 || c == 45 else { return false }
        }
        return !first
    }

    /// PyYAML's scalar analysis (`Emitter.analyze_scalar`) reduced to block context.
    static func style(of text: String) -> Style {
        let s = Array(text.utf8)
        if s.isEmpty { return .singleQuoted }
        var indicators = false
        var special = false
        var lineBreaks = false
        if text.hasPrefix("---") || text.hasPrefix("...") { indicators = true }
        func isSpace(_ i: Int) -> Bool { i >= s.count || s[i] == 32 || s[i] == 9 || s[i] == 10 || s[i] == 13 || s[i] == 0 }
        for (i, c) in s.enumerated() {
            let followedBySpace = isSpace(i + 1)
            if i == 0 {
                switch c {
                case UInt8(ascii: "#"), UInt8(ascii: ","), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "{"),
                     UInt8(ascii: "}"), UInt8(ascii: "&"), UInt8(ascii: "*"), UInt8(ascii: "!"), UInt8(ascii: "|"),
                     UInt8(ascii: ">"), UInt8(ascii: "'"), UInt8(ascii: "\""), UInt8(ascii: "%"), UInt8(ascii: "@"),
                     UInt8(ascii: "`"):
                    indicators = true
                case UInt8(ascii: "?"), UInt8(ascii: ":"), UInt8(ascii: "-"):
                    if followedBySpace { indicators = true }
                default: break
                }
            } else {
                if c == UInt8(ascii: ":") && followedBySpace { indicators = true }
                if c == UInt8(ascii: "#") && isSpace(i - 1) { indicators = true }
            }
            if c == 10 { lineBreaks = true } else if c < 0x20 || c >= 0x7F { special = true }
        }
        // Non-ASCII characters (U+0085, U+2028, U+2029 included) make the scalar special without allow_unicode.
        if special || lineBreaks { return .doubleQuoted }
        if s.first == 32 || s.last == 32 || indicators || resolvesToNonString(text) { return .singleQuoted }
        return .plain
    }

    /// PyYAML's double-quoted form: `"`, `\` and every character outside printable ASCII escaped.
    static func doubleQuoted(_ text: String) -> String {
        var out = "\""
        for u in text.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\0": out += "\\0"
            case "\u{07}": out += "\\a"
            case "\u{08}": out += "\\b"
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            case "\u{0B}": out += "\\v"
            case "\u{0C}": out += "\\f"
            case "\r": out += "\\r"
            case "\u{1B}": out += "\\e"
            case "\u{85}": out += "\\N"
            case "\u{A0}": out += "\\_"
            case "\u{2028}": out += "\\L"
            case "\u{2029}": out += "\\P"
            default:
                let v = u.value
                if v >= 0x20 && v <= 0x7E {
                    out.unicodeScalars.append(u)
                } else if v <= 0xFF {
                    out += "\\x" + hex(v, 2)
                } else if v <= 0xFFFF {
                    out += "\\u" + hex(v, 4)
                } else {
                    out += "\\U" + hex(v, 8)
                }
            }
        }
        return out + "\""
    }

    private static func hex(_ v: UInt32, _ width: Int) -> String {
        let s = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }

    /// A float as PyYAML writes it: Python's `repr`, lower-case, with `.0` before a bare exponent; `.inf`, `.nan`.
    static func float(_ v: Double) -> String {
        if v.isNaN { return ".nan" }
        if v.isInfinite { return v < 0 ? "-.inf" : ".inf" }
        var text = String(v).lowercased()
        if !text.contains("."), let e = text.firstIndex(of: "e") {
            text.replaceSubrange(e..<text.index(after: e), with: ".0e")
        }
        return text
    }
}
