import Foundation
import Testing
import ButlerKit
import ButlerTestSupport

/// `find-dataset` over CALIBRATION collections with Rubin's rule (`Butler.find_dataset(..., timespan=)`): a
/// CALIBRATION collection is searched for a validity range overlapping `--timespan`, skipped when there is no time,
/// and more than one match there is refused. Rubin's answers come from Rubin's butler, at test time, on the
/// repository it built (scripts/rubin/make_rubin_repo.py), which our butler imports from Rubin's export.
@Suite("find-dataset and CALIBRATION collections, as Rubin's find_dataset", .serialized)
struct FindDatasetCLITests {
    struct Question: Codable, Sendable {
        var dataset_type = "bias"
        var data_id: [String: Int64OrString]
        var collections: [String]
        var timespan: String?
        var time_of: String?
    }

    enum Int64OrString: Codable, Sendable {
        case int(Int64), string(String)
        func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self { case .int(let v): try c.encode(v); case .string(let s): try c.encode(s) }
        }
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let v = try? c.decode(Int64.self) { self = .int(v) } else { self = .string(try c.decode(String.self)) }
        }
        var text: String { switch self { case .int(let v): "\(v)"; case .string(let s): s } }
    }

    static let detector: [String: Int64OrString] = ["instrument": .string("LATISS"), "detector": .int(0)]
    static let withExposure: [String: Int64OrString] = detector.merging(["exposure": .int(2024062400106)]) { a, _ in a }

    /// The questions. The bias is certified into LATISS/calib for [2023-01-01, 2024-01-01) and [2024-01-01, ∞).
    static let questions: [Question] = [
        // No time: Rubin skips the CALIBRATION collection (ours refused the search before).
        Question(data_id: detector, collections: ["LATISS/defaults"]),
        Question(data_id: detector, collections: ["LATISS/calib"]),
        Question(data_id: detector, collections: ["LATISS/calib", "LATISS/calib/bias/20240101"]),
        // A time: the validity range that holds it.
        Question(data_id: detector, collections: ["LATISS/defaults"], timespan: "2023-06-01T00:00:00"),
        Question(data_id: detector, collections: ["LATISS/defaults"], timespan: "2024-02-01T00:00:00,2024-03-01T00:00:00"),
        Question(data_id: detector, collections: ["LATISS/defaults"], timespan: "2025-01-01T00:00:00,"),
        Question(data_id: detector, collections: ["LATISS/calib"], timespan: ",2023-01-01T00:00:00"),
        Question(data_id: detector, collections: ["LATISS/calib"], timespan: "2020-01-01T00:00:00,2021-01-01T00:00:00"),
        // Ranges touch at 2024-01-01: the instant there is in the second range only.
        Question(data_id: detector, collections: ["LATISS/calib"], timespan: "2024-01-01T00:00:00"),
        // Two ranges overlap the time (or no bound at all): ambiguous.
        Question(data_id: detector, collections: ["LATISS/defaults"], timespan: "2023-06-01T00:00:00,2024-06-01T00:00:00"),
        Question(data_id: detector, collections: ["LATISS/calib"], timespan: ","),
        // A RUN before the CALIBRATION collection answers first, with or without a time.
        Question(data_id: detector, collections: ["LATISS/calib/bias/20230101", "LATISS/calib"], timespan: "2025-01-01T00:00:00"),
        // An exposure in the data ID gives the time, as Rubin's Butler.get does (its find_dataset is asked with the
        // exposure's timespan).
        Question(data_id: withExposure, collections: ["LATISS/defaults"], time_of: "exposure"),
    ]

    /// Rubin's repository and its export, made by Rubin's butler (a few seconds).
    static func rubinRepository(_ dir: TemporaryDirectory) throws -> (repo: String, export: String) {
        let python = packageRoot.appendingPathComponent(".build/rubin-venv/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw ButlerError(.notFound, "\(python) is missing: run make rubin-venv (Rubin's butler for these tests)")
        }
        let out = dir.path("rubin")
        let made = try runProcess(python, [packageRoot.appendingPathComponent("scripts/rubin/make_rubin_repo.py").path, out,
                                           "--fixtures", fixturesDirectory.appendingPathComponent("raw/lsst").path])
        guard made.exitCode == 0 else { throw ButlerError(.invalidValue, "make_rubin_repo.py failed:\n\(made.stderr)") }
        return (out + "/repo", out + "/export")
    }

    /// Rubin's answers: a dataset id, "none", or "refused: <exception class>".
    static func rubinAnswers(_ repo: String, _ questions: [Question], in dir: TemporaryDirectory) throws -> [String] {
        let file = dir.path("questions.json")
        try JSONEncoder().encode(questions).write(to: URL(fileURLWithPath: file))
        let python = packageRoot.appendingPathComponent(".build/rubin-venv/bin/python").path
        let asked = try runProcess(python, [packageRoot.appendingPathComponent("scripts/rubin/find_dataset.py").path, repo, file])
        guard asked.exitCode == 0 else { throw ButlerError(.invalidValue, "find_dataset.py failed:\n\(asked.stderr)") }
        let answers = try JSONSerialization.jsonObject(with: Data(asked.stdout.utf8)) as? [[String: Any]] ?? []
        return answers.map { answer in
            if let error = answer["error"] as? String { return "refused: \(error)" }
            return (answer["id"] as? String) ?? "none"
        }
    }

    /// Our answer to one question, in the same words.
    static func ourAnswer(_ repo: String, _ q: Question) throws -> String {
        let dataId = q.data_id.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.text)" }.joined(separator: ",")
        var arguments = ["find-dataset", repo, "\(q.dataset_type):\(dataId)", "--collections", q.collections.joined(separator: ","), "--format", "json"]
        if let timespan = q.timespan { arguments += ["--timespan", timespan] }
        let found = try runButler(arguments)
        if found.exitCode == 0 {
            let rows = try JSONSerialization.jsonObject(with: Data(found.stdout.utf8)) as? [[String: Any]] ?? []
            return (rows.first?["id"] as? String) ?? "unreadable: \(found.stdout)"
        }
        if found.stderr.hasPrefix("butler: error: no '\(q.dataset_type)' dataset") { return "none" }
        if found.stderr.hasPrefix("butler: error: ambiguous calibration lookup") { return "refused: CalibrationLookupError" }
        return "error \(found.exitCode): \(found.stderr)"
    }

    @Test("every question gets Rubin's answer: skipped without a time, the overlapping range with one, ambiguity refused")
    func sameAnswersAsRubin() throws {
        let dir = TemporaryDirectory("find-dataset")
        let rubin = try Self.rubinRepository(dir)
        let repo = dir.path("ours")
        #expect(try runButler(try createArguments(repo)).exitCode == 0)
        let imported = try runButler(["import", repo, rubin.export])
        try #require(imported.exitCode == 0, "butler import of Rubin's export failed: \(imported.stderr)")
        let expected = try Self.rubinAnswers(rubin.repo, Self.questions, in: dir)
        try #require(expected.count == Self.questions.count)
        // Rubin's answers cover each case the questions are for.
        #expect(expected.contains("none") && expected.contains("refused: CalibrationLookupError"))
        #expect(Set(expected.filter { UUID(uuidString: $0) != nil }).count == 2)
        for (q, answer) in zip(Self.questions, expected) {
            let ours = try Self.ourAnswer(repo, q)
            #expect(ours == answer, "\(q.collections) \(q.timespan ?? "no time") \(q.time_of ?? ""): ours \(ours), Rubin's \(answer)")
        }
    }

    @Test("--timespan is checked: a bad time, an end before the begin, no collections are one-line usage errors")
    func badTimespan() throws {
        let dir = TemporaryDirectory("find-dataset-bad")
        let repo = dir.path("repo")
        #expect(try runButler(try createArguments(repo)).exitCode == 0)
        for (value, words) in [("yesterday", "'yesterday' is not a date"), ("2024-02-01T00:00:00,2024-01-01T00:00:00", "ends before it begins"),
                               ("a,b,c", "expected BEGIN,END or one time")] {
            let result = try runButler(["find-dataset", repo, "bias:instrument=LATISS,detector=0", "--collections", "LATISS/calib", "--timespan", value])
            #expect(result.exitCode == 2, "\(value): \(result.stderr)")
            #expect(result.stderr.contains(words), "\(value): \(result.stderr)")
        }
        let noCollections = try runButler(["find-dataset", repo, "bias:instrument=LATISS,detector=0", "--timespan", "2024-01-01T00:00:00"])
        #expect(noCollections.exitCode == 2)
        #expect(noCollections.stderr.contains("--timespan needs --collections"))
        let help = try runButler(["find-dataset", "--help"])
        #expect(help.stdout.contains("--timespan"))
    }
}
