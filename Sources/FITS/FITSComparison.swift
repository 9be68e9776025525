internal import CFITSIO
import Foundation

/// How two FITS files differ, HDU by HDU: header cards by keyword, and data units byte for byte.
///
/// ```swift
/// let comparison = try FITSComparison.compare("old.fits", "new.fits") { $0.hasPrefix("LSST BUTLER ") }
/// if comparison.sameData { print(comparison.headerDifferences) }
/// ```
public struct FITSComparison: Sendable {
    /// One header card that differs between the files.
    public struct CardDifference: Sendable, Hashable, CustomStringConvertible {
        /// The HDU, from 1.
        public let hdu: Int
        public let keyword: String
        /// The value in the first file (nil when it lacks the card).
        public let old: String?
        /// The value in the second file (nil when it lacks the card).
        public let new: String?

        public var description: String {
            "HDU \(hdu) \(keyword): " + (old ?? "(none)") + " → " + (new ?? "(none)")
        }
    }

    /// Where the data first differ.
    public struct DataDifference: Sendable, Hashable {
        /// The HDU, from 1.
        public let hdu: Int
        /// Bytes of the data unit that differ (a size difference counts the missing bytes).
        public let differingBytes: Int64
        /// The size of the larger of the two data units.
        public let totalBytes: Int64
    }

    /// The number of HDUs of each file.
    public let hduCounts: (first: Int, second: Int)
    /// Header cards that differ, in HDU then keyword order (commentary cards compared as a list per keyword).
    public let headerDifferences: [CardDifference]
    /// The first HDU whose data differ, nil when every data unit is the same.
    public let dataDifference: DataDifference?

    /// Whether both files have the same HDUs with the same data (headers aside).
    public var sameData: Bool { hduCounts.first == hduCounts.second && dataDifference == nil }

    /// Compares two uncompressed FITS files.
    ///
    /// - Parameter ignoring: keywords left out of the header comparison (provenance cards, checksums).
    /// - Throws: ``FITSError`` when a file cannot be read as FITS, or is compressed as a whole (its data units are not
    ///   at file offsets).
    public static func compare(_ first: String, _ second: String, ignoring: (String) -> Bool = { _ in false }) throws -> FITSComparison {
        let a = try layout(first), b = try layout(second)
        var cards: [CardDifference] = []
        var data: DataDifference?
        for hdu in 1...max(a.count, b.count) {
            let ha = hdu <= a.count ? a[hdu - 1] : nil, hb = hdu <= b.count ? b[hdu - 1] : nil
            cards += cardDifferences(hdu, ha?.header, hb?.header, ignoring: ignoring)
            guard data == nil else { continue }
            let count = try differingBytes(first, ha?.data ?? 0..<0, second, hb?.data ?? 0..<0)
            if count > 0 {
                data = DataDifference(hdu: hdu, differingBytes: count, totalBytes: max(Int64(ha?.data.count ?? 0), Int64(hb?.data.count ?? 0)))
            }
        }
        return FITSComparison(hduCounts: (a.count, b.count), headerDifferences: cards, dataDifference: data)
    }

    /// Each HDU's header and the byte range of its data unit.
    private static func layout(_ path: String) throws -> [(header: Header, data: Range<Int64>)] {
        guard try FITSFile.start(of: path) == .fits else {
            throw FITSError(code: .notFITS, message: "not an uncompressed FITS file: its data units cannot be compared", path: path)
        }
        return try FITSFile.withOpened(path) { file in
            try (1...max(try file.hduCount(), 1)).map { number in
                let info = try file.moveTo(hdu: number)
                let header = try file.readHeader(info)
                return (header, try file.dataRange(hdu: number))
            }
        }
    }

    private static func cardDifferences(_ hdu: Int, _ a: Header?, _ b: Header?, ignoring: (String) -> Bool) -> [CardDifference] {
        func values(_ header: Header?) -> [String: String] {
            var out: [String: String] = [:]
            for card in header?.cards ?? [] where !ignoring(card.keyword) && !card.keyword.isEmpty {
                if card.isCommentary {
                    out[card.keyword, default: ""] += (out[card.keyword] == nil ? "" : " | ") + card.comment
                } else {
                    out[card.keyword] = card.value.map { "\($0)" } ?? ""
                }
            }
            return out
        }
        let va = values(a), vb = values(b)
        return Set(va.keys).union(vb.keys).sorted().compactMap { key in
            va[key] == vb[key] ? nil : CardDifference(hdu: hdu, keyword: key, old: va[key], new: vb[key])
        }
    }

    /// The number of bytes that differ between two ranges of two files (the length difference included).
    private static func differingBytes(_ first: String, _ a: Range<Int64>, _ second: String, _ b: Range<Int64>) throws -> Int64 {
        let common = min(a.count, b.count)
        var differing = Int64(abs(a.count - b.count))
        guard common > 0 else { return differing }
        guard let fa = FileHandle(forReadingAtPath: first), let fb = FileHandle(forReadingAtPath: second) else {
            throw FITSError(code: .cannotOpen, message: "cannot open for comparison", path: first)
        }
        defer { try? fa.close(); try? fb.close() }
        try fa.seek(toOffset: UInt64(a.lowerBound))
        try fb.seek(toOffset: UInt64(b.lowerBound))
        var left = common
        while left > 0 {
            let n = Int(min(left, 1 << 20))
            let da = try fa.read(upToCount: n) ?? Data(), db = try fb.read(upToCount: n) ?? Data()
            if da != db { differing += Int64(zip(da, db).reduce(0) { $0 + ($1.0 == $1.1 ? 0 : 1) }) + Int64(abs(da.count - db.count)) }
            // A last HDU may lack its fill to 2880 bytes: what neither file has is not a difference.
            guard da.count == n, db.count == n else {
                // What one file has and the other lacks, in this piece and after it.
                return differing + Int64(max(0, left - max(da.count, db.count)))
            }
            left -= n
        }
        return differing
    }
}

extension FITSFile {
    /// The byte range of an HDU's data unit in the file (empty for a header-only HDU).
    ///
    /// The corresponding CFITSIO routine is `fits_get_hduaddrll`.
    func dataRange(hdu number: Int) throws(FITSError) -> Range<Int64> {
        _ = try moveTo(hdu: number)
        var head: Int64 = 0, start: Int64 = 0, end: Int64 = 0
        try call(hdu: number) { f, s in ffghadll(f, &head, &start, &end, &s) }
        return start..<max(start, end)
    }
}
