import Foundation
import Testing
import ButlerKit
import ButlerTestSupport

/// Long commands show a progress bar on a terminal and nothing when piped (issue 29, item 5); `--no-progress` turns
/// it off on a terminal and `--progress` on when piped, as Rubin's global options do. A terminal is a real
/// pseudo-terminal: each command runs under util-linux `script`.
@Suite("Progress bars on a terminal, none when piped", .serialized)
struct ProgressCLITests {
    /// Runs the butler under `script`, so that its standard error is a terminal; returns what the terminal got.
    func onTerminal(_ arguments: [String]) throws -> CommandResult {
        let command = ([butlerBinary] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        return try runProcess("/usr/bin/script", ["-q", "-e", "-c", command, "/dev/null"], stdin: "")
    }

    /// Whether a progress bar of this unit was drawn: `[####...] N/N unit`.
    func drewBar(_ text: String, unit: String) -> Bool {
        text.contains("\r[") && text.range(of: #"\] \d+/\d+ "# + unit, options: .regularExpression) != nil
    }

    @Test("verify --checksums, export, import, transfer-datasets, ingest-zip, register-skymap, record, retrieve-artifacts, define-visits, prune-datasets and remove-runs draw a bar on a terminal only")
    func barsOnTerminalOnly() throws {
        let dir = TemporaryDirectory("progress")
        let repo = dir.path("repo")
        try #require(try runButler(try createArguments(repo)).exitCode == 0)
        try #require(try runButler(["ingest-raws", repo, fixturesDirectory.appendingPathComponent("raw").path, "-t", "copy"]).exitCode == 0)
        try "config.name = \"rings6\"\nconfig.skyMap[\"rings\"].numRings = 6\nconfig.skyMap[\"rings\"].pixelScale = 20.0\n".write(toFile: dir.path("skymap.py"), atomically: true, encoding: .utf8)
        let other = dir.path("other")
        try #require(try runButler(try createArguments(other)).exitCode == 0)
        try #require(try runButler(["retrieve-artifacts", repo, dir.path("zips"), "--zip", "--collections", "LATISS/raw/all"]).exitCode == 0)
        let zip = try #require(try FileManager.default.contentsOfDirectory(atPath: dir.path("zips")).first { $0.hasSuffix(".zip") })
        let commands: [(arguments: [String], unit: String)] = [
            (["verify", repo, "--checksums"], "files"),
            (["export", repo, dir.path("export"), "raw", "--collections", "HSC/raw/all"], "files"),
            (["import", other, dir.path("export")], "files"),
            (["transfer-datasets", repo, other, "raw", "--collections", "DECam/raw/all"], "files"),
            (["ingest-zip", other, dir.path("zips") + "/" + zip, "--transfer-dimensions"], "files"),
            (["register-skymap", other, "--config", dir.path("skymap.py")], "tracts"),
            (["record", other, dir.path("steps.json")], "quanta"),
            (["retrieve-artifacts", repo, dir.path("copies"), "--collections", "LSSTCam/raw/all"], "files"),
            (["retrieve-artifacts", repo, dir.path("zips2"), "--zip", "--collections", "LSSTCam/raw/all"], "files"),
            (["define-visits", repo, "LSSTCam"], "exposures"),
            (["prune-datasets", other, "DECam/raw/all", "--no-confirm"], "files"),
            (["remove-runs", other, "HSC/raw/all", "--no-confirm"], "files"),
        ]
        try #"{"run": "u/progress", "quanta": [{"task": "a", "status": "failed"}, {"task": "b", "status": "failed"}, {"task": "c", "status": "failed"}]}"#.write(toFile: dir.path("steps.json"), atomically: true, encoding: .utf8)
        for (arguments, unit) in commands {
            let terminal = try onTerminal(arguments)
            #expect(terminal.exitCode == 0, "\(arguments): \(terminal.stdout)")
            #expect(drewBar(terminal.stdout, unit: unit), "\(arguments[0]) on a terminal drew no bar: \(terminal.stdout.debugDescription)")
        }
        // Piped: nothing but the command's own output; --progress asks for the bar anyway.
        let piped = try runButler(["verify", repo, "--checksums"])
        #expect(piped.exitCode == 0 && !piped.stderr.contains("\r["), "\(piped.stderr.debugDescription)")
        let asked = try runButler(["verify", repo, "--checksums", "--progress"])
        #expect(drewBar(asked.stderr, unit: "files"), "\(asked.stderr.debugDescription)")
        // On a terminal, --no-progress turns it off.
        let off = try onTerminal(["--no-progress", "verify", repo, "--checksums"])
        #expect(off.exitCode == 0 && !off.stdout.contains("\r["), "\(off.stdout.debugDescription)")
        #expect(try runButler(["verify", other, "--checksums"]).exitCode == 0)
    }
}
