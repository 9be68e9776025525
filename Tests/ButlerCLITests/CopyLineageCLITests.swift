import ButlerKit
import ButlerTestSupport
import Foundation
import Testing

/// Repository identity, copy history and lineage completeness from the shell: `create --name`, `config-dump`,
/// copies in `provenance` (tree, JSON, PROV-JSON checked by Python's `prov`) and `verify --lineage`.
@Suite("butler identity, copies and verify --lineage")
struct CopyLineageCLITests {
    static let summit = RepositoryIdentity(id: UUID(uuidString: "11111111-2222-4333-8444-555555555555")!, name: "summit")

    @Test("create --name records the name; config-dump shows id and name; a bad name is refused before anything is made")
    func createAndDump() throws {
        let dir = TemporaryDirectory()
        let repo = dir.path("repo")
        let created = try runButler(try createArguments(repo) + ["--name", "my repo"])
        #expect(created.exitCode == 0, "\(created.stderr)")
        let dump = try runButler(["config-dump", repo])
        let id = try Butler(repository: repo).identity.id.lowercasedString
        #expect(dump.stdout.contains("repository:\n  id: \(id)\n  name: \"my repo\"\n"))
        #expect(try runButler(["config-dump", repo, "--subset", "repository.name"]).stdout == "my repo\n")
        let plain = dir.path("plain-folder")
        #expect(try runButler(try createArguments(plain)).exitCode == 0)
        #expect(try runButler(["config-dump", plain, "-s", ".repository.name"]).stdout == "plain-folder\n")
        let bad = try runButler(try createArguments(dir.path("bad")) + ["--name", String(repeating: "n", count: 65)])
        #expect(bad.exitCode == 1)
        #expect(bad.stderr.contains("repository name"))
        #expect(!FileManager.default.fileExists(atPath: dir.path("bad")))
    }

    @Test("provenance shows the copy history in tree and JSON, and PROV-JSON with copies and inputs held elsewhere loads in prov")
    func provenanceWithCopies() throws {
        let dir = TemporaryDirectory()
        let f = try LineageFixture(in: dir)
        let repo = f.butler.root.path
        let copiedAt = TAITime(iso: "2026-02-07T12:30:00", scale: .utc)!.nanoseconds
        try f.butler.registry.insertCopies([f.calexp53, f.post53, f.raw53].map {
            DatasetCopy(datasetId: $0.id, sourceRepository: Self.summit, destinationRepository: f.butler.identity, copiedAt: copiedAt,
                        copiedBy: "alice", method: "transfer-datasets -t copy", verifiedChecksum: "sha256:" + String(repeating: "b", count: 64))
        })
        let ghost = UUID().lowercasedString
        let isr = try f.butler.registry.lineage(of: f.post53.id).producer[f.post53.id]!.lowercasedString
        try f.butler.registry.database.write { c in
            try c.execute("INSERT INTO quantum_input (quantum_id, dataset_id, role) VALUES (?, ?, 'flat')", [.text(isr), .text(ghost)])
        }
        let calexp = f.calexp53.id.lowercasedString
        let tree = try runButler(["provenance", repo, calexp])
        #expect(tree.exitCode == 0, "\(tree.stderr)")
        #expect(tree.stdout.contains("copied from summit (11111111-2222-4333-8444-555555555555) on 2026-02-07T12:30:00.000000Z by alice via transfer-datasets -t copy, checksum verified"))
        #expect(tree.stdout.components(separatedBy: "copied from summit").count == 4)
        #expect(tree.stdout.split(separator: "\n").contains { $0.contains("flat: dataset \(ghost) [d") && $0.hasSuffix("] (elsewhere: held by another repository, not here)") })

        let json = try runButler(["provenance", repo, calexp, "--format", "json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
        #expect(object["elsewhere"] as? [String] == [ghost])
        let datasets = object["datasets"] as! [[String: Any]]
        #expect(datasets.filter { !($0["copies"] as! [Any]).isEmpty }.count == 3)

        let provFile = dir.path("copies.prov.json")
        #expect(try runButler(["provenance", repo, calexp, "--format", "prov-json", "-o", provFile]).exitCode == 0)
        let checked = try runProcess(LineageCLITests.python, [packageRoot.appendingPathComponent("scripts/check_prov.py").path, provFile])
        #expect(checked.exitCode == 0, "prov rejected the document: \(checked.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(checked.stdout.utf8)) as! [String: Any]
        let counts = report["counts"] as? [String: Int] ?? [:]
        // 4 datasets + 1 held elsewhere + 3 held by the summit + 2 configs + 1 parameter; 3 steps + 3 copies.
        #expect(counts["Entity"] == 11)
        #expect(counts["Activity"] == 6)
        #expect((report["dangling"] as? [Any])?.isEmpty == true)
        let provN = try runButler(["provenance", repo, calexp, "--format", "prov-n"])
        #expect(provN.stdout.contains("activity(copy:\(calexp).1, 2026-02-07T12:30:00.000000Z, 2026-02-07T12:30:00.000000Z"))
    }

    @Test("verify --lineage: 0 when the whole lineage is here; 1 with each gap listed (elsewhere, tombstone, file missing), text and JSON")
    func verifyLineage() throws {
        let dir = TemporaryDirectory()
        let f = try LineageFixture(in: dir)
        let repo = f.butler.root.path
        let stack = "stack:instrument=LATISS,detector=0"
        let complete = try runButler(["verify", repo, "--lineage", stack, "--collections", "drp/coadd"])
        #expect(complete.exitCode == 0, "\(complete.stdout)\(complete.stderr)")
        #expect(complete.stdout == "Lineage of 1 dataset(s): 8 dataset(s), 8 file(s) checked: complete\n")

        let ghost = UUID().lowercasedString
        let isr = try f.butler.registry.lineage(of: f.post53.id).producer[f.post53.id]!.lowercasedString
        try f.butler.registry.database.write { c in
            try c.execute("INSERT INTO quantum_input (quantum_id, dataset_id, role) VALUES (?, ?, 'flat')", [.text(isr), .text(ghost)])
        }
        try f.butler.pruneDatasets([f.bias], mode: .purge(run: "calib/bias"), force: true)
        let location = try f.butler.fileLocations([f.post106.id])[f.post106.id]!
        try removeStoredFile(location)

        let gaps = try runButler(["verify", repo, "--lineage", f.calexp53.id.lowercasedString, f.calexp106.id.lowercasedString])
        #expect(gaps.exitCode == 1)
        let lines = gaps.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains("\(ghost) - -: not in this repository (input 'flat' of step isr \(isr.prefix(8)))"))
        #expect(lines.contains("\(f.bias.id.lowercasedString) bias calib/bias: removed (tombstone)"))
        #expect(lines.contains { $0.hasPrefix("\(f.post106.id.lowercasedString) postISRCCD drp/isr-rerun: file missing (") })
        #expect(lines.last == "Lineage of 2 dataset(s): 8 dataset(s), 6 file(s) checked: 1 not in this repository, 1 removed (tombstone), 1 file missing")

        let json = try runButler(["verify", repo, "--lineage", f.calexp53.id.lowercasedString, "--format", "json"])
        #expect(json.exitCode == 1)
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
        #expect(object["complete"] as? Bool == false)
        #expect((object["gaps"] as! [[String: Any]]).map { $0["reason"] as! String }.sorted() == ["not-here", "removed"])
        #expect(try runButler(["verify", repo, "--format", "json"]).exitCode == 2)
        #expect(try runButler(["verify", repo, "--lineage", "stack:instrument=LATISS,detector=0", "--collections", "nope"]).exitCode == 1)
    }
}
