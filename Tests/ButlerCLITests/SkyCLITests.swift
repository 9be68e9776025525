import ButlerKit
import ButlerTestSupport
import Foundation
import Testing

/// Sky regions from the shell: define-visits regions, spatial --where, register-skymap and tracts on raws.
@Suite("butler sky regions and skymaps from the shell")
struct SkyCLITests {
    @Test("register-skymap from a Rubin config file; raws found by tract; bad configs are one line naming the line")
    func skymapFromTheShell() throws {
        let dir = TemporaryDirectory()
        let repo = dir.path("repo")
        #expect(try runButler(try createArguments(repo)).exitCode == 0)
        #expect(try runButler(["ingest-raws", repo, fixture("lsst/lsstCam-MC_O_20250609_000578_R01_S01.fits"), "-t", "direct"]).exitCode == 0)
        #expect(try runButler(["define-visits", repo, "LSSTCam"]).stdout == "Defined 1 visit(s) for LSSTCam\n")
        let point = try runButler(["query-dimension-records", repo, "visit", "--where", "visit.region OVERLAPS POINT(320.6, -17.9)"])
        #expect(point.stdout.contains("polygon of 8 vertices around 320.6"), "\(point.stdout)\(point.stderr)")
        let far = try runButler(["query-dimension-records", repo, "visit", "--where", "visit.region OVERLAPS CIRCLE(100, 20, 1)", "--format", "json"])
        #expect(far.exitCode == 0 && far.stdout == "[]\n")

        try "config.name = \"rings12\"\nconfig.skyMap[\"rings\"].numRings = 12\nconfig.skyMap[\"rings\"].projection = \"TAN\"\nconfig.skyMap[\"rings\"].pixelScale = 2.0\n"
            .write(toFile: dir.path("skymap.py"), atomically: true, encoding: .utf8)
        let registered = try runButler(["register-skymap", repo, "--config", dir.path("skymap.py"), "--config", "tractOverlap=1.0/60", "--format", "json"])
        #expect(registered.exitCode == 0, "\(registered.stderr)")
        let summary = try JSONSerialization.jsonObject(with: Data(registered.stdout.utf8)) as? [String: Any] ?? [:]
        #expect(summary["tracts"] as? Int == 246 && summary["inserted"] as? Bool == true)
        let again = try runButler(["register-skymap", repo, "-C", dir.path("skymap.py"), "-c", "tractOverlap=1.0/60"])
        #expect(again.exitCode == 0 && again.stdout.contains("already registered"))
        let map = try RingsSkyMap(config: { var c = RingsSkyMapConfig(); c.name = "rings12"; c.numRings = 12; c.projection = "TAN"; c.pixelScale = 2; c.tractOverlap = 1.0 / 60; return c }())
        let tract = map.tractId(of: UnitVector(ra: 320.62, dec: -17.94))
        let onTract = try runButler(["query-datasets", repo, "raw", "--where", "skymap = 'rings12' AND tract = \(tract)", "--format", "json"])
        #expect((try JSONSerialization.jsonObject(with: Data(onTract.stdout.utf8)) as? [Any])?.count == 1, "\(onTract.stdout)\(onTract.stderr)")
        let elsewhere = try runButler(["query-datasets", repo, "raw", "--where", "skymap = 'rings12' AND tract = \(tract + 3)", "--format", "json"])
        #expect(elsewhere.stdout == "[]\n")

        try "config.skyMap[\"rings\"].numRings = 12\nconfig.skyMap[\"rings\"].pixelScal = 2.0\n".write(toFile: dir.path("bad.py"), atomically: true, encoding: .utf8)
        let bad = try runButler(["register-skymap", repo, "--config", dir.path("bad.py")])
        #expect(bad.exitCode == 1 && bad.stderr.hasPrefix("butler: error: \(dir.path("bad.py")):2: unknown skymap config field"), "\(bad.stderr)")
        #expect(try runButler(["register-skymap", repo]).exitCode == 2)
        let conflicting = try runButler(["register-skymap", repo, "-C", dir.path("skymap.py")])
        #expect(conflicting.exitCode == 1 && conflicting.stderr.contains("skymap 'rings12' is registered with other parameters"))
        #expect(try runButler(["verify", repo, "--checksums"]).exitCode == 0)
    }
}
