import Foundation
import Testing
import ButlerKit
import ButlerTestSupport

/// The datastore's write path (issue 11, items 1-5 and 7): a refused, colliding or concurrent write never touches a
/// stored file, no name leads a path out of the datastore, no link planted inside it is followed. Each test ends
/// with `verify --checksums` clean. Runs on SQLite and, with `BUTLER_TEST_BACKEND=postgresql`, on PostgreSQL.
@Suite("Write path integrity")
struct WritePathCLITests {
    static let raw = fixture("lsst/latiss-AT_O_20230321_000053.fits")
    static let dataId = "instrument=LATISS,detector=0,exposure=2023032100053"

    /// A repository with the LATISS raw (copied in) and a `postISRCCD` dataset type.
    func repository(_ dir: TemporaryDirectory) throws -> String {
        let repo = dir.path("repo")
        try check(try runButler(try createArguments(repo)))
        try check(try runButler(["ingest-raws", repo, Self.raw, "-t", "copy"]))
        try check(try runButler(["register-dataset-type", repo, "postISRCCD", "ExposureF", "instrument", "detector", "exposure"]))
        return repo
    }

    @discardableResult
    func check(_ result: CommandResult, _ expected: Int32 = 0, sourceLocation: SourceLocation = #_sourceLocation) throws -> CommandResult {
        #expect(result.exitCode == expected, "exit \(result.exitCode): \(result.stderr)", sourceLocation: sourceLocation)
        return result
    }

    func expectVerified(_ repo: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let verify = try runButler(["verify", repo, "--checksums"])
        #expect(verify.exitCode == 0, "verify: \(verify.stdout)\(verify.stderr)", sourceLocation: sourceLocation)
    }

    func runStep(_ repo: String, run: String, task: String = "isr") throws -> CommandResult {
        try runButler(["run", repo, "--run", run, "--task", task, "--input", "raw=raw:\(Self.dataId)", "--collections", "LATISS/raw/all",
                       "--output", "out=postISRCCD:\(Self.dataId)", "--", "/bin/cp", "{raw}", "{out}"])
    }

    /// Every file of the datastore (a folder's or a bucket's), by recorded path, with its SHA-256 read from its bytes.
    func datastoreFiles(_ repo: String) throws -> [String: String] {
        let butler = try Butler(repository: repo)
        let scratch = TemporaryDirectory("stored")
        var files: [String: String] = [:]
        try butler.datastore.forEachStoredFile { recorded, _ in
            files[recorded] = try storedChecksum(butler.storedLocation(recorded), in: scratch)
        }
        return files
    }

    /// The two transfer modes of ingest-files tried: a copy and a link (a bucket holds copies: auto there).
    static let ingestModes = testDatastoreIsBucket ? ["copy", "auto"] : ["copy", "symlink"]

    @Test("item 1: a refused duplicate put, run, ingest-files (copy and symlink) leaves the original's files and registry alone")
    func refusedDuplicates() throws {
        let dir = TemporaryDirectory()
        let repo = try repository(dir)
        let put = ["put", repo, Self.raw, "--run", "u/put", "--dataset-type", "postISRCCD", "--data-id", Self.dataId, "--task", "isr"]
        try check(try runButler(put))
        try check(try runStep(repo, run: "u/run"))
        for mode in Self.ingestModes {
            try check(try runButler(["register-dataset-type", repo, "bias\(mode)", "ExposureF", "instrument", "detector", "--is-calibration"]))
            try "file,detector\n\(Self.raw),0\n".write(toFile: dir.path("t.csv"), atomically: true, encoding: .utf8)
            try check(try runButler(["ingest-files", repo, "bias\(mode)", "u/calib", dir.path("t.csv"), "--data-id", "instrument=LATISS", "-t", mode]))
        }
        let files = try datastoreFiles(repo)
        let snapshot = try registrySnapshot(repo)

        let again = try check(try runButler(put), 1)
        #expect(again.stderr.contains("already exists in run 'u/put'"))
        try check(try runStep(repo, run: "u/run"), 1)
        for mode in Self.ingestModes {
            try check(try runButler(["ingest-files", repo, "bias\(mode)", "u/calib", dir.path("t.csv"), "--data-id", "instrument=LATISS", "-t", mode]), 1)
        }
        #expect(try datastoreFiles(repo) == files, "no stored file was removed or changed, and nothing was left behind")
        #expect(try registrySnapshot(repo) == snapshot)
        try expectVerified(repo)
    }

