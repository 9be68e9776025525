import Foundation
import Testing
@testable import ButlerKit
import ButlerTestSupport

@Suite("verify")
struct VerifyTests {
    func problems(_ butler: Butler, checksums: Bool = false, collections: [String] = []) throws -> [VerificationProblem] {
        var found: [VerificationProblem] = []
        _ = try butler.verify(collections: collections, checksums: checksums) { found.append($0) }
        return found
    }

    @Test("a healthy repository has no problems; each planted problem is reported once, by kind")
    func planted() throws {
        let dir = TemporaryDirectory()
        let f = try LineageFixture(in: dir)
        let butler = f.butler
        #expect(try problems(butler, checksums: true).isEmpty)
        let locations = try butler.registry.fileLocations([f.post53.id, f.post106.id, f.calexp53.id], datastoreRoot: butler.datastoreRoot)
        // Missing file.
        try FileManager.default.removeItem(at: locations[f.post53.id]!)
        // Wrong size.
        let grown = try FileHandle(forWritingTo: locations[f.post106.id]!)
        grown.seekToEndOfFile()
        grown.write(Data("extra".utf8))
        try grown.close()
        // Same size, other bytes: only a checksum finds it.
        var bytes = try Data(contentsOf: locations[f.calexp53.id]!)
        bytes[bytes.count - 1] ^= 0xFF
        try bytes.write(to: locations[f.calexp53.id]!)
        // A file without a row, and a temporary file left by an interrupted copy.
        try Data("stray".utf8).write(to: butler.datastoreRoot.appendingPathComponent("stray.fits"))
        try Data("half".utf8).write(to: butler.datastoreRoot.appendingPathComponent("drp/.calexp.fits.tmp-123-456"))
        // A provenance edge to nothing.
        let quantum = try butler.registry.database.read { c in try c.queryOne("SELECT id FROM quantum LIMIT 1")![0].string! }
        try butler.registry.database.write { c in
            try c.execute("INSERT INTO quantum_input (quantum_id, dataset_id, role) VALUES (?, ?, 'ghost')", [.text(quantum), .text(UUID().lowercasedString)])
        }
        let withoutChecksums = try problems(butler)
        #expect(Dictionary(grouping: withoutChecksums, by: \.kind).mapValues(\.count) == [
            .missingFile: 1, .sizeMismatch: 1, .orphanFile: 2, .danglingEdge: 1,
        ])
        #expect(withoutChecksums.contains { $0.kind == .orphanFile && $0.detail.contains("temporary file") })
        #expect(withoutChecksums.contains { $0.kind == .danglingEdge && $0.detail.contains("'ghost'") })
        let all = try problems(butler, checksums: true)
        #expect(all.filter { $0.kind == .checksumMismatch }.map(\.subject) == [locations[f.calexp53.id]!.path])
        // Limited to one collection, only that collection's files are checked (the walk still covers everything).
        let limited = try problems(butler, collections: ["drp/calibrate"])
        #expect(!limited.contains { $0.kind == .missingFile || $0.kind == .sizeMismatch })
        #expect(limited.filter { $0.kind == .orphanFile }.count == 2)
    }
}
