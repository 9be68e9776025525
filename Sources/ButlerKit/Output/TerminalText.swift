import Foundation

/// Text for a person's terminal, with every control character made visible.
///
/// Values shown to people come from registries, files and other repositories (an imported step's command, host or
/// metric names), so they may hold terminal escape sequences that would clear a line, move the cursor or retitle the
/// window, hiding what is printed. Every output of the `butler` command goes through
/// ``terminalSafe(_:keepingNewlines:)``, and text made of values (``Lineage/treeText(showConfigs:)``) escapes each
/// value with ``singleLine(_:)``. JSON output stays exact: JSON escapes C0 characters itself, and the escape of a DEL
/// or C1 character is JSON's own.
public enum TerminalText {
    /// Whether `scalar` is a control character a terminal may act on: C0 (U+0000-U+001F, ESC included), DEL and C1
    /// (U+0080-U+009F), or one that reorders what is shown (the bidirectional marks, embeddings, overrides and
    /// isolates U+061C, U+200E-U+200F, U+202A-U+202E, U+2066-U+2069), which can make a command read as another.
    public static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        return v < 0x20 || (v >= 0x7F && v <= 0x9F) || v == 0x061C || v == 0x200E || v == 0x200F || (v >= 0x202A && v <= 0x202E)
            || (v >= 0x2066 && v <= 0x2069)
    }

    /// False when `text` certainly holds no control character (``isControl(_:)``), read byte by byte in UTF-8, which
    /// is fast for the megabytes of a large lineage; true when it may (then its scalars decide).
    static func mayHoldControl(_ text: String, keepingNewlines: Bool) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            var i = 0
            let n = bytes.count
            while i < n {
                let b = bytes[i]
                if b < 0x20 {
                    if !(keepingNewlines && b == 0x0A) { return true }
                } else if b == 0x7F {
                    return true
                } else if b == 0xC2, i + 1 < n, bytes[i + 1] <= 0x9F {
                    return true  // C1: C2 80-9F
                } else if b == 0xD8, i + 1 < n, bytes[i + 1] == 0x9C {
                    return true  // U+061C: D8 9C
                } else if b == 0xE2, i + 2 < n {
                    let b1 = bytes[i + 1], b2 = bytes[i + 2]
                    // U+200E-200F, U+202A-202E: E2 80 8E-8F, AA-AE; U+2066-2069: E2 81 A6-A9
                    if b1 == 0x80 && (b2 == 0x8E || b2 == 0x8F || (b2 >= 0xAA && b2 <= 0xAE)) { return true }
                    if b1 == 0x81 && b2 >= 0xA6 && b2 <= 0xA9 { return true }
                }
                i += 1
            }
            return false
        }
    }

    /// The visible form of a control character: `\e`, `\r`, `\t`, `\n`, or `\u009b` (four hex digits, as JSON writes
    /// it: inside a JSON string, where only DEL and C1 characters can still be raw, the escape reads back as the
    /// character itself, so JSON output stays exact).
    public static func escape(_ scalar: Unicode.Scalar) -> String {
        switch scalar.value {
        case 0x1B: return "\\e"
        case 0x0D: return "\\r"
        case 0x09: return "\\t"
        case 0x0A: return "\\n"
        default:
            let digits = String(scalar.value, radix: 16)
            return "\\u" + String(repeating: "0", count: 4 - digits.count) + digits
        }
    }
}

/// `text` with every control character escaped (``TerminalText/escape(_:)``), newlines kept when `keepingNewlines`
/// (they separate the lines of a message or the rows of a table). Text without control characters is returned as is.
public func terminalSafe(_ text: String, keepingNewlines: Bool = true) -> String {
    guard TerminalText.mayHoldControl(text, keepingNewlines: keepingNewlines),
          text.unicodeScalars.contains(where: { TerminalText.isControl($0) && !(keepingNewlines && $0 == "\n") }) else { return text }
    var out = ""
    out.reserveCapacity(text.utf8.count + 16)
    for scalar in text.unicodeScalars {
        if TerminalText.isControl(scalar) && !(keepingNewlines && scalar == "\n") {
            out += TerminalText.escape(scalar)
        } else {
            out.unicodeScalars.append(scalar)
        }
    }
    return out
}

/// One value shown on one line (a table cell, a field of a tree): every control character escaped, newlines too,
/// so that a value can neither act on the terminal nor pass for a row of its own.
public func singleLine(_ value: String) -> String {
    terminalSafe(value, keepingNewlines: false)
}
