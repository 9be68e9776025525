import ButlerKit
import ButlerTestSupport
import Foundation
import Testing

/// `ingest-zip` keeps a Zip whole, as Rubin does (`zips/<4>/<name>.zip`, datasets recorded `…zip#zip-path=MEMBER`), and
/// every reader takes a member's bytes from inside it: verify, retrieve-artifacts, export, transfer, run, reproduce,
/// another Zip. Removal deletes the Zip with its last dataset. On a folder or a bucket datastore alike.
@Suite struct ZipStoredWholeCLITests {
    static let raws = [fixture("lsst/latiss-AT_O_20230321_000053.fits"), fixture("lsst/latiss-AT_O_20240624_000106_R00_S00.fits")]

    func check(_ arguments: [String], _ location: SourceLocation = #_sourceLocation) throws {
        let r = try runButler(arguments)
        #expect(r.exitCode == 0, "butler \(arguments.joined(separator: " ")): \(r.stderr)", sourceLocation: location)
    }

    func newRepo(_ dir: TemporaryDirectory, _ name: String) throws -> String {
        let repo = dir.path(name)
        try check(try createArguments(repo))
        return repo
    }

    /// A repository with two raws, and a Zip of them (Rubin's format, written by retrieve-artifacts --zip).
    func zipOfRaws(_ dir: TemporaryDirectory) throws -> (repo: String, zip: String) {
        let repo = try newRepo(dir, "source")
        try check(["ingest-raws", repo] + Self.raws + ["-t", "copy"])
        try check(["retrieve-artifacts", repo, dir.path("zips"), "--collections", "LATISS/raw/all", "--zip"])
        let name = try #require(try FileManager.default.contentsOfDirectory(atPath: dir.path("zips")).first { $0.hasSuffix(".zip") })
        return (repo, dir.path("zips/" + name))
    }

    /// Each dataset's URI (query-datasets --show-uri), by data ID exposure.
    func uris(_ repo: String) throws -> [String] {
        let csv = try runButler(["query-datasets", repo, "raw", "--collections", "LATISS/raw/all", "--show-uri", "--format", "csv"]).stdout
        let rows = csv.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        guard let header = rows.first, let column = header.firstIndex(of: "URI") else { return [] }
        return rows.dropFirst().map { $0[column] }
    }

    /// Every file under a folder (relative paths), leaving out the journals.
    func files(under folder: String) -> [String] {
        (FileManager.default.enumerator(atPath: folder)?.allObjects as? [String] ?? []).filter { path in
            var isFolder: ObjCBool = false
            return FileManager.default.fileExists(atPath: folder + "/" + path, isDirectory: &isFolder) && !isFolder.boolValue
                && !path.hasPrefix(".butler-journal")
        }.sorted()
    }

    func sha256(_ path: String) throws -> String {
        try runProcess("/usr/bin/sha256sum", [path]).stdout.split(separator: " ").first.map(String.init) ?? ""
    }

