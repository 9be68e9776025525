import Foundation
import Testing
@testable import ButlerKit
import ButlerTestSupport

@Suite("Dimensions")
struct DimensionTests {
    @Test("the default universe has Rubin's elements, keys and dependencies")
    func defaultUniverse() throws {
        let u = try DimensionUniverse.makeDefault()
        #expect(u.namespace == "daf_butler")
        #expect(u.version == 8)
        for name in ["instrument", "band", "physical_filter", "subfilter", "detector", "day_obs", "group", "exposure", "visit",
                     "visit_definition", "visit_system", "visit_system_membership", "visit_detector_region", "skymap", "tract", "patch"] {
            #expect(u[name] != nil, "missing element \(name)")
        }
        #expect(u["exposure"]!.implies == ["physical_filter", "group", "day_obs"])
        #expect(u["exposure"]!.keys.map(\.name) == ["id", "obs_id"])
        #expect(u["detector"]!.keys.map(\.name) == ["id", "full_name"])
        #expect(u["patch"]!.requires == ["skymap", "tract"])
        #expect(u["band"]!.hasTable == false)
        #expect(u["visit_definition"]!.isDimension == false)
        #expect(u.requiredDimensions(of: "visit_definition") == ["instrument", "visit", "exposure"])
        #expect(u.governors.map(\.name) == ["instrument", "skymap"])
        let group = try u.group(["visit", "detector"])
        #expect(group.required == ["instrument", "detector", "visit"])
        #expect(group.implied == ["band", "physical_filter", "day_obs"])
    }

    @Test("each element has its table with keys and foreign keys")
    func tables() throws {
        let dir = TemporaryDirectory()
        let butler = try makeRepository(in: dir)
        let tables = try butler.registry.database.read { c in
            try c.tableNames()
        }
        for element in butler.registry.universe.elements where element.hasTable {
            #expect(tables.contains(element.name), "no table for \(element.name)")
        }
        #expect(!tables.contains("band"))
        let fks = try butler.registry.database.read { c in
            testBackendIsPostgres
                ? try c.query("""
                    SELECT DISTINCT ccu.table_name FROM information_schema.table_constraints AS tc
                    JOIN information_schema.constraint_column_usage AS ccu ON ccu.constraint_name = tc.constraint_name AND ccu.table_schema = tc.table_schema
                    WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_name = 'exposure' AND tc.table_schema = current_schema()
                    """).compactMap { $0[0].string }
                : try c.query("PRAGMA foreign_key_list(exposure)").compactMap { $0["table"].string }
        }
        #expect(Set(fks) == ["instrument", "physical_filter", "group", "day_obs"])
    }

    @Test("insert, fetch and sync dimension records")
    func insertFetchSync() throws {
        let dir = TemporaryDirectory()
        let registry = try makeRepository(in: dir).registry
        try insertTestInstrument(registry)
        let detectors = try registry.fetchDimensionRecords("detector", dataId: ["instrument": "TestCam"])
        #expect(detectors.map { $0["full_name"] } == [.string("R00_S00"), .string("R00_S01")])
        let exposure = try registry.fetchDimensionRecords("exposure").first!
        #expect(exposure["exposure_time"] == .float(30))
        #expect(exposure["physical_filter"] == .string("g-1"))

        let same = DimensionRecord(element: "detector", fields: ["instrument": "TestCam", "id": 0, "full_name": "R00_S00"])
        #expect(try registry.syncDimensionRecord(same) == .unchanged)
        let new = DimensionRecord(element: "detector", fields: ["instrument": "TestCam", "id": 2, "full_name": "R00_S02"])
        #expect(try registry.syncDimensionRecord(new) == .inserted)
        var changed = same
        changed["purpose"] = "SCIENCE"
        let error = butlerError { try registry.syncDimensionRecord(changed) }
        #expect(error?.code == .conflict)
        #expect(error?.message.contains("purpose") == true)
        #expect(try registry.syncDimensionRecord(changed, update: true) == .updated)
        #expect(try registry.fetchDimensionRecords("detector", dataId: ["id": 0]).first?["purpose"] == .string("SCIENCE"))
    }

