import ButlerKit
import ButlerTestSupport
import Foundation
import Testing

/// The files an import or an ingest touches (issue 27, items 4 to 6): a move never takes a file a repository holds, an
/// import reads only regular files inside its directory, and special files get one line of ours.
@Suite("Files an import touches: moves, paths out of the export, special files")
struct ImportFileSafetyCLITests {
    static let raw = "lsst/latiss-AT_O_20230321_000053.fits"

    @discardableResult
    func check(_ arguments: [String], _ expected: Int32 = 0, sourceLocation: SourceLocation = #_sourceLocation) throws -> CommandResult {
        let result = try runButler(arguments)
        #expect(result.exitCode == expected, "butler \(arguments.joined(separator: " ")): exit \(result.exitCode): \(result.stdout)\(result.stderr)",
                sourceLocation: sourceLocation)
        return result
    }

    /// One line of ours on stderr (warnings and info aside) containing every text.
    func oneLine(_ result: CommandResult, _ texts: String..., sourceLocation: SourceLocation = #_sourceLocation) {
        let lines = result.stderr.split(separator: "\n").filter { !$0.contains(" info ") && !$0.contains(" warning ") }
        #expect(lines.count == 1 && lines[0].hasPrefix("butler: error: "), "\(result.stderr)", sourceLocation: sourceLocation)
        for text in texts { #expect(lines.first?.contains(text) == true, "\(text) in \(result.stderr)", sourceLocation: sourceLocation) }
    }

    func repository(_ dir: TemporaryDirectory, _ name: String) throws -> String {
        let repo = dir.path(name)
        try check(try createArguments(repo))
        try check(["register-instrument", repo, "LATISS"])
        try check(["register-dataset-type", repo, "bias", "ExposureF", "instrument", "detector", "--is-calibration"])
        return repo
    }

    /// An export of one bias, from a repository of its own.
    func export(_ dir: TemporaryDirectory) throws -> String {
        let source = try repository(dir, "source")
        try check(["put", source, fixture(Self.raw), "--run", "LATISS/calib/bias", "--dataset-type", "bias", "--data-id", "instrument=LATISS,detector=0"])
        let out = dir.path("export")
        try check(["export", source, out])
        return out
    }

    /// The one file path an export.yaml names.
    func namedPath(_ export: String) throws -> String {
        let yaml = try String(contentsOfFile: export + "/export.yaml", encoding: .utf8)
        let line = try #require(yaml.split(separator: "\n").first { $0.contains("path: ") })
        return String(line.split(separator: ":", maxSplits: 1)[1]).trimmingCharacters(in: .whitespaces)
    }

    /// The export with its one file path replaced.
    func withPath(_ export: String, _ dir: TemporaryDirectory, _ name: String, _ path: String, prepare: (String) throws -> Void = { _ in }) throws -> String {
        let copy = dir.path(name)
        try FileManager.default.copyItem(atPath: export, toPath: copy)
        let yaml = try String(contentsOfFile: copy + "/export.yaml", encoding: .utf8)
        try yaml.replacingOccurrences(of: "path: " + (try namedPath(export)), with: "path: " + path)
            .write(toFile: copy + "/export.yaml", atomically: true, encoding: .utf8)
        try prepare(copy)
        return copy
    }

    @Test("a move never takes a file a repository holds: its config, its registry, a registered file, another repository's files")
    func movesTakeNothingARepositoryHolds() throws {
        let dir = TemporaryDirectory()
        let repo = try repository(dir, "repo")
        let other = try repository(dir, "other")
        try FileManager.default.copyItem(atPath: fixture(Self.raw), toPath: other + "/incoming.fits")
        let inPlace = dir.path("inplace.fits")
        try FileManager.default.copyItem(atPath: fixture(Self.raw), toPath: inPlace)
        try "file,detector\n\(inPlace),0\n".write(toFile: dir.path("direct.csv"), atomically: true, encoding: .utf8)
        try check(["ingest-files", repo, "bias", "LATISS/calib/direct", dir.path("direct.csv"), "--data-id", "instrument=LATISS", "-t", "direct"])
        for victim in [repo + "/butler.yaml", other + "/incoming.fits", inPlace] {
            try "file,detector\n\(victim),0\n".write(toFile: dir.path("move.csv"), atomically: true, encoding: .utf8)
            let before = try registrySnapshot(repo)
            let result = try check(["ingest-files", repo, "bias", "LATISS/calib/moved", dir.path("move.csv"), "--data-id", "instrument=LATISS", "-t", "move"], 1)
            #expect(result.stdout.contains("1 failed") || result.stderr.contains("not moved"), "\(result.stdout)\(result.stderr)")
            #expect((result.stdout + result.stderr).contains("not moved"), "\(victim): \(result.stdout)\(result.stderr)")
            #expect(FileManager.default.fileExists(atPath: victim), "\(victim) is still there")
            #expect(try registrySnapshot(repo) == before)
        }
        // A file with another name (a hard link): moving one name would leave the other, and a header stamp would change both.
        let twin = dir.path("twin.fits")
        #expect(link(inPlace, twin) == 0)
        try "file,detector\n\(twin),0\n".write(toFile: dir.path("twin.csv"), atomically: true, encoding: .utf8)
        let linked = try check(["ingest-files", repo, "bias", "LATISS/calib/twin", dir.path("twin.csv"), "--data-id", "instrument=LATISS", "-t", "move"], 1)
        #expect((linked.stdout + linked.stderr).contains("hard links"), "\(linked.stdout)\(linked.stderr)")
        #expect(FileManager.default.fileExists(atPath: twin))
        // ingest-raws -t move of a file inside another repository's folder.
        let raws = try check(["ingest-raws", repo, other + "/incoming.fits", "-t", "move"], 1)
        #expect((raws.stdout + raws.stderr).contains("not moved"), "\(raws.stdout)\(raws.stderr)")
        #expect(FileManager.default.fileExists(atPath: other + "/incoming.fits"))
        // The repository still opens and is whole.
        try check(["query-datasets", repo, "bias"])
        try check(["verify", repo, "--checksums"])
    }

    @Test("an import reads only regular files inside its directory: no absolute path, '..', symbolic link or FIFO")
    func importReadsOnlyInside() throws {
        let dir = TemporaryDirectory()
        let export = try export(dir)
        let repo = try repository(dir, "dest")
        let secret = dir.path("secret.txt")
        try "ssh key\n".write(toFile: secret, atomically: true, encoding: .utf8)
        let original = try namedPath(export)
        let cases: [(String, String, (String) throws -> Void, String)] = [
            ("absolute", secret, { _ in }, "absolute path"),
            ("dotdot", "../secret.txt", { _ in }, "leads out of the export directory"),
            ("linked-file", "link.fits", { copy in try FileManager.default.createSymbolicLink(atPath: copy + "/link.fits", withDestinationPath: secret) },
             "symbolic link"),
            ("linked-folder", "outside/secret.txt", { copy in try FileManager.default.createSymbolicLink(atPath: copy + "/outside", withDestinationPath: dir.path) },
             "symbolic link"),
            ("fifo", "pipe.fits", { copy in #expect(mkfifo(copy + "/pipe.fits", 0o600) == 0) }, "a FIFO"),
        ]
        for (name, path, prepare, expected) in cases {
            let copy = try withPath(export, dir, name, path, prepare: prepare)
            let before = try registrySnapshot(repo)
            let result = try check(["import", repo, copy], 1)
            oneLine(result, expected)
            #expect(try registrySnapshot(repo) == before, "\(name): nothing written")
        }
        // import -t move of an export that lies inside a repository's folder takes nothing from it.
        let other = try repository(dir, "other")
        let inside = other + "/export"
        try FileManager.default.copyItem(atPath: export, toPath: inside)
        let moved = try check(["import", repo, inside, "-t", "move"], 1)
        oneLine(moved, "not moved", "inside the repository")
        #expect(FileManager.default.fileExists(atPath: inside + "/" + original))
        // Absolute paths of a direct-mode export only with -t direct and the option, recorded where they are.
        let direct = try withPath(export, dir, "direct", export + "/" + original)
        let misused = try runButler(["import", repo, direct, "-t", "copy", "--allow-absolute-paths"])
        #expect(misused.exitCode != 0 && misused.stderr.contains("--allow-absolute-paths needs -t direct"), "\(misused.stderr)")
        try check(["import", repo, direct, "-t", "direct", "--allow-absolute-paths"])
        #expect(FileManager.default.fileExists(atPath: export + "/" + original))
        try check(["verify", repo, "--checksums"])
    }

    @Test("a FIFO or a device as export.yaml, butler_provenance.json or --export-file: one line of ours")
    func specialFiles() throws {
        let dir = TemporaryDirectory()
        let export = try export(dir)
        let repo = try repository(dir, "dest")
        let yamlFifo = dir.path("yaml-fifo")
        try FileManager.default.createDirectory(atPath: yamlFifo, withIntermediateDirectories: true)
        #expect(mkfifo(yamlFifo + "/export.yaml", 0o600) == 0)
        oneLine(try check(["import", repo, yamlFifo], 1), "export.yaml", "a FIFO")
        let provenanceFifo = dir.path("provenance-fifo")
        try FileManager.default.copyItem(atPath: export, toPath: provenanceFifo)
        try? FileManager.default.removeItem(atPath: provenanceFifo + "/butler_provenance.json")
        #expect(mkfifo(provenanceFifo + "/butler_provenance.json", 0o600) == 0)
        oneLine(try check(["import", repo, provenanceFifo], 1), "butler_provenance.json", "a FIFO")
        oneLine(try check(["import", repo, export, "--export-file", "/dev/zero"], 1), "/dev/zero", "a character device")
        oneLine(try check(["import", repo, export, "--export-file", yamlFifo + "/export.yaml"], 1), "a FIFO")
    }
}
