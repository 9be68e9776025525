import Foundation
import Testing
@testable import ButlerKit
import ButlerTestSupport

/// Copy records: where a dataset came from, kept in `dataset_copy`, shown in its lineage (text, JSON, PROV), and
/// `verifyLineage`, which says whether a dataset's whole upstream lineage is here.
@Suite("dataset copies and lineage completeness")
struct DatasetCopyTests {
    static let summit = RepositoryIdentity(id: UUID(uuidString: "11111111-2222-4333-8444-555555555555")!, name: "summit")
    static let usdf = RepositoryIdentity(id: UUID(uuidString: "66666666-7777-4888-9999-aaaaaaaaaaaa")!, name: "usdf")

    /// Nanoseconds TAI of a UTC date.
    static func tai(_ iso: String) -> Int64 { TAITime(iso: iso, scale: .utc)!.nanoseconds }

    /// Two hops, summit -> usdf -> here.
    static func hops(_ id: UUID, here: RepositoryIdentity) -> [DatasetCopy] {
        [
            DatasetCopy(datasetId: id, sourceRepository: summit, destinationRepository: usdf, copiedAt: tai("2026-01-05T10:00:00"),
                        copiedBy: "alice", method: "transfer-datasets -t copy", verifiedChecksum: "sha256:" + String(repeating: "a", count: 64)),
            DatasetCopy(datasetId: id, sourceRepository: usdf, destinationRepository: here, copiedAt: tai("2026-02-07T12:30:00"),
                        copiedBy: "bob", method: "import", verifiedChecksum: nil),
        ]
    }

    @Test("insertCopies is idempotent and bulk; copies(of:) lists them oldest first, for many ids in chunks")
    func insertAndList() throws {
        let dir = TemporaryDirectory()
        let f = try LineageFixture(in: dir)
        let r = f.butler.registry
        let ids = [f.raw53.id, f.bias.id, f.post53.id, f.calexp53.id, f.stack.id]
        var copies = ids.flatMap { Self.hops($0, here: f.butler.identity) }
        // Many distinct copies of one dataset: more than one INSERT's worth.
        copies += (0..<450).map { i in
            DatasetCopy(datasetId: f.stack.id, sourceRepository: i % 2 == 0 ? Self.summit : nil, destinationRepository: f.butler.identity,
                        copiedAt: Self.tai("2026-03-01T00:00:00") + Int64(i), copiedBy: nil, method: "ingest-zip", verifiedChecksum: nil)
        }
        try r.insertCopies(copies.reversed())
        try r.insertCopies(copies)  // the same again: nothing added
        try r.database.write { c in try r.insertCopies(Array(copies.prefix(3)) + Array(copies.prefix(3)), in: c) }
        let count = try r.database.read { c in try c.queryOne("SELECT COUNT(*) FROM dataset_copy")![0].int }
        #expect(count == copies.count)

        let raw = try r.copies(of: f.raw53.id)
        #expect(raw == Self.hops(f.raw53.id, here: f.butler.identity))
        #expect(try r.copies(of: f.post106.id).isEmpty)
        let stack = try r.copies(of: f.stack.id)
        #expect(stack.count == 452)
        #expect(stack.map(\.copiedAt) == stack.map(\.copiedAt).sorted())
        #expect(stack.filter { $0.sourceRepository == nil }.count == 225)
        // Many ids, most of them unknown: chunked, and only the known ones answer.
        let many = (0..<1200).map { _ in UUID() } + ids
        let listed = try r.database.read { c in try r.copies(of: many, in: c) }
        #expect(listed.count == copies.count)
        #expect(Set(listed.map(\.datasetId)) == Set(ids))
        // A copy arriving now, made by this process's user.
        let arrival = DatasetCopy.arriving(f.post106.id, from: Self.summit, into: f.butler.identity, method: "import", verifiedChecksum: nil)
        #expect(abs(arrival.copiedTime.nanoseconds - TAITime(iso: String(ISO8601DateFormatter().string(from: Date()).dropLast()), scale: .utc)!.nanoseconds) < 5_000_000_000)
        try r.insertCopies([arrival])
        #expect(try r.copies(of: f.post106.id) == [arrival])
    }

    @Test("a copy of a dataset the registry does not hold is refused; removing a dataset removes its copies")
    func foreignKey() throws {
        let dir = TemporaryDirectory()
        let f = try LineageFixture(in: dir)
        let r = f.butler.registry
        #expect(errorCode { try r.insertCopies(Self.hops(UUID(), here: f.butler.identity)) } != nil)
        try r.insertCopies(Self.hops(f.stack.id, here: f.butler.identity))
        try f.butler.pruneDatasets([f.stack], mode: .purge(run: "drp/coadd"), force: true)
        #expect(try r.copies(of: f.stack.id).isEmpty)
    }

