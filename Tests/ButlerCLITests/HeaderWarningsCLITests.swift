import Foundation
import Testing
import ButlerKit
import ButlerTestSupport

@Suite("ingest-raws warns about header values it cannot use")
struct HeaderWarningsCLITests {
    @Test("EXPTIME = 'abc' or -1e400, DATE-END = 'soon': a warning naming file, keyword and value; the file is ingested")
    func unusableValues() throws {
        let dir = TemporaryDirectory()
        let repo = dir.path("repo")
        #expect(try runButler(try createArguments(repo)).exitCode == 0)
        let latiss = fixture("lsst/latiss-AT_O_20230321_000053.fits")
        let text = dir.path("exptime-text.fits")
        try derivedFITS(from: latiss, to: text, replacing: ["EXPTIME =": "EXPTIME = 'abc'", "DATE-END=": "DATE-END= 'soon'"])
        let result = try runButler(["ingest-raws", repo, text, "-t", "copy"])
        #expect(result.exitCode == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("Ingested 1 dataset(s)"))
        #expect(result.stderr.contains("butler: warning: \(text): EXPTIME = 'abc' is not a finite number; ignored"), "\(result.stderr)")
        #expect(result.stderr.contains("butler: warning: \(text): DATE-END = 'soon' is not a date and time; ignored"), "\(result.stderr)")

        let huge = dir.path("exptime-overflow.fits")
        try derivedFITS(from: fixture("lsst/latiss-AT_O_20240624_000106_R00_S00.fits"), to: huge, replacing: ["EXPTIME =": "EXPTIME = -1e400"])
        let json = try runButler(["ingest-raws", repo, huge, "-t", "copy", "--format", "json"])
        #expect(json.exitCode == 0, "\(json.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let warnings = try #require(summary["warnings"] as? [String])
        #expect(warnings.count == 1)
        #expect(warnings.first?.hasPrefix("\(huge): EXPTIME = -inf (out of the range of a double) is not a finite number; ignored") == true, "\(warnings)")

        // A clean raw has no warnings.
        let clean = try runButler(["ingest-raws", repo, fixture("lsst/lsstCam-MC_O_20250415_000060_R01_S01.fits"), "-t", "copy", "--format", "json"])
        #expect((try JSONSerialization.jsonObject(with: Data(clean.stdout.utf8)) as? [String: Any])?["warnings"] as? [String] == [])
    }

    @Test("a required value that cannot be read refuses the file, naming keyword and value")
    func requiredValue() throws {
        let dir = TemporaryDirectory()
        let repo = dir.path("repo")
        #expect(try runButler(try createArguments(repo)).exitCode == 0)
        let bad = dir.path("seqnum.fits")
        try derivedFITS(from: fixture("lsst/latiss-AT_O_20230321_000053.fits"), to: bad, replacing: ["SEQNUM  =": "SEQNUM  = 'x'"])
        let result = try runButler(["ingest-raws", repo, bad, "-t", "copy"])
        #expect(result.exitCode == 1)
        #expect(result.stderr.contains("SEQNUM = 'x' is not an integer"), "\(result.stderr)")
    }
}
