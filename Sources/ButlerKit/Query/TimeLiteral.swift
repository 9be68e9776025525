import Foundation

/// Why the text of a `T'...'` literal is not a time.
struct TimeLiteralError: Error, Equatable {
    let message: String
}

/// Reads the text of a `T'...'` literal as Rubin's parser does (daf_butler `queries/expressions/parser`):
/// `[FORMAT/]VALUE[/SCALE]`, case-insensitive, where VALUE is a number with a decimal point (`58938.515`, `.5`),
/// an ISO date (`2020-03-30`, `2020-03-30 12:20:33`, `2020-03-30T12:20:33.5`), a FITS date (`+02020-03-30T12:20:33`)
/// or a day of year (`2020:090:12:20:33.456`). `+00:00` is dropped (a UTC offset); other offsets are refused.
///
/// Without a format, a number is an MJD, an ISO date with `T` is `isot`, else `iso`; `+...` is `fits`, `N:N...` is
/// `yday`. Without a scale, `iso`, `isot`, `fits`, `yday` and `unix` are UTC, `cxcsec` is TT and the rest TAI.
///
/// Formats: `mjd`, `jd`, `unix`, `unix_tai`, `cxcsec`, `gps`, `byear`, `jyear`, `decimalyear` (numbers) and `iso`,
/// `isot`, `fits`, `yday` (dates). Scales: `tai`, `utc`, `tt`, and `tdb`, `tcg`, `tcb` through the IAU relations
/// (TDB to within about 30 µs). `ut1` needs the Earth-rotation tables Rubin takes from astropy and is refused here, as
/// are astropy's `plot_date` and `stardate` formats. Times before 1970 TAI are clamped to it, and times after 2100 to 2100-01-01 TAI, as Rubin clamps them.
///
/// Calendar times are exact to the nanosecond; numbers (MJD and the like) are as exact as a `Double` allows.
func parseTimeLiteral(_ literal: String) throws(TimeLiteralError) -> TAITime {
    let text = literal.replacingOccurrences(of: "+00:00", with: "")
    func fail(_ reason: String) -> TimeLiteralError { TimeLiteralError(message: reason) }

    // [FORMAT/]VALUE[/SCALE]: a value never consists of word characters only, so the split is unambiguous.
    var parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
    guard (1...3).contains(parts.count) else { throw fail("expected [FORMAT/]VALUE[/SCALE]") }
    var format: String?
    var scaleName: String?
    if parts.count == 3 {
        format = parts.removeFirst()
        scaleName = parts.removeLast()
    } else if parts.count == 2 {
        if TimeValue(parts[1]) != nil { format = parts.removeFirst() } else { scaleName = parts.removeLast() }
    }
    for word in [format, scaleName].compactMap({ $0 }) where word.isEmpty || !word.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
        throw fail("'\(word)' is neither a time format nor a scale")
    }
    guard let value = TimeValue(parts[0]) else {
        if parts[0].contains("+") || parts[0].hasSuffix("Z") || parts[0].dropFirst(10).contains("-") {
            throw fail("'\(parts[0])' has a time zone: only +00:00 (UTC) may be given; write the time in UTC or give a scale")
        }
        throw fail("'\(parts[0])' is not a number with a decimal point (58938.5), an ISO date (2020-03-30T12:20:33), a FITS date (+02020-03-30T12:20:33) or a day of year (2020:090:12:20:33)")
    }
    let fmt = format?.lowercased() ?? value.defaultFormat
    guard TimeFormat.all.contains(fmt) else {
        throw fail("unknown time format '\(format!)'; expected one of \(TimeFormat.supported.joined(separator: ", "))")
    }
    let scale: TimeScale
    if let scaleName {
        guard let s = TimeScale(rawValue: scaleName.lowercased()) else {
            throw fail("unknown time scale '\(scaleName)'; expected tai, utc, tt, tdb, tcg or tcb")
        }
        scale = s
    } else {
        scale = ["iso", "isot", "fits", "yday", "unix"].contains(fmt) ? .utc : fmt == "cxcsec" ? .tt : .tai
    }
    switch scale {
    case .ut1: throw fail("scale ut1 needs IERS Earth-rotation tables, which butler does not carry; give the time in utc (within 0.9 s of ut1)")
    case .local: throw fail("scale local cannot be converted to tai")
    default: break
    }
    let ns = try value.nanosecondsSinceEpoch(format: fmt, scale: scale)
    return TAITime(nanoseconds: min(max(ns, 0), TimeFormat.latest))
}

