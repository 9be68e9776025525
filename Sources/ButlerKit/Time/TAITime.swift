/// A point in time as Rubin's butler stores it: integer nanoseconds since 1970-01-01T00:00:00 TAI.
public struct TAITime: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Nanoseconds since 1970-01-01T00:00:00 TAI.
    public let nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    /// The time scale of a calendar date or MJD.
    public enum Scale: String, Sendable { case tai, utc, tt }

    public static func < (a: Self, b: Self) -> Bool { a.nanoseconds < b.nanoseconds }

    /// A time from calendar fields in a scale.
    public init(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Double = 0, scale: Scale) {
        let days = Int64(Self.daysFromCivil(year, month, day))
        let wholeSeconds = Int64(second.rounded(.down))
        let fraction = Int64(((second - Double(wholeSeconds)) * 1e9).rounded())
        var ns = ((days * 86_400 + Int64(hour) * 3600 + Int64(minute) * 60 + wholeSeconds) * 1_000_000_000) + fraction
        switch scale {
        case .tai: break
        case .tt: ns -= 32_184_000_000
        case .utc: ns += Int64(Self.taiMinusUTC(unixSeconds: days * 86_400 + Int64(hour) * 3600)) * 1_000_000_000
        }
        self.nanoseconds = ns
    }

    /// Parses `YYYY-MM-DD[THH:MM:SS[.fff]]` (also with a space instead of `T`, and a trailing `Z`).
    public init?(iso text: String, scale: Scale) {
        let s = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= s.count else { return nil }
            var v = 0
            for i in range { guard s[i] >= 48 && s[i] <= 57 else { return nil }; v = v * 10 + Int(s[i] - 48) }
            return v
        }
        guard s.count >= 10, s[4] == UInt8(ascii: "-"), s[7] == UInt8(ascii: "-"),
              let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              (1...12).contains(month), (1...31).contains(day) else { return nil }
        var hour = 0, minute = 0, second = 0.0
        if s.count > 10 {
            guard s[10] == UInt8(ascii: "T") || s[10] == UInt8(ascii: " "), let h = number(11..<13),
                  s.count >= 16, s[13] == UInt8(ascii: ":"), let m = number(14..<16) else { return nil }
            hour = h
            minute = m
            if s.count > 16 {
                guard s[16] == UInt8(ascii: ":") else { return nil }
                var end = s.count
                if s.last == UInt8(ascii: "Z") { end -= 1 }
                guard let sec = Double(String(decoding: s[17..<end], as: UTF8.self)) else { return nil }
                second = sec
            }
            guard hour < 24, minute < 60, second < 61 else { return nil }
        }
        self.init(year: year, month: month, day: day, hour: hour, minute: minute, second: second, scale: scale)
    }

    /// A time from a Modified Julian Date in a scale.
    public init(mjd: Double, scale: Scale) {
        let days = mjd - 40587.0
        let dayInt = days.rounded(.down)
        let ns = Int64(dayInt) * 86_400_000_000_000 + Int64(((days - dayInt) * 86_400e9).rounded())
        switch scale {
        case .tai: self.nanoseconds = ns
        case .tt: self.nanoseconds = ns - 32_184_000_000
        case .utc: self.nanoseconds = ns + Int64(Self.taiMinusUTC(unixSeconds: ns / 1_000_000_000)) * 1_000_000_000
        }
    }

    /// This time plus a number of seconds.
    public func adding(seconds: Double) -> TAITime {
        TAITime(nanoseconds: nanoseconds + Int64((seconds * 1e9).rounded()))
    }

    /// Calendar fields in TAI.
    public var calendar: (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, nanosecond: Int) {
        let secs = nanoseconds >= 0 ? nanoseconds / 1_000_000_000 : (nanoseconds - 999_999_999) / 1_000_000_000
        let ns = Int(nanoseconds - secs * 1_000_000_000)
        let days = secs >= 0 ? secs / 86_400 : (secs - 86_399) / 86_400
        let rem = Int(secs - days * 86_400)
        let (y, m, d) = Self.civilFromDays(Int(days))
        return (y, m, d, rem / 3600, (rem % 3600) / 60, rem % 60, ns)
    }

    /// `2023-03-21T16:11:07.706000000` in TAI.
    public var isoTAI: String {
        let c = calendar
        return Self.iso(c.year, c.month, c.day, c.hour, c.minute, c.second, fraction: c.nanosecond, digits: 9, zone: false)
    }

    /// `YYYY-MM-DDThh:mm:ss.fff...` (`Z` after it when `zone`), written digit by digit: lineages print hundreds of
    /// thousands of times. A year outside 0...9999 is written in full.
    private static func iso(_ year: Int, _ month: Int, _ day: Int, _ hour: Int, _ minute: Int, _ second: Int,
                            fraction: Int, digits: Int, zone: Bool) -> String {
        guard (0...9999).contains(year) else {
            func pad(_ v: Int, _ n: Int) -> String { let s = String(v); return String(repeating: "0", count: max(0, n - s.count)) + s }
            return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(hour, 2)):\(pad(minute, 2)):\(pad(second, 2)).\(pad(fraction, digits))" + (zone ? "Z" : "")
        }
        let count = 20 + digits + (zone ? 1 : 0)
        return String(unsafeUninitializedCapacity: count) { out in
            var j = 0
            func put(_ v: Int, _ n: Int) {
                var v = v
                for k in stride(from: n - 1, through: 0, by: -1) {
                    out[j + k] = UInt8(ascii: "0") + UInt8(v % 10)
                    v /= 10
                }
                j += n
            }
            func sep(_ c: Unicode.Scalar) { out[j] = UInt8(c.value); j += 1 }
            put(year, 4); sep("-"); put(month, 2); sep("-"); put(day, 2); sep("T")
            put(hour, 2); sep(":"); put(minute, 2); sep(":"); put(second, 2); sep(".")
            put(fraction, digits)
            if zone { sep("Z") }
            return j
        }
    }

    public var description: String { isoTAI + " TAI" }

    /// `2023-03-21T16:10:30.706000Z`: this time in UTC as xsd:dateTime (leap seconds from the IERS table).
    public var isoUTC: String {
        let offset = Int64(Self.taiMinusUTC(unixSeconds: nanoseconds / 1_000_000_000 - 37))
        let utc = TAITime(nanoseconds: nanoseconds - offset * 1_000_000_000).calendar
        return Self.iso(utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, fraction: utc.nanosecond / 1000, digits: 6, zone: true)
    }

    /// The observing day (YYYYMMDD) of this time after shifting by `offsetSeconds` (Rubin uses -12 h in TAI).
    public func dayObs(offsetSeconds: Int64) -> Int {
        let c = TAITime(nanoseconds: nanoseconds + offsetSeconds * 1_000_000_000).calendar
        return c.year * 10_000 + c.month * 100 + c.day
    }

    /// The start of a day_obs (YYYYMMDD) in TAI, given the observatory's offset.
    public static func startOfDayObs(_ dayObs: Int, offsetSeconds: Int64) -> TAITime {
        let t = TAITime(year: dayObs / 10_000, month: (dayObs / 100) % 100, day: dayObs % 100, scale: .tai)
        return TAITime(nanoseconds: t.nanoseconds - offsetSeconds * 1_000_000_000)
    }

    // MARK: Calendar arithmetic (proleptic Gregorian)

    static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civilFromDays(_ z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp + (mp < 10 ? 3 : -9)
        return (m <= 2 ? y + 1 : y, m, d)
    }

    /// TAI - UTC in seconds at a UTC instant (seconds since 1970-01-01 UTC), from the IERS leap second table.
    static func taiMinusUTC(unixSeconds: Int64) -> Int {
        var offset = 10
        for (start, value) in leapSeconds where unixSeconds >= start { offset = value }
        return offset
    }

    private static let leapSeconds: [(Int64, Int)] = [
        (1972, 1, 10), (1972, 7, 11), (1973, 1, 12), (1974, 1, 13), (1975, 1, 14), (1976, 1, 15), (1977, 1, 16),
        (1978, 1, 17), (1979, 1, 18), (1980, 1, 19), (1981, 7, 20), (1982, 7, 21), (1983, 7, 22), (1985, 7, 23),
        (1988, 1, 24), (1990, 1, 25), (1991, 1, 26), (1992, 7, 27), (1993, 7, 28), (1994, 7, 29), (1996, 1, 30),
        (1997, 7, 31), (1999, 1, 32), (2006, 1, 33), (2009, 1, 34), (2012, 7, 35), (2015, 7, 36), (2017, 1, 37),
    ].map { (Int64(daysFromCivil($0.0, $0.1, 1)) * 86_400, $0.2) }
}
