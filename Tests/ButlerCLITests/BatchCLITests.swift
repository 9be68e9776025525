import Foundation
import Testing
import ButlerKit
import ButlerTestSupport

/// A repository with `count` synthetic LSSTCam raws (10 detectors an exposure), the postISRCCD type, and a jobs
/// file with one job per raw (input `raw`, output `out`).
struct BatchRepository {
    let dir: TemporaryDirectory
    let repo: String
    let jobs: String
    var staging: String { repo + "/staged" }

    /// - Parameter datastore: extra `create` arguments (`--datastore s3://...` for a bucket datastore).
    init(raws count: Int, calibrations: Bool = false, datastore: [String] = []) throws {
        dir = TemporaryDirectory()
        repo = dir.path("repo")
        jobs = dir.path("jobs.jsonl")
        let makeRaws = toolBinary("make-raws")
        let made = try runProcess(makeRaws, [fixture("lsst/lsstCam-MC_O_20250609_000578_R01_S01.fits"), dir.path("raws"), "\(count)", "32", "10", "100"])
        try Self.check(made, "make-raws")
        try Self.check(try runButler(try createArguments(repo) + datastore), "create")
        try Self.check(try runButler(["ingest-raws", repo, dir.path("raws"), "-t", "copy"]), "ingest-raws")
        try Self.check(try runButler(["register-dataset-type", repo, "postISRCCD", "ExposureF", "instrument", "detector", "exposure"]), "register-dataset-type")
        var inputs = ["--input", "raw=raw"]
        var collections = "LSSTCam/raw/all"
        if calibrations {
            // One bias and one flat per detector, certified from 2025-01-01, as the demo's isr step reads them.
            try Self.check(try runButler(["register-dataset-type", repo, "bias", "ExposureF", "instrument", "detector", "--is-calibration"]), "bias type")
            try Self.check(try runButler(["register-dataset-type", repo, "flat", "ExposureF", "instrument", "detector", "physical_filter", "--is-calibration"]), "flat type")
            for detector in 0..<min(count, 10) {
                try Self.check(try runButler(["put", repo, fixture("lsst/lsstCam-MC_C_20250425_000031_R01_S01.fits"), "--run", "LSSTCam/calib/bias",
                                              "--dataset-type", "bias", "--data-id", "instrument=LSSTCam,detector=\(detector)", "--task", "cpBias"]), "put bias")
                try Self.check(try runButler(["put", repo, fixture("lsst/lsstCam-MC_O_20250415_000060_R01_S01.fits"), "--run", "LSSTCam/calib/flat",
                                              "--dataset-type", "flat", "--data-id", "instrument=LSSTCam,detector=\(detector),physical_filter=y_10", "--task", "cpFlat"]), "put flat")
            }
            for type in ["bias", "flat"] {
                try Self.check(try runButler(["certify-calibrations", repo, "LSSTCam/calib/\(type)", "LSSTCam/calib", type, "--begin-date", "2025-01-01"]), "certify")
            }
            try Self.check(try runButler(["collection-chain", repo, "LSSTCam/defaults", "LSSTCam/raw/all", "LSSTCam/calib"]), "chain")
            inputs += ["--input", "bias=bias", "--input", "flat=flat"]
            collections = "LSSTCam/defaults"
        }
        let resolved = try runButler(["resolve-inputs", repo, jobs] + inputs + ["--output", "out=postISRCCD", "--collections", collections])
        try Self.check(resolved, "resolve-inputs")
    }

    static func check(_ result: CommandResult, _ what: String) throws {
        if result.exitCode != 0 { throw ButlerError(.invalidValue, "\(what) failed (\(result.exitCode)): \(result.stderr)\(result.stdout)") }
    }

    /// A staged run of job `n` copying its raw to its output (or running `command`).
    @discardableResult
    func stagedRun(_ n: Int, run: String = "u/batch/isr", _ command: [String] = ["/bin/cp", "{raw}", "{out}"]) throws -> CommandResult {
        try runButler(["run", repo, "--jobs", jobs, "--job", "\(n)", "--run", run, "--task", "isr", "--package", "ip_isr=30.0.1", "--"] + command)
    }

    func merge(_ extra: [String] = []) throws -> (result: CommandResult, summary: [String: Any]) {
        let result = try runButler(["merge-staged", repo, "--format", "json"] + extra)
        let summary = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [String: Any] ?? [:]
        return (result, summary)
    }

    func count(_ sql: String) throws -> Int {
        try Butler(repository: repo).registry.database.read { c in try c.queryOne(sql)?[0].int ?? -1 }
    }

    func folders() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: staging)) ?? []).filter { UUID(uuidString: $0) != nil }
    }
}

