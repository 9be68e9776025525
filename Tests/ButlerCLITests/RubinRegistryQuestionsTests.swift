import Foundation
import Testing
import ButlerKit
import ButlerTestSupport

/// The questions of Rubin's own registry test suite (`registry/tests/_registry.py`, `tests/butler_queries.py`), asked of
/// the exports it ships for them (`tests/registry_data/*.yaml`), answered by Rubin's butler and by ours.
///
/// scripts/rubin/registry_questions.json holds the questions only. For each export set Rubin's butler (the test venv)
/// loads the exports registry-only and answers every question of the set in one process
/// (scripts/rubin/registry_questions.py rubin); our butler imports the same exports and answers each question with its
/// CLI (`--format json`); the same script normalizes our output into Rubin's shapes (sorted lists of data IDs,
/// datasets, records; lists where the question is ordered). A question agrees when both answers are the same, or
/// when both butlers refuse it.
@Suite("Rubin's registry test questions: our answers against Rubin's", .serialized)
struct RubinRegistryQuestionsTests {
    @Test("every question ported from Rubin's registry tests gets Rubin's answer (or both refuse)")
    func questionsAgreeWithRubin() throws {
        let document = try QuestionFile(path: questionsPath)
        let dir = TemporaryDirectory("rubin-questions")
        var rubinAnswers: [String: Answer] = [:]
        var ourRaw: [String: [String: Any]] = [:]
        /// Export sets our butler could not load: the reason and the questions left unasked (each one differs).
        var notLoaded: [String: (reason: String, questions: [String])] = [:]

        for (set, files) in document.exportSets.sorted(by: { $0.key < $1.key }) {
            let questions = document.questions.filter { $0.exports == set }
            guard !questions.isEmpty else { continue }
            let out = dir.path("rubin-\(set).json")
            let rubin = try runRubinQuestions(["rubin", questionsPath, set, out])
            try #require(rubin.exitCode == 0, "Rubin's butler could not answer the questions of \(set):\n\(rubin.stderr)")
            rubinAnswers.merge(try readAnswers(out)) { a, _ in a }

            let repo = dir.path("repo-\(set)")
            let created = try runButler(try createArguments(repo))
            try #require(created.exitCode == 0, "butler create failed: \(created.stderr)")
            var importFailure: String?
            for file in files {
                // Registry-only, as Rubin's registry tests load them (`import_(..., without_datastore=True)`).
                let imported = try runButler(["import", repo, registryDataDirectory, "--export-file",
                                              registryDataDirectory + "/" + file, "--without-datastore"])
                if imported.exitCode != 0 {
                    importFailure = "our import of \(file) failed: " + firstLine(imported.stderr)
                    break
                }
            }
            if let importFailure {
                notLoaded[set] = (importFailure, questions.map(\.id))
                continue
            }
            for question in questions {
                let result = try runButler(question.arguments(repo: repo))
                ourRaw[question.id] = ["exit": Int(result.exitCode), "stdout": result.stdout, "stderr": result.stderr]
            }
        }

        let rawPath = dir.path("ours-raw.json")
        try JSONSerialization.data(withJSONObject: ourRaw, options: [.sortedKeys]).write(to: URL(fileURLWithPath: rawPath))
        let normalizedPath = dir.path("ours.json")
        let normalized = try runRubinQuestions(["ours", questionsPath, rawPath, normalizedPath])
        try #require(normalized.exitCode == 0, "normalizing our answers failed:\n\(normalized.stderr)")
        let ourAnswers = try readAnswers(normalizedPath)

        var agree = 0, bothRefuse = 0
        var differences: [String] = []
        for question in document.questions {
            guard let theirs = rubinAnswers[question.id] else {
                differences.append("\(question.summary)\n    Rubin gave no answer")
                continue
            }
            if notLoaded[question.exports] != nil { continue }
            guard let ours = ourAnswers[question.id] else {
                differences.append("\(question.summary)\n    ours:  no answer")
                continue
            }
            if ours.refused && theirs.refused && question.sameMessage && ours.text != theirs.text {
                differences.append("\(question.summary)\n    both refuse, in other words\n    ours:  \(clip(ours.text))\n    Rubin: \(clip(theirs.text))")
            } else if ours.refused && theirs.refused {
                bothRefuse += 1
            } else if ours.text == theirs.text {
                agree += 1
            } else {
                differences.append("\(question.summary)\n    ours:  \(clip(ours.text))\n    Rubin: \(clip(theirs.text))")
            }
        }
        let asked = document.questions.count
        let agreeing = agree + bothRefuse
        let unasked = notLoaded.values.reduce(0) { $0 + $1.questions.count }
        var report = "Rubin's registry test questions: \(asked) asked, \(agreeing) agree (\(agree) same answer, "
            + "\(bothRefuse) both refuse), \(differences.count + unasked) differ"
        for (set, failure) in notLoaded.sorted(by: { $0.key < $1.key }) {
            report += "\n\(failure.questions.count) question(s) over \(set) differ, not asked: \(clip(failure.reason))"
        }
        if !differences.isEmpty { report += "\n" + differences.joined(separator: "\n") }
        print(report)
        #expect(asked >= 100, "only \(asked) questions ported")
        #expect(agreeing * 100 >= asked * 97, "\(report)")
        #expect(differences.isEmpty && unasked == 0, "\(report)")
    }
}

