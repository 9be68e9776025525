import Foundation
import Testing
import ButlerKit
import ButlerTestSupport

/// End-to-end tests of ingest-raws, ingest-files, register-instrument and define-visits.
@Suite("butler ingest commands")
struct IngestCLITests {
    @Test("ingest-raws: fixtures of every camera, a summary line, idempotent re-run, JSON listing")
    func ingestRaws() throws {
        let dir = TemporaryDirectory()
        let repo = dir.path("repo")
        #expect(try runButler(try createArguments(repo)).exitCode == 0)
        let raws = fixturesDirectory.appendingPathComponent("raw").path
        let first = try runButler(["ingest-raws", repo, raws, "-t", "copy", "-j", "2"])
        #expect(first.exitCode == 0, "\(first.stderr)")
        #expect(first.stdout.hasPrefix("Ingested 10 dataset(s) from 10 file(s): 10 ingested, 0 already registered, 0 failed"))
        #expect(first.stderr.isEmpty, "no progress bar when stderr is not a terminal: \(first.stderr)")
        let before = try registrySnapshot(repo)
        let again = try runButler(["ingest-raws", repo, raws, "-t", "copy"])
        #expect(again.exitCode == 0)
        #expect(again.stdout.hasPrefix("Ingested 0 dataset(s) from 10 file(s): 0 ingested, 10 already registered, 0 failed"))
        #expect(try registrySnapshot(repo) == before)

        let listing = try runButler(["query-datasets", repo, "raw", "--collections", "LATISS/raw/all", "--format", "json"])
        let rows = try JSONSerialization.jsonObject(with: Data(listing.stdout.utf8)) as! [[String: Any]]
        #expect(rows.count == 2)
        #expect(rows.map { $0["id"] as! String }.contains("5d46d9db-ef3e-55ee-aac3-4ac15cd4d8a6"))
        #expect((rows[0]["data_id"] as! [String: Any])["instrument"] as? String == "LATISS")

        let visits = try runButler(["define-visits", repo, "LSSTCam"])
        #expect(visits.stdout == "Defined 1 visit(s) for LSSTCam\n")
        #expect(try runButler(["define-visits", repo, "LSSTCam"]).stdout == "Defined 0 visit(s) for LSSTCam\n")
        #expect(try runButler(["define-visits", repo, "NoCam"]).exitCode == 1)
    }

    @Test("ingest-raws with bad files: one error line per file on stderr, exit 1, good files in; --fail-fast stops")
    func badFiles() throws {
        let dir = TemporaryDirectory()
        let repo = dir.path("repo")
        #expect(try runButler(try createArguments(repo)).exitCode == 0)
        let input = dir.path("in")
        try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: fixture("other/fitsheader-hsc.fits"), toPath: input + "/1-good.fits")
        try Data("junk".utf8).write(to: URL(fileURLWithPath: input + "/2-junk.fits"))
        try Data().write(to: URL(fileURLWithPath: input + "/3-empty.fits"))
        try FileManager.default.copyItem(atPath: fixture("other/fitsheader-decam.fits"), toPath: input + "/4-good.fits")
        let result = try runButler(["ingest-raws", repo, input])
        #expect(result.exitCode == 1)
        let errors = result.stderr.split(separator: "\n")
        #expect(errors.count == 2, "\(result.stderr)")
        #expect(errors.allSatisfy { $0.hasPrefix("butler: error: ") })
        #expect(errors[0].contains("2-junk.fits"))
        #expect(errors[1].contains("3-empty.fits"))
        #expect(result.stdout.contains("Ingested 2 dataset(s) from 4 file(s): 2 ingested, 0 already registered, 2 failed"))

