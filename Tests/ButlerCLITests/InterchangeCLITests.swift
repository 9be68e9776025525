import ButlerKit
import ButlerTestSupport
import Foundation
import Testing

/// export / import / ingest-zip from the command line: round trips, re-imports that add nothing, and bad input that
/// gets one line naming the thing and the reason, exit 1 and nothing written.
@Suite struct InterchangeCLITests {
    /// A repository with two raws, a bias certified for all time, a tag and a chain; and its export directory.
    func source(_ dir: TemporaryDirectory) throws -> (repo: String, export: String) {
        let repo = dir.path("source")
        func check(_ arguments: [String]) throws {
            let r = try runButler(arguments)
            #expect(r.exitCode == 0, "butler \(arguments.joined(separator: " ")): \(r.stderr)")
        }
        try check(try createArguments(repo))
        try check(["ingest-raws", repo, fixture("lsst/latiss-AT_O_20230321_000053.fits"), fixture("lsst/latiss-AT_O_20240624_000106_R00_S00.fits"), "-t", "copy"])
        try check(["register-dataset-type", repo, "bias", "ExposureF", "instrument", "detector", "--is-calibration"])
        try check(["put", repo, fixture("lsst/latiss-AT_O_20230321_000053.fits"), "--run", "LATISS/calib/bias", "--dataset-type", "bias",
                   "--data-id", "instrument=LATISS,detector=0", "--task", "cpBias", "--package", "cp_pipe=1.0"])
        try check(["certify-calibrations", repo, "LATISS/calib/bias", "LATISS/calib", "bias", "--begin-date", "2020-01-01"])
        try check(["associate", repo, "u/me/good", "--collections", "LATISS/raw/all", "--where", "instrument = 'LATISS' AND exposure = 2023032100053"])
        try check(["collection-chain", repo, "LATISS/defaults", "LATISS/raw/all", "LATISS/calib"])
        let export = dir.path("export")
        try check(["export", repo, export])
        return (repo, export)
    }

    func newRepo(_ dir: TemporaryDirectory, _ name: String) throws -> String {
        let repo = dir.path(name)
        #expect(try runButler(try createArguments(repo)).exitCode == 0)
        return repo
    }

