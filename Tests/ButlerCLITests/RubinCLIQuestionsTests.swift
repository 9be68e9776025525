import Foundation
import Testing
import ButlerKit
import ButlerTestSupport

/// The questions of Rubin's command-line tests (`tests/test_cliCmdQuery*.py` of daf_butler), asked of Rubin's own
/// `butler` (from the test venv) and of ours, over the same registry_data exports loaded registry-only into a Rubin
/// repository and into ours (scripts/rubin/cli_questions.json). Rubin answers at test time; the printed tables are
/// compared row by row on the columns both print, the lines besides the tables where a question asks for the same
/// message, and a refusal (non-zero exit) must be a refusal on both sides.
@Suite("Rubin's command-line test questions: our butler's output against Rubin's", .serialized)
struct RubinCLIQuestionsTests {
    @Test("every ported question of Rubin's CLI tests prints Rubin's rows (and its message where asked), or both refuse")
    func sameOutputAsRubin() throws {
        let questions = try CLIQuestion.load()
        let exportSets = try registryExportSets()
        let dir = TemporaryDirectory("rubin-cli-questions")
        var differences: [String] = []
        var agree = 0, bothRefuse = 0
        for set in Set(questions.map(\.exports)).sorted() {
            let files = try #require(exportSets[set], "unknown export set \(set)")
            let rubinRepo = dir.path("rubin-\(set)")
            let made = try runProcess(rubinPython, [packageRoot.appendingPathComponent("scripts/rubin/registry_only_counts.py").path, rubinRepo] + files)
            try #require(made.exitCode == 0, "Rubin's repository of \(set): \(made.stderr)")
            let ourRepo = dir.path("ours-\(set)")
            try #require(try runButler(try createArguments(ourRepo)).exitCode == 0)
            for file in files {
                let imported = try runButler(["import", ourRepo, rubinRegistryData, "--export-file", file, "--without-datastore"])
                try #require(imported.exitCode == 0, "our import of \(file): \(imported.stderr)")
            }
            for question in questions where question.exports == set {
                // Both run in an empty folder, so that a glob argument reaches the command as written.
                let rubin = try runRubinCLI(question.arguments(repo: rubinRepo))
                let ours = try runButler(question.arguments(repo: ourRepo))
                if rubin.exitCode != 0 && ours.exitCode != 0 { bothRefuse += 1; continue }
                if let difference = question.difference(ours: ours, rubin: rubin) {
                    differences.append("[\(question.id)] \(question.args.joined(separator: " ")) (\(question.source))\n\(difference)")
                } else {
                    agree += 1
                }
            }
        }
        let report = "Rubin's CLI test questions: \(questions.count) asked, \(agree + bothRefuse) agree (\(bothRefuse) both refuse), \(differences.count) differ"
            + (differences.isEmpty ? "" : "\n" + differences.joined(separator: "\n"))
        print(report)
        #expect(questions.count >= 25)
        #expect(differences.isEmpty, "\(report)")
    }
}

/// One question: the arguments (REPO for the repository) and how to compare.
private struct CLIQuestion {
    let id: String
    let exports: String
    let source: String
    let args: [String]
    let ordered: Bool
    let message: Bool

    static func load() throws -> [CLIQuestion] {
        let path = packageRoot.appendingPathComponent("scripts/rubin/cli_questions.json").path
        guard let top = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any],
              let list = top["questions"] as? [[String: Any]] else {
            throw ButlerError(.invalidValue, "\(path): not a question file")
        }
        return try list.map { q in
            guard let id = q["id"] as? String, let exports = q["exports"] as? String, let args = q["args"] as? [String] else {
                throw ButlerError(.invalidValue, "\(path): a question lacks id, exports or args")
            }
            return CLIQuestion(id: id, exports: exports, source: q["source"] as? String ?? "", args: args,
                               ordered: q["ordered"] as? Bool ?? false, message: q["message"] as? Bool ?? false)
        }
    }

    func arguments(repo: String) -> [String] { args.map { $0 == "REPO" ? repo : $0 } }

    /// Why our output is not Rubin's, or nil when it is.
    func difference(ours: CommandResult, rubin: CommandResult) -> String? {
        if (ours.exitCode == 0) != (rubin.exitCode == 0) {
            return "  ours:  exit \(ours.exitCode) \(ours.stderr.prefix(300))\n  Rubin: exit \(rubin.exitCode) \(rubin.stderr.suffix(300))"
        }
        let mine = PrintedOutput(ours.stdout), theirs = PrintedOutput(rubin.stdout)
        let extra = Set(mine.columns).subtracting(theirs.columns)
        if !extra.isEmpty { return "  ours prints columns Rubin does not: \(extra.sorted())\n  ours:\n\(ours.stdout)\n  Rubin:\n\(rubin.stdout)" }
        let common = Set(mine.columns).intersection(theirs.columns)
        let a = mine.rows(on: common), b = theirs.rows(on: common)
        if ordered ? a != b : a.sorted() != b.sorted() {
            return "  rows differ on \(common.sorted())\n  ours:\n\(ours.stdout)\n  Rubin:\n\(rubin.stdout)"
        }
        if message && mine.messages != theirs.messages {
            return "  ours:  \(mine.messages)\n  Rubin: \(theirs.messages)"
        }
        return nil
    }
}

/// Tables (a header, a rule of dashes, rows up to a blank line) and the other lines of a command's output.
private struct PrintedOutput {
    var tables: [(header: [String], rows: [[String]])] = []
    var messages: [String] = []

    init(_ text: String) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        var i = 0
        while i < lines.count {
            if i + 1 < lines.count, !lines[i].isEmpty, Self.isRule(lines[i + 1]) {
                let header = lines[i].split(separator: " ").map(String.init)
                var rows: [[String]] = []
                i += 2
                while i < lines.count, !lines[i].isEmpty { rows.append(lines[i].split(separator: " ").map(String.init)); i += 1 }
                tables.append((header, rows))
            } else {
                if !lines[i].isEmpty { messages.append(lines[i]) }
                i += 1
            }
        }
    }

    static func isRule(_ line: String) -> Bool { line.contains("-") && line.allSatisfy { $0 == "-" || $0 == " " } }

    var columns: [String] { tables.flatMap(\.header) }

    /// Each row as `column=value` pairs on the given columns, in column order.
    func rows(on columns: Set<String>) -> [String] {
        tables.flatMap { table in
            table.rows.map { row in
                zip(table.header, row).filter { columns.contains($0.0) }.sorted { $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
            }
        }
    }
}

/// The export sets of registry_questions.json.
private func registryExportSets() throws -> [String: [String]] {
    let path = packageRoot.appendingPathComponent("scripts/rubin/registry_questions.json").path
    let top = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any]
    return top?["export_sets"] as? [String: [String]] ?? [:]
}

private let rubinPython = packageRoot.appendingPathComponent(".build/rubin-venv/bin/python").path
private let rubinRegistryData = packageRoot
    .appendingPathComponent(".build/rubin-venv/lib/python3.11/site-packages/lsst/daf/butler/tests/registry_data").path