/// astropy's time formats that a `T'...'` literal may name.
enum TimeFormat {
    /// 2100-01-01T00:00:00 TAI, the latest time Rubin stores: later literals are clamped to it, as Rubin clamps them.
    static let latest: Int64 = 4_102_444_800_000_000_000
    static let numeric: Set<String> = ["mjd", "jd", "unix", "unix_tai", "cxcsec", "gps", "byear", "jyear", "decimalyear"]
    static let dates: Set<String> = ["iso", "isot", "fits", "yday"]
    /// Formats astropy has that are refused here with a reason.
    static let refused: Set<String> = ["plot_date", "stardate", "datetime", "ymdhms", "datetime64", "byear_str", "jyear_str"]
    static var all: Set<String> { numeric.union(dates).union(refused) }
    static var supported: [String] { ["mjd", "jd", "unix", "unix_tai", "cxcsec", "gps", "byear", "jyear", "decimalyear", "iso", "isot", "fits", "yday"] }
}

/// astropy's time scales.
enum TimeScale: String {
    case tai, utc, tt, tdb, tcg, tcb, ut1, local
}

/// The VALUE part of a time literal, classified as Rubin's parser classifies it.
private enum TimeValue {
    case number(Double)
    /// Calendar fields; `separator` is the character between date and time (`T`, a space) or nil for a date alone.
    case iso(year: String, month: Int, day: Int, hour: Int, minute: Int, second: String, separator: Character?)
    case fits(year: String, month: Int, day: Int, hour: Int, minute: Int, second: String, hasTime: Bool)
    case yday(year: String, day: Int, hour: Int, minute: Int, second: String)

    init?(_ s: String) {
        let c = Array(s)
        var i = 0
        func digits() -> String? {
            let start = i
            while i < c.count, c[i].isASCII, c[i].isNumber { i += 1 }
            return i > start ? String(c[start..<i]) : nil
        }
        func take(_ ch: Character) -> Bool { if i < c.count && c[i] == ch { i += 1; return true }; return false }
        /// `\d+` then optionally `.\d*`: the text of the seconds.
        func seconds() -> String? {
            guard let whole = digits() else { return nil }
            return take(".") ? whole + "." + (digits() ?? "") : whole
        }
        // number: -?(\d+\.\d*|\.\d+)
        do {
            i = 0
            let negative = take("-")
            let whole = digits()
            if take(".") {
                let fraction = digits()
                if i == c.count, whole != nil || fraction != nil, let v = Double("0" + (whole ?? "") + "." + (fraction ?? "0")) {
                    self = .number(negative ? -v : v)
                    return
                }
            }
        }
        // fits: +\d+-\d+-\d+(T\d+:\d+:\d+(\.\d*)?)?
        i = 0
        if take("+") {
            guard let y = digits(), take("-"), let m = digits().flatMap({ Int($0) }), take("-"), let d = digits().flatMap({ Int($0) }) else { return nil }
            var hh = 0, mm = 0, ss = "0", hasTime = false
            if take("T") {
                guard let h = digits().flatMap({ Int($0) }), take(":"), let mi = digits().flatMap({ Int($0) }), take(":"), let se = seconds() else { return nil }
                (hh, mm, ss, hasTime) = (h, mi, se, true)
            }
            guard i == c.count else { return nil }
            self = .fits(year: y, month: m, day: d, hour: hh, minute: mm, second: ss, hasTime: hasTime)
            return
        }
        // iso: \d+-\d+-\d+([ T]\d+:\d+(:\d+(\.\d*)?)?)?   yday: \d+:\d+(:\d+:\d+(:\d+(\.\d*)?)?)?
        i = 0
        guard let first = digits() else { return nil }
        if take("-") {
            guard let m = digits().flatMap({ Int($0) }), take("-"), let d = digits().flatMap({ Int($0) }) else { return nil }
            var hh = 0, mm = 0, ss = "0"
            var separator: Character?
            if i < c.count, c[i] == " " || c[i] == "T" || c[i] == "t" {
                separator = c[i]
                i += 1
                guard let h = digits().flatMap({ Int($0) }), take(":"), let mi = digits().flatMap({ Int($0) }) else { return nil }
                (hh, mm) = (h, mi)
                if take(":") { guard let se = seconds() else { return nil }; ss = se }
            }
            guard i == c.count else { return nil }
            self = .iso(year: first, month: m, day: d, hour: hh, minute: mm, second: ss, separator: separator)
            return
        }
        if take(":") {
            guard let d = digits().flatMap({ Int($0) }) else { return nil }
            var hh = 0, mm = 0, ss = "0"
            if take(":") {
                guard let h = digits().flatMap({ Int($0) }), take(":"), let mi = digits().flatMap({ Int($0) }) else { return nil }
                (hh, mm) = (h, mi)
                if take(":") { guard let se = seconds() else { return nil }; ss = se }
            }
            guard i == c.count else { return nil }
            self = .yday(year: first, day: d, hour: hh, minute: mm, second: ss)
            return
        }
        return nil
    }