    @Test("the lineage shows each copy (text, JSON, PROV) and inputs held by another repository as elsewhere")
    func lineage() throws {
        let dir = TemporaryDirectory()
        let f = try LineageFixture(in: dir)
        let r = f.butler.registry
        try r.insertCopies(Self.hops(f.calexp53.id, here: f.butler.identity))
        let ghost = UUID()
        let isr = try r.lineage(of: f.post53.id).producer[f.post53.id]!
        try r.database.write { c in
            try c.execute("INSERT INTO quantum_input (quantum_id, dataset_id, role) VALUES (?, ?, 'flat')", [.text(isr.lowercasedString), .text(ghost.lowercasedString)])
        }
        let cpBias = try r.lineage(of: f.bias.id).producer[f.bias.id]!
        try r.database.write { c in
            try c.execute("INSERT INTO quantum_output (quantum_id, dataset_id, role) VALUES (?, ?, 'flat')", [.text(cpBias.lowercasedString), .text(ghost.lowercasedString)])
        }
        let lineage = try r.lineage(of: f.calexp53.id)
        #expect(lineage.copies[f.calexp53.id]?.count == 2)
        #expect(lineage.elsewhere == [ghost])
        let tree = lineage.treeText()
        #expect(tree.contains("copied from summit (11111111-2222-4333-8444-555555555555) on 2026-01-05T10:00:00.000000Z by alice via transfer-datasets -t copy, checksum verified"))
        #expect(tree.contains("copied from usdf (66666666-7777-4888-9999-aaaaaaaaaaaa) on 2026-02-07T12:30:00.000000Z by bob via import, checksum not verified"))
        let lines = tree.split(separator: "\n").map(String.init)
        let ghostLine = try #require(lines.firstIndex { $0.contains("flat: dataset \(ghost.lowercasedString) [d") })
        #expect(lines[ghostLine].hasSuffix("] (elsewhere: held by another repository, not here)"))
        // A step recorded here that made the dataset held elsewhere is shown below it.
        #expect(lines[ghostLine + 1].contains("made by cpBias"))
        #expect(tree.contains("1 dataset(s) held elsewhere"))
        #expect(!tree.contains("removed"))

        let json = try JSONSerialization.jsonObject(with: Data(lineage.jsonText().utf8)) as! [String: Any]
        #expect(json["elsewhere"] as? [String] == [ghost.lowercasedString])
        let calexp = (json["datasets"] as! [[String: Any]]).first { $0["id"] as? String == f.calexp53.id.lowercasedString }!
        let copies = calexp["copies"] as! [[String: Any]]
        #expect(copies.count == 2)
        #expect((copies[0]["from"] as? [String: Any])?["name"] as? String == "summit")
        #expect((copies[1]["to"] as? [String: Any])?["id"] as? String == f.butler.identity.id.lowercasedString)
        #expect(copies[0]["copied_by"] as? String == "alice" && copies[1]["verified_checksum"] is NSNull)

        let prov = lineage.provDocument()
        let copyActivities = prov.records.filter { $0.kind == .activity && $0.id.hasPrefix("copy:") }
        #expect(copyActivities.count == 2)
        let held = prov.records.filter { $0.kind == .entity && $0.id.hasPrefix("held:") }.map(\.id).sorted()
        #expect(held == ["held:\(Self.summit.id.lowercasedString).\(f.calexp53.id.lowercasedString)",
                         "held:\(Self.usdf.id.lowercasedString).\(f.calexp53.id.lowercasedString)"])
        // Every entity is generated at most once: the calibrate step made the summit's copy; the last copy made ours.
        let generations = prov.records.filter { $0.kind == .wasGeneratedBy }.map { $0.arguments["prov:entity"]! }
        #expect(generations.count == Set(generations).count)
        #expect(prov.records.contains { $0.kind == .wasGeneratedBy && $0.arguments["prov:entity"] == "dataset:" + f.calexp53.id.lowercasedString
            && $0.arguments["prov:activity"] == "copy:\(f.calexp53.id.lowercasedString).2" })
        #expect(prov.records.contains { $0.kind == .wasDerivedFrom && $0.arguments["prov:generatedEntity"] == "dataset:" + f.calexp53.id.lowercasedString
            && $0.arguments["prov:usedEntity"] == held[1] })
        #expect(prov.records.contains { $0.kind == .entity && $0.id == "dataset:" + ghost.lowercasedString })
    }

    @Test("verifyLineage: complete, then each kind of gap once (held elsewhere, tombstone, file missing, mismatch)")
    func verifyLineage() throws {
        let dir = TemporaryDirectory()
        let f = try LineageFixture(in: dir)
        let butler = f.butler
        let complete = try butler.verifyLineage(of: [f.stack.id])
        #expect(complete.isComplete)
        #expect(complete.datasetsChecked == 8)
        #expect(complete.filesChecked == 8)
        #expect(complete.checksumsChecked > 0)
        // Held elsewhere: an input no row or tombstone knows.
        let ghost = UUID()
        let isr = try butler.registry.lineage(of: f.post53.id).producer[f.post53.id]!
        try butler.registry.database.write { c in
            try c.execute("INSERT INTO quantum_input (quantum_id, dataset_id, role) VALUES (?, ?, 'flat')", [.text(isr.lowercasedString), .text(ghost.lowercasedString)])
        }
        // Removed with a tombstone; a file gone; a file changed in place.
        try butler.pruneDatasets([f.bias], mode: .purge(run: "calib/bias"), force: true)
        let locations = try butler.fileLocations([f.post106.id, f.calexp53.id])
        try removeStoredFile(locations[f.post106.id]!)
        var bytes = try storedData(locations[f.calexp53.id]!)
        bytes[bytes.count - 1] ^= 0xFF
        try plant(bytes, at: locations[f.calexp53.id]!)

        var reported: [LineageGap] = []
        let result = try butler.verifyLineage(of: [f.stack.id]) { reported.append($0) }
        #expect(!result.isComplete)
        #expect(reported == result.gaps)
        #expect(Dictionary(grouping: result.gaps, by: \.reason).mapValues(\.count) == [.notHere: 1, .removed: 1, .fileMissing: 1, .mismatch: 1])
        let byReason = Dictionary(uniqueKeysWithValues: result.gaps.map { ($0.reason, $0) })
        #expect(byReason[.notHere]?.datasetId == ghost && byReason[.notHere]?.datasetType == nil)
        #expect(byReason[.notHere]?.detail.contains("input 'flat' of step isr") == true)
        #expect(byReason[.removed]?.datasetId == f.bias.id && byReason[.removed]?.datasetType == "bias" && byReason[.removed]?.run == "calib/bias")
        #expect(byReason[.fileMissing]?.datasetId == f.post106.id)
        #expect(byReason[.mismatch]?.datasetId == f.calexp53.id && byReason[.mismatch]?.detail.contains("SHA-256") == true)
        #expect(byReason[.removed]!.description == "\(f.bias.id.lowercasedString) bias calib/bias: removed (tombstone)")
        // A root inside another's lineage adds nothing.
        #expect(try butler.verifyLineage(of: [f.stack.id, f.calexp53.id, f.raw53.id]).gaps == result.gaps)
        // Without checksums the changed file passes (same size).
        #expect(try butler.verifyLineage(of: [f.stack.id], checksums: false).gaps.count == 3)
        // The lineage of one branch only has that branch's gaps.
        #expect(try butler.verifyLineage(of: [f.calexp106.id]).gaps.map(\.reason).sorted { $0.rawValue < $1.rawValue } == [.fileMissing, .removed])
        // A dataset whose file was unstored counts as its file missing.
        try butler.pruneDatasets([f.raw106], mode: .unstore)
        #expect(try butler.verifyLineage(of: [f.post106.id]).gaps.contains { $0.datasetId == f.raw106.id && $0.detail == "no file recorded" })
    }

    @Test("verify leaves out the edges of steps that ran elsewhere (an output was copied here) but reports local ones")
    func danglingEdges() throws {
        let dir = TemporaryDirectory()
        let f = try LineageFixture(in: dir)
        let butler = f.butler
        let isr = try butler.registry.lineage(of: f.post53.id).producer[f.post53.id]!
        try butler.registry.database.write { c in
            try c.execute("INSERT INTO quantum_input (quantum_id, dataset_id, role) VALUES (?, ?, 'flat')", [.text(isr.lowercasedString), .text(UUID().lowercasedString)])
        }
        func dangling() throws -> Int {
            var found = 0
            _ = try butler.verify { if $0.kind == .danglingEdge { found += 1 } }
            return found
        }
        #expect(try dangling() == 1)
        try butler.registry.insertCopies(Self.hops(f.post53.id, here: butler.identity))
        #expect(try dangling() == 0)
    }
}
