internal import CFITSIO
import Foundation

/// An error from the FITS layer: the CFITSIO status and message, with the file, HDU and keyword involved.
///
/// Its description reads like `CFITSIO error 202 (keyword not found in header): DATE-OBS - in raw/x.fits[HDU 1]`.
public struct FITSError: Error, Sendable, CustomStringConvertible {
    /// A CFITSIO status code, or one of the FITS layer's own codes for problems CFITSIO does not report.
    public struct Code: RawRepresentable, Hashable, Sendable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }

        /// The file could not be opened (CFITSIO 104).
        public static var cannotOpen: Self { Self(rawValue: 104) }
        /// The file ended before it should have (CFITSIO 107).
        public static var endOfFile: Self { Self(rawValue: 107) }
        /// A keyword is missing (CFITSIO 202).
        public static var keywordNotFound: Self { Self(rawValue: 202) }
        /// The file is not FITS: no SIMPLE card first (CFITSIO 252, or 151 for an empty file).
        public static var notFITS: Self { Self(rawValue: 252) }
        /// A header card breaks the standard (character outside printable ASCII, bad value).
        public static var badCard: Self { Self(rawValue: 9001) }
        /// The data are shorter than the header says.
        public static var truncated: Self { Self(rawValue: 9002) }
    }

    /// The status code.
    public let code: Code
    /// CFITSIO's explanation of the code and the messages on its error stack, or our own explanation.
    public let message: String
    /// The file involved.
    public let path: String
    /// The HDU involved, numbered from 1 (the primary HDU), if any.
    public let hdu: Int?
    /// The keyword involved, if any.
    public let keyword: String?

    public init(code: Code, message: String, path: String, hdu: Int? = nil, keyword: String? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.hdu = hdu
        self.keyword = keyword
    }

    public var description: String {
        let place = path + (hdu.map { "[HDU \($0)]" } ?? "")
        let origin = code.rawValue < 9000 ? "CFITSIO error \(code.rawValue) (\(message))" : message
        return "\(origin)\(keyword.map { ": \($0)" } ?? "") - in \(place)"
    }

    /// Builds the error for a CFITSIO status, draining CFITSIO's error message stack.
    static func cfitsio(_ status: Int32, path: String, hdu: Int?, keyword: String? = nil) -> FITSError {
        var text = [CChar](repeating: 0, count: 32)
        ffgerr(status, &text)
        var message = String(cString: text)
        var stack: [String] = []
        var line = [CChar](repeating: 0, count: 96)
        while ffgmsg(&line) > 0 {
            let s = String(cString: line).trimmingCharacters(in: .whitespaces)
            if !s.isEmpty { stack.append(s) }
        }
        // The stack often repeats the file name; keep the first specific line.
        if let detail = stack.first(where: { !$0.lowercased().hasPrefix("ffopen") && !$0.contains(path) }) {
            message += "; " + detail
        }
        if (status == 107 || status == 108) && hdu == nil {
            message = "the file ends before the END card of its header (truncated, or END missing)"
        }
        let code: Code
        switch status {
        case 151, 252, 253: code = .notFITS
        default: code = Code(rawValue: status)
        }
        return FITSError(code: code, message: message, path: path, hdu: hdu, keyword: keyword)
    }
}

