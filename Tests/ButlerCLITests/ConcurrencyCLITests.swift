import Foundation
import Testing
import ButlerKit
import ButlerTestSupport

/// Several butler processes writing one SQLite repository at once lose nothing.
@Suite("Concurrent writers")
struct ConcurrencyCLITests {
    @Test("8 processes put and run into one repository at the same time; every dataset and quantum is there once")
    func concurrentPuts() throws {
        let dir = TemporaryDirectory()
        let repo = dir.path("repo")
        #expect(try runButler(try createArguments(repo)).exitCode == 0)
        #expect(try runButler(["ingest-raws", repo, fixture("lsst/latiss-AT_O_20230321_000053.fits"), "-t", "direct"]).exitCode == 0)
        #expect(try runButler(["register-dataset-type", repo, "calexp", "ExposureF", "instrument", "detector", "exposure"]).exitCode == 0)
        try "doStuff: true\n".write(toFile: dir.path("c.yaml"), atomically: true, encoding: .utf8)
        let group = DispatchGroup()
        let codes = NSLock()
        nonisolated(unsafe) var exitCodes: [Int32] = []
        for i in 0..<8 {
            group.enter()
            DispatchQueue.global().async {
                let input = "raw=raw:instrument=LATISS,detector=0,exposure=2023032100053"
                let result: CommandResult?
                if i % 2 == 0 {
                    let file = dir.path("in-\(i).fits")
                    try? FileManager.default.copyItem(atPath: fixture("lsst/latiss-AT_O_20230321_000053.fits"), toPath: file)
                    result = try? runButler(["put", repo, file, "--run", "u/run\(i)", "--dataset-type", "calexp",
                                             "--data-id", "instrument=LATISS,detector=0,exposure=2023032100053", "--input", input,
                                             "--collections", "LATISS/raw/all", "--task", "calibrate", "--config", dir.path("c.yaml"),
                                             "--package", "pipe=1.0", "--metric", "seeing=0.\(i + 1)"])
                } else {
                    result = try? runButler(["run", repo, "--run", "u/run\(i)", "--task", "calibrate", "--input", input, "--collections", "LATISS/raw/all",
                                             "--output", "out=calexp:instrument=LATISS,detector=0,exposure=2023032100053",
                                             "--config", dir.path("c.yaml"), "--package", "pipe=1.0", "--", "/bin/cp", "{raw}", "{out}"])
                }
                codes.lock()
                exitCodes.append(result?.exitCode ?? -1)
                codes.unlock()
                group.leave()
            }
        }
        group.wait()
        #expect(exitCodes.allSatisfy { $0 == 0 }, "\(exitCodes)")
        let listed = try runButler(["query-datasets", repo, "calexp", "--format", "csv"])
        #expect(listed.stdout.split(separator: "\n").count == 9)
        let butler = try Butler(repository: repo)
        let counts = try butler.registry.database.read { c in
            (try c.queryOne("SELECT COUNT(*) FROM quantum")![0].int!, try c.queryOne("SELECT COUNT(*) FROM software_environment")![0].int!,
             try c.queryOne("SELECT COUNT(*) FROM config_blob")![0].int!, try c.queryOne("SELECT COUNT(DISTINCT dataset_id) FROM quantum_output")![0].int!)
        }
        #expect(counts.0 == 8)
        #expect(counts.1 == 2, "one environment shared by the puts, one by the runs (which also record the executable)")
        #expect(counts.2 == 1, "one shared config")
        #expect(counts.3 == 12, "8 outputs and 4 logs")
    }
}

