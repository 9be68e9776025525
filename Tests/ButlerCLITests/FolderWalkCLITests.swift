import Foundation
import Testing
import ButlerKit
import ButlerTestSupport

/// What a run with a deadline printed and returned.
struct TimedResult {
    let stdout: String
    let stderr: String
    let exitCode: Int32
}

/// Runs the built binary, killing it after `seconds`: a hang fails the test instead of blocking the suite.
func runButler(within seconds: Double, _ arguments: [String]) throws -> (result: TimedResult, timedOut: Bool, elapsed: Double) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: butlerBinary)
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    let start = Date()
    try process.run()
    nonisolated(unsafe) var timedOut = false
    let killer = DispatchWorkItem {
        if process.isRunning {
            timedOut = true
            kill(process.processIdentifier, SIGKILL)
        }
    }
    DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: killer)
    nonisolated(unsafe) var errData = Data()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
        errData = err.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    killer.cancel()
    let result = TimedResult(stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self),
                               exitCode: process.terminationStatus)
    return (result, timedOut, Date().timeIntervalSince(start))
}

@Suite("ingest-raws folder walks: links, FIFOs, slow patterns")
struct FolderWalkCLITests {
    /// A repository and a folder `raws/` holding one LATISS raw.
    func setUp(_ dir: TemporaryDirectory) throws -> (repo: String, raws: String) {
        let repo = dir.path("repo")
        #expect(try runButler(try createArguments(repo)).exitCode == 0)
        let raws = dir.path("raws")
        try FileManager.default.createDirectory(atPath: raws + "/sub", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: fixture("lsst/latiss-AT_O_20230321_000053.fits"), toPath: raws + "/sub/a.fits")
        return (repo, raws)
    }

    @Test("symbolic link loops are walked once: each folder by its (device, inode)")
    func symlinkLoops() throws {
        let dir = TemporaryDirectory()
        let (repo, raws) = try setUp(dir)
        try FileManager.default.createSymbolicLink(atPath: raws + "/loop", withDestinationPath: ".")
        try FileManager.default.createSymbolicLink(atPath: raws + "/sub/up", withDestinationPath: "..")
        try FileManager.default.createSymbolicLink(atPath: raws + "/sub/again", withDestinationPath: raws + "/sub")
        let (result, timedOut, _) = try runButler(within: 60, ["--log-level", "DEBUG", "ingest-raws", repo, raws, "-t", "copy"])
        #expect(!timedOut)
        #expect(result.exitCode == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("Ingested 1 dataset(s) from 1 file(s): 1 ingested, 0 already registered, 0 failed"), "\(result.stdout)")
        #expect(result.stderr.contains("skipping a folder already walked"), "\(result.stderr)")
    }

    @Test("a FIFO named *.fits is skipped in a folder (said at DEBUG) and refused when named, without blocking")
    func fifo() throws {
        let dir = TemporaryDirectory()
        let (repo, raws) = try setUp(dir)
        #expect(mkfifo(raws + "/pipe.fits", 0o644) == 0)
        #expect(mkfifo(raws + "/sub/other.fits", 0o644) == 0)
        try FileManager.default.createSymbolicLink(atPath: raws + "/link.fits", withDestinationPath: "pipe.fits")
        let walked = try runButler(within: 60, ["--log-level", "DEBUG", "ingest-raws", repo, raws, "-t", "copy"])
        #expect(!walked.timedOut)
        #expect(walked.result.exitCode == 0, "\(walked.result.stderr)")
        #expect(walked.result.stdout.hasPrefix("Ingested 1 dataset(s) from 1 file(s): 1 ingested, 0 already registered, 0 failed"), "\(walked.result.stdout)")
        for name in ["pipe.fits", "link.fits", "sub/other.fits"] {
            #expect(walked.result.stderr.contains("skipping what is not a regular file") && walked.result.stderr.contains(raws + "/" + name), "\(name): \(walked.result.stderr)")
        }
        let named = try runButler(within: 60, ["ingest-raws", repo, raws + "/pipe.fits", "-t", "copy"])
        #expect(!named.timedOut)
        #expect(named.result.exitCode == 1)
        #expect(named.result.stderr.contains("butler: error: \(raws)/pipe.fits: not a regular file (a FIFO)"), "\(named.result.stderr)")
    }

    @Test("a catastrophically backtracking --regex is stopped within its budget, before anything is ingested")
    func slowPattern() throws {
        let dir = TemporaryDirectory()
        let (repo, raws) = try setUp(dir)
        let name = String(repeating: "a", count: 40) + ".fits"
        try FileManager.default.copyItem(atPath: fixture("lsst/latiss-AT_O_20230321_000053.fits"), toPath: raws + "/" + name)
        let before = try registrySnapshot(repo)
        let (result, timedOut, elapsed) = try runButler(within: 60, ["ingest-raws", repo, raws, "--regex", "(a+)+$", "-t", "copy"])
        #expect(!timedOut)
        #expect(elapsed < 30)
        #expect(result.exitCode != 0)
        #expect(result.stderr.contains("--regex '(a+)+$' took more than 0.1 s on the file name \"\(name)\""), "\(result.stderr)")
        #expect(try registrySnapshot(repo) == before)

        // An ordinary pattern still selects by name.
        let ok = try runButler(within: 60, ["ingest-raws", repo, raws, "--regex", "^a\\.fits$", "-t", "copy"])
        #expect(ok.result.exitCode == 0, "\(ok.result.stderr)")
        #expect(ok.result.stdout.hasPrefix("Ingested 1 dataset(s) from 1 file(s)"), "\(ok.result.stdout)")
    }
}