    @Test("bad records are refused with a message naming the problem, and nothing is inserted")
    func badRecords() throws {
        let dir = TemporaryDirectory()
        let registry = try makeRepository(in: dir).registry
        try insertTestInstrument(registry)
        let missingInstrument = butlerError {
            try registry.insertDimensionRecords("detector", [
                DimensionRecord(element: "detector", fields: ["instrument": "TestCam", "id": 5, "full_name": "ok"]),
                DimensionRecord(element: "detector", fields: ["instrument": "NoSuchCam", "id": 0, "full_name": "x"]),
            ])
        }
        #expect(missingInstrument?.code == .notFound)
        #expect(missingInstrument?.message.contains("NoSuchCam") == true)
        #expect(try registry.fetchDimensionRecords("detector", dataId: ["id": 5]).isEmpty, "all or none")
        #expect(errorCode { try registry.insertDimensionRecords("detector", [DimensionRecord(element: "detector", fields: ["instrument": "TestCam", "id": 0, "full_name": "R00_S00"])]) } == .conflict)
        #expect(errorCode { try registry.insertDimensionRecords("detector", [DimensionRecord(element: "detector", fields: ["instrument": "TestCam", "id": 9])]) } == .invalidValue)
        #expect(errorCode { try registry.insertDimensionRecords("detector", [DimensionRecord(element: "detector", fields: ["instrument": "TestCam", "id": "nine", "full_name": "x"])]) } == .invalidValue)
        #expect(errorCode { try registry.insertDimensionRecords("detector", [DimensionRecord(element: "detector", fields: ["instrument": "TestCam", "id": 9, "full_name": "x", "colour": "red"])]) } == .invalidValue)
        #expect(errorCode { try registry.insertDimensionRecords("nonsense", []) } == .notFound)
        #expect(errorCode { try registry.insertDimensionRecords("band", []) } == .invalidValue)
        let tooLong = String(repeating: "x", count: 40)
        #expect(errorCode { try registry.insertDimensionRecords("detector", [DimensionRecord(element: "detector", fields: ["instrument": "TestCam", "id": 9, "full_name": .string(tooLong)])]) } == .invalidValue)
    }

    @Test("data IDs are validated and expanded with implied values")
    func expandDataIds() throws {
        let dir = TemporaryDirectory()
        let registry = try makeRepository(in: dir).registry
        try insertTestInstrument(registry)
        let dataId = try registry.expandDataID(["instrument": "TestCam", "detector": "1", "exposure": "100"])
        #expect(dataId["physical_filter"] == .string("g-1"))
        #expect(dataId["band"] == .string("g"))
        #expect(dataId["day_obs"] == .int(20240101))
        #expect(dataId["group"] == .string("g1"))
        #expect(dataId.hasFull)
        #expect(dataId.required.map(\.0) == ["instrument", "detector", "exposure"])

        // The only instrument is filled in when missing (Rubin's users must always spell it out).
        let implicit = try registry.expandDataID(["detector": .int(0)])
        #expect(implicit["instrument"] == .string("TestCam"))

        let noRecord = butlerError { try registry.expandDataID(["instrument": "TestCam", "detector": "7"]) }
        #expect(noRecord?.code == .notFound)
        #expect(noRecord?.message.contains("detector") == true)
        #expect(errorCode { try registry.expandDataID(["instrument": "TestCam", "detector": "zero"]) } == .invalidValue)
        #expect(errorCode { try registry.expandDataID(["instrument": "TestCam", "flavour": "1"]) } == .notFound)
        #expect(errorCode { try registry.expandDataID(["instrument": "TestCam", "exposure": "100", "physical_filter": "r-1"]) } == .conflict)
        #expect(errorCode { try registry.expandDataID(["instrument": "TestCam", "detector": .int(0)], dimensions: ["detector", "exposure"]) } == .invalidValue)

        try registry.insertDimensionRecords("instrument", [DimensionRecord(element: "instrument", fields: ["name": "Other"])])
        #expect(errorCode { try registry.expandDataID(["detector": .int(0)]) } == .invalidValue, "two instruments: must be given")
    }

    @Test("a custom universe from YAML builds its own tables")
    func customUniverse() throws {
        let dir = TemporaryDirectory()
        let yaml = dir.path("dims.yaml")
        try """
            namespace: lab
            version: 1
            elements:
              camera:
                keys: [{name: name, type: string, length: 16}]
                governor: true
              sensor:
                keys: [{name: id, type: int}]
                requires: [camera]
                metadata: [{name: gain, type: float}]
            """.write(toFile: yaml, atomically: true, encoding: .utf8)
        let butler = try Butler.create(at: dir.path("repo"), dimensionConfig: yaml)
        try butler.registry.insertDimensionRecords("camera", [DimensionRecord(element: "camera", fields: ["name": "lab1"])])
        try butler.registry.insertDimensionRecords("sensor", [DimensionRecord(element: "sensor", fields: ["camera": "lab1", "id": 3, "gain": 1.5])])
        let reopened = try Butler(repository: dir.path("repo"))
        #expect(reopened.registry.universe.namespace == "lab")
        #expect(try reopened.registry.expandDataID(["sensor": "3"])["camera"] == .string("lab1"))
    }
}
