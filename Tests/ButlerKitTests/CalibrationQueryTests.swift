import Foundation
import Testing
@testable import ButlerKit
import ButlerTestSupport

/// Datasets certified into CALIBRATION collections are found by dataset queries (directly and through chains), once
/// per validity range, as in Rubin's butler; find-first over them is refused when ambiguous.
@Suite("Queries over CALIBRATION collections")
struct CalibrationQueryTests {
    let t2023 = TAITime(iso: "2023-01-01T00:00:00", scale: .tai)!
    let t2023b = TAITime(iso: "2023-06-01T00:00:00", scale: .tai)!
    let t2024 = TAITime(iso: "2024-01-01T00:00:00", scale: .tai)!

    /// Two biases of detector 0 in two RUNs; the old one certified twice (until 2023, and 2023-06 to 2024), the new
    /// one from 2024 on; a chain `LATISS/defaults` = [LATISS/raw/all, LATISS/calib].
    func repository(_ dir: TemporaryDirectory) throws -> (Butler, old: DatasetRef, new: DatasetRef) {
        let butler = try makeRepository(in: dir, transfer: .direct)
        let r = butler.registry
        try r.registerDatasetType(try r.makeDatasetType("bias", storageClass: "ExposureF", dimensions: ["instrument", "detector"], isCalibration: true))
        try r.registerRun("calib/old")
        try r.registerRun("calib/new")
        let old = try r.insertDatasets("bias", run: "calib/old", dataIds: [["instrument": "LATISS", "detector": 0]])
        let new = try r.insertDatasets("bias", run: "calib/new", dataIds: [["instrument": "LATISS", "detector": 0]])
        try r.certify("LATISS/calib", old, validity: Timespan(begin: nil, end: t2023))
        try r.certify("LATISS/calib", old, validity: Timespan(begin: t2023b, end: t2024))
        try r.certify("LATISS/calib", new, validity: Timespan(begin: t2024, end: nil))
        try r.modifyChain("LATISS/defaults", children: ["LATISS/raw/all", "LATISS/calib"])
        return (butler, old[0], new[0])
    }

    func query(_ butler: Butler, _ collections: [String], findFirst: Bool = false, where expression: String = "") throws -> [DatasetResult] {
        var q = DatasetQuery()
        q.datasetTypes = ["bias"]
        q.collections = collections
        q.findFirst = findFirst
        q.where = expression
        return try butler.registry.queryDatasets(q).datasets
    }

    @Test("certified datasets are listed once per validity range, directly and through a chain")
    func listed() throws {
        let dir = TemporaryDirectory()
        let (butler, old, new) = try repository(dir)
        for collections in [["LATISS/calib"], ["LATISS/defaults"], ["LATISS/*"]] {
            let found = try query(butler, collections)
            #expect(found.count == 3, "\(collections)")
            #expect(found.map(\.ref.id) == [old.id, old.id, new.id])
            #expect(found.map(\.collection) == ["LATISS/calib", "LATISS/calib", "LATISS/calib"])
            #expect(found.map(\.validity) == [Timespan(begin: nil, end: t2023), Timespan(begin: t2023b, end: t2024), Timespan(begin: t2024, end: nil)])
        }
        // RUN members carry no validity range; the same dataset found in its RUN and certified is listed for both.
        let both = try query(butler, ["calib/old", "LATISS/calib"])
        #expect(both.count == 4)
        #expect(both.filter { $0.collection == "calib/old" }.map(\.validity) == [nil])
        #expect(try query(butler, ["LATISS/calib"], where: "bias.timespan OVERLAPS (T'2023-07-01', T'2023-07-02')").map(\.ref.id) == [old.id])
        #expect(try query(butler, ["LATISS/calib"], where: "bias.timespan OVERLAPS (T'2023-02-01', T'2023-03-01')").isEmpty)
        #expect(try query(butler, ["calib/old"], where: "bias.timespan OVERLAPS (T'2023-07-01', T'2023-07-02')").isEmpty)
        #expect(try query(butler, ["LATISS/calib"], where: "run = 'calib/new'").map(\.ref.id) == [new.id])
    }

    @Test("find-first: the first collection with a match wins; several validity ranges there are refused as ambiguous")
    func findFirst() throws {
        let dir = TemporaryDirectory()
        let (butler, old, new) = try repository(dir)
        let ambiguous = butlerError { try query(butler, ["LATISS/defaults"], findFirst: true) }
        #expect(ambiguous?.code == .conflict)
        #expect(ambiguous?.message.contains("ambiguous calibration lookup") == true)
        #expect(ambiguous?.message.contains("LATISS/calib") == true)
        let in2024 = try query(butler, ["LATISS/defaults"], findFirst: true, where: "bias.timespan OVERLAPS (T'2024-03-01', T'2024-03-02')")
        #expect(in2024.map(\.ref.id) == [new.id])
        #expect(in2024.first?.validity == Timespan(begin: t2024, end: nil))
        let inRun = try query(butler, ["calib/old", "LATISS/calib"], findFirst: true)
        #expect(inRun.map(\.ref.id) == [old.id])
        #expect(inRun.first?.validity == nil)
    }

    @Test("data ID and dimension record queries constrained by certified datasets")
    func dimensions() throws {
        let dir = TemporaryDirectory()
        let (butler, _, _) = try repository(dir)
        var q = DimensionQuery()
        q.datasets = "bias"
        q.collections = ["LATISS/defaults"]
        let (_, ids) = try butler.registry.queryDataIDs(["detector"], q)
        #expect(ids.map(\.keyValueString) == ["instrument=LATISS,detector=0"])
        #expect(try butler.registry.queryDimensionRecords("detector", q).count == 1)
    }

    @Test("datasets found through a CALIBRATION collection can be purged, certifications included")
    func purge() throws {
        let dir = TemporaryDirectory()
        let (butler, old, new) = try repository(dir)
        let refs = Array(Set(try query(butler, ["LATISS/calib"], where: "run = 'calib/old'").map(\.ref)))
        #expect(refs.map(\.id) == [old.id])
        try butler.pruneDatasets(refs, mode: .purge(run: "calib/old"))
        #expect(try query(butler, ["LATISS/calib"]).map(\.ref.id) == [new.id])
        #expect(try butler.registry.certifications("LATISS/calib", datasetType: "bias").map(\.0.id) == [new.id])
    }
}