// MARK: - The questions

/// Where the questions are (committed; answers never are).
private let questionsPath = packageRoot.appendingPathComponent("scripts/rubin/registry_questions.json").path

/// Rubin's registry test exports, as installed in the test venv.
private let registryDataDirectory = packageRoot
    .appendingPathComponent(".build/rubin-venv/lib/python3.11/site-packages/lsst/daf/butler/tests/registry_data").path

/// scripts/rubin/registry_questions.json.
private struct QuestionFile {
    let exportSets: [String: [String]]
    let questions: [Question]

    init(path: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard let top = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let sets = top["export_sets"] as? [String: [String]],
              let list = top["questions"] as? [[String: Any]] else {
            throw ButlerError(.invalidValue, "\(path): not a question file (export_sets and questions)")
        }
        exportSets = sets
        questions = try list.map { try Question($0, path: path) }
        for question in questions where sets[question.exports] == nil {
            throw ButlerError(.invalidValue, "\(path): question \(question.id) names unknown export set \(question.exports)")
        }
    }
}

/// One question, in the form both butlers execute.
private struct Question {
    let id: String
    let exports: String
    let kind: String
    let source: String
    let fields: [String: Any]
    /// A refusal agrees only when it says what Rubin's says.
    var sameMessage: Bool { fields["same_message"] as? Bool == true }

    init(_ fields: [String: Any], path: String) throws {
        guard let id = fields["id"] as? String, let exports = fields["exports"] as? String,
              let kind = fields["kind"] as? String else {
            throw ButlerError(.invalidValue, "\(path): a question lacks id, exports or kind")
        }
        self.id = id
        self.exports = exports
        self.kind = kind
        self.source = fields["source"] as? String ?? ""
        self.fields = fields
    }

    private func strings(_ key: String) -> [String] {
        if let list = fields[key] as? [String] { return list }
        if let one = fields[key] as? String { return [one] }
        return []
    }

    /// What the question asks, for the report.
    var summary: String {
        let shown = fields.filter { !["id", "exports", "source"].contains($0.key) }
        let text = (try? JSONSerialization.data(withJSONObject: shown, options: [.sortedKeys, .withoutEscapingSlashes]))
            .map { String(decoding: $0, as: UTF8.self) } ?? ""
        return "[\(id)] over \(exports) (\(source)): \(text)"
    }