    var defaultFormat: String {
        switch self {
        case .number: return "mjd"
        case .iso(_, _, _, _, _, _, let separator): return separator == "T" || separator == "t" ? "isot" : "iso"
        case .fits: return "fits"
        case .yday: return "yday"
        }
    }

    /// Nanoseconds since 1970-01-01T00:00:00 TAI (clamped to what `Int64` holds and to no earlier than 1970).
    func nanosecondsSinceEpoch(format: String, scale: TimeScale) throws(TimeLiteralError) -> Int64 {
        func mismatch() -> TimeLiteralError { TimeLiteralError(message: "the value does not match time format '\(format)'") }
        if TimeFormat.refused.contains(format) {
            throw TimeLiteralError(message: "time format '\(format)' is not supported; use one of \(TimeFormat.supported.joined(separator: ", "))")
        }
        switch self {
        case .number(let v):
            switch format {
            case "mjd": return Self.tai(mjd: v, scale: scale)
            case "jd": return Self.tai(mjd: v - 2_400_000.5, scale: scale)
            case "byear": return Self.tai(mjd: 15019.81352 + (v - 1900) * 365.242198781, scale: scale)
            case "jyear": return Self.tai(mjd: 51544.5 + (v - 2000) * 365.25, scale: scale)
            case "decimalyear":
                guard abs(v) < 1e6 else { throw mismatch() }
                let year = Int(v.rounded(.down))
                guard year >= 1969 && year < 2101 else { return v < 1970 ? 0 : TimeFormat.latest }
                let start = try Self.tai(calendar: String(year), 1, 1, 0, 0, "0", scale: scale)
                let end = try Self.tai(calendar: String(year + 1), 1, 1, 0, 0, "0", scale: scale)
                return start.clampedAdding((v - Double(year)) * Double(end - start))
            // Epoch formats: seconds from a fixed instant. unix counts UTC days of 86,400 s (leap seconds ignored).
            // (astropy reads a unix time the same whatever scale is given.)
            case "unix": return Self.tai(mjd: 40587 + v / 86_400, scale: .utc)
            case "unix_tai": return Int64(0).clampedAdding(v * 1e9)
            case "cxcsec": return Self.tai(mjd: 50814, scale: .tt).clampedAdding(v * 1e9)
            case "gps": return Self.tai(mjd: 44244, scale: .tai).clampedAdding((19 + v) * 1e9)
            default: throw mismatch()
            }
        case .iso(let year, let month, let day, let hour, let minute, let second, let separator):
            switch format {
            case "iso": guard separator == nil || separator == " " else { throw mismatch() }
            case "isot", "fits": guard separator == nil || separator == "T" else { throw mismatch() }
            default: throw mismatch()
            }
            return try Self.tai(calendar: year, month, day, hour, minute, second, scale: scale)
        case .fits(let year, let month, let day, let hour, let minute, let second, _):
            guard format == "fits", year.count == 5 else { throw mismatch() }
            return try Self.tai(calendar: String(year.dropFirst()), month, day, hour, minute, second, scale: scale)
        case .yday(let year, let day, let hour, let minute, let second):
            guard format == "yday", (1...366).contains(day) else { throw mismatch() }
            let jan1 = try Self.tai(calendar: year, 1, 1, hour, minute, second, scale: scale)
            return jan1.clampedAdding(Double(day - 1) * 86_400e9)
        }
    }

