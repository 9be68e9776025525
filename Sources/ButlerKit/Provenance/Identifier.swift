extension Butler {
    /// Whether `text` is an identifier (a letter or `_`, then letters, digits and `_`, ASCII only): what a metric
    /// name and an input role before `=` must be. Checked byte by byte (it runs once per metric of a million quanta).
    package static func isIdentifier(_ text: String) -> Bool {
        var bytes = text.utf8.makeIterator()
        guard let first = bytes.next() else { return false }
        func letter(_ b: UInt8) -> Bool { b == UInt8(ascii: "_") || (b | 0x20) >= UInt8(ascii: "a") && (b | 0x20) <= UInt8(ascii: "z") }
        guard letter(first) else { return false }
        while let b = bytes.next() {
            guard letter(b) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) else { return false }
        }
        return true
    }
}
