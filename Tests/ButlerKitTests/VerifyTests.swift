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
        let locations = try butler.fileLocations([f.post53.id, f.post106.id, f.calexp53.id])
        // Missing file.
        try removeStoredFile(locations[f.post53.id]!)
        // Wrong size.
        try plant(storedData(locations[f.post106.id]!) + Data("extra".utf8), at: locations[f.post106.id]!)
        // Same size, other bytes: only a checksum finds it.
        var bytes = try storedData(locations[f.calexp53.id]!)
        bytes[bytes.count - 1] ^= 0xFF
        try plant(bytes, at: locations[f.calexp53.id]!)
        // A file without a row, and a temporary file left by an interrupted copy.
        try plant(Data("stray".utf8), at: butler.storedLocation("stray.fits"))
        try plant(Data("half".utf8), at: butler.storedLocation(testDatastoreIsBucket ? "drp/.calexp.fits.butler-tmp-123" : "drp/.calexp.fits.tmp-123-456"))
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
        #expect(all.filter { $0.kind == .checksumMismatch }.map(\.subject) == [shown(locations[f.calexp53.id]!)])
        // Limited to one collection, only that collection's files are checked (the walk still covers everything).
        let limited = try problems(butler, collections: ["drp/calibrate"])
        #expect(!limited.contains { $0.kind == .missingFile || $0.kind == .sizeMismatch })
        #expect(limited.filter { $0.kind == .orphanFile }.count == 2)
    }
}