    /// TAI nanoseconds since 1970 of calendar fields in a scale, exact to the nanosecond; the fields are checked as
    /// astropy checks them. `second` is the text of the seconds (`33`, `33.123456789`).
    static func tai(calendar year: String, _ month: Int, _ day: Int, _ hour: Int, _ minute: Int, _ second: String, scale: TimeScale) throws(TimeLiteralError) -> Int64 {
        guard year.count == 4, let y = Int(year) else { throw TimeLiteralError(message: "the year must have four digits") }
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
        let monthDays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard (1...12).contains(month), (1...monthDays[month - 1]).contains(day) else {
            throw TimeLiteralError(message: "\(year)-\(month)-\(day) is not a date")
        }
        let pieces = second.split(separator: ".", omittingEmptySubsequences: false)
        guard let whole = Int64(pieces[0]), hour < 24, minute < 60, whole < 61 else {
            throw TimeLiteralError(message: "\(hour):\(minute):\(second) is not a time of day")
        }
        var fraction: Int64 = 0
        if pieces.count > 1 {
            let digits = String(pieces[1].prefix(9))
            fraction = (Int64(digits) ?? 0) * Int64(pow(10.0, Double(9 - digits.count)))
        }
        // Outside 1969-2100 the time is clamped anyway (and nanoseconds of year 9999 would not fit in 64 bits).
        if y < 1969 { return 0 }
        if y > 2100 { return TimeFormat.latest }
        let days = Int64(TAITime.daysFromCivil(y, month, day))
        var ns = (days * 86_400 + Int64(hour) * 3600 + Int64(minute) * 60 + whole) * 1_000_000_000 + fraction
        let mjd = 40587 + Double(days) + Double(hour * 3600 + minute * 60) / 86_400
        switch scale {
        case .utc: ns += Int64(TAITime.taiMinusUTC(unixSeconds: days * 86_400)) * 1_000_000_000
        default: ns -= Int64((Self.offsetFromTAI(scale, mjd: mjd) * 1e9).rounded())
        }
        return max(0, ns)
    }

    /// TAI nanoseconds since 1970 of an MJD in a scale.
    static func tai(mjd: Double, scale: TimeScale) -> Int64 {
        let days = mjd - 40587
        guard days > -1 else { return 0 }
        guard days < 50_000 else { return TimeFormat.latest }
        let dayInt = days.rounded(.down)
        var ns = Int64(dayInt) * 86_400_000_000_000 + Int64(((days - dayInt) * 86_400e9).rounded())
        switch scale {
        case .utc: ns += Int64(TAITime.taiMinusUTC(unixSeconds: ns / 1_000_000_000)) * 1_000_000_000
        default: ns -= Int64((Self.offsetFromTAI(scale, mjd: mjd) * 1e9).rounded())
        }
        return max(0, ns)
    }

    /// Seconds that a clock of the scale is ahead of TAI at about this MJD (not for UTC, whose offset is whole
    /// leap seconds).
    static func offsetFromTAI(_ scale: TimeScale, mjd: Double) -> Double {
        let sinceT0 = (mjd + 2_400_000.5 - 2_443_144.5003725) * 86_400
        switch scale {
        case .tt: return 32.184
        case .tdb: return 32.184 + tdbMinusTT(mjd: mjd)
        // IAU 2000 B1.9: TCG - TT = L_G (JD - T0) 86400.
        case .tcg: return 32.184 + 6.969290134e-10 * sinceT0
        // IAU 2006 B3: TDB = TCB - L_B (JD_TCB - T0) 86400 + TDB0.
        case .tcb: return 32.184 + tdbMinusTT(mjd: mjd) + 1.550519768e-8 * sinceT0 + 6.55e-5
        case .tai, .utc, .ut1, .local: return 0
        }
    }

    /// TDB - TT in seconds (the two leading periodic terms; within about 30 µs of the full series).
    static func tdbMinusTT(mjd: Double) -> Double {
        let g = (357.53 + 0.98560028 * (mjd + 2_400_000.5 - 2_451_545.0)) * .pi / 180
        return 0.001657 * sin(g) + 0.000014 * sin(2 * g)
    }
}

private extension Int64 {
    /// This many nanoseconds plus a floating amount, clamped to 0...Int64.max.
    func clampedAdding(_ ns: Double) -> Int64 {
        let total = Double(self) + ns
        if total.isNaN || total <= 0 { return 0 }
        if total >= Double(TimeFormat.latest) { return TimeFormat.latest }
        return ns.magnitude < 9e15 ? Swift.max(0, self + Int64(ns.rounded())) : Int64(total.rounded())
    }
}