/// Many processes ingesting the same raws and recording steps with the same config and environment at once: on
/// SQLite 8, on PostgreSQL 32 (`BUTLER_TEST_BACKEND=postgresql`). Afterwards everything is there exactly once and
/// `butler verify` passes.
@Suite("Stress: overlapping writers")
struct StressCLITests {
    @Test("overlapping ingest-raws and run processes lose nothing and duplicate nothing")
    func overlappingWriters() throws {
        let processes = testBackendIsPostgres ? 32 : 8
        let dir = TemporaryDirectory()
        let repo = dir.path("repo"), raws = dir.path("raws")
        let makeRaws = toolBinary("make-raws")
        let made = try runProcess(makeRaws, [fixture("lsst/lsstCam-MC_O_20250609_000578_R01_S01.fits"), raws, "24", "32", "4", "100"])
        #expect(made.exitCode == 0, "\(made.stderr)")
        #expect(try runButler(try createArguments(repo)).exitCode == 0)
        #expect(try runButler(["register-dataset-type", repo, "postISRCCD", "ExposureF", "instrument", "detector", "exposure"]).exitCode == 0)
        try "doBias: false\n".write(toFile: dir.path("isr.yaml"), atomically: true, encoding: .utf8)
        let lock = NSLock()
        nonisolated(unsafe) var failures: [String] = []
        nonisolated(unsafe) var summaries: [String] = []
        DispatchQueue.concurrentPerform(iterations: processes) { i in
            func check(_ arguments: [String]) -> CommandResult? {
                let result = try? runButler(arguments)
                if result?.exitCode != 0 {
                    lock.lock(); failures.append("process \(i): butler \(arguments[0]): \(result?.stderr ?? "did not start")"); lock.unlock()
                }
                return result
            }
            // Every process ingests all the raws (copy mode: the same target files) ...
            guard let ingest = check(["ingest-raws", repo, raws, "-t", "copy", "--format", "json"]) else { return }
            lock.lock(); summaries.append(ingest.stdout); lock.unlock()
            // ... then runs a step on two of the same exposures, with the same config and environment, into its own run.
            for k in 0..<2 {
                let dataId = "instrument=LSSTCam,detector=\(k),exposure=\(Self.exposure(i + k))"
                _ = check(["run", repo, "--run", "u/stress/p\(i)", "--task", "isr", "--collections", "LSSTCam/raw/all",
                           "--input", "raw=raw:\(dataId)", "--output", "out=postISRCCD:\(dataId)", "--config", dir.path("isr.yaml"),
                           "--package", "ip_isr=1.0", "--", "/bin/cp", "{raw}", "{out}"])
            }
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
        // Each summary adds up (every file ingested here or found registered), and the files went in once in all.
        var ingestedInAll = 0
        for summary in summaries {
            let report = try JSONSerialization.jsonObject(with: Data(summary.utf8)) as? [String: Any] ?? [:]
            let ingested = report["ingested_files"] as? Int ?? -1, skipped = report["skipped"] as? Int ?? -1
            let concurrent = report["registered_concurrently"] as? Int ?? -1
            #expect(ingested + skipped == 24 && report["failed"] as? Int == 0 && concurrent <= skipped, "\(summary)")
            ingestedInAll += ingested
        }
        #expect(ingestedInAll == 24, "\(summaries)")
        let butler = try Butler(repository: repo)
        let counts = try butler.registry.database.read { c in
            ["raw": try c.queryOne("SELECT COUNT(*) FROM dataset AS d JOIN dataset_type AS t ON t.id = d.dataset_type_id WHERE t.name = 'raw'")![0].int!,
             "records": try c.queryOne("SELECT COUNT(*) FROM file_datastore_records")![0].int!,
             "quanta": try c.queryOne("SELECT COUNT(*) FROM quantum WHERE task_label = 'isr'")![0].int!,
             "outputs": try c.queryOne("SELECT COUNT(*) FROM quantum_output")![0].int!,
             "environments": try c.queryOne("SELECT COUNT(*) FROM software_environment")![0].int!,
             "configs": try c.queryOne("SELECT COUNT(*) FROM config_blob")![0].int!,
             "exposures": try c.queryOne("SELECT COUNT(*) FROM exposure")![0].int!]
        }
        #expect(counts["raw"] == 24)
        #expect(counts["exposures"] == 6)
        #expect(counts["quanta"] == processes * 2)
        // Each step: its output and its log.
        #expect(counts["outputs"] == processes * 4)
        #expect(counts["records"] == 24 + processes * 4)
        #expect(counts["environments"] == 1)
        #expect(counts["configs"] == 1)
        let verify = try runButler(["verify", repo, "--checksums"])
        #expect(verify.exitCode == 0, "\(verify.stdout)\(verify.stderr)")
    }

    /// The exposure ids make-raws writes: 100 a night from 2025-06-01, sequence numbers from 1.
    static func exposure(_ n: Int) -> Int { 2025060100000 + (n % 6) + 1 }
}
