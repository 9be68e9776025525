import Foundation
import Testing
@testable import ButlerKit
import ButlerTestSupport

/// Every name reaches SQL in Unicode normal form C, whichever form a Swift caller gives (issue 27, item 7).
@Suite("Names in one Unicode form")
struct NameNormalizationTests {
    /// `Cam` + `é`: composed (NFC) and decomposed (NFD).
    static let composed = "Cam\u{E9}"
    static let decomposed = "Came\u{301}"

    @Test("collections registered and looked up in either form are one, stored in NFC")
    func collections() throws {
        let dir = TemporaryDirectory()
        let registry = try makeRepository(in: dir).registry
        #expect(try registry.registerRun("u/" + Self.decomposed))
        #expect(try !registry.registerRun("u/" + Self.composed), "already there")
        let stored = try registry.database.read { c in try c.query("SELECT name FROM collection").compactMap { $0[0].string } }
        #expect(stored.map { Array($0.utf8) } == [Array(("u/" + Self.composed).utf8)])
        #expect(try registry.collection("u/" + Self.decomposed) != nil)
        #expect(try registry.queryCollections(["u/Came\u{301}*"]).count == 1)
        #expect(try registry.modifyChain("chain", children: ["u/" + Self.decomposed]).map { Array($0.utf8) } == [Array(("u/" + Self.composed).utf8)])
        #expect(try registry.parentChains(of: "u/" + Self.decomposed) == ["chain"])
        #expect(try Registry.validateCollectionName("u/" + Self.decomposed).unicodeScalars.count == 6, "u/Cam + é as one code point")
    }

    @Test("data ID values, dimension records, --where literals and dataset ids do not depend on the form")
    func dataIdValues() throws {
        let dir = TemporaryDirectory()
        let registry = try makeRepository(in: dir).registry
        try insertTestInstrument(registry, name: Self.decomposed)
        let stored = try registry.database.read { c in try c.query("SELECT name FROM instrument").compactMap { $0[0].string } }
        #expect(stored.map { Array($0.utf8) } == [Array(Self.composed.utf8)], "a record's names are stored in NFC")

        let fromNFD = try registry.expandDataID(["instrument": Self.decomposed, "detector": "0"])
        let fromNFC = try registry.expandDataID(["instrument": Self.composed, "detector": "0"])
        guard case .string(let value)? = fromNFD["instrument"] else { Issue.record("no instrument"); return }
        #expect(Array(value.utf8) == Array(Self.composed.utf8))
        let mode = DatasetIdGenerationMode.dataIdTypeRun
        #expect(mode.makeId(datasetType: "bias", run: "u/" + Self.decomposed, dataId: fromNFD)
                == mode.makeId(datasetType: "bias", run: "u/" + Self.composed, dataId: fromNFC))

        var query = DimensionQuery()
        query.where = "instrument = '\(Self.decomposed)'"
        #expect(try registry.queryDimensionRecords("detector", query).count == 2)
    }
}
