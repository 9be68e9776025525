import ButlerKit
import ButlerTestSupport
import Foundation
import Testing

/// What Rubin's butler users type out of habit: unknown commands, log levels, Rubin's class names and options,
/// negative limits, timespans as times, pasteable command lines.
@Suite("butler command habits from Rubin's butler")
struct CommandHabitsCLITests {
    @Test("an unknown command is an error with the nearest name, also with --help; help COMMAND still works")
    func unknownCommand() throws {
        let typo = try runButler(["quer-datasets", "repo"])
        #expect(typo.exitCode == 2)
        #expect(typo.stderr == "butler: error: unknown command 'quer-datasets'; did you mean 'query-datasets'? (see butler --help)\n")
        let helped = try runButler(["exprot", "--help"])
        #expect(helped.exitCode == 2 && helped.stdout.isEmpty)
        #expect(helped.stderr.contains("unknown command 'exprot'; did you mean 'export'?"))
        let far = try runButler(["frobnicate"])
        #expect(far.exitCode == 2 && far.stderr == "butler: error: unknown command 'frobnicate' (see butler --help)\n")
        #expect(try runButler(["help", "query-datasets"]).exitCode == 0)
        #expect(try runButler(["query-datasets", "--help"]).exitCode == 0)
    }

    @Test("--log-level refuses an unknown level and a missing value, before or after the command")
    func logLevel() throws {
        let dir = TemporaryDirectory()
        let loud = try runButler(["--log-level", "LOUD"] + (try createArguments(dir.path("repo"))))
        #expect(loud.exitCode == 2)
        #expect(loud.stderr.hasPrefix("butler: error: unknown log level 'LOUD' for --log-level"))
        #expect(!FileManager.default.fileExists(atPath: dir.path("repo")), "nothing is created")
        #expect(try runButler(["query-datasets", dir.path("repo"), "--log-level=lsst.daf.butler=LOUD"]).exitCode == 2)
        #expect(try runButler(["query-datasets", dir.path("repo"), "--log-level"]).exitCode == 2)
        #expect(try runButler(try createArguments(dir.path("repo")) + ["--log-level", "lsst.daf.butler=verbose"]).exitCode == 0)
    }

    /// A repository with 6 LSSTCam exposures of 2 detectors each (make-raws from the fixture).
    func exposures(_ dir: TemporaryDirectory, transfer: [String] = ["-t", "copy"]) throws -> String {
        let repo = dir.path("repo"), raws = dir.path("raws")
        let makeRaws = toolBinary("make-raws")
        let made = try runProcess(makeRaws, [fixture("lsst/lsstCam-MC_O_20250609_000578_R01_S01.fits"), raws, "12", "32", "2", "100"])
        try #require(made.exitCode == 0, "\(made.stderr)")
        try #require(try runButler(try createArguments(repo)).exitCode == 0)
        let ingested = try runButler(["ingest-raws", repo, raws] + transfer)
        try #require(ingested.exitCode == 0, "\(ingested.stderr)")
        return repo
    }

