import Foundation

/// A CSV table: a header row of column names, then rows (RFC 4180 quoting).
struct CSVTable {
    let columns: [String]
    let rows: [[String]]

    /// Reads a CSV file; `#` lines and blank lines are skipped.
    init(contentsOfFile path: String) throws {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ButlerError(.io, "cannot read table \(path): \(error.localizedDescription)")
        }
        var records = Self.parse(text).filter { !($0.count == 1 && $0[0].trimmingCharacters(in: .whitespaces).isEmpty) && !($0.first?.hasPrefix("#") ?? false) }
        guard !records.isEmpty else { throw ButlerError(.invalidValue, "table \(path) is empty: expected a header row") }
        columns = records.removeFirst().map { $0.trimmingCharacters(in: .whitespaces) }
        for (i, record) in records.enumerated() where record.count != columns.count {
            throw ButlerError(.invalidValue, "table \(path), row \(i + 2): \(record.count) values for \(columns.count) columns")
        }
        rows = records.map { $0.map { $0.trimmingCharacters(in: .whitespaces) } }
    }

    static func parse(_ text: String) -> [[String]] {
        var records: [[String]] = []
        var record: [String] = []
        var field = ""
        var quoted = false
        var chars = Array(text)[...]
        while let c = chars.popFirst() {
            if quoted {
                if c == "\"" {
                    if chars.first == "\"" { field.append("\""); chars = chars.dropFirst() } else { quoted = false }
                } else {
                    field.append(c)
                }
            } else if c == "\"" {
                quoted = true
            } else if c == "," {
                record.append(field); field = ""
            } else if c == "\n" || c == "\r\n" {
                record.append(field); field = ""
                records.append(record); record = []
            } else if c != "\r" {
                field.append(c)
            }
        }
        if !field.isEmpty || !record.isEmpty { record.append(field); records.append(record) }
        return records
    }
}