    @Test("item 1: 8 concurrent runs writing the same output: one wins, seven are refused, the winner's files stay")
    func concurrentRunsOfOneOutput() throws {
        let dir = TemporaryDirectory()
        let repo = try repository(dir)
        let results = try parallel(8) { _ in try runStep(repo, run: "u/race") }
        #expect(results.filter { $0.exitCode == 0 }.count == 1, "\(results.map(\.stderr))")
        #expect(results.filter { $0.exitCode == 1 }.count == 7)
        let listed = try runButler(["query-datasets", repo, "postISRCCD", "isr_log", "--collections", "u/race", "--format", "csv"])
        #expect(listed.stdout.split(separator: "\n").count == 4, "output and log, each with a header line: \(listed.stdout)")
        try expectVerified(repo)
    }

    @Test("item 2: run names that encode alike get paths of their own; a template that cannot tell datasets apart is refused")
    func runNamesThatSanitiseAlike() throws {
        let dir = TemporaryDirectory()
        let repo = try repository(dir)
        let runs = ["u/me/a:b", "u/me/a|b", "u/me/a<b", "u/me/a\"b", "u/me/a\\b", "u/me/a_b"]
        for run in runs { try check(try runStep(repo, run: run)) }
        let uris = try runButler(["query-datasets", repo, "postISRCCD", "--collections", "u/me/*", "--show-uri", "--format", "json"])
        let rows = try JSONSerialization.jsonObject(with: Data(uris.stdout.utf8)) as! [[String: Any]]
        #expect(rows.count == runs.count)
        #expect(Set(rows.compactMap { $0["uri"] as? String }).count == runs.count, "one file per dataset")
        try expectVerified(repo)

        // A template without the data ID: the second dataset of the type in a run cannot have a path of its own.
        let seed = dir.path("seed.yaml")
        try "datastore:\n  templates:\n    calexp: \"{run:/}/{datasetType}\"\n".write(toFile: seed, atomically: true, encoding: .utf8)
        let repo2 = dir.path("repo2")
        try check(try runButler(try createArguments(repo2) + ["--seed-config", seed]))
        try check(try runButler(["ingest-raws", repo2, Self.raw, fixture("lsst/latiss-AT_O_20240624_000106_R00_S00.fits"), "-t", "direct"]))
        try check(try runButler(["register-dataset-type", repo2, "calexp", "ExposureF", "instrument", "detector", "exposure"]))
        let first = try runButler(["put", repo2, Self.raw, "--run", "u/t", "--dataset-type", "calexp", "--data-id", Self.dataId])
        try check(first)
        let files = try datastoreFiles(repo2)
        let second = try runButler(["put", repo2, Self.raw, "--run", "u/t", "--dataset-type", "calexp",
                                    "--data-id", "instrument=LATISS,detector=0,exposure=2024062400106"])
        try check(second, 1)
        #expect(second.stderr.contains("is already held by calexp dataset"), "\(second.stderr)")
        #expect(try datastoreFiles(repo2) == files)
        try expectVerified(repo2)
    }

