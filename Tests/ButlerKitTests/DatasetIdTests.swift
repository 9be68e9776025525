import Foundation
import Testing
@testable import ButlerKit
import ButlerTestSupport

/// Dataset ids pinned to the values Rubin's butler computes (lsst-daf-butler 30.2026.4300) for the same raws.
@Suite("Dataset ids")
struct DatasetIdTests {
    struct Vector: Sendable, CustomStringConvertible {
        let instrument: String, detector: Int, exposure: Int, run: String, typeRun: String, type: String
        var description: String { "\(instrument)/\(detector)/\(exposure)" }
    }

    static let vectors = [
        Vector(instrument: "LATISS", detector: 0, exposure: 2023032100053, run: "LATISS/raw/all",
               typeRun: "5d46d9db-ef3e-55ee-aac3-4ac15cd4d8a6", type: "9f8fe271-e290-5ad2-b7dc-e48032ebfb11"),
        Vector(instrument: "LSSTCam", detector: 10, exposure: 2025041500060, run: "LSSTCam/raw/all",
               typeRun: "22dc5588-9711-5b75-9428-419f893019d1", type: "91a1332e-137d-5d48-80d3-9696a246921a"),
        Vector(instrument: "HSC", detector: 50, exposure: 904010, run: "HSC/raw/all",
               typeRun: "a137bbe5-31fc-5f9c-a444-c09701b3d0a5", type: "690f5374-734f-50c5-8acc-3ef27ed49f06"),
    ]

    @Test("DATAID_TYPE_RUN and DATAID_TYPE match Rubin", arguments: vectors)
    func rubinVectors(_ v: Vector) throws {
        let universe = try DimensionUniverse.makeDefault()
        let group = try universe.group(["instrument", "detector", "exposure"])
        let dataId = DataCoordinate(dimensions: group, values: ["instrument": .string(v.instrument), "detector": .int(v.detector), "exposure": .int(v.exposure)])
        #expect(DatasetIdGenerationMode.dataIdTypeRun.makeId(datasetType: "raw", run: v.run, dataId: dataId).uuidString.lowercased() == v.typeRun)
        #expect(DatasetIdGenerationMode.dataIdType.makeId(datasetType: "raw", run: v.run, dataId: dataId).uuidString.lowercased() == v.type)
    }

    @Test("UUIDv5 of a known name (RFC 9562 example: python uuid5(NAMESPACE_DNS, 'lsst.org'))")
    func namespaceIsUuid5OfLsstOrg() {
        let dns = UUID(uuidString: "6ba7b810-9dad-11d1-80b4-00c04fd430c8")!
        #expect(DatasetIdGenerationMode.uuid5(namespace: dns, name: "lsst.org") == DatasetIdGenerationMode.namespace)
    }

    @Test("UNIQUE ids are version 7, time-ordered and distinct")
    func uuid7() {
        let a = DatasetIdGenerationMode.uuid7(date: Date(timeIntervalSince1970: 1_700_000_000))
        let b = DatasetIdGenerationMode.uuid7(date: Date(timeIntervalSince1970: 1_700_000_001))
        #expect(a.uuidString.lowercased().dropFirst(14).first == "7")
        #expect(a.uuidString < b.uuidString)
        #expect(DatasetIdGenerationMode.uuid7() != DatasetIdGenerationMode.uuid7())
    }
}
