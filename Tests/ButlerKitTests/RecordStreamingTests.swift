import Foundation
import Testing
@testable import ButlerKit
import ButlerTestSupport

/// The regular files under a folder, relative, sorted.
private func regularFiles(_ root: String) -> [String] {
    let names = FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? []
    return names.filter { (try? FileManager.default.attributesOfItem(atPath: root + "/" + $0)[.type] as? FileAttributeType) == .typeRegular }.sorted()
}

@Suite("butler record streams its text and writes in batches")
struct RecordStreamingTests {
    /// A chain of `count` quanta, each in its own RUN (so that every output has its own slot), each reading the
    /// output of the one before by name; the first reads the raw.
    func chain(_ count: Int) -> [String] {
        (0..<count).map { i in
            let input = i == 0 ? #"{"role": "raw", "dataset": "raw:instrument=LATISS,detector=0,exposure=2023032100053"}"#
                               : #"{"role": "exposure", "output": "o\#(i - 1)"}"#
            return #"{"task": "isr", "run": "u/s/\#(i)", "environment": "stack", "configs": ["isr.yaml"], "inputs": [\#(input)], "#
                + #""data_id": {"instrument": "LATISS", "detector": 0, "exposure": 2023032100053}, "#
                + #""outputs": [{"name": "o\#(i)", "dataset_type": "postISRCCD", "file": "out.fits", "metrics": {"step": \#(i)}, "#
                + #""data_id": {"instrument": "LATISS", "detector": 0, "exposure": 2023032100053}}]}"#
        }
    }

