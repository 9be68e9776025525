import Foundation
import Testing
import ButlerKit
import ButlerTestSupport

/// YAML alias bombs ("billion laughs") wherever YAML is read: refused at once with a one-line error naming the file,
/// nothing left behind, and `provenance-diff` of configs holding one compares them as text instead of crashing.
@Suite("YAML alias bombs")
struct YAMLBombCLITests {
    /// Nine levels of nine aliases: 9^9 (387 million) strings once expanded; `top` sets a value that differs.
    static func bomb(top: String = "x") -> String {
        var lines = ["a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]"]
        let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"]
        for (previous, name) in zip(names, names.dropFirst()) {
            lines.append("\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 9).joined(separator: ",") + "]")
        }
        lines.append("top: \(top)")
        return lines.joined(separator: "\n") + "\n"
    }

    func expectRefused(_ result: CommandResult, _ file: String, elapsed: TimeInterval, _ what: String) {
        #expect(result.exitCode == 1, "\(what): exit \(result.exitCode) \(result.stderr.prefix(300))")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(what): \(lines.count) lines")
        #expect(result.stderr.contains(file) && result.stderr.contains("alias"), "\(what): \(result.stderr.prefix(300))")
        #expect(elapsed < 20, "\(what): \(elapsed) s")
    }

    func timed(_ arguments: [String]) throws -> (CommandResult, TimeInterval) {
        let start = Date()
        let result = try runButler(arguments)
        return (result, Date().timeIntervalSince(start))
    }

    @Test("a billion-laughs seed config or dimension config: refused at once, no repository left, create again works")
    func seedConfig() throws {
        let dir = TemporaryDirectory()
        let bomb = dir.path("bomb.yaml")
        try Self.bomb().write(toFile: bomb, atomically: true, encoding: .utf8)
        let repo = dir.path("repo")
        let (seeded, seconds) = try timed(try createArguments(repo) + ["--seed-config", bomb])
        expectRefused(seeded, bomb, elapsed: seconds, "seed config")
        #expect(!FileManager.default.fileExists(atPath: repo))

        let (dimensions, seconds2) = try timed(try createArguments(repo) + ["--dimension-config", bomb])
        expectRefused(dimensions, bomb, elapsed: seconds2, "dimension config")
        #expect(!FileManager.default.fileExists(atPath: repo))

        // An existing empty folder stays empty.
        try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true)
        let (again, seconds3) = try timed(try createArguments(repo) + ["--seed-config", bomb])
        expectRefused(again, bomb, elapsed: seconds3, "seed config into an empty folder")
        #expect(try FileManager.default.contentsOfDirectory(atPath: repo).isEmpty)

        let plain = try runButler(try createArguments(repo))
        #expect(plain.exitCode == 0, "\(plain.stderr)")
        #expect(try runButler(["query-collections", repo]).exitCode == 0)
    }

    @Test("register-instrument with a bomb is refused; a bomb in butler.yaml too")
    func otherReaders() throws {
        let dir = TemporaryDirectory()
        let bomb = dir.path("cam.yaml")
        try Self.bomb().write(toFile: bomb, atomically: true, encoding: .utf8)
        let repo = dir.path("repo")
        #expect(try runButler(try createArguments(repo)).exitCode == 0)
        let (registered, seconds) = try timed(["register-instrument", repo, bomb])
        expectRefused(registered, bomb, elapsed: seconds, "instrument definition")

        // A butler.yaml with a bomb appended (after the keys every repository needs).
        let config = repo + "/butler.yaml"
        let text = try String(contentsOfFile: config, encoding: .utf8)
        try (text + "extra:\n" + Self.bomb().split(separator: "\n").map { "  " + $0 }.joined(separator: "\n") + "\n")
            .write(toFile: config, atomically: true, encoding: .utf8)
        let (opened, seconds2) = try timed(["config-dump", repo])
        expectRefused(opened, config, elapsed: seconds2, "butler.yaml")
    }

    @Test("provenance-diff of two steps whose recorded configs hold bombs: no crash, the configs compared as text")
    func provenanceDiff() throws {
        let dir = TemporaryDirectory()
        let repo = dir.path("repo")
        #expect(try runButler(try createArguments(repo)).exitCode == 0)
        #expect(try runButler(["ingest-raws", repo, fixture("lsst/latiss-AT_O_20230321_000053.fits"), "-t", "direct"]).exitCode == 0)
        #expect(try runButler(["register-dataset-type", repo, "postISRCCD", "ExposureF", "instrument", "detector", "exposure"]).exitCode == 0)
        let dataId = "instrument=LATISS,detector=0,exposure=2023032100053"
        var ids: [String] = []
        for (i, top) in ["one", "two"].enumerated() {
            let folder = dir.path("c\(i)")
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try Self.bomb(top: top).write(toFile: folder + "/isr.yaml", atomically: true, encoding: .utf8)
            let run = try runButler(["run", repo, "--run", "u/bomb\(i)", "--task", "isr", "--input", "raw=raw:\(dataId)", "--collections", "LATISS/raw/all",
                                     "--output", "out=postISRCCD:\(dataId)", "--config", folder + "/isr.yaml", "--format", "json",
                                     "--", "/bin/cp", "{raw}", "{out}"])
            #expect(run.exitCode == 0, "\(run.stderr)")
            let found = try runButler(["query-datasets", repo, "postISRCCD", "--collections", "u/bomb\(i)", "--format", "json"])
            let rows = try JSONSerialization.jsonObject(with: Data(found.stdout.utf8)) as? [[String: Any]] ?? []
            ids.append(rows.first?["id"] as? String ?? "")
        }
        let start = Date()
        let diff = try runButler(["provenance-diff", repo, ids[0], ids[1]])
        #expect(Date().timeIntervalSince(start) < 20)
        #expect(diff.exitCode == 0 || diff.exitCode == 1, "exit \(diff.exitCode): \(diff.stderr.prefix(300))")
        #expect(!diff.stderr.contains("crashed"))
        // Compared as text: the differing line shows.
        #expect(diff.stdout.contains("top: one") && diff.stdout.contains("top: two"), "\(diff.stdout.prefix(600))")
    }
}