    @Test("register-instrument takes Rubin's class names; define-visits --where and --collections as Rubin's")
    func rubinInstrumentAndVisits() throws {
        let dir = TemporaryDirectory()
        let repo = try exposures(dir)
        let latiss = try runButler(["register-instrument", repo, "lsst.obs.lsst.Latiss", "lsst.obs.decam.DarkEnergyCamera"])
        #expect(latiss.exitCode == 0, "\(latiss.stderr)")
        #expect(latiss.stdout.hasPrefix("Registered instrument LATISS:"))
        #expect(latiss.stdout.contains("Registered instrument DECam:"))
        #expect(try runButler(["register-instrument", repo, "lsst.obs.nope.Nothing"]).exitCode == 1)

        let some = try runButler(["define-visits", repo, "LSSTCam", "--collections", "LSSTCam/calib",
                                  "--where", "exposure.seq_num <= 2 OR exposure.seq_num = 5"])
        #expect(some.exitCode == 0, "\(some.stderr)")
        #expect(some.stdout == "Defined 3 visit(s) for LSSTCam\n")
        let visits = try runButler(["query-dimension-records", repo, "visit", "--format", "json"])
        let rows = try JSONSerialization.jsonObject(with: Data(visits.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(Set(rows.compactMap { $0["seq_num"] as? Int }) == [1, 2, 5])
        let both = try runButler(["define-visits", repo, "LSSTCam", "--where", "exposure.seq_num > 4", "--exposures", "2025060100006,2025060100003"])
        #expect(both.stdout == "Defined 1 visit(s) for LSSTCam\n", "only 6 is in both")
        #expect(try runButler(["define-visits", repo, "LSSTCam", "--where", "exposure.nope = 1"]).exitCode == 1)
        #expect(try runButler(["define-visits", repo, "LSSTCam"]).stdout == "Defined 2 visit(s) for LSSTCam\n")
    }

    @Test("ingest-raws --config-file applies Rubin's config overrides and refuses unknown fields, naming the line")
    func ingestConfigFile() throws {
        let dir = TemporaryDirectory()
        let raws = dir.path("raws")
        let makeRaws = toolBinary("make-raws")
        #expect(try runProcess(makeRaws, [fixture("lsst/lsstCam-MC_O_20250609_000578_R01_S01.fits"), raws, "2", "32", "2", "100"]).exitCode == 0)
        let repo = dir.path("repo")
        #expect(try runButler(try createArguments(repo)).exitCode == 0)
        // A bucket holds copies: there the override asks for copy, and the objects are checked instead of the links.
        let transfer = testDatastoreIsBucket ? "copy" : "symlink"
        try "# overrides\nfrom lsst.obs.base import RawIngestTask\nconfig.transfer = \"\(transfer)\"  # keep them in place\nconfig.failFast = True\n"
            .write(toFile: dir.path("ingest.py"), atomically: true, encoding: .utf8)
        let ingested = try runButler(["ingest-raws", repo, raws, "--config-file", dir.path("ingest.py")])
        #expect(ingested.exitCode == 0, "\(ingested.stderr)")
        let listing = try runButler(["query-datasets", repo, "raw", "--show-uri", "--format", "json"])
        let uris = (try JSONSerialization.jsonObject(with: Data(listing.stdout.utf8)) as? [[String: Any]] ?? []).compactMap { $0["uri"] as? String }
        #expect(uris.count == 2)
        for uri in uris where testDatastoreIsBucket {
            #expect(try objectSize(uri) != nil, "\(uri) was copied as the config said")
        }
        for uri in uris where !testDatastoreIsBucket {
            let attributes = try FileManager.default.attributesOfItem(atPath: URL(string: uri)!.path)
            #expect(attributes[.type] as? FileAttributeType == .typeSymbolicLink, "\(uri) was symlinked as the config said")
        }
        try "config.transfer = 'copy'\nconfig.processes = 4\n".write(toFile: dir.path("bad.py"), atomically: true, encoding: .utf8)
        let bad = try runButler(["ingest-raws", repo, raws, "-C", dir.path("bad.py")])
        #expect(bad.exitCode == 1)
        #expect(bad.stderr == "butler: error: \(dir.path("bad.py")):2: unknown raw ingest config field 'processes' (fields applied: transfer, failFast)\n")
        try "transfer: teleport\n".write(toFile: dir.path("bad.yaml"), atomically: true, encoding: .utf8)
        #expect(try runButler(["ingest-raws", repo, raws, "-C", dir.path("bad.yaml")]).stderr.contains("bad.yaml:1: transfer 'teleport' is not one of"))
        #expect(try runButler(["verify", repo, "--checksums"]).exitCode == 0)
    }

    @Test("query-dimension-records: --no-check, a negative --limit caps with a warning, timespans as TAI times")
    func dimensionRecords() throws {
        let dir = TemporaryDirectory()
        let repo = try exposures(dir)
        let capped = try runButler(["query-dimension-records", repo, "exposure", "--no-check", "--limit", "-4", "--format", "csv"])
        #expect(capped.exitCode == 0, "\(capped.stderr)")
        #expect(capped.stdout.split(separator: "\n").count == 5, "a header and 4 records: \(capped.stdout)")
        #expect(capped.stderr == "butler: warning: more than 4 exposure records match; showing the first 4 (--limit 0 shows all)\n")
        let enough = try runButler(["query-dimension-records", repo, "exposure", "--limit=-6"])
        #expect(enough.exitCode == 0 && enough.stderr.isEmpty, "6 records, no more: no warning: \(enough.stderr)")
        let datasets = try runButler(["query-datasets", repo, "raw", "--limit", "-5"])
        #expect(datasets.stderr == "butler: warning: more than 5 raw datasets match; showing the first 5 (--limit 0 shows all)\n")
        #expect(datasets.stdout.split(separator: "\n").count == 7, "header, rule, 5 rows: \(datasets.stdout)")
        let streamed = try runButler(["query-datasets", repo, "raw", "--limit", "-5", "--format", "json"])
        #expect((try JSONSerialization.jsonObject(with: Data(streamed.stdout.utf8)) as? [Any])?.count == 5)
        #expect(streamed.stderr.contains("more than 5 raw datasets match"))
        #expect(try runButler(["query-data-ids", repo, "exposure", "--limit", "-2"]).stderr.contains("more than 2 data IDs match"))

        let csv = try runButler(["query-dimension-records", repo, "exposure", "--where", "exposure.seq_num = 1", "--format", "csv"])
        let lines = csv.stdout.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let begin = try #require(lines.first?.firstIndex(of: "timespan_begin"))
        let shown = try #require(lines.dropFirst().first?[begin])
        #expect(shown.wholeMatch(of: /20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}/) != nil, "an ISO time, not nanoseconds: \(shown)")
        let json = try runButler(["query-dimension-records", repo, "exposure", "--where", "exposure.seq_num = 1", "--format", "json"])
        let record = try #require((try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])?.first)
        #expect(record["timespan_begin"] as? String == shown)
        let ns = try #require(record["timespan_begin_ns"] as? Int)
        #expect(TAITime(nanoseconds: Int64(ns)).isoTAI == shown)
        #expect((record["timespan_end_ns"] as? Int ?? 0) > ns)
    }

    @Test("a step's recorded command line is shell-quoted and pastes back; provenance JSON gives data_id objects")
    func recordedCommand() throws {
        let dir = TemporaryDirectory()
        let repo = try exposures(dir)
        #expect(try runButler(["register-dataset-type", repo, "postISRCCD", "ExposureF", "instrument", "detector", "exposure"]).exitCode == 0)
        let dataId = "instrument=LSSTCam,detector=0,exposure=2025060100001"
        let script = #"cp "$0" "$1" && echo 'it'"'"'s done'"#
        let run = try runButler(["run", repo, "--run", "u/quoted", "--task", "isr", "--collections", "LSSTCam/raw/all",
                                 "--input", "raw=raw:\(dataId)", "--output", "out=postISRCCD:\(dataId)",
                                 "--", "/bin/sh", "-c", script, "{raw}", "{out}"])
        #expect(run.exitCode == 0, "\(run.stderr)")
        let lineage = try runButler(["provenance", repo, "postISRCCD:\(dataId)", "--collections", "u/quoted", "--format", "json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(lineage.stdout.utf8)) as? [String: Any])
        let step = try #require((object["steps"] as? [[String: Any]])?.first)
        let stepDataId = step["data_id"] as? [String: Any] ?? [:]
        #expect(stepDataId["instrument"] as? String == "LSSTCam" && stepDataId["detector"] as? Int == 0
                && stepDataId["exposure"] as? Int == 2025060100001, "\(step)")
        let datasets = object["datasets"] as? [[String: Any]] ?? []
        #expect(datasets.allSatisfy { ($0["data_id"] as? [String: Any])?["instrument"] as? String == "LSSTCam" })
        let command = try #require(step["command"] as? String)
        // The shell reads the recorded line back into the same arguments.
        let words = try runProcess("/bin/sh", ["-c", "printf '%s\\n' " + command])
        let arguments = words.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(Array(arguments.prefix(3)) == ["/bin/sh", "-c", script], "\(command)")
        #expect(arguments.count == 6, "two file paths and the final newline: \(arguments)")
    }
}
