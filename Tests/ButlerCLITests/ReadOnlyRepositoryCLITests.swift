import Foundation
import Testing
import ButlerKit
import ButlerTestSupport

/// A repository this process may only read: every reading command works, every writing command is refused in one
/// line, and nothing in the repository changes.
///
/// Read-only is simulated for real. As root (which ignores permission bits) two ways, each used when it works: a
/// read-only bind mount of the repository, and the butler run as user `nobody` on root's files (0644/0755), which is
/// "another user who may only read". As another user: the repository's write bits are removed. When none of these
/// works here the test fails: it never passes without having checked anything.
@Suite("butler on a read-only repository")
struct ReadOnlyRepositoryCLITests {
    /// A way to reach the repository read-only: where it is seen, and how to run the butler there.
    struct Reader {
        let label: String
        let repo: String
        let run: ([String]) throws -> CommandResult
    }

    /// A repository with raws (direct), a provenance-bearing `put` and a copied bias certified into LATISS/calib.
    func makeRepository(_ dir: TemporaryDirectory) throws -> String {
        let repo = dir.path("repo")
        #expect(try runButler(try createArguments(repo)).exitCode == 0)
        #expect(try runButler(["ingest-raws", repo, fixturesDirectory.appendingPathComponent("raw").path, "-t", "direct"]).exitCode == 0)
        #expect(try runButler(["register-dataset-type", repo, "postISRCCD", "ExposureF", "instrument", "detector", "exposure"]).exitCode == 0)
        let dataId = "instrument=LATISS,detector=0,exposure=2023032100053"
        let put = try runButler(["put", repo, fixture("lsst/latiss-AT_O_20230321_000053.fits"), "--run", "u/put", "--dataset-type", "postISRCCD",
                                 "--data-id", dataId, "--input", "raw=raw:\(dataId)", "--collections", "LATISS/raw/all", "--task", "isr"])
        #expect(put.exitCode == 0, "\(put.stderr)")
        #expect(try runButler(["register-dataset-type", repo, "bias", "ExposureF", "instrument", "detector", "--is-calibration"]).exitCode == 0)
        try "file,detector\nlsst/latiss-AT_O_20230321_000053.fits,0\n".write(toFile: dir.path("t.csv"), atomically: true, encoding: .utf8)
        #expect(try runButler(["ingest-files", repo, "bias", "LATISS/calib/run", dir.path("t.csv"), "--data-id", "instrument=LATISS",
                               "--prefix", fixturesDirectory.appendingPathComponent("raw").path, "-t", "copy"]).exitCode == 0)
        #expect(try runButler(["certify-calibrations", repo, "LATISS/calib/run", "LATISS/calib", "bias"]).exitCode == 0)
        return repo
    }

    /// The read-only views that work on this machine; each `cleanup` undoes what was set up.
    func readers(of repo: String, in dir: TemporaryDirectory, cleanup: inout [() -> Void]) throws -> (readers: [Reader], tried: [String]) {
        var readers: [Reader] = []
        var tried: [String] = []
        if geteuid() == 0 {
            let view = dir.path("ro-view")
            try FileManager.default.createDirectory(atPath: view, withIntermediateDirectories: true)
            let bind = try runProcess("/bin/mount", ["--bind", repo, view])
            if bind.exitCode == 0 {
                cleanup.append { _ = try? runProcess("/bin/umount", ["-l", view]) }
                let remount = try runProcess("/bin/mount", ["-o", "remount,ro,bind", view])
                if remount.exitCode == 0 && access(view, W_OK) != 0 {
                    readers.append(Reader(label: "read-only bind mount", repo: view, run: { try runButler($0) }))
                } else {
                    tried.append("read-only remount: \(remount.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
                }
            } else {
                tried.append("bind mount: \(bind.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
            }
            // Another user: nobody, on root's files. The binary and the repository must be reachable by it.
            let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].first { FileManager.default.isExecutableFile(atPath: $0) }
            if let setpriv {
                let asNobody = { (arguments: [String]) throws -> CommandResult in
                    try runProcess(setpriv, ["--reuid=65534", "--regid=65534", "--clear-groups", butlerBinary] + arguments)
                }
                let probe = try asNobody(["query-collections", repo])
                if probe.exitCode == 0 {
                    readers.append(Reader(label: "user nobody", repo: repo, run: asNobody))
                } else {
                    tried.append("setpriv to nobody: \(probe.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
                }
            } else {
                tried.append("setpriv: not installed")
            }
        } else {
            // Permission bits bind every user but root.
            _ = try runProcess("/bin/chmod", ["-R", "a-w", repo])
            cleanup.append { _ = try? runProcess("/bin/chmod", ["-R", "u+w", repo]) }
            if access(repo, W_OK) != 0 {
                readers.append(Reader(label: "write bits removed", repo: repo, run: { try runButler($0) }))
            } else {
                tried.append("chmod -R a-w: the folder stays writable")
            }
        }
        return (readers, tried)
    }

    @Test("reading commands work and writing commands are refused in one line, on a read-only mount and as another user")
    func readOnly() throws {
        let dir = TemporaryDirectory()
        let repo = try makeRepository(dir)
        let before = try registrySnapshot(repo)
        func entries() throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: repo).filter { !$0.hasSuffix("-wal") && !$0.hasSuffix("-shm") }.sorted()
        }
        let entriesBefore = try entries()
        var cleanup: [() -> Void] = []
        defer { for undo in cleanup.reversed() { undo() } }
        let (readers, tried) = try readers(of: repo, in: dir, cleanup: &cleanup)
        #expect(!readers.isEmpty, "no way to make the repository read-only here: \(tried.joined(separator: "; "))")
        let dataId = "instrument=LATISS,detector=0,exposure=2023032100053"
        for (n, reader) in readers.enumerated() {
            let r = reader.repo
            let out = dir.path("out-\(n)")
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            _ = try runProcess("/bin/chmod", ["0777", out])
            let commands: [[String]] = [
                ["query-datasets", r],
                ["query-datasets", r, "--collections", "LATISS/raw/all", "--where", "instrument = 'LATISS' AND exposure > 0", "--find-first", "--show-uri", "--format", "json"],
                ["query-datasets", r, "postISRCCD", "--produced-by", "isr", "--format", "csv"],
                ["query-datasets", r, "bias", "--collections", "LATISS/calib", "--format", "csv"],
                ["query-collections", r],
                ["query-dataset-types", r, "-v"],
                ["query-data-ids", r, "exposure", "--datasets", "raw", "--collections", "LATISS/raw/all"],
                ["query-dimension-records", r, "detector", "--limit", "3"],
                ["find-dataset", r, "postISRCCD:\(dataId)", "--collections", "u/put"],
                ["provenance", r, "postISRCCD:\(dataId)", "--collections", "u/put"],
                ["verify", r, "--checksums"],
                ["config-dump", r],
                ["retrieve-artifacts", r, out, "--collections", "LATISS/calib", "--dataset-type", "bias"],
            ]
            for arguments in commands {
                let result = try reader.run(arguments)
                #expect(result.exitCode == 0, "\(reader.label): \(arguments.joined(separator: " ")): \(result.stderr)")
                #expect(!(result.stdout + result.stderr).isEmpty, "\(reader.label): \(arguments.joined(separator: " ")) printed nothing")
                #expect(!result.stderr.contains("SQLite"), "\(reader.label): \(arguments.joined(separator: " ")): \(result.stderr)")
            }
            let retrieved = try FileManager.default.subpathsOfDirectory(atPath: out).filter { $0.hasSuffix(".fits") }
            #expect(retrieved.count == 1, "\(reader.label): retrieve-artifacts wrote \(retrieved) into \(out)")
            let writes: [[String]] = [
                ["register-collection", r, "x"],
                ["certify-calibrations", r, "LATISS/calib/run", "LATISS/calib2", "bias"],
                ["put", r, fixture("lsst/latiss-AT_O_20230321_000053.fits"), "--run", "u/put2", "--dataset-type", "postISRCCD", "--data-id", dataId],
                ["ingest-raws", r, fixturesDirectory.appendingPathComponent("raw").path, "-t", "copy"],
                ["prune-datasets", r, "--collections", "LATISS/calib", "--purge", "LATISS/calib/run", "--no-confirm"],
            ]
            for arguments in writes {
                let result = try reader.run(arguments)
                #expect(result.exitCode == 1, "\(reader.label): \(arguments.joined(separator: " ")) exited \(result.exitCode)")
                #expect(result.stderr.hasPrefix("butler: error: repository ") && result.stderr.contains(" is read-only: "),
                        "\(reader.label): \(arguments.joined(separator: " ")): \(result.stderr)")
                #expect(result.stderr.split(separator: "\n").count == 1, "\(reader.label): \(result.stderr)")
            }
            // A dry run only reads.
            #expect(try reader.run(["prune-datasets", r, "--collections", "LATISS/calib", "--purge", "LATISS/calib/run", "--dry-run"]).exitCode == 0)
        }
        for undo in cleanup.reversed() { undo() }
        cleanup.removeAll()
        #expect(try registrySnapshot(repo) == before)
        // Nothing new in the repository folder (no journal folder, no stray files of the refused writes).
        #expect(try entries() == entriesBefore)
    }
}