    func checkChain(_ butler: Butler, _ ids: [UUID], count: Int) throws {
        #expect(ids.count == count)
        let refs = try butler.registry.queryDatasets(["postISRCCD"], collections: (0..<count).map { "u/s/\($0)" }).map(\.ref)
        #expect(refs.count == count)
        for ref in refs {
            let record = try butler.registry.provenanceRecord(of: ref)
            let step = Int(ref.run.split(separator: "/").last!)!
            #expect(record.metrics == ["step": Double(step)])
            #expect(record.packages == ["ip_isr": "1.2"])
            #expect(record.configs.keys.sorted() == ["isr.yaml"])
            #expect(record.inputs.map(\.datasetType) == [step == 0 ? "raw" : "postISRCCD"])
            if step > 0 { #expect(record.inputs.first?.run == "u/s/\(step - 1)") }
        }
        var problems: [String] = []
        _ = try butler.verify(checksums: true) { problems.append($0.description) }
        #expect(problems.isEmpty, "\(problems)")
    }

    @Test("a document whose quanta come before its header, written in batches of 2, chained across batches")
    func documentInBatches() throws {
        let dir = TemporaryDirectory()
        let butler = try ProvenanceRecordTests.repository(dir)
        try FileManager.default.copyItem(atPath: fixture("lsst/latiss-AT_O_20230321_000053.fits"), toPath: dir.path("out.fits"))
        let json = #"{"quanta": [\#(chain(7).joined(separator: ",\n"))], "collections": ["LATISS/raw/all"], "#
            + #""environments": {"stack": {"packages": {"ip_isr": "1.2"}}}, "configs": {"isr.yaml": {"content": "a: 1\n"}}}"#
        try json.write(toFile: dir.path("spec.json"), atomically: true, encoding: .utf8)
        let spec = try RecordSpec(contentsOf: dir.path("spec.json"))
        #expect(spec.quantumCount == 7)
        try checkChain(butler, try butler.record(spec, batchSize: 2), count: 7)
    }

    @Test("JSON Lines: header lines anywhere, one quantum a line, errors name the line")
    func jsonLines() throws {
        let dir = TemporaryDirectory()
        let butler = try ProvenanceRecordTests.repository(dir)
        try FileManager.default.copyItem(atPath: fixture("lsst/latiss-AT_O_20230321_000053.fits"), toPath: dir.path("out.fits"))
        var lines = chain(5)
        lines.insert(#"{"collections": ["LATISS/raw/all"], "environments": {"stack": {"packages": {"ip_isr": "1.2"}}}}"#, at: 0)
        lines.append(#"{"configs": {"isr.yaml": {"content": "a: 1\n"}}}"#)
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir.path("spec.jsonl"), atomically: true, encoding: .utf8)
        let spec = try RecordSpec(contentsOf: dir.path("spec.jsonl"))
        #expect(spec.quantumCount == 5)
        try checkChain(butler, try butler.record(spec, batchSize: 3), count: 5)

        let before = try registrySnapshot(dir.path("repo"))
        let cases: [(String, String)] = [
            (lines[0] + "\n" + #"{"task": "isr", "exit_code": 1e20}"#, "bad.jsonl: line 2: exit_code: 1e20 is not a 32-bit integer"),
            (lines[0] + "\n" + #"{"inputs": []}"#, "bad.jsonl: line 2: task: missing"),
            (lines[0] + "\n" + lines[0], "bad.jsonl: line 2: collections: given again"),
            (lines[0] + "\n" + #"{"environments": {"stack": {}}}"#, "bad.jsonl: line 2: environments.stack: already defined on an earlier line"),
            (lines[0] + "\n\n" + #"{"task": "isr", "run": "u/x", "outputs": [{"dataset_type": "nope", "file": "out.fits"}]}"#,
             "bad.jsonl: line 3: outputs[0]: no dataset type named 'nope'"),
            (lines[0] + "\n" + #"{"task": "isr", "run": "u/x", "inputs": [{"dataset": "0190c4a4-0000-7000-8000-000000000000"}]}"#,
             "bad.jsonl: line 2: inputs[0].dataset: no dataset with id"),
            (lines[0] + "\n" + #"{"task": "isr" "run": "u/x"}"#, "bad.jsonl: not valid JSON: line 2, column 16: expected ',' or '}' after an object member, found '\"'"),
            (lines[0] + "\n" + "[1]", "bad.jsonl: not valid JSON: line 2, column 1: unexpected text after the JSON value"),
            (lines[0], "bad.jsonl: no quanta"),
            (#"{"run": "u/x", "quanta": [{"task": "t"}]}"# + "\n" + #"{"task": "t"}"#, "bad.json: not valid JSON: line 2, column 1: unexpected text after the JSON value"),
        ]
        for (text, expected) in cases {
            let source = expected.hasPrefix("bad.json:") ? "bad.json" : "bad.jsonl"
            let error = butlerError { try butler.record(try RecordSpec(json: Data(text.utf8), source: source, baseDirectory: dir.url)) }
            #expect(error?.message.contains(expected) == true, "expected '\(expected)', got: \(error?.message ?? "no error")")
        }
        #expect(try registrySnapshot(dir.path("repo")) == before)
    }

    @Test("an output already registered, or made twice by one text, refuses the whole text in a later batch; nothing is left")
    func conflictsInLaterBatches() throws {
        let dir = TemporaryDirectory()
        let butler = try ProvenanceRecordTests.repository(dir)
        try FileManager.default.copyItem(atPath: fixture("lsst/latiss-AT_O_20230321_000053.fits"), toPath: dir.path("out.fits"))
        let header = #"{"collections": ["LATISS/raw/all"], "environments": {"stack": {"packages": {"ip_isr": "1.2"}}}, "configs": {"isr.yaml": {"content": "a: 1\n"}}}"#
        try checkChain(butler, try butler.record(try RecordSpec(json: Data((header + "\n" + chain(1)[0]).utf8), source: "first.jsonl", baseDirectory: dir.url)), count: 1)
        let before = try registrySnapshot(dir.path("repo"))
        let files = regularFiles(dir.path("repo"))
        // Quanta 1-4 are new; the fifth makes u/s/0's output again.
        var lines = [header] + Array(chain(5).dropFirst())
        lines[1] = lines[1].replacingOccurrences(of: #"{"role": "exposure", "output": "o0"}"#, with: #"{"dataset": "raw:instrument=LATISS,detector=0,exposure=2023032100053"}"#)
        lines.append(chain(1)[0].replacingOccurrences(of: #""name": "o0", "#, with: ""))
        let again = butlerError { try butler.record(try RecordSpec(json: Data(lines.joined(separator: "\n").utf8), source: "again.jsonl", baseDirectory: dir.url), batchSize: 2) }
        #expect(again?.code == .conflict)
        #expect(again?.message.contains("again.jsonl: line 6: outputs[0].data_id: postISRCCD") == true, "\(again?.message ?? "no error")")
        #expect(again?.message.contains("is already in RUN u/s/0") == true, "\(again?.message ?? "no error")")
        // Twice in one text, in different batches.
        let twice = [header, chain(2)[1].replacingOccurrences(of: #"{"role": "exposure", "output": "o0"}"#, with: #"{"dataset": "raw:instrument=LATISS,detector=0,exposure=2023032100053"}"#),
                     chain(2)[1].replacingOccurrences(of: #"{"role": "exposure", "output": "o0"}"#, with: #"{"dataset": "raw:instrument=LATISS,detector=0,exposure=2023032100053"}"#)
                         .replacingOccurrences(of: #""name": "o1""#, with: #""name": "o1b""#)]
        let error = butlerError { try butler.record(try RecordSpec(json: Data(twice.joined(separator: "\n").utf8), source: "twice.jsonl", baseDirectory: dir.url), batchSize: 1) }
        #expect(error?.message.contains("twice.jsonl: line 3: outputs[0].data_id") == true, "\(error?.message ?? "no error")")
        #expect(try registrySnapshot(dir.path("repo")) == before)
        #expect(regularFiles(dir.path("repo")) == files)
        var problems: [String] = []
        _ = try butler.verify(checksums: true) { problems.append($0.description) }
        #expect(problems.isEmpty, "\(problems)")
    }
}
