import ButlerTestSupport
import Foundation
import Testing

// What the Rubin comparison suites share (RubinQueryFidelityCLITests, RubinBindsSkypixCLITests): a row as
// comparable text, and one question asked of our butler and compared with Rubin's answer.

/// A row as text, keys sorted (only `keys` when given: the keys Rubin's answer has).
func canonicalRow(_ row: [String: Any], keys: [String]? = nil) -> String {
    (keys ?? Array(row.keys)).sorted().map { key -> String in
        let value = row[key]
        if let nested = value as? [String: Any] { return "\(key)={\(canonicalRow(nested))}" }
        if let number = value as? NSNumber { return "\(key)=\(number)" }
        return "\(key)=\(value.map { "\($0)" } ?? "nil")"
    }.joined(separator: ",")
}

/// Runs our butler with `arguments` (`REPO` replaced by `repo`, `--format json` added) and compares its rows with
/// Rubin's answer to the question `key`, on the keys Rubin gives; a question Rubin refuses must be refused.
func expectSameRowsAsRubin(_ key: String, arguments: [String], rubin: [String: [String: Any]], repo: String, ordered: Bool = false,
                           sourceLocation: SourceLocation = #_sourceLocation) throws {
    let answer = try #require(rubin[key], sourceLocation: sourceLocation)
    let arguments = arguments.map { $0 == "REPO" ? repo : $0 } + ["--format", "json"]
    let ours = try runButler(arguments)
    if let error = answer["error"] as? String {
        #expect(ours.exitCode != 0, "\(key): Rubin refuses (\(error)); ours answered \(ours.stdout)", sourceLocation: sourceLocation)
        return
    }
    try #require(ours.exitCode == 0, "\(key): butler \(arguments.joined(separator: " ")): \(ours.stderr)", sourceLocation: sourceLocation)
    let theirs = answer["rows"] as? [[String: Any]] ?? []
    let ourRows = (try JSONSerialization.jsonObject(with: Data(ours.stdout.utf8)) as? [[String: Any]]) ?? []
    let keys = theirs.first.map { Array($0.keys) }
    let a = ourRows.map { canonicalRow($0, keys: keys) }, b = theirs.map { canonicalRow($0) }
    if ordered {
        #expect(a == b, "\(key): ours \(a), Rubin's \(b)", sourceLocation: sourceLocation)
    } else {
        #expect(a.sorted() == b.sorted(), "\(key): ours \(a.sorted()), Rubin's \(b.sorted())", sourceLocation: sourceLocation)
    }
}