@Suite("Batch: staged runs and bulk merge")
struct BatchCLITests {
    @Test("staged runs open no registry; merge registers outputs, logs, failed steps and provenance once; a second merge adds nothing")
    func stagedRunAndMerge() throws {
        let b = try BatchRepository(raws: 12)
        // The jobs never touch the registry: with its database gone they still run.
        let config = try String(contentsOfFile: b.repo + "/butler.yaml", encoding: .utf8)
        try "registry:\n  db: postgresql://nobody@127.0.0.1:1/nowhere\n".write(toFile: b.repo + "/butler.yaml", atomically: true, encoding: .utf8)
        for n in 1...4 { #expect(try b.stagedRun(n).exitCode == 0) }
        let failed = try b.stagedRun(5, ["/bin/sh", "-c", "echo 'bias missing' >&2; exit 3"])
        #expect(failed.exitCode == 3)
        #expect(try b.stagedRun(6, ["/bin/true"]).exitCode == 1, "exited 0 without writing its output")
        try config.write(toFile: b.repo + "/butler.yaml", atomically: true, encoding: .utf8)
        #expect(b.folders().count == 6)
        // Ids are written in lower case, as queries print them and Rubin writes them: folder names and records.
        for folder in b.folders() {
            #expect(folder == folder.lowercased())
            let text = try String(contentsOfFile: b.staging + "/" + folder + "/quantum.json", encoding: .utf8)
            #expect(text.firstMatch(of: /[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}/) == nil, "\(text)")
            #expect(text.firstMatch(of: /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/) != nil)
        }

        let (merged, summary) = try b.merge()
        #expect(merged.exitCode == 0, "\(merged.stderr)")
        #expect(summary["succeeded"] as? Int == 4)
        #expect(summary["failed"] as? Int == 2)
        #expect(summary["datasets"] as? Int == 8, "4 outputs and their 4 logs")
        #expect((summary["failed_jobs"] as? [String: [Int]])?[b.jobs] == [5, 6])
        #expect(b.folders().isEmpty)
        #expect(try b.count("SELECT COUNT(*) FROM quantum WHERE status = 'failed' AND exit_code IN (3, 1) AND log_text IS NOT NULL") == 2)
        #expect(try b.count("SELECT COUNT(*) FROM quantum WHERE log_text LIKE '%bias missing%'") == 1)
        let listed = try runButler(["query-datasets", b.repo, "postISRCCD", "--collections", "u/batch/isr", "--format", "csv"])
        #expect(listed.stdout.split(separator: "\n").count == 5)

        // Lineage of a merged output, and its file's header cards name the same ids.
        let ref = "postISRCCD:instrument=LSSTCam,detector=0,exposure=2025060100001"
        let lineage = try runButler(["provenance", b.repo, ref, "--collections", "u/batch/isr", "--format", "json"])
        #expect(lineage.exitCode == 0, "\(lineage.stderr)")
        #expect(lineage.stdout.contains("\"isr\"") && lineage.stdout.contains("ip_isr"))
        let butler = try Butler(repository: b.repo)
        let found = try #require(try butler.registry.findDataset("postISRCCD", dataId: ["instrument": "LSSTCam", "detector": "0", "exposure": "2025060100001"],
                                                                 collections: ["u/batch/isr"]))
        let file = try #require(try butler.fileLocations([found.id])[found.id])
        let cards = try HeaderProvenance.read(localPath(of: file, in: b.dir))
        #expect(cards.first { $0.keyword == "LSST BUTLER ID" }?.value == .string(found.id.lowercasedString))
        #expect(cards.contains { $0.keyword == "LSST BUTLER INPUT 0 DATASETTYPE" && $0.value == .string("raw") })

