import Foundation
import Testing
@testable import ButlerKit
import ButlerTestSupport

/// Every file under a folder, relative, sorted (what the datastore holds).
private func filesUnder(_ root: String) -> [String] {
    (FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? []).sorted()
}

@Suite("butler record refuses what it cannot store exactly")
struct RecordValidationTests {
    /// A valid quantum of LATISS exposure 2023032100053 with one output, with `change` applied to its JSON text.
    func document(quantum: String = "", output: String = "", top: String = "") -> String {
        """
        {"run": "u/wf/v", "collections": ["LATISS/raw/all"]\(top),
         "quanta": [{"task": "isr", "data_id": {"instrument": "LATISS", "detector": 0, "exposure": 2023032100053},
                     "inputs": [{"role": "raw", "dataset": "raw:instrument=LATISS,detector=0,exposure=2023032100053"}]\(quantum),
                     "outputs": [{"dataset_type": "postISRCCD", "file": "out.fits",
                                  "data_id": {"instrument": "LATISS", "detector": 0, "exposure": 2023032100053}\(output)}]}]}
        """
    }

    @Test("bad values are refused with their JSON path and reason; nothing is written")
    func refusals() throws {
        let dir = TemporaryDirectory()
        let butler = try ProvenanceRecordTests.repository(dir)
        try FileManager.default.copyItem(atPath: fixture("lsst/latiss-AT_O_20230321_000053.fits"), toPath: dir.path("out.fits"))
        let before = try registrySnapshot(dir.path("repo"))
        let filesBefore = filesUnder(dir.path("repo"))
        let cases: [(String, String)] = [
            (document(quantum: #", "exit_code": 1e20"#), "bad.json: quanta[0].exit_code: 1e20 is not a 32-bit integer"),
            (document(quantum: #", "exit_code": "0""#), #"bad.json: quanta[0].exit_code: "0" is a string, expected a 32-bit integer"#),
            (document(quantum: #", "exit_code": 2147483648"#), "quanta[0].exit_code: 2147483648 is not a 32-bit integer"),
            (document(quantum: #", "exit_code": 1.5"#), "quanta[0].exit_code: 1.5 is not a 32-bit integer"),
            (document(quantum: #", "exit_code": null"#), "quanta[0].exit_code: null is null, expected a 32-bit integer"),
            (document(quantum: #", "command": null"#), "quanta[0].command: null is null, expected a string"),
            (document(quantum: #", "parameters": {"x": [1]}"#), "quanta[0].parameters.x: expected a string, number or boolean, found a list"),
            (document(quantum: #", "configs": ["nope"]"#), "quanta[0].configs: no config named 'nope'"),
            (document().replacingOccurrences(of: #""task": "isr""#, with: #""task": "is\u0000r""#),
             #"quanta[0].task: "is\u0000r" contains a NUL character"#),
            (document().replacingOccurrences(of: #""task": "isr""#, with: #""task": "../../x""#), "quanta[0].task: \"../../x\": contains '/'"),
            (document().replacingOccurrences(of: #""task": "isr""#, with: #""task": "..""#), "quanta[0].task: \"..\": '..' names a folder"),
            (document().replacingOccurrences(of: #""task": "isr""#, with: #""task": "is r""#), "quanta[0].task: \"is r\": ' ' is not allowed"),
            (document(quantum: #", "command": "a\u0000b""#), #"quanta[0].command: "a\u0000b" contains a NUL character"#),
            (document(quantum: #", "taks": "isr""#), "bad.json: quanta[0].taks: unknown key (expected one of: "),
            (document(top: #", "colections": []"#), "bad.json: colections: unknown key"),
            (document(output: #", "metric": {"a": 1}"#), "quanta[0].outputs[0].metric: unknown key"),
            (document(output: #", "metrics": {"a": 1e400}"#), "quanta[0].outputs[0].metrics.a: 1e400 is out of the range of a double"),
            (document(output: #", "metrics": {"a": "1"}"#), #"quanta[0].outputs[0].metrics.a: "1" is a string, expected a number"#),
            (document(quantum: #", "start": "2026-01-01T00:00:10Z", "end": "2026-01-01T00:00:00Z""#),
             #"quanta[0].end: "2026-01-01T00:00:00Z" is before start "2026-01-01T00:00:10Z""#),
            (document(quantum: #", "start": "yesterday""#), #"quanta[0].start: "yesterday" is not an ISO 8601 time"#),
            (document().replacingOccurrences(of: #""detector": 0, "exposure": 2023032100053},"#, with: #""detector": "zero", "exposure": 2023032100053},"#),
             #"quanta[0].data_id.detector: "zero" is not an integer (detector is an integer dimension)"#),
            (document().replacingOccurrences(of: #""detector": 0, "exposure": 2023032100053},"#, with: #""detector": 0.5, "exposure": 2023032100053},"#),
             "quanta[0].data_id.detector: 0.5 is not an integer"),
            (document().replacingOccurrences(of: #""detector": 0, "exposure": 2023032100053},"#, with: #""detector": 0, "exposure": 2023032100053, "detectr": 1},"#),
             "quanta[0].data_id.detectr: unknown dimension 'detectr'"),
            (document().replacingOccurrences(of: #"{"instrument": "LATISS", "detector": 0, "exposure": 2023032100053}}"#, with: #"{"instrument": 7, "detector": 0, "exposure": 2023032100053}}"#),
             "quanta[0].outputs[0].data_id.instrument: 7 is a number, expected a string (instrument is a string dimension)"),
            (document(output: #", "name": "a"}, {"name": "a", "dataset_type": "postISRCCD", "file": "out.fits""#),
             #"quanta[0].outputs[1].name: "a" is already the name of quanta[0].outputs[0]"#),
            (document(top: #", "configs": {"c": {"path": "x", "content": "y"}}"#), "configs.c: has both 'path' and 'content'"),
            (document(top: #", "environments": {"e": {"code_dirty": "no"}}"#), #"environments.e.code_dirty: "no" is a string, expected true or false"#),
            (document(top: #", "environments": {"e": {"executable_sha256": "abc"}}"#), "environments.e.executable_sha256: \"abc\" is not a SHA-256 digest"),
            (document().replacingOccurrences(of: #"["LATISS/raw/all"]"#, with: #"["LATISS/raw/all", 3]"#), "bad.json: collections[1]: 3 is a number, expected a string"),
            (document(top: #", "collections": []"#), "bad.json: not valid JSON: line 1, column 54: duplicate key \"collections\""),
            (#"{"run": "u/x", "quanta": [{"task": "t"}], "run": "u/y"}"#, "bad.json: not valid JSON: line 1, column 43: duplicate key \"run\""),
            ("{\"run\": \"u/x\",\n \"quanta\": [{\"task\": \"t\"}\n   {\"task\": \"u\"}]}", "bad.json: not valid JSON: line 3, column 4: expected ',' or ']' after a list element, found '{'"),
            ("{\"run\": \"u/x\",\n  \"quanta\": [{\"task\": 't'}]}", "bad.json: not valid JSON: line 2, column 23: strings need double quotes"),
            ("{\"run\": \"ü/x\", \"quanta\": [{\"task\": \"t\",}]}", "not valid JSON: line 1, column 40: a trailing ',' before '}'"),
            (#"{"quanta": [{"task": "t"}]"#, "not valid JSON: line 1, column 27: the object is not closed"),
            (#"{"quanta": [{"task": "t"}]} x"#, "not valid JSON: line 1, column 29: unexpected text after the JSON value"),
            (#"{"quanta": [{"task": "t", "exit_code": 01}]}"#, "not valid JSON: line 1, column 40: a number cannot start with 0"),
            (#"{"quanta": [{"task": "\ud800"}]}"#, "not valid JSON: line 1, column 23: a lone UTF-16 surrogate"),
            (String(repeating: "[", count: 100), "not valid JSON: line 1, column 65: nested deeper than 64 levels"),
            ("[1]", "bad.json: expected a JSON object at the top level, found a list"),
        ]
        for (json, expected) in cases {
            let error = butlerError { try butler.record(try RecordSpec(json: Data(json.utf8), source: "bad.json", baseDirectory: dir.url)) }
            #expect(error?.message.contains(expected) == true, "expected '\(expected)', got: \(error?.message ?? "no error")")
            #expect(error?.message.contains("\n") == false)
        }
        #expect(try registrySnapshot(dir.path("repo")) == before)
        #expect(filesUnder(dir.path("repo")) == filesBefore)

        // Invalid UTF-8 in a string.
        var bytes = Data(document().utf8)
        bytes[bytes.range(of: Data("isr".utf8))!.lowerBound] = 0xFF
        let utf8 = butlerError { try RecordSpec(json: bytes, source: "bad.json", baseDirectory: dir.url) }
        #expect(utf8?.message.contains("line 2, column 23: invalid UTF-8") == true, "\(utf8?.message ?? "no error")")
    }

    @Test("a valid document still records: fractional seconds, numeric and boolean parameters kept as written")
    func accepted() throws {
        let dir = TemporaryDirectory()
        let butler = try ProvenanceRecordTests.repository(dir)
        try FileManager.default.copyItem(atPath: fixture("lsst/latiss-AT_O_20230321_000053.fits"), toPath: dir.path("out.fits"))
        let json = document(quantum: #", "exit_code": 0, "start": "2026-01-01T00:00:00.250Z", "end": "2026-01-01T00:00:01.5Z", "parameters": {"n": 1e5, "b": true, "s": "x"}"#,
                                 output: #", "metrics": {"m": -2, "f": 0.125}"#)
        let ids = try butler.record(try RecordSpec(json: Data(json.utf8), source: "ok.json", baseDirectory: dir.url))
        #expect(ids.count == 1)
        let ref = try #require(try butler.registry.queryDatasets(["postISRCCD"]).first?.ref)
        let record = try butler.registry.provenanceRecord(of: ref)
        #expect(record.taskLabel == "isr")
        #expect(record.parameters == ["n": "1e5", "b": "true", "s": "x"])
        #expect(record.metrics == ["m": -2, "f": 0.125])
    }

    @Test("task labels: identifiers only")
    func taskLabels() {
        for good in ["isr", "_x", "calibrateImage", "step2a_b", String(repeating: "a", count: Butler.maximumTaskLabelLength)] {
            #expect(throws: Never.self) { try Butler.validateTaskLabel(good) }
        }
        for (bad, why) in [("", "empty"), (".", "names a folder"), ("..", "names a folder"), ("a/b", "'/'"), ("a\u{0}b", "NUL"),
                           ("a\u{1B}b", "U+001B"), ("a\nb", "U+000A"), ("1isr", "must start"), ("is-r", "'-' is not allowed"), ("is.r", "'.' is not allowed"),
                           ("isré", "'é' is not allowed"), (String(repeating: "a", count: Butler.maximumTaskLabelLength + 1), "longer than")] {
            let error = butlerError { try Butler.validateTaskLabel(bad) }
            #expect(error?.code == .invalidName)
            #expect(error?.message.contains(why) == true, "\(bad.debugDescription): \(error?.message ?? "no error")")
            #expect(error?.message.contains("\n") == false && error?.message.utf8.contains(0) == false)
        }
    }
}
