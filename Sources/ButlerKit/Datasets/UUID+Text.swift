public import Foundation

extension UUID {
    /// The canonical lower-case text form (`5d46d9db-ef3e-55ee-aac3-4ac15cd4d8a6`), as the registry stores ids.
    ///
    /// Written without `uuidString` (which goes through `printf`): queries print hundreds of thousands of ids.
    public var lowercasedString: String {
        withUnsafeBytes(of: uuid) { bytes in
            String(unsafeUninitializedCapacity: 36) { out in
                @inline(__always) func digit(_ v: UInt8) -> UInt8 { v < 10 ? v + UInt8(ascii: "0") : v - 10 + UInt8(ascii: "a") }
                var j = 0
                for i in 0..<16 {
                    if i == 4 || i == 6 || i == 8 || i == 10 { out[j] = UInt8(ascii: "-"); j += 1 }
                    out[j] = digit(bytes[i] >> 4)
                    out[j + 1] = digit(bytes[i] & 15)
                    j += 2
                }
                return 36
            }
        }
    }

    /// Parses the canonical text form quickly (any case); `nil` when malformed.
    public init?(registryText text: String) {
        var value: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        guard Self.parse(text, into: &value) else { return nil }
        self.init(uuid: value)
    }

    /// Reads the 32 hex digits of `text` (dashes anywhere) into `value`; false when malformed.
    private static func parse(_ text: String, into value: inout uuid_t) -> Bool {
        withUnsafeMutableBytes(of: &value) { bytes in
            var i = 0
            var high: UInt8?
            for c in text.utf8 {
                let v: UInt8
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): v = c - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): v = c - UInt8(ascii: "A") + 10
                case UInt8(ascii: "-"): continue
                default: return false
                }
                if let h = high {
                    guard i < 16 else { return false }
                    bytes[i] = h << 4 | v
                    i += 1
                    high = nil
                } else {
                    high = v
                }
            }
            return i == 16 && high == nil
        }
    }
}
