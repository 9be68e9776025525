/// Parses the text of a `T'...'` literal as Rubin does: ISO (`2020-03-30 12:20:33`, UTC by default),
/// MJD (`58938.515`, TAI by default), with an optional explicit format and scale: `mjd/58938.515`,
/// `58938.515/tai`, `iso/2020-01-01/tai`.
func parseTimeLiteral(_ text: String) -> TAITime? {
    var parts = text.split(separator: "/").map { String($0).trimmedSpaces }
    var format: String?
    var scale: TAITime.Scale?
    if let first = parts.first, ["mjd", "iso", "isot", "fits", "unix"].contains(first.lowercased()), parts.count > 1 {
        format = first.lowercased()
        parts.removeFirst()
    }
    if parts.count == 2, let s = TAITime.Scale(rawValue: parts[1].lowercased()) {
        scale = s
        parts.removeLast()
    }
    guard parts.count == 1 else { return nil }
    let value = parts[0]
    if format == "mjd" || (format == nil && Double(value) != nil) {
        guard let mjd = Double(value) else { return nil }
        return TAITime(mjd: mjd, scale: scale ?? .tai)
    }
    if format == "unix" {
        guard let seconds = Double(value) else { return nil }
        return TAITime(mjd: seconds / 86_400 + 40587, scale: scale ?? .utc)
    }
    return TAITime(iso: value, scale: scale ?? .utc)
}