        let repo2 = dir.path("repo2")
        #expect(try runButler(try createArguments(repo2)).exitCode == 0)
        let fast = try runButler(["ingest-raws", repo2, input, "--fail-fast", "-j", "1"])
        #expect(fast.exitCode == 1)
        #expect(fast.stdout.contains("stopped at the first failure"))
        #expect(fast.stderr.split(separator: "\n").count == 1)
        let listed = try runButler(["query-datasets", repo2, "--format", "csv"])
        #expect(listed.stdout.split(separator: "\n").count == 2, "only the file before the bad one: \(listed.stdout)")
    }

    @Test("register-instrument: built-in names and YAML files; unknown names are a clear error")
    func registerInstrument() throws {
        let dir = TemporaryDirectory()
        let repo = dir.path("repo")
        #expect(try runButler(try createArguments(repo)).exitCode == 0)
        let hsc = try runButler(["register-instrument", repo, "HSC"])
        #expect(hsc.stdout == "Registered instrument HSC: 112 detector(s), 32 physical filter(s)\n")
        #expect(try runButler(["register-instrument", repo, "HSC"]).exitCode == 0, "idempotent")
        let unknown = try runButler(["register-instrument", repo, "NoSuchCam"])
        #expect(unknown.exitCode == 1)
        #expect(unknown.stderr.contains("NoSuchCam"))
        let bad = dir.path("bad.yaml")
        try "name: [oops\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let badResult = try runButler(["register-instrument", repo, bad])
        #expect(badResult.exitCode == 1)
        #expect(badResult.stderr.contains("bad.yaml"))
    }

    @Test("ingest-files: a CSV table of files and data IDs")
    func ingestFiles() throws {
        let dir = TemporaryDirectory()
        let repo = dir.path("repo")
        #expect(try runButler(try createArguments(repo)).exitCode == 0)
        #expect(try runButler(["register-instrument", repo, "LATISS"]).exitCode == 0)
        #expect(try runButler(["register-dataset-type", repo, "bias", "ExposureF", "instrument", "detector", "--is-calibration"]).exitCode == 0)
        try FileManager.default.copyItem(atPath: fixture("lsst/latiss-AT_O_20230321_000053.fits"), toPath: dir.path("bias.fits"))
        try "file,detector\nbias.fits,0\n".write(toFile: dir.path("table.csv"), atomically: true, encoding: .utf8)
        let result = try runButler(["ingest-files", repo, "bias", "LATISS/calib/run1", dir.path("table.csv"), "--data-id", "instrument=LATISS",
                                    "--prefix", dir.path, "-t", "copy", "--id-generation-mode", "DATAID_TYPE_RUN"])
        #expect(result.exitCode == 0, "\(result.stderr)")
        #expect(result.stdout == "Ingested 1 dataset(s) from 1 file(s) into LATISS/calib/run1: 0 failed\n")
        let listed = try runButler(["query-datasets", repo, "bias", "--format", "csv", "--show-uri"])
        #expect(listed.stdout.contains("RXX_S00"), "detector.full_name from the record is in the file name: \(listed.stdout)")
        try "file,detector\nbias.fits,7\n".write(toFile: dir.path("bad.csv"), atomically: true, encoding: .utf8)
        let bad = try runButler(["ingest-files", repo, "bias", "LATISS/calib/run2", dir.path("bad.csv"), "--data-id", "instrument=LATISS", "--prefix", dir.path])
        #expect(bad.exitCode == 1)
        #expect(bad.stderr.contains("detector"))
        #expect(try runButler(["ingest-files", repo, "nosuchtype", "r", dir.path("table.csv")]).exitCode == 1)

        // --formatter, as Rubin's: recorded for every file and exported as given; not a Python class path: refused.
        let formatter = "lsst.obs.base.formatters.fitsGeneric.FitsGenericFormatter"
        let withFormatter = try runButler(["ingest-files", repo, "bias", "LATISS/calib/run3", dir.path("table.csv"), "--data-id", "instrument=LATISS",
                                           "--prefix", dir.path, "-t", "copy", "--formatter", formatter])
        #expect(withFormatter.exitCode == 0, "\(withFormatter.stderr)")
        #expect(try runButler(["export", repo, dir.path("export"), "bias", "--collections", "LATISS/calib/run3"]).exitCode == 0)
        let exported = try String(contentsOfFile: dir.path("export/export.yaml"), encoding: .utf8)
        #expect(exported.contains("formatter: \(formatter)"), "\(exported)")
        let badFormatter = try runButler(["ingest-files", repo, "bias", "LATISS/calib/run4", dir.path("table.csv"), "--data-id", "instrument=LATISS",
                                          "--prefix", dir.path, "--formatter", "not a class"])
        #expect(badFormatter.exitCode == 1 && badFormatter.stderr.contains("'not a class'"), "\(badFormatter.stderr)")
        #expect(try runButler(["verify", repo, "--checksums"]).exitCode == 0)
    }
}
