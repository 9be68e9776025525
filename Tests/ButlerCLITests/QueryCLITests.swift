import Foundation
import Testing
import ButlerKit
import ButlerTestSupport

/// End-to-end tests of the query commands and the commands built on them.
@Suite("butler query commands")
struct QueryCLITests {
    func repository(_ dir: TemporaryDirectory) throws -> String {
        let repo = dir.path("repo")
        #expect(try runButler(try createArguments(repo)).exitCode == 0)
        #expect(try runButler(["ingest-raws", repo, fixturesDirectory.appendingPathComponent("raw").path, "-t", "direct"]).exitCode == 0)
        return repo
    }

    @Test("query-datasets --where, --bind, --order-by, JSON and CSV; a bad expression shows a caret and exits 1")
    func queryDatasets() throws {
        let dir = TemporaryDirectory()
        let repo = try repository(dir)
        let csv = try runButler(["query-datasets", repo, "raw", "--where", "band = :b", "--bind", "b=i", "--order-by", "-exposure", "--format", "csv"])
        #expect(csv.exitCode == 0)
        #expect(csv.stdout.split(separator: "\n").map { $0.split(separator: ",").last.map(String.init) ?? "" } == ["exposure", "2025041500060", "1038843", "904024"])
        let json = try runButler(["query-datasets", repo, "--collections", "LATISS/raw/all", "--where", "instrument = 'LATISS' AND exposure.obs_id = 'AT_O_20230321_000053'", "--format", "json"])
        let rows = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [[String: Any]]
        #expect(rows.count == 1)
        #expect(rows[0]["id"] as? String == "5d46d9db-ef3e-55ee-aac3-4ac15cd4d8a6")
        let bad = try runButler(["query-datasets", repo, "--where", "exposure = 'x' AND"])
        #expect(bad.exitCode == 1)
        #expect(bad.stdout.isEmpty)
        let lines = bad.stderr.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count >= 3)
        #expect(lines[1] == "  exposure = 'x' AND")
        #expect(lines[2].hasSuffix("^"))
        // Rubin's governor rule: `exposure = N` means nothing until the instrument is named; the caret is under it.
        for command in [["query-datasets", repo, "raw"], ["query-data-ids", repo, "exposure"], ["query-dimension-records", repo, "exposure"]] {
            let unqualified = try runButler(command + ["--where", "band = 'i' AND exposure = 904024"])
            #expect(unqualified.exitCode == 1 && unqualified.stdout.isEmpty)
            #expect(unqualified.stderr.contains("references a dimension dependent on instrument without constraining it directly"), "\(unqualified.stderr)")
            #expect(unqualified.stderr.split(separator: "\n").last.map { $0.hasSuffix(String(repeating: " ", count: 15) + "^") } == true, "\(unqualified.stderr)")
            let qualified = try runButler(command + ["--where", "band = 'i' AND exposure = 904024 AND instrument = 'HSC'"])
            #expect(qualified.exitCode == 0 && qualified.stdout.contains("904024"), "\(qualified.stderr)")
        }
        let empty = try runButler(["query-datasets", repo, "raw", "--collections", "HSC/raw/all", "--where", "band = 'g'"])
        #expect(empty.exitCode == 0)
        #expect(empty.stderr.contains("no results"))
        #expect(try runButler(["query-datasets", repo, "--collections", "nope"]).exitCode == 1)
    }

    @Test("query-data-ids and query-dimension-records as JSON")
    func dimensions() throws {
        let dir = TemporaryDirectory()
        let repo = try repository(dir)
        let ids = try runButler(["query-data-ids", repo, "exposure", "--where", "instrument = 'LATISS'", "--format", "json"])
        let rows = try JSONSerialization.jsonObject(with: Data(ids.stdout.utf8)) as! [[String: Any]]
        #expect(rows.count == 2)
        #expect(rows[0]["band"] as? String == "white")
        let records = try runButler(["query-dimension-records", repo, "detector", "--where", "instrument = 'LSSTComCam'", "--limit", "3", "--format", "csv"])
        #expect(records.stdout.split(separator: "\n").count == 4)
    }

    @Test("associate, certify-calibrations, find-dataset, prune-datasets --dry-run, retrieve-artifacts")
    func datasetCommands() throws {
        let dir = TemporaryDirectory()
        let repo = try repository(dir)
        let tagged = try runButler(["associate", repo, "best", "--collections", "LSSTCam/raw/all", "--where", "exposure.observation_type = 'science'"])
        #expect(tagged.stdout == "Tagged 1 dataset(s) into best (0 already there)\n")
        #expect(try runButler(["register-dataset-type", repo, "bias", "ExposureF", "instrument", "detector", "--is-calibration"]).exitCode == 0)
        try "file,detector\nlsst/latiss-AT_O_20230321_000053.fits,0\n".write(toFile: dir.path("t.csv"), atomically: true, encoding: .utf8)
        #expect(try runButler(["ingest-files", repo, "bias", "LATISS/calib/run", dir.path("t.csv"), "--data-id", "instrument=LATISS",
                               "--prefix", fixturesDirectory.appendingPathComponent("raw").path, "-t", "direct"]).exitCode == 0)
        let certified = try runButler(["certify-calibrations", repo, "LATISS/calib/run", "LATISS/calib", "bias", "--begin-date", "2020-01-01"])
        #expect(certified.exitCode == 0, "\(certified.stderr)")
        #expect(try runButler(["collection-chain", repo, "LATISS/defaults", "LATISS/raw/all,LATISS/calib"]).exitCode == 0)
        let found = try runButler(["find-dataset", repo, "bias:instrument=LATISS,detector=0,exposure=2024062400106", "--collections", "LATISS/defaults", "--format", "json"])
        #expect(found.stdout.contains("LATISS/calib/run"))
        let overlap = try runButler(["certify-calibrations", repo, "LATISS/calib/run", "LATISS/calib", "bias"])
        #expect(overlap.exitCode == 1)
        #expect(overlap.stderr.contains("overlaps"))
        let dry = try runButler(["prune-datasets", repo, "HSC/raw/all", "--dry-run", "--format", "csv"])
        #expect(dry.stdout.split(separator: "\n").count == 2)
        let out = dir.path("out")
        let retrieved = try runButler(["retrieve-artifacts", repo, out, "--collections", "HSC/raw/all", "--no-preserve-path"])
        #expect(retrieved.exitCode == 0)
        #expect(FileManager.default.fileExists(atPath: out + "/fitsheader-hsc.fits"))
    }

    @Test("streamed JSON with --show-uri over more rows than one batch of file look-ups (the look-ups join the query's transaction)")
    func streamedLocations() throws {
        let dir = TemporaryDirectory()
        let repo = dir.path("repo")
        let generator = toolBinary("make-registry")
        let made = try runProcess(generator, [repo, "250", "10", "3"], environment: ["BENCH_REGISTRY": try testRegistryURL() ?? ""])
        #expect(made.exitCode == 0, "\(made.stderr)")
        let listed = try runButler(["query-datasets", repo, "raw", "--collections", "bench/all", "--show-uri", "--format", "json"])
        #expect(listed.exitCode == 0, "\(listed.stderr)")
        let rows = try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as! [[String: Any]]
        #expect(rows.count == 2_500)
    }
}
