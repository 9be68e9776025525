public import Foundation

extension UUID {
    /// The canonical lower-case text form (`5d46d9db-ef3e-55ee-aac3-4ac15cd4d8a6`), as the registry stores ids.
    ///
    /// Written without `uuidString` (which goes through `printf`): queries print hundreds of thousands of ids.
    public var lowercasedString: String {
        let digits = Array("0123456789abcdef".utf8)
        return withUnsafeBytes(of: uuid) { bytes in
            String(unsafeUninitializedCapacity: 36) { out in
                var j = 0
                for i in 0..<16 {
                    if i == 4 || i == 6 || i == 8 || i == 10 { out[j] = UInt8(ascii: "-"); j += 1 }
                    out[j] = digits[Int(bytes[i] >> 4)]
                    out[j + 1] = digits[Int(bytes[i] & 15)]
                    j += 2
                }
                return 36
            }
        }
    }

    /// Parses the canonical text form quickly (any case); `nil` when malformed.
    public init?(registryText text: String) {
        var bytes = [UInt8](repeating: 0, count: 16)
        var i = 0
        var high: UInt8?
        for c in text.utf8 {
            let v: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): v = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): v = c - UInt8(ascii: "A") + 10
            case UInt8(ascii: "-"): continue
            default: return nil
            }
            if let h = high {
                guard i < 16 else { return nil }
                bytes[i] = h << 4 | v
                i += 1
                high = nil
            } else {
                high = v
            }
        }
        guard i == 16, high == nil else { return nil }
        self.init(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                         bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }
}
