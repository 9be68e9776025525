import Foundation
import Testing
import ButlerKit
import ButlerTestSupport

/// Limits on what arrives from elsewhere, through the real binary: a Zip whose index is a whitespace bomb is refused
/// without reading it into memory, an export of a newer universe is refused, and an import whose every file fails
/// says so in one readable line.
@Suite("trust limits")
struct TrustLimitsCLITests {
    /// Runs `butler` under Python, which reports the child's peak resident memory (KiB) on stdout.
    func runMeasured(_ arguments: [String]) throws -> (result: CommandResult, peakKiB: Int) {
        let script = """
            import resource, subprocess, sys
            r = subprocess.run(sys.argv[1:], capture_output=True, text=True)
            sys.stderr.write(r.stderr)
            print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
            sys.exit(r.returncode)
            """
        let result = try runProcess("/usr/bin/env", ["python3", "-c", script, butlerBinary] + arguments)
        let peak = try #require(Int(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), "python3: \(result.stdout) \(result.stderr)")
        return (result, peak)
    }

    func check(_ arguments: [String]) throws {
        let result = try runButler(arguments)
        #expect(result.exitCode == 0, "butler \(arguments.joined(separator: " ")): \(result.stderr)")
    }

    @Test("ingest-zip of a 600 KB Zip whose index is 600 MB of whitespace: refused in one line, in little memory")
    func whitespaceBomb() throws {
        let dir = TemporaryDirectory()
        let repo = dir.path("repo")
        try check(try createArguments(repo))
        let zip = dir.path("bomb.zip")
        let made = try runProcess("/usr/bin/env", ["python3", "-c", """
            import sys, zipfile
            with zipfile.ZipFile(sys.argv[1], "w") as z:
                info = zipfile.ZipInfo("_butler_zip_index.json")
                info.compress_type = zipfile.ZIP_DEFLATED
                with z.open(info, "w") as f:
                    block = b" " * (1 << 20)
                    for _ in range(600):
                        f.write(block)
                    f.write(b"{}")
            """, zip])
        try #require(made.exitCode == 0, "python3: \(made.stderr)")
        let (result, peak) = try runMeasured(["ingest-zip", repo, zip])
        #expect(result.exitCode == 1, "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(result.stderr.contains(zip) && result.stderr.contains("_butler_zip_index.json") && result.stderr.contains("256 MiB"), "\(result.stderr)")
        // Reading it whole took 1.2 GB; refusing it from the central directory takes what the process needs anyway.
        #expect(peak < 300_000, "peak resident memory \(peak) KiB")
    }

    /// A repository with one raw, and its export directory.
    func export(_ dir: TemporaryDirectory, raws: [String]) throws -> (repo: String, export: String) {
        let repo = dir.path("source")
        try check(try createArguments(repo))
        try check(["ingest-raws", repo] + raws + ["-t", "copy"])
        let export = dir.path("export")
        try check(["export", repo, export])
        return (repo, export)
    }

    @Test("import of an export.yaml with universe_version 99 is refused naming the file and the value; 7 (Rubin's older universe) is read")
    func universeVersion() throws {
        let dir = TemporaryDirectory()
        let (_, export) = try export(dir, raws: [fixture("lsst/latiss-AT_O_20240624_000106_R00_S00.fits")])
        let yamlFile = export + "/export.yaml"
        let yaml = try String(contentsOfFile: yamlFile, encoding: .utf8)
        try #require(yaml.contains("universe_version: 8\n"))
        let target = dir.path("target")
        try check(try createArguments(target))
        try yaml.replacingOccurrences(of: "universe_version: 8\n", with: "universe_version: 99\n").write(toFile: yamlFile, atomically: true, encoding: .utf8)
        let before = try registrySnapshot(target)
        let refused = try runButler(["import", target, export])
        #expect(refused.exitCode == 1)
        #expect(refused.stderr.split(separator: "\n").count == 1, "\(refused.stderr)")
        #expect(refused.stderr.contains(yamlFile) && refused.stderr.contains("universe_version 99"), "\(refused.stderr)")
        #expect(try registrySnapshot(target) == before, "nothing written")

        try yaml.replacingOccurrences(of: "universe_version: 8\n", with: "universe_version: 7\n").write(toFile: yamlFile, atomically: true, encoding: .utf8)
        let older = try runButler(["import", target, export])
        #expect(older.exitCode == 0, "\(older.stderr)")
        #expect(older.stdout.contains("Imported 1 dataset(s)"), "\(older.stdout)")
    }

    @Test("an import whose every file fails reports the first few and a count, on one readable line")
    func manyFailuresOneLine() throws {
        let dir = TemporaryDirectory()
        let raws = ["lsst/latiss-AT_O_20230321_000053.fits", "lsst/latiss-AT_O_20240624_000106_R00_S00.fits",
                    "lsst/comCam-CC_O_20241108_000266_R22_S00.fits", "lsst/lsstCam-MC_C_20250425_000031_R01_S01.fits",
                    "lsst/lsstCam-MC_O_20250415_000060_R01_S01.fits", "lsst/lsstCam-MC_O_20250609_000578_R01_S01.fits"].map(fixture)
        let (_, export) = try export(dir, raws: raws)
        // Every file of the export cut short (as a disk that filled up while it was written leaves them).
        var cut = 0
        for case let path as String in FileManager.default.enumerator(atPath: export)! where path.hasSuffix(".fits") {
            let url = URL(fileURLWithPath: export + "/" + path)
            try Data(try Data(contentsOf: url).prefix(2880)).write(to: url)
            cut += 1
        }
        try #require(cut == 6)
        let target = dir.path("target")
        try check(try createArguments(target))
        let result = try runButler(["import", target, export])
        #expect(result.exitCode == 1)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(result.stderr)")
        #expect(result.stderr.contains("6 files failed, nothing was imported: ") && result.stderr.contains("; and 3 more"), "\(result.stderr)")
        #expect(result.stderr.count < 1_500, "\(result.stderr.count) characters")
    }
}
