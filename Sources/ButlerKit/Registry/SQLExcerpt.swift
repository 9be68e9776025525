import Foundation

/// The start of an SQL statement for an error message: one line (runs of white space as one space), at most
/// `limit` characters, and the full length when cut. Errors never print a whole generated statement, which for a
/// long `--where` runs to megabytes.
func sqlExcerpt(_ sql: String, limit: Int = 160) -> String {
    var out = ""
    var count = 0
    var pendingSpace = false
    for c in sql {
        if c.isWhitespace { pendingSpace = !out.isEmpty; continue }
        if pendingSpace { out.append(" "); count += 1; pendingSpace = false }
        if count >= limit { return out + "... (\(sql.utf8.count) bytes)" }
        out.append(c)
        count += 1
    }
    return out
}

/// A database's message as one line.
func oneLine(_ message: String) -> String {
    message.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: " ")
}
