import ButlerKit
import ButlerTestSupport
import Foundation
import Testing

/// The data-release story of issue 12: a centre (PostgreSQL in the PostgreSQL pass) sends raws and a certified bias to
/// two sites (SQLite; CC-IN2P3's files in an S3 bucket of the test server, as issue 15 asks); each site runs a
/// two-step pipeline on half the exposures and sends its outputs, with their provenance, back to the centre.
@Suite struct TwoSitesCLITests {
    static let exposures = ["2023032100053", "2024062400106"]

    func check(_ arguments: [String], _ comment: String = "") throws -> CommandResult {
        let result = try runButler(arguments)
        #expect(result.exitCode == 0, "butler \(arguments.joined(separator: " ")): \(result.stderr) \(comment)")
        return result
    }

    func json(_ result: CommandResult) throws -> Any { try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) }

    func ids(_ repo: String, _ type: String, _ collections: String, extra: [String] = []) throws -> Set<String> {
        let rows = try json(try check(["query-datasets", repo, type, "--collections", collections, "--format", "json"] + extra)) as? [[String: Any]] ?? []
        return Set(rows.compactMap { $0["id"] as? String })
    }

    @Test func twoSitesAndACentre() throws {
        let dir = try TemporaryDirectory()
        let centre = dir.path("centre"), siteA = dir.path("site-a"), siteB = dir.path("site-b")
        _ = try check(try createArguments(centre) + ["--name", "USDF"])
        guard let bucket = ProcessInfo.processInfo.environment["BUTLER_TEST_S3_BUCKET"] else {
            throw ButlerError(.notFound, "BUTLER_TEST_S3_BUCKET is not set: run the tests through scripts/with-s3.sh (make test does)")
        }
        _ = try check(["create", siteA, "--name", "CC-IN2P3", "--datastore", "s3://\(bucket)/cc-in2p3-\(UUID().uuidString.prefix(8).lowercased())"])
        _ = try check(["create", siteB, "--name", "UK"])

        // The centre: raws, and a bias certified into LATISS/calib, in the chain LATISS/defaults.
        _ = try check(["ingest-raws", centre, fixture("lsst/latiss-AT_O_20230321_000053.fits"), fixture("lsst/latiss-AT_O_20240624_000106_R00_S00.fits"), "-t", "copy"])
        _ = try check(["register-dataset-type", centre, "bias", "ExposureF", "instrument", "detector", "--is-calibration"])
        _ = try check(["put", centre, fixture("lsst/latiss-AT_O_20230321_000053.fits"), "--run", "LATISS/calib/bias", "--dataset-type", "bias",
                       "--data-id", "instrument=LATISS,detector=0", "--task", "cpBias", "--package", "cp_pipe=1.0"])
        _ = try check(["certify-calibrations", centre, "LATISS/calib/bias", "LATISS/calib", "bias", "--begin-date", "2020-01-01"])
        _ = try check(["collection-chain", centre, "LATISS/defaults", "LATISS/raw/all", "LATISS/calib"])
        let bias = try #require(try ids(centre, "bias", "LATISS/calib/bias").first)

        for (index, site) in [siteA, siteB].enumerated() {
            // Raws and calibrations go out to the site.
            let sent = try check(["transfer-datasets", centre, site, "--collections", "LATISS/defaults", "--register-dataset-types"])
            #expect(sent.stdout.contains("Transferred 3 dataset(s)"), "\(sent.stdout)")
            // The site processes its half, with its own ip_isr.
            let exposure = Self.exposures[index]
            let dataId = "instrument=LATISS,detector=0,exposure=\(exposure)"
            let run = "site\(index)/drp"
            _ = try check(["register-dataset-type", site, "postISRCCD", "ExposureF", "instrument", "detector", "exposure"])
            _ = try check(["register-dataset-type", site, "calexp", "ExposureF", "instrument", "detector", "exposure"])
            _ = try check(["run", site, "--run", run, "--task", "isr", "--collections", "LATISS/defaults", "--input", "raw=raw:\(dataId)",
                           "--input", "bias=bias:\(dataId)", "--output", "out=postISRCCD:\(dataId)", "--package", "ip_isr=30.0.\(index + 1)",
                           "--", "/bin/cp", "{raw}", "{out}"])
            _ = try check(["run", site, "--run", run, "--task", "calibrate", "--collections", run, "--input", "exposure=postISRCCD:\(dataId)",
                           "--output", "out=calexp:\(dataId)", "--package", "pipe_tasks=3.0", "--", "/bin/cp", "{exposure}", "{out}"])
            // Its outputs, with their provenance, go to the centre.
            let back = try check(["transfer-datasets", site, centre, "postISRCCD", "calexp", "--collections", run, "--register-dataset-types"])
            #expect(back.stdout.contains("Transferred 2 dataset(s)"), "\(back.stdout)")
        }

        // Upstream lineage of a site's calexp at the centre reaches the raw and the bias.
        let calexps = try ids(centre, "calexp", "site0/drp,site1/drp")
        #expect(calexps.count == 2)
        for calexp in calexps {
            let tree = try json(try check(["provenance", centre, calexp, "--format", "json"])) as? [String: Any]
            let datasets = (tree?["datasets"] as? [[String: Any]] ?? []).compactMap { $0["dataset_type"] as? String ?? $0["type"] as? String }
            #expect(Set(datasets).isSuperset(of: ["raw", "bias", "postISRCCD", "calexp"]), "\(tree ?? [:])")
        }
        // Downstream of the shared bias lists both sites' products.
        let downstream = try check(["provenance", centre, bias, "--downstream", "--format", "json"])
        for calexp in calexps { #expect(downstream.stdout.contains(calexp)) }
        // Selection by package version finds each site's products.
        #expect(try ids(centre, "calexp", "site0/drp,site1/drp", extra: ["--derived-from", bias]).count == 2)
        let withFirst = try ids(centre, "postISRCCD", "site0/drp,site1/drp", extra: ["--produced-with", "ip_isr=30.0.1"])
        let withSecond = try ids(centre, "postISRCCD", "site0/drp,site1/drp", extra: ["--produced-with", "ip_isr=30.0.2"])
        #expect(withFirst.count == 1 && withSecond.count == 1 && withFirst != withSecond)
        // The copy is in the lineage: where each calexp came from.
        let tree = try check(["provenance", centre, calexps.sorted()[0]])
        #expect(tree.stdout.contains("CC-IN2P3") || tree.stdout.contains("UK"), "\(tree.stdout)")
        // The steps came with their commands: the centre makes a site's calexp again, from the raw up, and gets it.
        let refused = try runButler(["reproduce", centre, calexps.sorted()[0], "--upstream", "--run", "centre/reproduce", "--format", "json"])
        #expect(refused.exitCode == 1 && refused.stdout.contains("refused: the step came from another repository"), "\(refused.stdout)")
        let reproduced = try check(["reproduce", centre, calexps.sorted()[0], "--upstream", "--run", "centre/reproduce", "--format", "json", "--allow-foreign"])
        let verdicts = (try json(reproduced) as? [[String: Any]] ?? []).compactMap { $0["verdict"] as? String }
        #expect(verdicts == ["identical", "identical"], "isr then calibrate: \(reproduced.stdout)")
        // The reproduction travels with its outputs: the site that made the calexp learns that the centre reproduced it.
        let maker = try ids(siteA, "calexp", "site0/drp").contains(calexps.sorted()[0]) ? siteA : siteB
        _ = try check(["transfer-datasets", centre, maker, "--collections", "centre/reproduce", "--register-dataset-types"])
        let atSite = try check(["provenance", maker, calexps.sorted()[0]])
        #expect(atSite.stdout.contains("reproduced ") && atSite.stdout.contains(": identical"), "\(atSite.stdout)")

        // Re-sending site A's outputs adds nothing.
        let again = try check(["transfer-datasets", siteA, centre, "postISRCCD", "calexp", "--collections", "site0/drp"])
        #expect(again.stdout.contains("Transferred 0 dataset(s)"), "\(again.stdout)")
        #expect(again.stdout.contains("2 already here"), "\(again.stdout)")

        // A transfer killed with SIGKILL, then re-run, completes; verify --checksums is clean everywhere.
        let late = dir.path("late")
        _ = try check(["create", late])
        let process = Process()
        process.executableURL = URL(fileURLWithPath: butlerBinary)
        process.arguments = ["transfer-datasets", centre, late, "--collections", "LATISS/defaults,site0/drp,site1/drp", "--register-dataset-types"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        usleep(useconds_t(Int.random(in: 20_000...250_000)))
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        _ = try check(["verify", late, "--checksums"], "after a killed transfer")
        let rerun = try check(["transfer-datasets", centre, late, "--collections", "LATISS/defaults,site0/drp,site1/drp", "--register-dataset-types"])
        #expect(try ids(late, "*", "LATISS/defaults,site0/drp,site1/drp").count == 7, "\(rerun.stdout)")
        for repo in [centre, siteA, siteB, late] { _ = try check(["verify", repo, "--checksums"]) }
    }
}
