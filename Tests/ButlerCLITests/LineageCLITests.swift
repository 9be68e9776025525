import ButlerKit
import ButlerTestSupport
import Foundation
import Testing

/// The provenance questions from the shell: lineage in every format (PROV-JSON checked by Python's `prov`, DOT by
/// Graphviz), downstream, selection in query-datasets/associate/prune-datasets, provenance-diff and verify.
@Suite("butler provenance queries")
struct LineageCLITests {
    /// The Python of the virtual environment `make test` prepares with the `prov` package.
    static let python = packageRoot.appendingPathComponent(".build/prov-venv/bin/python").path

    @Test("provenance REPO REF: tree, json, dot rendered by Graphviz, PROV-JSON loaded by prov with warnings as errors, PROV-N")
    func formats() throws {
        let dir = TemporaryDirectory()
        let f = try LineageFixture(in: dir)
        let repo = f.butler.root.path
        let stack = "stack:instrument=LATISS,detector=0"
        let tree = try runButler(["provenance", repo, stack, "--collections", "drp/coadd"])
        #expect(tree.exitCode == 0, "\(tree.stderr)")
        #expect(tree.stdout.hasPrefix("Upstream lineage: 8 dataset(s), 6 step(s)"))
        #expect(tree.stdout.contains("made by coadd"))
        let withConfig = try runButler(["provenance", repo, f.calexp53.id.lowercasedString, "--show-config"])
        #expect(withConfig.stdout.contains("| doBias: true"))

        let json = try runButler(["provenance", repo, stack, "--collections", "drp/coadd", "--format", "json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
        #expect((object["datasets"] as! [Any]).count == 8)
        #expect((object["steps"] as! [[String: Any]]).contains { $0["task"] as? String == "isr" && ($0["inputs"] as! [Any]).count == 2 })

        let dotFile = dir.path("lineage.dot")
        #expect(try runButler(["provenance", repo, stack, "--collections", "drp/coadd", "--format", "dot", "-o", dotFile]).exitCode == 0)
        let svg = try runProcess("/usr/bin/dot", ["-Tsvg", dotFile])
        #expect(svg.exitCode == 0, "dot failed: \(svg.stderr)")
        #expect(svg.stdout.contains("<svg") && svg.stdout.contains("coadd") && svg.stdout.contains("calexp"))

        let provFile = dir.path("lineage.prov.json")
        #expect(try runButler(["provenance", repo, stack, "--collections", "drp/coadd", "--format", "prov-json", "--output", provFile]).exitCode == 0)
        let checked = try runProcess(Self.python, [packageRoot.appendingPathComponent("scripts/check_prov.py").path, provFile])
        #expect(checked.exitCode == 0, "prov rejected the document: \(checked.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(checked.stdout.utf8)) as! [String: Any]
        #expect(report["counts"] as? [String: Int] == [
            "Entity": 12, "Activity": 6, "Agent": 6, "Usage": 14, "Generation": 6, "Derivation": 8, "Association": 12,
        ])
        #expect((report["dangling"] as? [Any])?.isEmpty == true)

        let provN = try runButler(["provenance", repo, stack, "--collections", "drp/coadd", "--format", "prov-n"])
        #expect(provN.stdout.hasPrefix("document\n"))
        #expect(provN.stdout.contains("wasDerivedFrom(butler:der-"))

        let down = try runButler(["provenance", repo, f.raw53.id.lowercasedString, "--downstream", "--format", "json"])
        let downObject = try JSONSerialization.jsonObject(with: Data(down.stdout.utf8)) as! [String: Any]
        #expect((downObject["datasets"] as! [Any]).count == 4)
        #expect(downObject["direction"] as? String == "downstream")
        #expect(try runButler(["provenance", repo, "stack:instrument=LATISS,detector=0", "--collections", "nope"]).exitCode == 1)
        #expect(try runButler(["provenance", repo, stack, "--depth", "0"]).exitCode == 2)
    }

