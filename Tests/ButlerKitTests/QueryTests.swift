import Foundation
import Testing
@testable import ButlerKit
import ButlerTestSupport

/// The where language and the query operations, on a repository of real raws from six cameras.
@Suite("Queries")
struct QueryTests {
    /// A repository with every fixture raw ingested, and LSSTCam visits defined.
    static func repository(_ dir: TemporaryDirectory) throws -> Butler {
        try makeRepository(in: dir, transfer: .direct)
    }

    /// The exposures of the raws an expression finds. Rubin refuses `exposure = 5` without the instrument named;
    /// with `everyInstrument` an expression that names no instrument is asked over all of the fixtures' instruments
    /// (`instrument IN (...) AND (expression)`), so that it is answered for each of them as it was written.
    func exposures(_ butler: Butler, _ expression: String, binds: [String: BindValue] = [:], collections: [String] = [],
                   everyInstrument: Bool = true) throws -> [Int] {
        var q = DatasetQuery()
        q.datasetTypes = ["raw"]
        q.where = everyInstrument && !expression.contains("instrument") ? "instrument IN (\(fixtureInstruments)) AND (\(expression))" : expression
        q.binds = binds
        q.collections = collections
        return try butler.registry.queryDatasets(q).datasets.compactMap {
            if case .int(let e)? = $0.ref.dataId["exposure"] { return e } else { return nil }
        }.sorted()
    }

    @Test("comparisons, AND/OR/NOT, arithmetic, IN with lists and ranges, bind parameters")
    func operators() throws {
        let dir = TemporaryDirectory()
        let butler = try Self.repository(dir)
        #expect(try exposures(butler, "instrument = 'LATISS'") == [2023032100053, 2024062400106])
        #expect(try exposures(butler, "instrument != 'LATISS' AND instrument != 'LSSTCam' AND NOT instrument = 'DECam'") == [904024, 1038843, 2024110800266])
        #expect(try exposures(butler, "exposure > 2025000000000 OR exposure < 200000") == [160496, 2025041500060, 2025042500031, 2025060900578])
        #expect(try exposures(butler, "exposure % 2 = 1 AND instrument = 'LSSTCam'") == [2025042500031])
        #expect(try exposures(butler, "exposure - 1 = 229387") == [229388])
        #expect(try exposures(butler, "exposure IN (160496, 904024)") == [160496, 904024])
        #expect(try exposures(butler, "exposure NOT IN (160496, 904024) AND instrument IN ('DECam', 'HSC')") == [229388])
        #expect(try exposures(butler, "exposure IN (2025060900570..2025060900580:2)") == [2025060900578])
        #expect(try exposures(butler, "exposure IN (2025060900571..2025060900580:2)") == [])
        #expect(try exposures(butler, "exposure IN (1..3000000000000:1)") == [160496, 229388, 904024, 1038843, 2023032100053, 2024062400106, 2024110800266, 2025041500060, 2025042500031, 2025060900578])
        #expect(try exposures(butler, "instrument = :cam AND exposure IN (:ids)", binds: ["cam": .string("DECam"), "ids": BindValue(parsing: "229388,1")]) == [229388])
        #expect(try exposures(butler, "(instrument = 'HSC' OR instrument = 'DECam') AND exposure > 200000") == [229388, 904024])
    }

    @Test("dotted names, implied dimensions, related dimensions, dataset fields, times, OVERLAPS, GLOB")
    func names() throws {
        let dir = TemporaryDirectory()
        let butler = try Self.repository(dir)
        #expect(try exposures(butler, "band = 'i'") == [904024, 1038843, 2025041500060])
        #expect(try exposures(butler, "physical_filter = 'g_01'") == [2024110800266])
        #expect(try exposures(butler, "exposure.obs_id = 'AT_O_20230321_000053'") == [2023032100053])
        #expect(try exposures(butler, "detector.full_name = 'S1'") == [160496, 229388])
        #expect(try exposures(butler, "exposure.observation_type = 'science' AND day_obs > 20240000") == [2024110800266, 2025060900578])
        #expect(try exposures(butler, "visit = 2025060900578") == [2025060900578], "raw relates to visit through visit_definition")
        #expect(try exposures(butler, "visit.day_obs = 20250609") == [2025060900578])
        #expect(try exposures(butler, "exposure.timespan.begin > T'2025-04-20' AND exposure.timespan.end < T'mjd/60800.0/tai'") == [2025042500031])
        #expect(try exposures(butler, "exposure.timespan OVERLAPS (T'2013-09-01T06:00:00', T'2013-09-01T06:05:00')") == [229388])
        #expect(try exposures(butler, "(T'2013-01-01', T'2014-01-01') OVERLAPS exposure.timespan") == [229388, 904024])
        #expect(try exposures(butler, "exposure.timespan.begin IN (T'2008-01-01', T'2009-01-01')") == [1038843])
        #expect(try exposures(butler, "GLOB(exposure.obs_id, 'MC_?_2025*')") == [2025041500060, 2025042500031, 2025060900578])
        #expect(try exposures(butler, "ingest_date > T'2020-01-01' AND run = 'HSC/raw/all'") == [904024])
        #expect(try exposures(butler, "raw.run = 'HSC/raw/all' OR collection = 'MegaPrime/raw/all'") == [904024, 1038843])
        #expect(try exposures(butler, "raw.dataset_id = UUID('5d46d9db-ef3e-55ee-aac3-4ac15cd4d8a6')") == [2023032100053])
        #expect(try exposures(butler, "exposure.exposure_time >= 200.0 AND exposure.tracking_dec < 0") == [229388, 1038843])
    }

