import Foundation
import ButlerKit

/// One value in printed output.
enum Cell: Equatable {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case list([String])
    /// A data ID: `key=value,...` in tables and CSV, a JSON object (`{"instrument": "LATISS", "detector": 0}`) in
    /// JSON, the one shape of a data ID in every JSON output.
    case dataId(keys: [String], values: [Cell])
    case null

    /// A data ID's required values, in universe order.
    static func dataId(_ coordinate: DataCoordinate) -> Cell {
        let pairs = coordinate.required
        return .dataId(keys: pairs.map(\.0), values: pairs.map { pair -> Cell in
            switch pair.1 {
            case .int(let i): return .int(i)
            case .string(let s): return .string(s)
            }
        })
    }

    /// A data ID given as `key=value,...` text; a value that is a plain integer (no sign, no leading zero) becomes
    /// a number, as an integer dimension's value.
    static func dataId(text: String) -> Cell {
        var keys: [String] = []
        var values: [Cell] = []
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { return .string(text) }
            keys.append(parts[0])
            let isInteger = Int(parts[1]) != nil && (parts[1] == "0" || !parts[1].hasPrefix("0")) && !parts[1].hasPrefix("+") && !parts[1].hasPrefix("-0")
            values.append(isInteger ? .int(Int(parts[1])!) : .string(parts[1]))
        }
        return .dataId(keys: keys, values: values)
    }

    var text: String {
        switch self {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .bool(let b): return b ? "True" : "False"
        case .list(let l): return l.joined(separator: ", ")
        case .dataId(let keys, let values): return zip(keys, values).map { "\($0)=\($1.text)" }.joined(separator: ",")
        case .null: return ""
        }
    }

    var json: String {
        switch self {
        case .string(let s): return jsonString(s)
        case .int(let i): return String(i)
        case .double(let d): return d.isFinite ? String(d) : "null"
        case .bool(let b): return b ? "true" : "false"
        case .list(let l): return "[" + l.map(jsonString).joined(separator: ", ") + "]"
        case .dataId(let keys, let values): return "{" + zip(keys, values).map { "\(jsonString($0)): \($1.json)" }.joined(separator: ", ") + "}"
        case .null: return "null"
        }
    }
}

/// Rows with named columns, printed as a text table, JSON or CSV.
struct ResultTable {
    var title: String?
    var columns: [String]
    var rows: [[Cell]]

    init(title: String? = nil, columns: [String], rows: [[Cell]] = []) {
        self.title = title
        self.columns = columns
        self.rows = rows
    }

    /// The text table: a header line, dashes under each column, then the rows (as astropy prints). Each value is
    /// shown on one line, its control characters (newlines included) escaped.
    func text() -> String {
        let columns = columns.map { singleLine($0) }
        let rows = rows.map { $0.map { singleLine($0.text) } }
        var widths = columns.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) }
        }
        func line(_ values: [String]) -> String {
            var text = zip(values, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: " ")
            while text.last == " " { text.removeLast() }
            return text
        }
        var out = ""
        if let title { out += singleLine(title) + "\n\n" }
        out += line(columns) + "\n"
        out += widths.map { String(repeating: "-", count: $0) }.joined(separator: " ") + "\n"
        for row in rows { out += line(row) + "\n" }
        return out
    }

    /// The rows as JSON objects, keys in column order.
    func jsonObjects() -> [String] {
        rows.map { row in
            "{" + zip(columns, row).map { "\(jsonString($0)): \($1.json)" }.joined(separator: ", ") + "}"
        }
    }

    func csv() -> String {
        var out = columns.map(csvField).joined(separator: ",") + "\n"
        for row in rows { out += row.map { csvField($0.text) }.joined(separator: ",") + "\n" }
        return out
    }
}

/// Prints tables in the chosen format. Several tables in JSON become one array (with the table title as
/// `"table"` when there are several); in CSV, one block per table separated by a blank line.
func render(_ tables: [ResultTable], as format: OutputFormat) -> String {
    switch format {
    case .table:
        return tables.map { $0.text() }.joined(separator: "\n")
    case .json:
        let objects = tables.flatMap { $0.jsonObjects() }
        if objects.isEmpty { return "[]\n" }
        return "[\n  " + objects.joined(separator: ",\n  ") + "\n]\n"
    case .csv:
        return tables.map { $0.csv() }.joined(separator: "\n")
    }
}

func csvField(_ s: String) -> String {
    if s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
    return s
}

/// Writes to standard output without buffering surprises: the one place (with ``StreamWriter``) where the CLI's
/// standard output is written, control characters escaped by ``terminalSafe(_:keepingNewlines:)`` (newlines kept).
func emit(_ text: String) {
    FileHandle.standardOutput.write(Data(terminalSafe(text).utf8))
}
