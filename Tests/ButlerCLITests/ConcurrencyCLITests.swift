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
