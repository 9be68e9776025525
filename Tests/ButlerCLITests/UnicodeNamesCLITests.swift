import ButlerKit
import ButlerTestSupport
import Foundation
import Testing

/// Names are kept in one Unicode form (NFC): `é` typed as one code point or as `e` + a combining accent is one name
/// (issue 27, item 7).
@Suite("Names in another Unicode form")
struct UnicodeNamesCLITests {
    static let dataId = "instrument=LATISS,detector=0,exposure=2023032100053"
    /// `u/é` with U+00E9 (NFC) and with `e` U+0301 (NFD): equal to Swift's `==`, different bytes.
    static let composed = "u/\u{E9}"
    static let decomposed = "u/e\u{301}"

    @discardableResult
    func check(_ result: CommandResult, _ expected: Int32 = 0, sourceLocation: SourceLocation = #_sourceLocation) -> CommandResult {
        #expect(result.exitCode == expected, "exit \(result.exitCode): \(result.stdout)\(result.stderr)", sourceLocation: sourceLocation)
        return result
    }

    func repository(_ dir: TemporaryDirectory, name: String = "repo") throws -> String {
        let repo = dir.path(name)
        check(try runButler(try createArguments(repo)))
        check(try runButler(["ingest-raws", repo, fixture("lsst/latiss-AT_O_20230321_000053.fits"), "-t", "copy"]))
        check(try runButler(["register-dataset-type", repo, "postISRCCD", "ExposureF", "instrument", "detector", "exposure"]))
        return repo
    }

    func copyStep(_ repo: String, run: String) throws -> CommandResult {
        try runButler(["run", repo, "--run", run, "--task", "isr", "--input", "raw=raw:\(Self.dataId)", "--collections", "LATISS/raw/all",
                       "--output", "out=postISRCCD:\(Self.dataId)", "--", "/bin/cp", "{raw}", "{out}"])
    }

    /// The bytes of each collection name the registry holds.
    func storedNames(_ repo: String) throws -> [[UInt8]] {
        let butler = try Butler(repository: repo)
        return try butler.registry.database.read { c in
            try c.query("SELECT name FROM collection").compactMap { $0[0].string.map { Array($0.utf8) } }
        }.sorted { $0.lexicographicallyPrecedes($1) }
    }

    func jsonRows(_ text: String) throws -> [[String: Any]] {
        try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] ?? []
    }

    @Test("a RUN named in NFD is the RUN named in NFC: one collection, stored in NFC, found by either form")
    func oneRunForBothForms() throws {
        #expect(Self.composed == Self.decomposed && Array(Self.composed.utf8) != Array(Self.decomposed.utf8), "the test's premise")
        let dir = TemporaryDirectory()
        let repo = try repository(dir)
        check(try copyStep(repo, run: Self.decomposed))
        // The same output in the same RUN, typed the other way: refused as already there, not a second RUN.
        let again = check(try copyStep(repo, run: Self.composed), 1)
        #expect(again.stderr.contains("already exists"), "\(again.stderr)")
        #expect(try storedNames(repo) == [Array("LATISS/raw/all".utf8), Array(Self.composed.utf8)])

        let collections = check(try runButler(["query-collections", repo, "--format", "json"]))
        #expect(try jsonRows(collections.stdout).count == 2)
        for form in [Self.composed, Self.decomposed] {
            let found = check(try runButler(["query-datasets", repo, "postISRCCD", "--collections", form, "--format", "json"]))
            #expect(try jsonRows(found.stdout).count == 1, "--collections \(Array(form.unicodeScalars))")
            let registered = check(try runButler(["register-collection", repo, form, "--type", "RUN"]))
            #expect(registered.stdout.contains("already registered"), "\(registered.stdout)")
            check(try runButler(["collection-chain", repo, "u/chain", form]))
        }
        // A glob in the other form matches it too.
        let globbed = check(try runButler(["query-collections", repo, "u/e\u{301}*", "--format", "json"]))
        #expect(try jsonRows(globbed.stdout).map { $0["name"] as? String } == [Self.composed])
        #expect(try storedNames(repo).count == 3, "u/chain is the only new collection")

        // The files of the RUN live under one folder, in NFC.
        if !testDatastoreIsBucket {
            let folders = try FileManager.default.contentsOfDirectory(atPath: repo + "/datastore/u")
            #expect(folders.map { Array($0.utf8) } == [Array("\u{E9}".utf8)])
        }

        // A transfer carries the one RUN, under its one name. Not from a bucket: objects whose keys hold a non-ASCII
        // character are not found again by a transfer out of a bucket (`location(of:)` percent-encodes the key), a
        // separate fault of any non-ASCII name, reported with issue 27.
        guard !testDatastoreIsBucket else { return }
        let destination = dir.path("destination")
        check(try runButler(try createArguments(destination)))
        check(try runButler(["transfer-datasets", repo, destination, "--collections", Self.decomposed, "--register-dataset-types", "-t", "copy"]))
        #expect(try storedNames(destination).contains(Array(Self.composed.utf8)))
        #expect(!(try storedNames(destination).contains(Array(Self.decomposed.utf8))))
        let arrived = check(try runButler(["query-datasets", destination, "postISRCCD", "--format", "json"]))
        #expect(try jsonRows(arrived.stdout).count == 1)
    }

    @Test("a registry made before names were normalized, holding one name in both forms: listed without a crash, neither hidden")
    func legacyRegistryWithBothForms() throws {
        let dir = TemporaryDirectory()
        let repo = try repository(dir)
        check(try copyStep(repo, run: Self.composed))
        check(try copyStep(repo, run: "u/legacy"))
        // What an older binary wrote: the second RUN under the decomposed form of the same name.
        let butler = try Butler(repository: repo)
        try butler.registry.database.write { c in
            try c.execute("UPDATE collection SET name = ? WHERE name = ?", [.text(Self.decomposed), .text("u/legacy")])
        }
        #expect(try storedNames(repo).count == 3)

        let table = check(try runButler(["query-collections", repo]))
        #expect(table.stdout.components(separatedBy: "\n").filter { $0.hasPrefix("u/") }.count == 2, "\(table.stdout)")
        let json = check(try runButler(["query-collections", repo, "--format", "json"]))
        #expect(try jsonRows(json.stdout).count == 3)
        // Searching the name finds the datasets of both rows; searching everything finds both.
        let named = check(try runButler(["query-datasets", repo, "postISRCCD", "--collections", Self.decomposed, "--format", "json"]))
        #expect(try jsonRows(named.stdout).count == 2, "\(named.stdout)")
        let all = check(try runButler(["query-datasets", repo, "postISRCCD", "--format", "json"]))
        #expect(try jsonRows(all.stdout).count == 2, "\(all.stdout)")
    }
}