    @Test("selection by provenance in query-datasets, associate (a reprocessing tag) and prune-datasets")
    func selection() throws {
        let dir = TemporaryDirectory()
        let f = try LineageFixture(in: dir)
        let repo = f.butler.root.path
        func ids(_ result: CommandResult) throws -> Set<String> {
            let rows = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [[String: Any]]
            return Set(rows.compactMap { $0["id"] as? String })
        }
        let derived = try runButler(["query-datasets", repo, "--derived-from", "raw:instrument=LATISS,detector=0,exposure=2023032100053", "--format", "json"])
        #expect(derived.exitCode == 0, "\(derived.stderr)")
        #expect(try ids(derived) == Set([f.post53, f.calexp53, f.stack].map(\.id.lowercasedString)))
        let bad = try runButler(["query-datasets", repo, "--produced-with", "ip_isr=1.2.4", "--format", "json"])
        #expect(try ids(bad) == [f.post106.id.lowercasedString])
        let byTask = try runButler(["query-datasets", repo, "calexp", "--produced-by", "calibrate", "--where", "instrument = 'LATISS' AND exposure = 2024062400106", "--format", "json"])
        #expect(try ids(byTask) == [f.calexp106.id.lowercasedString])
        let byConfig = try runButler(["query-datasets", repo, "--config-hash", String(f.config106.prefix(10)), "--format", "json"])
        #expect(try ids(byConfig) == [f.post106.id.lowercasedString])
        // Tag everything derived from the bad ISR version's outputs for reprocessing.
        let tag = try runButler(["associate", repo, "u/reprocess", "--produced-with", "ip_isr=1.2.4", "--collections", "drp/isr,drp/isr-rerun"])
        #expect(tag.exitCode == 0, "\(tag.stderr)")
        let tagged = try runButler(["query-datasets", repo, "--collections", "u/reprocess", "--format", "json"])
        #expect(try ids(tagged) == [f.post106.id.lowercasedString])
        let prune = try runButler(["prune-datasets", repo, "drp/calibrate", "drp/coadd", "--derived-from", f.raw106.id.lowercasedString, "--dry-run", "--format", "json"])
        #expect(prune.exitCode == 0, "\(prune.stderr)")
        #expect(prune.stdout.contains(f.calexp106.id.lowercasedString) && prune.stdout.contains(f.stack.id.lowercasedString))
        #expect(!prune.stdout.contains(f.calexp53.id.lowercasedString))
        #expect(try runButler(["query-datasets", repo, "--produced-with", "numpy"]).exitCode == 2)
        #expect(try runButler(["query-datasets", repo, "--config-hash", "zz"]).exitCode == 1)
    }

    @Test("provenance-diff and verify from the shell")
    func diffAndVerify() throws {
        let dir = TemporaryDirectory()
        let f = try LineageFixture(in: dir)
        let repo = f.butler.root.path
        let diff = try runButler(["provenance-diff", repo, f.calexp53.id.lowercasedString, f.calexp106.id.lowercasedString])
        #expect(diff.exitCode == 0, "\(diff.stderr)")
        #expect(diff.stdout.contains("ip_isr") && diff.stdout.contains("isr.yaml: doBias"))
        let csv = try runButler(["provenance-diff", repo, f.calexp53.id.lowercasedString, f.calexp106.id.lowercasedString, "--format", "csv"])
        #expect(csv.stdout.contains("package,isr,ip_isr,1.2.3,1.2.4"))
        let same = try runButler(["provenance-diff", repo, f.calexp53.id.lowercasedString, f.calexp53.id.lowercasedString])
        #expect(same.stdout.contains("No differences"))

        let clean = try runButler(["verify", repo, "--checksums"])
        #expect(clean.exitCode == 0, "\(clean.stdout)\(clean.stderr)")
        #expect(clean.stderr.contains("0 problem(s)"))
        let stray = f.butler.storedLocation("stray.fits")
        try plant(Data("stray".utf8), at: stray)
        let dirty = try runButler(["verify", repo])
        #expect(dirty.exitCode == 1)
        #expect(dirty.stdout.hasPrefix("orphan-file \(shown(stray)): "), "\(dirty.stdout)")
    }
}