    @Test("item 3: 8 concurrent ingests of two different files with one data ID: one file wins, intact")
    func concurrentIngestOfConflictingFiles() throws {
        let dir = TemporaryDirectory()
        let repo = dir.path("repo")
        try check(try runButler(try createArguments(repo)))
        // The same header, other pixels: the last data byte changed.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: Self.raw))
        let a = dir.path("a/raw.fits"), b = dir.path("b/raw.fits")
        for folder in ["a", "b"] { try FileManager.default.createDirectory(atPath: dir.path(folder), withIntermediateDirectories: true) }
        try bytes.write(to: URL(fileURLWithPath: a))
        bytes[bytes.count - 1] ^= 0x5A
        try bytes.write(to: URL(fileURLWithPath: b))
        let sums = [a: try FileDatastore.measure(a, checksum: true).1!, b: try FileDatastore.measure(b, checksum: true).1!]
        let results = try parallel(8) { i in try runButler(["ingest-raws", repo, i % 2 == 0 ? a : b, "-t", "copy"]) }
        #expect(results.contains { $0.exitCode == 0 })
        for result in results where result.exitCode != 0 { #expect(result.stderr.contains("conflict"), "\(result.stderr)") }
        let butler = try Butler(repository: repo)
        let ref = try #require(try butler.registry.findDataset("raw", dataId: ["instrument": "LATISS", "detector": "0", "exposure": "2023032100053"],
                                                               collections: ["LATISS/raw/all"]))
        let stored = try #require(try butler.registry.storedFiles(of: ref.id).first)
        let winner = try #require(stored.sourcePath)
        #expect(stored.checksum == sums[winner], "the recorded checksum is the winner's")
        #expect(try storedChecksum(butler.storedLocation(stored.path), in: dir) == sums[winner],
                "the stored bytes are the winner's")
        try expectVerified(repo)
    }

    @Test("item 4: task labels and roles that would reach a path are refused before anything is written")
    func taskLabelCannotEscape() throws {
        let dir = TemporaryDirectory()
        let repo = try repository(dir)
        let before = try datastoreFiles(repo)
        let snapshot = try registrySnapshot(repo)
        for task in ["../../../../../../../../x", "../../evil", "a/b", "x\u{1}y", ""] {
            let result = try runStep(repo, run: "u/evil", task: task)
            try check(result, 1)
            #expect(result.stderr.contains("invalid task label"), "\(result.stderr)")
        }
        let role = try runButler(["run", repo, "--run", "u/evil", "--task", "isr", "--input", "raw=raw:\(Self.dataId)", "--collections", "LATISS/raw/all",
                                  "--output", "../x=postISRCCD:\(Self.dataId)", "--", "/bin/true"])
        #expect(role.exitCode != 0)
        #expect(!FileManager.default.fileExists(atPath: dir.path("x_log.txt")))
        #expect(!FileManager.default.fileExists(atPath: "/x_log.txt"))
        #expect(!FileManager.default.fileExists(atPath: repo + "/datastore/evil_log.txt"))
        #expect(try datastoreFiles(repo) == before)
        #expect(try registrySnapshot(repo).filter { !$0.hasPrefix("collection") && !$0.hasPrefix("run:") } == snapshot.filter { !$0.hasPrefix("collection") && !$0.hasPrefix("run:") })
        // Template values from a data ID or header are encoded, never a way out.
        let template = try FileTemplate("{run:/}/{datasetType}/{exposure.obs_id}/{detector.full_name}")
        let path = try template.format(["run": "../../a//b", "datasetType": "t", "exposure.obs_id": "..", "detector.full_name": "../../../x"])
        #expect(!path.split(separator: "/").contains(".."))
        #expect(path == "%2E%2E/%2E%2E/a/%/b/t/%2E%2E/.._.._.._x")
    }

    @Test("item 5: a symbolic link planted inside the datastore is neither written nor deleted through (a bucket refuses links)")
    func plantedLinks() throws {
        let dir = TemporaryDirectory()
        let repo = try repository(dir)
        if testDatastoreIsBucket {
            // A bucket holds no links: a link mode is refused in one line and nothing is written.
            let before = try datastoreFiles(repo)
            let linked = try check(try runButler(["ingest-raws", repo, fixture("lsst/latiss-AT_O_20240624_000106_R00_S00.fits"), "-t", "symlink"]), 1)
            #expect(linked.stderr.contains("cannot symlink"), "\(linked.stderr)")
            #expect(try datastoreFiles(repo) == before)
            try expectVerified(repo)
            return
        }
        let elsewhere = dir.path("elsewhere")
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: repo + "/datastore/u", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: repo + "/datastore/u/sym", withDestinationPath: elsewhere)
        let written = try runStep(repo, run: "u/sym")
        try check(written, 1)
        #expect(written.stderr.contains("symbolic link"), "\(written.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere).isEmpty)

        // A run stored normally, whose folder is then replaced by a link to a folder holding a file of that name.
        try check(try runStep(repo, run: "u/victim"))
        let victim = repo + "/datastore/u/victim"
        let decoy = dir.path("decoy")
        try FileManager.default.moveItem(atPath: victim, toPath: decoy)
        try FileManager.default.createSymbolicLink(atPath: victim, withDestinationPath: decoy)
        let before = try FileManager.default.subpathsOfDirectory(atPath: decoy).sorted()
        let purge = try runButler(["prune-datasets", repo, "u/victim", "--purge", "u/victim", "--datasets", "postISRCCD", "--no-confirm"])
        #expect(purge.exitCode != 0)
        #expect(purge.stderr.contains("symbolic link"), "\(purge.stderr)")
        #expect(try FileManager.default.subpathsOfDirectory(atPath: decoy).sorted() == before, "nothing deleted through the link")
        try FileManager.default.removeItem(atPath: victim)
        try FileManager.default.moveItem(atPath: decoy, toPath: victim)
        try FileManager.default.removeItem(atPath: repo + "/datastore/u/sym")
        try expectVerified(repo)
    }

    @Test("item 7: remove-runs removes runs that hold steps; steps elsewhere keep tombstones of what they used")
    func removeRunsWithSteps() throws {
        let dir = TemporaryDirectory()
        let repo = try repository(dir)
        try check(try runStep(repo, run: "u/a"))
        try check(try runButler(["register-dataset-type", repo, "pvi", "ExposureF", "instrument", "detector", "exposure"]))
        try check(try runButler(["run", repo, "--run", "u/b", "--task", "pvi", "--input", "exp=postISRCCD:\(Self.dataId)", "--collections", "u/a",
                                 "--output", "out=pvi:\(Self.dataId)", "--", "/bin/cp", "{exp}", "{out}"]))
        try check(try runButler(["remove-runs", repo, "u/b", "--no-confirm"]))
        let refused = try runButler(["remove-runs", repo, "u/a", "--no-confirm"])
        try check(try runStep(repo, run: "u/c"))
        try check(try runButler(["run", repo, "--run", "u/d", "--task", "pvi", "--input", "exp=postISRCCD:\(Self.dataId)", "--collections", "u/c",
                                 "--output", "out=pvi:\(Self.dataId)", "--", "/bin/cp", "{exp}", "{out}"]))
        #expect(refused.exitCode == 0, "u/a is used by no remaining step: \(refused.stderr)")
        try check(try runButler(["remove-runs", repo, "u/c", "--no-confirm"]), 1)
        try check(try runButler(["remove-runs", repo, "u/c", "--no-confirm", "--force"]))
        let lineage = try runButler(["provenance", repo, "pvi:\(Self.dataId)", "--collections", "u/d", "--format", "json"])
        #expect(lineage.stdout.contains("\"removed\":true") || lineage.stdout.contains("\"removed\": true"), "\(lineage.stdout)")
        #expect(!FileManager.default.fileExists(atPath: repo + "/datastore/u/a"), "the run's folders go with it")
        try expectVerified(repo)
    }

    /// Runs `body(i)` for i in 0..<n at once, each on its own thread (each starting a process), and returns the
    /// results in order.
    func parallel(_ n: Int, _ body: @escaping @Sendable (Int) throws -> CommandResult) throws -> [CommandResult] {
        let lock = NSLock()
        let group = DispatchGroup()
        nonisolated(unsafe) var results = [CommandResult?](repeating: nil, count: n)
        for i in 0..<n {
            group.enter()
            Thread.detachNewThread {
                let r = try? body(i)
                lock.lock(); results[i] = r; lock.unlock()
                group.leave()
            }
        }
        group.wait()
        return try results.map { try #require($0, "a process could not be started") }
    }
}
