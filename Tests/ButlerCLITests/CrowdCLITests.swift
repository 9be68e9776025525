import Foundation
import Testing
import ButlerKit
import ButlerTestSupport

/// Jobs that use the registry directly, all at once: on PostgreSQL 200 `butler run` processes against a server with
/// its default max_connections (100, as `scripts/with-postgres.sh` starts it), so that many must wait for a slot;
/// on SQLite 16 against one file. All must succeed.
@Suite("Crowds of direct runs")
struct CrowdCLITests {
    @Test("200 concurrent butler run processes on PostgreSQL (16 on SQLite) all succeed; every output is there once")
    func crowd() throws {
        let processes = testBackendIsPostgres ? 200 : 16
        // How long each step holds its connection: long enough, on PostgreSQL, that the 200 overlap although starting
        // them takes seconds.
        let hold = testBackendIsPostgres ? 15 : 1
        let dir = TemporaryDirectory()
        let repo = dir.path("repo")
        #expect(try runButler(try createArguments(repo)).exitCode == 0)
        #expect(try runButler(["ingest-raws", repo, fixture("lsst/latiss-AT_O_20230321_000053.fits"), "-t", "direct"]).exitCode == 0)
        #expect(try runButler(["register-dataset-type", repo, "calexp", "ExposureF", "instrument", "detector", "exposure"]).exitCode == 0)
        // Start them all before waiting for any; each writes its output and errors to files.
        var running: [(Process, String)] = []
        for i in 0..<processes {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: butlerBinary)
            process.arguments = ["run", repo, "--run", "u/crowd/p\(i)", "--task", "calibrate", "--input", "raw=raw:instrument=LATISS,detector=0,exposure=2023032100053",
                                 "--collections", "LATISS/raw/all", "--output", "out=calexp:instrument=LATISS,detector=0,exposure=2023032100053",
                                 "--package", "pipe=1.0", "--", "/bin/sh", "-c", "sleep \(hold); cp \"$0\" \"$1\"", "{raw}", "{out}"]
            let log = dir.path("p\(i).err")
            FileManager.default.createFile(atPath: log, contents: nil)
            process.standardError = FileHandle(forWritingAtPath: log)
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            running.append((process, log))
        }
        var failures: [String] = []
        for (i, (process, log)) in running.enumerated() {
            process.waitUntilExit()
            if process.terminationStatus != 0 {
                failures.append("process \(i) exited \(process.terminationStatus): \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
            }
        }
        #expect(failures.count == 0, "\(failures.count) failed:\n\(failures.prefix(5).joined(separator: "\n"))")
        let butler = try Butler(repository: repo)
        let counts = try butler.registry.database.read { c in
            (try c.queryOne("SELECT COUNT(*) FROM quantum WHERE status = 'succeeded'")![0].int!,
             try c.queryOne("SELECT COUNT(*) FROM dataset AS d JOIN dataset_type AS t ON t.id = d.dataset_type_id WHERE t.name = 'calexp'")![0].int!)
        }
        #expect(counts.0 == processes)
        #expect(counts.1 == processes)
        let verify = try runButler(["verify", repo, "--checksums"])
        #expect(verify.exitCode == 0, "\(verify.stdout)\(verify.stderr)")
    }
}