    /// Our CLI's command for the question.
    func arguments(repo: String) throws -> [String] {
        var args: [String]
        switch kind {
        case "data-ids":
            args = ["query-data-ids", repo] + strings("dimensions")
            if let datasets = fields["datasets"] { args += ["--datasets", listText(datasets)] }
        case "datasets":
            args = ["query-datasets", repo] + strings("dataset_types")
            if fields["find_first"] as? Bool == true { args.append("--find-first") }
        case "dimension-records":
            args = ["query-dimension-records", repo, fields["element"] as? String ?? ""]
            if let datasets = fields["datasets"] { args += ["--datasets", listText(datasets)] }
        case "collections":
            args = ["query-collections", repo] + strings("patterns")
            let types = strings("collection_types")
            if !types.isEmpty { args += ["--collection-type", types.joined(separator: ",")] }
            if fields["flatten_chains"] as? Bool == true { args += ["--chains", "FLATTEN"] }
        case "dataset-types":
            args = ["query-dataset-types", repo] + strings("patterns") + ["--verbose"]
        case "find-dataset":
            let dataId = (fields["data_id"] as? [String: Any] ?? [:]).sorted { $0.key < $1.key }
                .map { "\($0.key)=\(scalarText($0.value))" }.joined(separator: ",")
            args = ["find-dataset", repo, "\(fields["dataset_type"] as? String ?? ""):\(dataId)"]
        default:
            throw ButlerError(.invalidValue, "question \(id): unknown kind \(kind)")
        }
        if let collections = fields["collections"] { args += ["--collections", listText(collections)] }
        if kind != "collections" && kind != "dataset-types" && kind != "find-dataset" {
            if let whereText = fields["where"] as? String { args += ["--where", whereText] }
            for (name, value) in (fields["bind"] as? [String: Any] ?? [:]).sorted(by: { $0.key < $1.key }) {
                args += ["--bind", "\(name)=\(listText(value))"]
            }
            if let order = fields["order_by"] as? [String] { args += ["--order-by", order.joined(separator: ",")] }
            if let limit = fields["limit"] as? Int { args += ["--limit", String(limit)] }
        }
        return args + ["--format", "json"]
    }
}

/// A JSON scalar as our CLI takes it.
private func scalarText(_ value: Any) -> String {
    if let number = value as? NSNumber { return number.stringValue }
    return "\(value)"
}

/// A list as one comma-separated value (how our options take lists), a scalar as itself.
private func listText(_ value: Any) -> String {
    if let list = value as? [Any] { return list.map(scalarText).joined(separator: ",") }
    return scalarText(value)
}

// MARK: - The answers

/// One normalized answer: canonical JSON text, and whether it is a refusal.
private struct Answer {
    let text: String
    let refused: Bool
}

private func readAnswers(_ path: String) throws -> [String: Answer] {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    guard let top = try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]] else {
        throw ButlerError(.invalidValue, "\(path): not a file of answers")
    }
    return top.compactMapValues { entry in
        guard let text = entry["answer"] as? String else { return nil }
        return Answer(text: text, refused: entry["refused"] as? Bool ?? false)
    }
}

private func firstLine(_ text: String) -> String {
    text.split(separator: "\n").first(where: { $0.contains("error") }).map(String.init)
        ?? text.split(separator: "\n").first.map(String.init) ?? ""
}

/// An answer shortened for the report.
private func clip(_ text: String, limit: Int = 600) -> String {
    text.count <= limit ? text : String(text.prefix(limit)) + "… (\(text.count) characters)"
}

/// Runs scripts/rubin/registry_questions.py with the Python of Rubin's test venv.
private func runRubinQuestions(_ arguments: [String]) throws -> CommandResult {
    let python = packageRoot.appendingPathComponent(".build/rubin-venv/bin/python").path
    guard FileManager.default.isExecutableFile(atPath: python) else {
        throw ButlerError(.notFound, "\(python) is missing: run make rubin-venv (Rubin's butler for these tests)")
    }
    return try runProcess(python, [packageRoot.appendingPathComponent("scripts/rubin/registry_questions.py").path] + arguments)
}
