import Foundation
/// A JSON string literal for `s`, quoted and escaped.
public func jsonString(_ s: String) -> String {
    // Most values need no escaping.
    if !s.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) { return "\"" + s + "\"" }
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
        }
    }
    return out + "\""
}

/// `s` with each character found in `replacements` replaced, without Foundation (this is called for every label and
/// identifier; most strings need nothing replaced and are returned as they are).
func escaping(_ s: String, _ replacements: [Character: String]) -> String {
    guard s.contains(where: { replacements[$0] != nil }) else { return s }
    var out = ""
    out.reserveCapacity(s.utf8.count + 8)
    for c in s {
        if let r = replacements[c] { out += r } else { out.append(c) }
    }
    return out
}
