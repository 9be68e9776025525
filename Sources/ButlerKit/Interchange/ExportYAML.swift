internal import Foundation

/// Rubin's repository export file, `export.yaml` (format 1.0.2, as `Butler.export` and `butler export` write it and
/// `butler import` reads it), to and from ``ExportContents``.
///
/// Writing (``write(_:universe:to:)``) produces the file as Rubin's code does: the same top-level keys, entry order
/// and keys, the same tags (`!uuid`, `!butler_time/tai/iso`, `!lsst.daf.butler.Timespan`, `!<lsst.sphgeom.…>`) and
/// the strings PyYAML would quote quoted, plus two keys of our own in dataset records (`file_size`, `checksum`, and
/// `hdu` when a file holds several datasets), which Rubin's importer ignores. Reading (``read(_:)``) takes our files
/// and Rubin's, format 1.0.0 to 1.0.x, in any entry order, ignoring keys it does not know.
public enum ExportYAML {
    /// The format version written, and the newest minor version read (`1.0.x`).
    public static let formatVersion = "1.0.2"
    /// The `description` Rubin writes.
    public static let fileDescription = "Butler Data Repository Export"
    /// The file's name inside an export directory.
    public static let fileName = "export.yaml"

    static let uuidTag = "!uuid"
    static let timeTag = "!butler_time/tai/iso"
    static let timespanTag = "!lsst.daf.butler.Timespan"
    /// Rubin stores an unbounded end as 2100-01-01 TAI and an unbounded begin as 0; both mean "no bound".
    static let rubinMaxNanoseconds: Int64 = 4_102_444_800_000_000_000

    // MARK: Times

    /// `2024-06-25 00:00:00.000000000`: TAI, a space, nine fractional digits (Rubin's `!butler_time/tai/iso`).
    static func isoText(_ t: TAITime) -> String {
        let c = t.calendar
        var out = [UInt8]()
        out.reserveCapacity(29)
        func put(_ v: Int, _ width: Int) {
            var digits = [UInt8](repeating: 48, count: width)
            var x = v
            var i = width - 1
            while i >= 0 { digits[i] = UInt8(48 + x % 10); x /= 10; i -= 1 }
            out.append(contentsOf: digits)
        }
        put(c.year, 4); out.append(45); put(c.month, 2); out.append(45); put(c.day, 2); out.append(32)
        put(c.hour, 2); out.append(58); put(c.minute, 2); out.append(58); put(c.second, 2); out.append(46)
        put(c.nanosecond, 9)
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses `YYYY-MM-DD HH:MM:SS[.f…]` with up to nine fractional digits (a `T` is taken for the space too), exact
    /// to the nanosecond; `nil` when malformed.
    static func parseISO(_ text: String, scale: TAITime.Scale = .tai) -> TAITime? {
        let s = Array(text.utf8)
        func number(_ r: Range<Int>) -> Int? {
            guard r.upperBound <= s.count else { return nil }
            var v = 0
            for i in r { guard s[i] >= 48 && s[i] <= 57 else { return nil }; v = v * 10 + Int(s[i] - 48) }
            return v
        }
        guard s.count >= 19, s[4] == 45, s[7] == 45, s[10] == 32 || s[10] == UInt8(ascii: "T"), s[13] == 58, s[16] == 58,
              let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var nanoseconds = 0
        var end = s.count
        if scale == .utc, s.last == UInt8(ascii: "Z") { end -= 1 }
        if end > 19 {
            guard s[19] == 46, end > 20, end - 20 <= 9, let f = number(20..<end) else { return nil }
            nanoseconds = f
            for _ in 0..<(9 - (end - 20)) { nanoseconds *= 10 }
        }
        let whole = TAITime(year: year, month: month, day: day, hour: hour, minute: minute, second: Double(second), scale: scale)
        return TAITime(nanoseconds: whole.nanoseconds + Int64(nanoseconds))
    }

    // MARK: Dimension order

    /// Dimension or element names in the order Rubin's universe lists them: by depth in the dependency graph
    /// (required and implied dimensions), then by name. `band, instrument, day_obs, detector, group,
    /// physical_filter, exposure` for a raw; names the universe does not know go last, in the order given.
    static func rubinOrder(_ names: [String], universe: DimensionUniverse) -> [String] {
        let depth = depths(universe)
        return names.enumerated().sorted { a, b in
            let da = depth[a.element] ?? Int.max, db = depth[b.element] ?? Int.max
            if da != db { return da < db }
            if da == Int.max { return a.offset < b.offset }
            return a.element < b.element
        }.map(\.element)
    }

    /// The depth of every element: 0 without dependencies, else one more than its deepest dependency.
    static func depths(_ universe: DimensionUniverse) -> [String: Int] {
        var depth: [String: Int] = [:]
        // Elements come after their dependencies in universe order, so one pass suffices.
        for element in universe.elements {
            depth[element.name] = (element.requires + element.implies).map { (depth[$0] ?? 0) + 1 }.max() ?? 0
        }
        return depth
    }
}

extension Timespan {
    /// An empty timespan (Rubin's `EMPTY`): it contains no moment and overlaps nothing.
    public static var empty: Timespan { Timespan(begin: TAITime(nanoseconds: 0), end: TAITime(nanoseconds: 0)) }

    /// Whether the timespan contains no moment (both bounds set, the end not after the begin).
    public var isEmpty: Bool {
        guard let begin, let end else { return false }
        return end <= begin
    }
}