    /// Runs a command that must fail: exit 1, one line on stderr containing every `expected` text, registry unchanged.
    func refused(_ arguments: [String], _ repo: String, _ expected: String...) throws {
        let before = try registrySnapshot(repo)
        let result = try runButler(arguments)
        #expect(result.exitCode == 1, "butler \(arguments.joined(separator: " ")): exit \(result.exitCode) \(result.stdout)")
        let lines = result.stderr.split(separator: "\n").filter { !$0.contains(" info ") && !$0.contains(" warning ") }
        #expect(lines.count == 1, "\(result.stderr)")
        for text in expected { #expect(result.stderr.contains(text), "expected '\(text)' in: \(result.stderr)") }
        #expect(try registrySnapshot(repo) == before, "the registry changed after a refused \(arguments[0])")
        let files = (FileManager.default.enumerator(atPath: repo + "/datastore")?.allObjects as? [String] ?? []).filter { !$0.hasPrefix(".butler-journal") }
        #expect(files.filter { $0.hasSuffix(".fits") || $0.hasSuffix(".zip") }.isEmpty, "files left behind: \(files)")
    }

    @Test func exportImportRoundTripAndReimportAddsNothing() throws {
        let dir = try TemporaryDirectory()
        let (repo, export) = try source(dir)
        let target = try newRepo(dir, "target")
        let first = try runButler(["import", target, export])
        #expect(first.exitCode == 0, "\(first.stderr)")
        #expect(first.stdout.contains("Imported 3 dataset(s)"), "\(first.stdout)")
        for (collection, type) in [("LATISS/raw/all", "raw"), ("LATISS/calib", "bias"), ("u/me/good", "raw"), ("LATISS/defaults", "*")] {
            let a = try runButler(["query-datasets", repo, type, "--collections", collection, "--format", "csv"]).stdout
            let b = try runButler(["query-datasets", target, type, "--collections", collection, "--format", "csv"]).stdout
            #expect(a == b, "\(collection): \(a) vs \(b)")
        }
        let chains = try runButler(["query-collections", target, "LATISS/defaults", "--format", "json"]).stdout
        #expect(chains.contains("\"LATISS/raw/all\", \"LATISS/calib\"") || chains.contains("[\"LATISS/raw/all\",\"LATISS/calib\"]"), "\(chains)")
        let again = try runButler(["import", target, export])
        #expect(again.exitCode == 0, "\(again.stderr)")
        #expect(again.stdout.contains("Imported 0 dataset(s)") && again.stdout.contains("3 already here"), "\(again.stdout)")
        #expect(try runButler(["verify", target, "--checksums"]).exitCode == 0)
        // The copy is in the lineage of the bias, with the source's name.
        let bias = try runButler(["query-datasets", target, "bias", "--collections", "LATISS/calib/bias", "--format", "csv"]).stdout
        let id = String(bias.split(separator: "\n").last!.split(separator: ",")[2])
        let tree = try runButler(["provenance", target, id])
        #expect(tree.stdout.contains("copied from source"), "\(tree.stdout)")
        #expect(tree.stdout.contains("cpBias"), "\(tree.stdout)")
    }

    @Test func zipRoundTripAndReingestAddsNothing() throws {
        let dir = try TemporaryDirectory()
        let (repo, _) = try source(dir)
        let zips = dir.path("zips")
        let written = try runButler(["retrieve-artifacts", repo, zips, "--collections", "LATISS/raw/all,LATISS/calib/bias", "--zip"])
        #expect(written.exitCode == 0, "\(written.stderr)")
        let zip = try #require(try FileManager.default.contentsOfDirectory(atPath: zips).first { $0.hasSuffix(".zip") })
        let target = try newRepo(dir, "target")
        // A dry run reads every member as the ingest would: a member whose bytes are not the index's fails it.
        let tampered = dir.path("tampered.zip")
        let rewrite = """
            import sys, zipfile
            src, dst = zipfile.ZipFile(sys.argv[1]), zipfile.ZipFile(sys.argv[2], "w")
            done = False
            for info in src.infolist():
                data = src.read(info)
                if not done and not info.filename.startswith("_"):
                    data, done = data[:-1] + bytes([data[-1] ^ 1]), True
                dst.writestr(info, data)
            dst.close()
            """
        #expect(try runProcess("/usr/bin/python3", ["-c", rewrite, zips + "/" + zip, tampered]).exitCode == 0)
        let dryBad = try runButler(["ingest-zip", target, tampered, "--transfer-dimensions", "--dry-run"])
        #expect(dryBad.exitCode == 1 && dryBad.stderr.contains("checksum"), "\(dryBad.stderr)")
        let dryGood = try runButler(["ingest-zip", target, zips + "/" + zip, "--transfer-dimensions", "--dry-run"])
        #expect(dryGood.exitCode == 0, "\(dryGood.stderr)")
        #expect(try runButler(["query-datasets", target, "--format", "csv"]).stdout.split(separator: "\n").count <= 1, "a dry run writes nothing")
        let first = try runButler(["ingest-zip", target, zips + "/" + zip, "--transfer-dimensions"])
        #expect(first.exitCode == 0, "\(first.stderr)")
        #expect(first.stdout.contains("Ingested 3 dataset(s)"), "\(first.stdout)")
        let again = try runButler(["ingest-zip", target, zips + "/" + zip, "--transfer-dimensions"])
        #expect(again.stdout.contains("Ingested 0 dataset(s)"), "\(again.stdout) \(again.stderr)")
        #expect(try runButler(["verify", target, "--checksums"]).exitCode == 0)
        let a = try runButler(["query-datasets", repo, "*", "--collections", "LATISS/raw/all,LATISS/calib/bias", "--format", "csv"]).stdout
        let b = try runButler(["query-datasets", target, "*", "--collections", "LATISS/raw/all,LATISS/calib/bias", "--format", "csv"]).stdout
        #expect(a == b)
    }

    @Test func badInputIsOneLineExitOneNothingWritten() throws {
        let dir = try TemporaryDirectory()
        let (_, export) = try source(dir)
        let target = try newRepo(dir, "target")
        let yaml = try String(contentsOfFile: export + "/export.yaml", encoding: .utf8)
        func variant(_ name: String, _ edit: (String) -> String, files: ((String) throws -> Void)? = nil) throws -> String {
            let copy = dir.path(name)
            try FileManager.default.copyItem(atPath: export, toPath: copy)
            try edit(yaml).write(toFile: copy + "/export.yaml", atomically: true, encoding: .utf8)
            try files?(copy)
            return copy
        }
        // A missing export.yaml, a missing directory, a repository that is not one.
        let empty = dir.path("empty")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        try refused(["import", target, empty], target, "export.yaml")
        try refused(["import", target, dir.path("nowhere")], target, "nowhere")
        try refused(["import", empty, export], target, empty)
        // A newer format version.
        let newer = try variant("newer") { $0.replacingOccurrences(of: "1.0.2", with: "2.0.0") }
        try refused(["import", target, newer], target, "2.0.0", "newer")
        // A file absent, a file of the wrong size (every bad file listed, nothing imported).
        let paths = yaml.split(separator: "\n").compactMap { line -> String? in
            let t = line.trimmingCharacters(in: .whitespaces)
            return t.hasPrefix("path: ") ? String(t.dropFirst(6)) : nil
        }
        #expect(paths.count == 3)
        let absent = try variant("absent", { $0 }) { try FileManager.default.removeItem(atPath: $0 + "/" + paths[0]) }
        try refused(["import", target, absent], target, (paths[0] as NSString).lastPathComponent)
        let short = try variant("short", { $0 }) { copy in
            let url = URL(fileURLWithPath: copy + "/" + paths[1])
            try Data(try Data(contentsOf: url).prefix(2880)).write(to: url)
        }
        try refused(["import", target, short], target, (paths[1] as NSString).lastPathComponent, "size")
        // An unknown dataset type (its definition removed), an unknown dimension.
        let untyped = try variant("untyped") { text in
            var out: [Substring] = []
            var skipping = false
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("- type: dataset_type") { skipping = true; continue }
                if line.hasPrefix("- ") { skipping = false }
                if !skipping { out.append(line) }
            }
            return out.joined(separator: "\n")
        }
        try refused(["import", target, untyped], target, "unknown dataset type")
        let undimensioned = try variant("undimensioned") { $0.replacingOccurrences(of: "  - detector\n", with: "  - detector\n  - flux_capacitor\n") }
        try refused(["import", target, undimensioned], target, "flux_capacitor")
        // An existing, non-empty export directory.
        try refused(["export", target, export], target, "exists")
        // A corrupted Zip index, and a file that is not a Zip.
        let bad = dir.path("bad.zip")
        let made = try runProcess("/usr/bin/python3", ["-c", "import zipfile,sys; z=zipfile.ZipFile(sys.argv[1],'w'); z.writestr('_butler_zip_index.json','{not json'); z.close()", bad])
        #expect(made.exitCode == 0, "\(made.stderr)")
        try refused(["ingest-zip", target, bad], target, "bad.zip")
        try refused(["ingest-zip", target, export + "/export.yaml"], target, "export.yaml", "Zip")
        #expect(try runButler(["verify", target, "--checksums"]).exitCode == 0)
    }
}