    @Test("ingest-zip stores the Zip whole; verify, retrieve-artifacts, export and import, transfer and another Zip read the members in place")
    func storedWholeAndReadInPlace() throws {
        let dir = TemporaryDirectory()
        let (source, zip) = try zipOfRaws(dir)
        let repo = try newRepo(dir, "repo")
        let ingested = try runButler(["ingest-zip", repo, zip, "--transfer-dimensions"])
        #expect(ingested.exitCode == 0 && ingested.stdout.contains("Ingested 2 dataset(s)"), "\(ingested.stdout) \(ingested.stderr)")
        let zipName = (zip as NSString).lastPathComponent
        let located = try uris(repo)
        #expect(located.count == 2 && located.allSatisfy { $0.contains("zips/\(zipName.prefix(4))/\(zipName)#zip-path=") }, "\(located)")
        if !testDatastoreIsBucket {
            #expect(files(under: repo + "/datastore") == ["zips/\(zipName.prefix(4))/\(zipName)"], "\(files(under: repo + "/datastore"))")
            #expect(try sha256(repo + "/datastore/zips/\(zipName.prefix(4))/\(zipName)") == (try sha256(zip)), "stored byte for byte")
        }
        let verified = try runButler(["verify", repo, "--checksums"])
        #expect(verified.exitCode == 0, "\(verified.stdout) \(verified.stderr)")

        // retrieve-artifacts copies each member out: the raws' own bytes.
        try check(["retrieve-artifacts", repo, dir.path("out"), "--collections", "LATISS/raw/all", "--no-preserve-path"])
        let retrieved = try Set(files(under: dir.path("out")).map { try sha256(dir.path("out/" + $0)) })
        #expect(retrieved == Set(try Self.raws.map(sha256)), "\(files(under: dir.path("out")))")

        // Keeping the datastore's layout, a member goes under its Zip's path (without .zip).
        try check(["retrieve-artifacts", repo, dir.path("laid-out"), "--collections", "LATISS/raw/all"])
        let laidOut = files(under: dir.path("laid-out"))
        let zipFolder = "zips/\(zipName.prefix(4))/\(zipName.dropLast(4))/"
        #expect(laidOut.count == 2 && laidOut.allSatisfy { $0.hasPrefix(zipFolder) }, "\(laidOut)")

        // Export copies them out as files of their own; Rubin's format, which import reads back.
        try check(["export", repo, dir.path("export"), "--collections", "LATISS/raw/all"])
        let yaml = try String(contentsOfFile: dir.path("export/export.yaml"), encoding: .utf8)
        #expect(!yaml.contains("#zip-path="), "\(yaml)")
        let imported = try newRepo(dir, "imported")
        try check(["import", imported, dir.path("export")])
        try check(["verify", imported, "--checksums"])

        // Transfer takes them out of the Zip into files of the destination's template.
        let transferred = try newRepo(dir, "transferred")
        try check(["transfer-datasets", repo, transferred, "raw", "--collections", "LATISS/raw/all", "--register-dataset-types"])
        let transferredURIs = try uris(transferred)
        #expect(transferredURIs.count == 2 && transferredURIs.allSatisfy { !$0.contains("#zip-path=") }, "\(transferredURIs)")
        try check(["verify", transferred, "--checksums"])

        // A Zip of datasets stored in a Zip: the same members, named the same, ingested into a third repository.
        try check(["retrieve-artifacts", repo, dir.path("rezip"), "--collections", "LATISS/raw/all", "--zip"])
        let rezipped = try #require(try FileManager.default.contentsOfDirectory(atPath: dir.path("rezip")).first { $0.hasSuffix(".zip") })
        #expect(rezipped == zipName, "the same members give the same name")
        let third = try newRepo(dir, "third")
        try check(["ingest-zip", third, dir.path("rezip/" + rezipped), "--transfer-dimensions"])
        try check(["verify", third, "--checksums"])
        let a = try runButler(["query-datasets", source, "raw", "--format", "csv"]).stdout
        #expect(a == (try runButler(["query-datasets", third, "raw", "--format", "csv"]).stdout))

        // The same Zip again adds nothing, and stores nothing more.
        let again = try runButler(["ingest-zip", repo, zip, "--transfer-dimensions"])
        #expect(again.exitCode == 0 && again.stdout.contains("Ingested 0 dataset(s)"), "\(again.stdout) \(again.stderr)")
        if !testDatastoreIsBucket { #expect(files(under: repo + "/datastore").count == 1) }
        try check(["verify", repo, "--checksums"])
    }

    @Test("a step runs on a member (extracted for it); removal keeps the Zip while a member is recorded and deletes it with the last")
    func runAndRemoval() throws {
        let dir = TemporaryDirectory()
        let (_, zip) = try zipOfRaws(dir)
        let repo = try newRepo(dir, "repo")
        try check(["ingest-zip", repo, zip, "--transfer-dimensions"])
        try check(["register-dataset-type", repo, "digest", "StructuredDataDict", "instrument", "detector", "exposure"])
        let id = "instrument=LATISS,detector=0,exposure=2023032100053"
        try check(["run", repo, "--run", "u/digest", "--task", "digest", "--input", "raw=raw:\(id)", "--collections", "LATISS/raw/all",
                   "--output", "out=digest:\(id)", "--", "/bin/sh", "-c", "printf 'sha256: %s\\n' $(sha256sum < \"$0\" | cut -c1-64) > \"$1\"", "{raw}", "{out}"])
        try check(["retrieve-artifacts", repo, dir.path("digest"), "--collections", "u/digest", "--no-preserve-path"])
        let digest = try #require(files(under: dir.path("digest")).first)
        let text = try String(contentsOfFile: dir.path("digest/" + digest), encoding: .utf8)
        #expect(text == "sha256: \(try sha256(Self.raws[0]))\n", "the step read the member's bytes: \(text)")
        try check(["verify", repo, "--checksums"])

        // One member pruned: the Zip stays for the other; then the other: the Zip goes.
        let zipName = (zip as NSString).lastPathComponent
        try check(["prune-datasets", repo, "LATISS/raw/all", "--purge", "LATISS/raw/all", "--force", "--no-confirm",
                   "--where", "instrument = 'LATISS' AND exposure = 2023032100053", "--datasets", "raw"])
        #expect(try uris(repo).count == 1)
        if !testDatastoreIsBucket { #expect(files(under: repo + "/datastore").contains("zips/\(zipName.prefix(4))/\(zipName)")) }
        try check(["verify", repo, "--checksums"])
        try check(["remove-runs", repo, "LATISS/raw/all", "--force", "--no-confirm"])
        if !testDatastoreIsBucket {
            #expect(!files(under: repo + "/datastore").contains { $0.hasPrefix("zips/") }, "\(files(under: repo + "/datastore"))")
        }
        let verified = try runButler(["verify", repo, "--checksums"])
        #expect(verified.exitCode == 0, "\(verified.stdout) \(verified.stderr)")
    }

    @Test("-t move takes the Zip in, -t direct leaves it where it is (never deleted), --extract makes a file of each member")
    func transferModes() throws {
        let dir = TemporaryDirectory()
        let (_, zip) = try zipOfRaws(dir)
        let moved = try newRepo(dir, "moved")
        let copy = dir.path("copy.zip")
        try FileManager.default.copyItem(atPath: zip, toPath: copy)
        try check(["ingest-zip", moved, copy, "--transfer-dimensions", "-t", "move"])
        #expect(!FileManager.default.fileExists(atPath: copy), "moved in")
        try check(["verify", moved, "--checksums"])

        if !testDatastoreIsBucket {
            let direct = try newRepo(dir, "direct")
            try check(["ingest-zip", direct, zip, "--transfer-dimensions", "-t", "direct"])
            let directURIs = try uris(direct)
            #expect(directURIs.count == 2 && directURIs.allSatisfy { $0.hasPrefix(URL(fileURLWithPath: zip).absoluteString + "#zip-path=") }, "\(directURIs)")
            #expect(files(under: direct + "/datastore").isEmpty)
            try check(["verify", direct, "--checksums"])
            try check(["remove-runs", direct, "LATISS/raw/all", "--force", "--no-confirm"])
            #expect(FileManager.default.fileExists(atPath: zip), "a Zip ingested in place is never deleted")
            // A path that would read as a member of another Zip is refused in place, and taken by a copy.
            try FileManager.default.createDirectory(atPath: dir.path("odd#zip-path=x"), withIntermediateDirectories: true)
            let odd = dir.path("odd#zip-path=x/raws.zip")
            try FileManager.default.copyItem(atPath: zip, toPath: odd)
            let other = try newRepo(dir, "other")
            let refused = try runButler(["ingest-zip", other, odd, "--transfer-dimensions", "-t", "direct"])
            #expect(refused.exitCode == 1 && refused.stderr.contains("#zip-path="), "\(refused.stderr)")
            try check(["ingest-zip", other, odd, "--transfer-dimensions"])
            try check(["verify", other, "--checksums"])
        }

        let extracted = try newRepo(dir, "extracted")
        try check(["ingest-zip", extracted, zip, "--transfer-dimensions", "--extract"])
        let extractedURIs = try uris(extracted)
        #expect(extractedURIs.count == 2 && extractedURIs.allSatisfy { !$0.contains("#zip-path=") && $0.hasSuffix(".fits") }, "\(extractedURIs)")
        try check(["verify", extracted, "--checksums"])
    }

    @Test("a member changed in the stored Zip is found by verify --checksums, named as ZIP#zip-path=MEMBER; a corrupt Zip stores nothing")
    func corruption() throws {
        guard !testDatastoreIsBucket else { return }  // the stored Zip is edited in place: a folder's
        let dir = TemporaryDirectory()
        let (_, zip) = try zipOfRaws(dir)
        let repo = try newRepo(dir, "repo")
        // A member whose bytes fail their CRC: refused, nothing stored, nothing registered.
        let corrupt = dir.path("corrupt.zip")
        let flip = """
            import sys, zipfile
            src = zipfile.ZipFile(sys.argv[1])
            member = next(i for i in src.infolist() if not i.filename.startswith("_"))
            data = bytearray(open(sys.argv[1], "rb").read())
            at = member.header_offset + 30 + len(member.filename.encode()) + len(member.extra) + 100
            data[at] ^= 1
            open(sys.argv[2], "wb").write(bytes(data))
            """
        #expect(try runProcess("/usr/bin/python3", ["-c", flip, zip, corrupt]).exitCode == 0)
        let before = try registrySnapshot(repo)
        let refused = try runButler(["ingest-zip", repo, corrupt, "--transfer-dimensions"])
        #expect(refused.exitCode == 1 && refused.stderr.contains("CRC"), "\(refused.stderr)")
        #expect(try registrySnapshot(repo) == before)
        #expect(files(under: repo + "/datastore").isEmpty, "\(files(under: repo + "/datastore"))")

        // Stored, then a member's byte changed inside the stored Zip.
        try check(["ingest-zip", repo, zip, "--transfer-dimensions"])
        let name = (zip as NSString).lastPathComponent
        let stored = repo + "/datastore/zips/\(name.prefix(4))/\(name)"
        #expect(try runProcess("/usr/bin/python3", ["-c", flip, stored, stored + ".new"]).exitCode == 0)
        try FileManager.default.removeItem(atPath: stored)
        try FileManager.default.moveItem(atPath: stored + ".new", toPath: stored)
        let verified = try runButler(["verify", repo, "--checksums"])
        #expect(verified.exitCode != 0, "\(verified.stdout)")
        #expect((verified.stdout + verified.stderr).contains("\(name)#zip-path="), "\(verified.stdout) \(verified.stderr)")
    }
}
