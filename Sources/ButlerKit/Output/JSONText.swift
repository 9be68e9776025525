import Foundation
/// A JSON string literal for `s`, quoted and escaped.
public func jsonString(_ s: String) -> String {
    var out = ""
    appendJSONString(s, to: &out)
    return out
}

/// Appends `s` as a JSON string literal to `out` (what ``jsonString(_:)`` returns, without a string of its own: long
/// documents are written this way).
func appendJSONString(_ s: String, to out: inout String) {
    // Most values need no escaping.
    if !s.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
        out += "\""
        out += s
        out += "\""
        return
    }
    out += "\""
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
    out += "\""
}

/// Text written in pieces of about `chunkSize` bytes to `sink` as it is made, so that a long document (the lineage
/// of a bias: tens of megabytes) is never held whole. Call ``finish()`` at the end.
final class ChunkedText {
    private(set) var buffer = ""
    private let sink: (String) throws -> Void
    private let chunkSize: Int

    init(chunkSize: Int = 1 << 20, sink: @escaping (String) throws -> Void) {
        self.sink = sink
        self.chunkSize = chunkSize
        buffer.reserveCapacity(chunkSize + 4096)
    }

    /// Appends `text`; hands the buffer to the sink when it is full.
    func append(_ text: String) throws {
        buffer += text
        try flushIfFull()
    }

    /// Appends through `body` (several pieces at once); hands the buffer to the sink when it is full.
    func write(_ body: (inout String) -> Void) throws {
        body(&buffer)
        try flushIfFull()
    }

    private func flushIfFull() throws {
        guard buffer.utf8.count >= chunkSize else { return }
        try sink(buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    /// Hands what is left to the sink.
    func finish() throws {
        if !buffer.isEmpty { try sink(buffer) }
        buffer = ""
    }
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
