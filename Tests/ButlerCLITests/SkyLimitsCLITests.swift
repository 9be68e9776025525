import ButlerKit
import ButlerTestSupport
import Foundation
import Testing

/// Sky and size limits from the shell (issue 27, items 14 and 16): regions of any size in `--where`, coordinates that
/// are not finite, and skymaps too large to build.
@Suite("butler sky and size limits from the shell")
struct SkyLimitsCLITests {
    /// A repository with the LSSTCam raw at (320.6, -17.9) and its visit.
    func repository(_ dir: TemporaryDirectory) throws -> String {
        let repo = dir.path("repo")
        #expect(try runButler(try createArguments(repo)).exitCode == 0)
        #expect(try runButler(["ingest-raws", repo, fixture("lsst/lsstCam-MC_O_20250609_000578_R01_S01.fits"), "-t", "direct"]).exitCode == 0)
        #expect(try runButler(["define-visits", repo, "LSSTCam"]).stdout == "Defined 1 visit(s) for LSSTCam\n")
        return repo
    }

    /// The visit ids `query-dimension-records visit` finds; nil (and the error) when it fails.
    func visits(_ repo: String, _ expression: String, _ extra: [String] = []) throws -> (ids: [String]?, error: String) {
        let result = try runButler(["query-dimension-records", repo, "visit", "--where", expression, "--format", "csv"] + extra)
        guard result.exitCode == 0 else { return (nil, result.stderr) }
        return (result.stdout.split(separator: "\n").dropFirst().map { String($0.split(separator: ",")[1]) }, result.stderr)
    }

    @Test("a BOX 150° wide, a 260-vertex POLYGON and a whole-sky RANGE run and find the visit; elsewhere finds nothing")
    func wideRegions() throws {
        let dir = TemporaryDirectory()
        let repo = try repository(dir)
        let visit = ["2025060900578"]
        func expectFound(_ region: String, _ expected: [String]) throws {
            let (ids, error) = try visits(repo, "visit.region OVERLAPS \(region)")
            #expect(ids == expected, "\(region.prefix(60)): \(error.prefix(300))")
        }
        try expectFound("BOX(320, -17.9, 150, 10)", visit)
        try expectFound("BOX(100, -17.9, 150, 10)", [])
        try expectFound("BOX(320, -40, 150, 10)", [])
        try expectFound("BOX(0, 0, 360, 40)", visit)
        try expectFound("REGION('RANGE 0 360 -90 90')", visit)
        try expectFound("REGION('RANGE 0 360 -10 10')", [])
        let polygon = (0..<260).map { i -> String in
            let t = 2 * Double.pi * Double(i) / 260
            return "\(320.6 + 2 * cos(t) / cos(17.9 * .pi / 180)), \(-17.9 + 2 * sin(t))"
        }.joined(separator: ", ")
        try expectFound("POLYGON(\(polygon))", visit)
        try expectFound("POLYGON(\(polygon.replacingOccurrences(of: ", -1", with: ", 1")))", [])
    }

    @Test("POINT with a bind nan or 1e400 is one clear error, not an empty answer")
    func nonFiniteCoordinates() throws {
        let dir = TemporaryDirectory()
        let repo = try repository(dir)
        for (expression, extra, message) in [
            ("visit.region OVERLAPS POINT(:ra, :dec)", ["--bind", "ra=nan", "--bind", "dec=-17.9"], "POINT's ra (:ra) is nan, not a finite number of degrees"),
            ("visit.region OVERLAPS POINT(1e400, 0)", [], "POINT's ra is inf, not a finite number of degrees"),
            ("visit.region OVERLAPS REGION('RANGE 0 360 -90 -95')", [], "region 'RANGE 0 360 -90 -95': the Dec range -90.0...-95.0 is not a non-empty part of [-90, 90]"),
        ] {
            let result = try runButler(["query-dimension-records", repo, "visit", "--where", expression] + extra)
            #expect(result.exitCode == 1 && result.stdout.isEmpty, "\(expression): exit \(result.exitCode)")
            let first = result.stderr.split(separator: "\n").first.map(String.init) ?? ""
            #expect(first == "butler: error: invalid --where expression: \(message)", "\(result.stderr)")
            #expect(!result.stderr.contains("BOX"))
        }
    }

    @Test("a skymap config of billions of patches is refused at once, naming the numbers and the limit")
    func hugeSkymaps() throws {
        let dir = TemporaryDirectory()
        let repo = dir.path("repo")
        #expect(try runButler(try createArguments(repo)).exitCode == 0)
        try "config.name = \"huge\"\nconfig.skyMap[\"rings\"].numRings = 100000\n".write(toFile: dir.path("rings.py"), atomically: true, encoding: .utf8)
        let started = Date()
        let rings = try runButler(["register-skymap", repo, "--config", dir.path("rings.py")])
        #expect(rings.exitCode == 1 && rings.stdout.isEmpty)
        #expect(rings.stderr.hasPrefix("butler: error: skymap config 'huge': numRings 100000 and pixelScale 0.333 make 12,732,"), "\(rings.stderr)")
        #expect(rings.stderr.contains("more than the limit of 10,000,000") && rings.stderr.split(separator: "\n").count == 1, "\(rings.stderr)")
        // Tiny pixels: patches beyond counting in integers.
        let pixels = try runButler(["register-skymap", repo, "--config", "name=tiny", "--config", "numRings=12", "--config", "pixelScale=1e-9"])
        #expect(pixels.exitCode == 1 && pixels.stderr.contains("patches in all, more than the limit of 10,000,000"), "\(pixels.stderr)")
        #expect(Date().timeIntervalSince(started) < 60)
        // Nothing was written; a sane skymap still registers.
        #expect(try runButler(["query-dimension-records", repo, "skymap", "--format", "json"]).stdout == "[]\n")
        let fine = try runButler(["register-skymap", repo, "--config", "name=rings3", "--config", "numRings=3", "--config", "pixelScale=20", "--format", "json"])
        #expect(fine.exitCode == 0, "\(fine.stderr)")
    }
}
