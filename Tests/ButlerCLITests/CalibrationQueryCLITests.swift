import Foundation
import Testing
import ButlerKit
import ButlerTestSupport

/// query-datasets, query-data-ids --datasets, retrieve-artifacts and prune-datasets see datasets certified into
/// CALIBRATION collections, with their validity ranges.
@Suite("butler commands over CALIBRATION collections")
struct CalibrationQueryCLITests {
    /// A bias of LATISS detector 0 ingested into LATISS/calib/run, certified twice into LATISS/calib, and a chain
    /// LATISS/defaults = [LATISS/raw/all, LATISS/calib].
    func repository(_ dir: TemporaryDirectory) throws -> String {
        let repo = dir.path("repo")
        #expect(try runButler(try createArguments(repo)).exitCode == 0)
        #expect(try runButler(["ingest-raws", repo, fixturesDirectory.appendingPathComponent("raw").path, "-t", "direct"]).exitCode == 0)
        #expect(try runButler(["register-dataset-type", repo, "bias", "ExposureF", "instrument", "detector", "--is-calibration"]).exitCode == 0)
        try "file,detector\nlsst/latiss-AT_O_20230321_000053.fits,0\n".write(toFile: dir.path("t.csv"), atomically: true, encoding: .utf8)
        let ingested = try runButler(["ingest-files", repo, "bias", "LATISS/calib/run", dir.path("t.csv"), "--data-id", "instrument=LATISS",
                                      "--prefix", fixturesDirectory.appendingPathComponent("raw").path, "-t", "copy"])
        #expect(ingested.exitCode == 0, "\(ingested.stderr)")
        #expect(try runButler(["certify-calibrations", repo, "LATISS/calib/run", "LATISS/calib", "bias", "--end-date", "2023-01-01"]).exitCode == 0)
        #expect(try runButler(["certify-calibrations", repo, "LATISS/calib/run", "LATISS/calib", "bias", "--begin-date", "2023-06-01"]).exitCode == 0)
        #expect(try runButler(["collection-chain", repo, "LATISS/defaults", "LATISS/raw/all,LATISS/calib"]).exitCode == 0)
        return repo
    }

    @Test("query-datasets lists each certification with valid_from/valid_to (table, CSV) or validity (JSON)")
    func queryDatasets() throws {
        let dir = TemporaryDirectory()
        let repo = try repository(dir)
        for collection in ["LATISS/calib", "LATISS/defaults"] {
            let csv = try runButler(["query-datasets", repo, "bias", "--collections", collection, "--format", "csv"])
            #expect(csv.exitCode == 0, "\(csv.stderr)")
            let lines = csv.stdout.split(separator: "\n").map(String.init)
            #expect(lines.first == "type,run,id,instrument,detector,valid_from,valid_to")
            #expect(lines.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).suffix(2).joined(separator: ",") }
                    == ["-inf,2023-01-01T00:00:00.000000000", "2023-06-01T00:00:00.000000000,+inf"])
            let table = try runButler(["query-datasets", repo, "bias", "--collections", collection])
            #expect(table.stdout.contains("valid_from"))
            #expect(table.stdout.split(separator: "\n").count == 4)
        }
        let json = try runButler(["query-datasets", repo, "bias", "--collections", "LATISS/calib/run,LATISS/calib", "--format", "json"])
        let rows = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [[String: Any]]
        #expect(rows.count == 3)
        #expect(rows[0]["collection"] as? String == "LATISS/calib/run")
        #expect(rows[0]["validity"] is NSNull)
        let validity = rows[1]["validity"] as? [String: Any]
        #expect(validity?["begin"] is NSNull)
        #expect(validity?["end"] as? String == "2023-01-01T00:00:00.000000000")
        // Without a CALIBRATION collection in the search the output is unchanged.
        let plain = try runButler(["query-datasets", repo, "bias", "--collections", "LATISS/calib/run", "--format", "csv"])
        #expect(plain.stdout.hasPrefix("type,run,id,instrument,detector\n"))
    }

    @Test("--find-first over a CALIBRATION collection: ambiguous ranges are one error line, a time constraint picks one")
    func findFirst() throws {
        let dir = TemporaryDirectory()
        let repo = try repository(dir)
        let ambiguous = try runButler(["query-datasets", repo, "bias", "--collections", "LATISS/defaults", "--find-first", "--format", "json"])
        #expect(ambiguous.exitCode == 1)
        #expect(ambiguous.stdout.isEmpty)
        #expect(ambiguous.stderr.hasPrefix("butler: error: ambiguous calibration lookup"))
        #expect(ambiguous.stderr.split(separator: "\n").count == 1)
        let one = try runButler(["query-datasets", repo, "bias", "--collections", "LATISS/defaults", "--find-first", "--format", "csv",
                                 "--where", "bias.timespan OVERLAPS (T'2024-01-01', T'2024-01-02')"])
        #expect(one.exitCode == 0, "\(one.stderr)")
        #expect(one.stdout.split(separator: "\n").count == 2)
        #expect(one.stdout.contains("2023-06-01T00:00:00.000000000,+inf"))
    }

    @Test("query-data-ids --datasets, retrieve-artifacts and prune-datasets through a CALIBRATION collection")
    func otherCommands() throws {
        let dir = TemporaryDirectory()
        let repo = try repository(dir)
        let ids = try runButler(["query-data-ids", repo, "detector", "--datasets", "bias", "--collections", "LATISS/defaults", "--format", "csv"])
        #expect(ids.stdout == "instrument,detector\nLATISS,0\n", "\(ids.stderr)")
        let records = try runButler(["query-dimension-records", repo, "detector", "--datasets", "bias", "--collections", "LATISS/calib", "--format", "csv"])
        #expect(records.stdout.split(separator: "\n").count == 2)
        let retrieved = try runButler(["retrieve-artifacts", repo, dir.path("out"), "--collections", "LATISS/defaults", "--dataset-type", "bias"])
        #expect(retrieved.exitCode == 0, "\(retrieved.stderr)")
        #expect(retrieved.stdout.hasSuffix("Retrieved 1 file(s) into \(dir.path("out"))\n"))
        // Two validity ranges of one bias: first-found is ambiguous (Rubin refuses it too), so --find-all.
        let dry = try runButler(["prune-datasets", repo, "--collections", "LATISS/calib", "--purge", "LATISS/calib/run", "--find-all", "--dry-run", "--format", "csv"])
        #expect(dry.stdout.split(separator: "\n").count == 2, "\(dry.stdout)")
        let purged = try runButler(["prune-datasets", repo, "--collections", "LATISS/calib", "--purge", "LATISS/calib/run", "--find-all", "--no-confirm"])
        #expect(purged.stdout == "Purged 1 dataset(s) from LATISS/calib/run\n", "\(purged.stderr)")
        let after = try runButler(["query-datasets", repo, "bias", "--collections", "LATISS/defaults", "--format", "json"])
        #expect(after.stdout == "[]\n")
        #expect(try runButler(["verify", repo]).exitCode == 0)
    }
}
