import ButlerKit
import ButlerTestSupport
import Foundation
import Testing

/// Values printed for people cannot act on their terminal (issue 27, item 12): control characters in a recorded or
/// imported host, command, parameter or metric name are shown escaped in every text output, and a value never spans
/// two lines; JSON output keeps the exact value.
@Suite("Terminal escapes in output")
struct TerminalEscapeCLITests {
    static let dataId = "instrument=LATISS,detector=0,exposure=2023032100053"
    /// Erase the line, return to its start, a newline that would fake a row, CSI as a C1 character, BEL, DEL.
    static let payload = "x\u{1B}[2K\rFAKE\nline\u{9B}2J\u{07}\u{7F}"
    static let shown = "x\\e[2K\\rFAKE\\nline\\u009b2J\\u0007\\u007f"

    @discardableResult
    func check(_ result: CommandResult, _ expected: Int32 = 0, sourceLocation: SourceLocation = #_sourceLocation) -> CommandResult {
        #expect(result.exitCode == expected, "exit \(result.exitCode): \(result.stdout)\(result.stderr)", sourceLocation: sourceLocation)
        return result
    }

    /// No byte a terminal acts on, other than the newlines between lines; with `oneValueALine`, no value's newline
    /// either (CSV quotes a field with a newline, as CSV does).
    func expectInert(_ result: CommandResult, _ what: String, oneValueALine: Bool = true, sourceLocation: SourceLocation = #_sourceLocation) {
        for (name, text) in [("stdout", result.stdout), ("stderr", result.stderr)] {
            let bad = text.unicodeScalars.filter { ($0.value < 0x20 && $0 != "\n") || (0x7F...0x9F).contains($0.value) }
            #expect(bad.isEmpty, "\(what) \(name) holds \(bad.map { String($0.value, radix: 16) }): \(text.debugDescription)",
                    sourceLocation: sourceLocation)
            #expect(!oneValueALine || !text.components(separatedBy: "\n").contains { $0.hasPrefix("line") || $0.hasPrefix("FAKE") },
                    "\(what) \(name): a value's newline made a line of its own", sourceLocation: sourceLocation)
        }
    }

    func jsonObject(_ text: String) throws -> Any { try JSONSerialization.jsonObject(with: Data(text.utf8)) }

    /// A repository with the LATISS raw and one `postISRCCD` recorded by `butler record` whose host, user, command,
    /// and parameter carry the payload (a package version or commit with a control character is refused: it could
    /// make one environment's content address that of another); returns the repository and the output's id.
    func repository(_ dir: TemporaryDirectory) throws -> (repo: String, id: String) {
        let repo = dir.path("repo")
        check(try runButler(try createArguments(repo)))
        check(try runButler(["ingest-raws", repo, fixture("lsst/latiss-AT_O_20230321_000053.fits"), "-t", "copy"]))
        check(try runButler(["register-dataset-type", repo, "postISRCCD", "ExposureF", "instrument", "detector", "exposure"]))
        try FileManager.default.copyItem(atPath: fixture("lsst/latiss-AT_O_20230321_000053.fits"), toPath: dir.path("out.fits"))
        let dataId: [String: Any] = ["instrument": "LATISS", "detector": 0, "exposure": 2023032100053]
        let spec: [String: Any] = [
            "run": "u/evil", "collections": ["LATISS/raw/all"],
            "environments": ["stack": ["packages": ["ip_isr": "1.0"], "code_commit": "abc"]],
            "quanta": [[
                "task": "isr", "data_id": dataId, "status": "succeeded", "exit_code": 0, "environment": "stack",
                "parameters": ["doBias": "true" + Self.payload], "command": "cp" + Self.payload,
                "host": "host" + Self.payload, "user": "me" + Self.payload,
                "inputs": [["role": "raw", "dataset": "raw:\(Self.dataId)"]],
                "outputs": [["name": "o", "role": "out", "dataset_type": "postISRCCD", "data_id": dataId, "file": dir.path("out.fits"),
                             "metrics": ["background": 12.5]]],
            ]],
        ]
        try JSONSerialization.data(withJSONObject: spec).write(to: dir.url.appendingPathComponent("spec.json"))
        check(try runButler(["record", repo, dir.path("spec.json")]))
        let found = check(try runButler(["query-datasets", repo, "postISRCCD", "--collections", "u/evil", "--format", "json"]))
        let id = try #require((try jsonObject(found.stdout) as? [[String: Any]])?.first?["id"] as? String)
        return (repo, id)
    }

    @Test("provenance shows a recorded host, user, command and parameter escaped on their lines; its JSON keeps them exact")
    func provenanceTree() throws {
        let dir = TemporaryDirectory()
        let (repo, id) = try repository(dir)
        let tree = check(try runButler(["provenance", repo, id]))
        expectInert(tree, "provenance")
        #expect(tree.stdout.contains("host host\(Self.shown), user me\(Self.shown)"), "\(tree.stdout)")
        #expect(tree.stdout.contains("command: cp\(Self.shown)\n"))
        #expect(tree.stdout.contains("parameters: doBias=true\(Self.shown)\n"))
        #expect(tree.stdout.contains("ip_isr 1.0"))

        let json = check(try runButler(["provenance", repo, id, "--format", "json"]))
        let steps = (try jsonObject(json.stdout) as? [String: Any])?["steps"] as? [[String: Any]]
        let step = try #require(steps?.first)
        #expect(step["host"] as? String == "host" + Self.payload)
        #expect(step["user"] as? String == "me" + Self.payload)
        #expect(step["command"] as? String == "cp" + Self.payload)
    }

    @Test("tables show a metric name and a command line escaped on one row; JSON keeps them exact")
    func tables() throws {
        let dir = TemporaryDirectory()
        let (repo, id) = try repository(dir)
        // What a foreign provenance bundle could carry: a metric name `record` would refuse (issue 27, item 2 refuses
        // it on import; a registry that already holds one still prints safely).
        let butler = try Butler(repository: repo)
        try butler.registry.database.write { c in
            try c.execute("UPDATE dataset_metric SET name = ? WHERE name = ?", [.text("bg" + Self.payload), .text("background")])
        }
        let table = check(try runButler(["query-datasets", repo, "postISRCCD", "--show-metrics"]))
        expectInert(table, "query-datasets")
        #expect(table.stdout.contains("bg\(Self.shown)=12.5"), "\(table.stdout)")
        #expect(table.stdout.components(separatedBy: "\n").filter { $0.hasPrefix("postISRCCD") }.count == 1)
        let csv = check(try runButler(["query-datasets", repo, "postISRCCD", "--show-metrics", "--format", "csv"]))
        expectInert(csv, "query-datasets --format csv", oneValueALine: false)
        #expect(csv.stdout.contains("\"bg\(Self.shown.replacingOccurrences(of: "\\n", with: "\n"))=12.5\""), "\(csv.stdout)")
        let json = check(try runButler(["query-datasets", repo, "postISRCCD", "--show-metrics", "--format", "json"]))
        let metrics = (try jsonObject(json.stdout) as? [[String: Any]])?.first?["metrics"] as? [String: Double]
        #expect(metrics == ["bg" + Self.payload: 12.5])

        // A step run with an argument holding the payload: reproduce --dry-run shows the command it would run escaped.
        let run = check(try runButler(["run", repo, "--run", "u/run", "--task", "isr", "--input", "raw=raw:\(Self.dataId)",
                                       "--collections", "LATISS/raw/all", "--output", "out=postISRCCD:\(Self.dataId)",
                                       "--", "/bin/sh", "-c", "cp \"$0\" \"$1\"", "{raw}", "{out}", Self.payload]))
        expectInert(run, "run")
        let found = check(try runButler(["query-datasets", repo, "postISRCCD", "--collections", "u/run", "--format", "json"]))
        let ran = try #require((try jsonObject(found.stdout) as? [[String: Any]])?.first?["id"] as? String)
        let plan = try runButler(["reproduce", repo, ran, id, "--dry-run"])
        expectInert(plan, "reproduce --dry-run")
        #expect(plan.stdout.contains(Self.shown), "\(plan.stdout)")
        let tree = check(try runButler(["provenance", repo, ran]))
        expectInert(tree, "provenance of a run step")
    }

    @Test("an error quoting a user's argument shows its control characters escaped")
    func errorMessages() throws {
        let dir = TemporaryDirectory()
        let (repo, _) = try repository(dir)
        let queried = check(try runButler(["query-datasets", repo, "postISRCCD", "--collections", "bad" + Self.payload]))
        expectInert(queried, "query-datasets with a bad collection")
        #expect(queried.stderr == "butler: no results: no collection matched bad\(Self.shown)\n")
        let registered = try runButler(["register-collection", repo, "bad" + Self.payload])
        #expect(registered.exitCode == 1)
        expectInert(registered, "register-collection with a bad name")
        #expect(registered.stderr.hasPrefix("butler: error: invalid collection name 'bad\(Self.shown)'"), "\(registered.stderr)")
        let unknown = try runButler(["query-datasets", repo, "--no-such-\u{1B}[2K-option"])
        #expect(unknown.exitCode == 2)
        expectInert(unknown, "an unknown option")
        let command = try runButler(["query-\u{1B}[2Kdatasets", repo])
        #expect(command.exitCode == 2)
        expectInert(command, "an unknown command")
    }
}