    @Test("errors show the expression with a caret under the problem and say what was expected", arguments: [
        ("bogus = 1", 0, "unknown name 'bogus'"),
        ("exposure = 'abc'", 11, "cannot compare an integer with a string"),
        ("instrument = 'LATISS' AND", 25, "expected a value or a name"),
        ("exposure IN (1, 2", 17, "expected ',' or ')'"),
        ("exposure.nonsense = 1", 0, "has no field 'nonsense'"),
        ("visit.region OVERLAPS POINT(1, 95)", 22, "declination 95.0 is outside [-90, 90]"),
        ("exposure = :missing", 11, "no value for :missing"),
        ("exposure.timespan.begin > T'yesterday'", 26, "invalid time literal"),
        ("instrument = 'x' exposure", 17, "expected AND, OR"),
        ("exposure IN (5..1)", 13, "ends before it starts"),
        ("'unterminated", 0, "unterminated string"),
        ("exposure + 1", 9, "expected a condition"),
        ("exposure # 1", 9, "unexpected character"),
    ])
    func errors(_ expression: String, _ column: Int, _ message: String) throws {
        let dir = TemporaryDirectory()
        let butler = try Self.repository(dir)
        let error = butlerError { try exposures(butler, expression, everyInstrument: false) }
        #expect(error?.code == .invalidValue)
        let lines = error?.message.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) ?? []
        #expect(lines.count == 3, "\(error?.message ?? "no error")")
        guard lines.count == 3 else { return }
        #expect(lines[0].contains(message), "\(lines[0])")
        #expect(lines[1] == "  " + expression)
        #expect(lines[2] == "  " + String(repeating: " ", count: column) + "^", "\(error!.message)")
    }

    @Test("find-first through nested chains; ordering, limits and offsets; reasons for empty results")
    func findFirst() throws {
        let dir = TemporaryDirectory()
        let butler = try Self.repository(dir)
        let r = butler.registry
        // A second run holding a newer version of one LATISS raw.
        try r.registerRun("LATISS/raw/reprocessed")
        try r.insertDatasets("raw", run: "LATISS/raw/reprocessed", dataIds: [["instrument": "LATISS", "detector": 0, "exposure": 2023032100053]])
        try r.modifyChain("inner", children: ["LATISS/raw/reprocessed"])
        try r.modifyChain("outer", children: ["inner", "LATISS/raw/all"])
        var q = DatasetQuery()
        q.datasetTypes = ["raw"]
        q.collections = ["outer"]
        q.findFirst = true
        let first = try r.queryDatasets(q).datasets
        #expect(first.count == 2)
        #expect(first.map(\.ref.run) == ["LATISS/raw/reprocessed", "LATISS/raw/all"])
        q.findFirst = false
        #expect(try r.queryDatasets(q).datasets.count == 3)
        q.collections = ["LATISS/*"]
        q.findFirst = true
        #expect(errorCode { try r.queryDatasets(q) } == .invalidValue, "globs have no order")
        q.findFirst = false
        q.collections = ["outer"]
        q.orderBy = ["-exposure"]
        q.limit = 2
        #expect(try r.queryDatasets(q).datasets.map { $0.ref.dataId["exposure"] } == [.int(2024062400106), .int(2023032100053)])
        q.offset = 2
        #expect(try r.queryDatasets(q).datasets.count == 1)

        var empty = DatasetQuery()
        empty.datasetTypes = ["raw"]
        empty.collections = ["MegaPrime/raw/all"]
        empty.where = "band = 'g'"
        let result = try r.queryDatasets(empty)
        #expect(result.datasets.isEmpty)
        #expect(result.reasons.first?.contains("matches the --where expression") == true)
        try r.registerRun("empty/run")
        empty.collections = ["empty/run"]
        empty.where = ""
        #expect(try r.queryDatasets(empty).reasons.first?.contains("has no datasets in collection 'empty/run'") == true)
        empty.collections = ["no/such"]
        #expect(errorCode { try r.queryDatasets(empty) } == .notFound)
    }

    @Test("data IDs and dimension records")
    func dimensionQueries() throws {
        let dir = TemporaryDirectory()
        let butler = try Self.repository(dir)
        let r = butler.registry
        var q = DimensionQuery()
        q.where = "instrument = 'LSSTCam' AND detector IN (0, 1)"
        let (group, ids) = try r.queryDataIDs(["visit", "detector"], q)
        #expect(group.required == ["instrument", "detector", "visit"])
        #expect(ids.count == 2)
        #expect(ids[0]["band"] == .string("y"))
        var withDatasets = DimensionQuery()
        withDatasets.datasets = "raw"
        withDatasets.collections = ["LATISS/raw/all"]
        #expect(try r.queryDataIDs(["exposure"], withDatasets).1.count == 2)
        var records = DimensionQuery()
        records.where = "observation_type = 'science' AND exposure_time > 100"
        records.orderBy = ["-exposure_time"]
        #expect(try r.queryDimensionRecords("exposure", records).map { $0["obs_id"] } == [.string("1038843"), .string("ct4m20130901t060255")])
        var detectors = DimensionQuery()
        detectors.where = "instrument = 'LSSTCam' AND purpose = 'WAVEFRONT'"
        #expect(try r.queryDimensionRecords("detector", detectors).count == 8)
    }
}
