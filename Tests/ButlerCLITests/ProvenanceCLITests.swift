import Foundation
import Testing
import ButlerKit
import ButlerTestSupport

/// End-to-end tests of put, run, record and provenance.
@Suite("butler provenance commands")
struct ProvenanceCLITests {
    @Test("put prints the id (JSON too); run exits with the command's code on failure; provenance reads registry and file")
    func commands() throws {
        let dir = TemporaryDirectory()
        let repo = dir.path("repo")
        #expect(try runButler(try createArguments(repo)).exitCode == 0)
        #expect(try runButler(["ingest-raws", repo, fixture("lsst/latiss-AT_O_20230321_000053.fits"), "-t", "direct"]).exitCode == 0)
        #expect(try runButler(["register-dataset-type", repo, "postISRCCD", "ExposureF", "instrument", "detector", "exposure"]).exitCode == 0)
        let dataId = "instrument=LATISS,detector=0,exposure=2023032100053"
        let put = try runButler(["put", repo, fixture("lsst/latiss-AT_O_20230321_000053.fits"), "--run", "u/put", "--dataset-type", "postISRCCD",
                                 "--data-id", dataId, "--input", "raw=raw:\(dataId)", "--collections", "LATISS/raw/all", "--task", "isr",
                                 "--metric", "seeing=0.7", "--format", "json"])
        #expect(put.exitCode == 0, "\(put.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(put.stdout.utf8)) as! [String: Any]
        #expect((object["id"] as? String)?.count == 36)

        let failed = try runButler(["run", repo, "--run", "u/run", "--task", "isr2", "--input", "raw=raw:\(dataId)", "--collections", "LATISS/raw/all",
                                    "--output", "out=postISRCCD:\(dataId)", "--", "/bin/sh", "-c", "exit 5"])
        #expect(failed.exitCode == 5)
        #expect(failed.stderr.contains("exited with code 5"))
        let ok = try runButler(["run", repo, "--run", "u/run2", "--task", "isr3", "--input", "raw=raw:\(dataId)", "--collections", "LATISS/raw/all",
                                "--output", "out=postISRCCD:\(dataId)", "--", "/bin/cp", "{raw}", "{out}"])
        #expect(ok.exitCode == 0, "\(ok.stderr)")
        let lineage = try runButler(["provenance", repo, "postISRCCD:\(dataId)", "--collections", "u/run2", "--format", "json"])
        let record = try JSONSerialization.jsonObject(with: Data(lineage.stdout.utf8)) as! [String: Any]
        let steps = record["steps"] as! [[String: Any]]
        #expect(steps.map { $0["task"] as? String } == ["isr3"])
        #expect((steps[0]["inputs"] as? [[String: Any]])?.first?["role"] as? String == "raw")
        let uri = try runButler(["query-datasets", repo, "postISRCCD", "--collections", "u/run2", "--show-uri", "--format", "csv"])
        let path = String(uri.stdout.split(separator: "\n").last!.split(separator: ",").last!).replacingOccurrences(of: "file://", with: "")
        let cards = try runButler(["provenance", path])
        #expect(cards.stdout.contains("\"LSST BUTLER RUN\": \"u/run2\""))
        let missingInput = try runButler(["put", repo, fixture("lsst/latiss-AT_O_20230321_000053.fits"), "--run", "u/put2", "--dataset-type", "postISRCCD",
                                          "--data-id", dataId, "--input", "raw=00000000-0000-0000-0000-000000000000"])
        #expect(missingInput.exitCode == 1)
        #expect(missingInput.stderr.contains("00000000-0000-0000-0000-000000000000"))
        #expect(try runButler(["record", repo, dir.path("missing.json")]).exitCode == 1)

        // record: JSON Lines on standard input, ids as JSON; relative paths against the working folder.
        let lines = [
            #"{"run": "u/lines", "collections": ["LATISS/raw/all"]}"#,
            #"{"task": "isr", "data_id": {"instrument": "LATISS", "detector": 0, "exposure": 2023032100053}, "inputs": [{"role": "raw", "dataset": "raw:\#(dataId)"}], "#
                + #""outputs": [{"dataset_type": "postISRCCD", "file": "\#(fixture("lsst/latiss-AT_O_20230321_000053.fits"))", "data_id": {"instrument": "LATISS", "detector": 0, "exposure": 2023032100053}}]}"#,
        ]
        let recorded = try runButler(["record", repo, "-", "--format", "json", "--batch-size", "1"], stdin: lines.joined(separator: "\n") + "\n")
        #expect(recorded.exitCode == 0, "\(recorded.stderr)")
        let ids = (try JSONSerialization.jsonObject(with: Data(recorded.stdout.utf8)) as? [String: Any])?["quanta"] as? [String]
        #expect(ids?.count == 1)
        let bad = try runButler(["record", repo, "-"], stdin: lines[0] + "\n" + #"{"task": "isr", "exit_code": "x"}"# + "\n")
        #expect(bad.exitCode == 1)
        #expect(bad.stderr.contains("standard input: line 2: exit_code: \"x\" is a string, expected a 32-bit integer"), "\(bad.stderr)")
        #expect(try runButler(["record", repo, "-", "--batch-size", "0"], stdin: "").exitCode == 2)
    }
}