        // Merging again adds nothing; a job run twice is a duplicate, set aside, never registered twice.
        let again = try b.merge()
        #expect(again.summary["steps"] as? Int == 0)
        #expect(try b.stagedRun(1).exitCode == 0)
        let duplicate = try b.merge()
        #expect(duplicate.result.exitCode == 0)
        #expect(duplicate.summary["duplicates"] as? Int == 1)
        #expect(duplicate.result.stderr.contains("duplicate (job 1"))
        #expect(try b.count("SELECT COUNT(*) FROM quantum WHERE status = 'succeeded'") == 4)
        // The failed jobs run again and merge.
        #expect(try b.stagedRun(5).exitCode == 0)
        #expect(try b.stagedRun(6).exitCode == 0)
        #expect(try b.merge().summary["succeeded"] as? Int == 2)
        #expect(try b.count("SELECT COUNT(*) FROM quantum") == 8)
        // A staged step keeps its command as written, so it is reproduced like a direct one.
        let reproduced = try runButler(["reproduce", b.repo, "postISRCCD:instrument=LSSTCam,detector=0,exposure=2025060100001",
                                        "--collections", "u/batch/isr", "--run", "u/batch/repro", "--format", "json"])
        #expect(reproduced.exitCode == 0 && reproduced.stdout.contains("\"verdict\": \"identical\""), "\(reproduced.stdout)\(reproduced.stderr)")
        let verify = try runButler(["verify", b.repo, "--checksums"])
        #expect(verify.exitCode == 0, "\(verify.stdout)\(verify.stderr)")
    }

    @Test("bad staged records: each gets one line naming its file and the reason; the good ones merge; exit 1")
    func badRecords() throws {
        let b = try BatchRepository(raws: 12)
        for n in 1...6 { #expect(try b.stagedRun(n).exitCode == 0) }
        let folders = b.folders().sorted()
        let fm = FileManager.default
        func record(_ i: Int) -> String { b.staging + "/" + folders[i] + "/quantum.json" }
        // A truncated record, a foreign JSON file, a record whose input the registry does not know, a missing output
        // file, and an output file changed after the job measured it.
        let text = try String(contentsOfFile: record(0), encoding: .utf8)
        try String(text.prefix(text.count / 2)).write(toFile: record(0), atomically: true, encoding: .utf8)
        try #"{"format": "something-else", "version": 1}"#.write(toFile: record(1), atomically: true, encoding: .utf8)
        let data = try Data(contentsOf: URL(fileURLWithPath: record(2)))
        var object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        var inputs = try #require(object["inputs"] as? [[String: Any]])
        inputs[0]["id"] = "0c9780c5-0378-5e20-8dd1-000000000000"
        object["inputs"] = inputs
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: record(2)))
        try fm.removeItem(atPath: b.staging + "/" + folders[3] + "/out.fits")
        let handle = try #require(FileHandle(forWritingAtPath: b.staging + "/" + folders[4] + "/out.fits"))
        try handle.seek(toOffset: 100)
        handle.write(Data("changed".utf8))
        try handle.close()

        let (merged, summary) = try b.merge()
        #expect(merged.exitCode == 1)
        #expect(summary["succeeded"] as? Int == 1)
        #expect(summary["rejected"] as? Int == 5)
        let lines = merged.stderr.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("butler: error:") }
        #expect(lines.count == 5, "\(merged.stderr)")
        #expect(lines.contains { $0.contains(record(0)) && $0.contains("not a staged quantum record") })
        #expect(lines.contains { $0.contains(record(1)) && $0.contains("format 'something-else' is not butler-staged-quantum") })
        #expect(lines.contains { $0.contains(record(2)) && $0.contains("is not in the registry") })
        #expect(lines.contains { $0.contains(folders[3] + "/out.fits") && $0.contains("missing") })
        #expect(lines.contains { $0.contains(folders[4] + "/out.fits") && $0.contains("changed after the job ended") })
        #expect(b.folders().count == 5, "rejected records stay where they are")
        #expect(try b.count("SELECT COUNT(*) FROM quantum") == 1)
        let verify = try runButler(["verify", b.repo, "--checksums"])
        #expect(verify.exitCode == 0, "\(verify.stdout)\(verify.stderr)")
    }

    @Test("a merge killed at any moment leaves nothing half-done; the next merge completes it")
    func killedMerge() throws {
        let b = try BatchRepository(raws: 60)
        for n in 1...60 { #expect(try b.stagedRun(n).exitCode == 0) }
        // Kill merges with small batches at growing delays until everything is in.
        var delay: useconds_t = 20_000
        for _ in 0..<6 where !b.folders().isEmpty {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: butlerBinary)
            process.arguments = ["merge-staged", b.repo, "--batch-size", "7"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            usleep(delay)
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            delay += 40_000
        }
        let (merged, _) = try b.merge()
        #expect(merged.exitCode == 0, "\(merged.stderr)")
        #expect(b.folders().isEmpty)
        #expect(try b.count("SELECT COUNT(*) FROM quantum") == 60)
        #expect(try b.count("SELECT COUNT(DISTINCT dataset_id) FROM quantum_output") == 120)
        let verify = try runButler(["verify", b.repo, "--checksums"])
        #expect(verify.exitCode == 0, "\(verify.stdout)\(verify.stderr)")
    }

    @Test("a staged run stopped by SIGTERM leaves a failed record with exit code 143")
    func terminatedRun() throws {
        let b = try BatchRepository(raws: 2)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: butlerBinary)
        process.arguments = ["run", b.repo, "--jobs", b.jobs, "--job", "1", "--run", "u/batch/isr", "--task", "isr", "--", "/bin/sleep", "60"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Wait for the child to start (its folder appears), then cancel as scancel does.
        for _ in 0..<100 where b.folders().isEmpty { usleep(50_000) }
        usleep(200_000)
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationStatus == 143)
        let (_, summary) = try b.merge()
        #expect(summary["failed"] as? Int == 1)
        #expect(try b.count("SELECT COUNT(*) FROM quantum WHERE status = 'failed' AND exit_code = 143") == 1)
    }

    @Test("resolve-inputs: an unknown type is an error; a job file without the job is one clear line")
    func resolveErrors() throws {
        let b = try BatchRepository(raws: 2)
        let unknown = try runButler(["resolve-inputs", b.repo, b.dir.path("x.jsonl"), "--input", "raw=nope", "--collections", "LSSTCam/raw/all"])
        #expect(unknown.exitCode != 0)
        #expect(unknown.stderr.contains("no dataset type named 'nope'"))
        let missing = try b.stagedRun(7)
        #expect(missing.exitCode != 0)
        #expect(missing.stderr.contains("has no job 7 (jobs are numbered 1 to 2)"))
        #expect(!FileManager.default.fileExists(atPath: b.staging) || b.folders().isEmpty)
    }
}
