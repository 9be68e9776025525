extension PostgresURL {
    /// The URL without its password (`postgresql://user:secret@host/db` becomes `postgresql://user@host/db`, a
    /// `password=` parameter is left out), or nil when it holds none (or is not a PostgreSQL URL). libpq finds the
    /// password in `PGPASSWORD`, `~/.pgpass` or a service file instead.
    static func withoutPassword(_ url: String) -> String? {
        guard url.hasPrefix("postgresql://") || url.hasPrefix("postgres://"), let scheme = url.range(of: "://") else { return nil }
        var changed = false
        var result = url
        // The authority runs to the first '/' or '?'; its user info to its last '@'.
        let rest = result[scheme.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        if let at = rest[..<authorityEnd].lastIndex(of: "@"), let colon = rest[..<at].firstIndex(of: ":") {
            result.removeSubrange(colon..<at)
            changed = true
        }
        if let mark = result.firstIndex(of: "?") {
            let items = result[result.index(after: mark)...].split(separator: "&", omittingEmptySubsequences: false)
            let kept = items.filter { !$0.lowercased().hasPrefix("password=") }
            if kept.count != items.count {
                changed = true
                result = String(result[..<mark]) + (kept.isEmpty ? "" : "?" + kept.joined(separator: "&"))
            }
        }
        return changed ? result : nil
    }
}
