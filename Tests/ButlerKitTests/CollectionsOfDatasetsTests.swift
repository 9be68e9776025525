import Foundation
import Testing
@testable import ButlerKit
import ButlerTestSupport

/// Tags, calibrations, pruning, retrieval, dataset names, and expressions from Rubin's documentation.
@Suite("Tags, calibrations and pruning")
struct CollectionsOfDatasetsTests {
    static func repository(_ dir: TemporaryDirectory, transfer: TransferMode = .direct) throws -> Butler {
        try makeRepository(in: dir, transfer: transfer)
    }

    func refs(_ butler: Butler, _ type: String, _ collections: [String], where expression: String = "") throws -> [DatasetRef] {
        var q = DatasetQuery()
        q.datasetTypes = [type]
        q.collections = collections
        q.where = expression
        return try butler.registry.queryDatasets(q).datasets.map(\.ref)
    }

    @Test("expressions from Rubin's documentation, on real raws", arguments: [
        ("instrument = 'LSSTCam' AND visit > 100 AND visit < 2025060900579", 1),
        ("visit IN (2025060900570..2025060900580) AND instrument = 'LSSTCam'", 1),
        ("instrument = 'LSSTCam' AND visit IN (2025060900570..2025060900590) AND visit NOT IN (2025060900578) AND band = 'y'", 0),
        ("instrument = 'DECam' AND (exposure = 229388 OR exposure = 160496) AND exposure % 2 = 0", 2),
        ("instrument = 'DECam' AND exposure IN (100, 110, 229388..229398:5)", 1),
        ("visit.timespan.begin > T'2020-03-30 12:20:33'", 1),
        ("exposure.timespan.begin > T'58938.515'", 6),
        ("exposure.timespan.end < T'mjd/58938.515/tai'", 4),
        ("ingest_date < T'2020-11-06 21:10:00'", 0),
        ("raw.dataset_id = UUID('5d46d9db-ef3e-55ee-aac3-4ac15cd4d8a6')", 1),
        ("(T'2020-01-01', T'2022-01-01') OVERLAPS (T'2019-01-01', T'2021-01-01')", 10),
        ("instrument = :instrument_name AND exposure IN (:exposure_ids)", 2),
    ])
    func rubinExamples(_ expression: String, _ count: Int) throws {
        let dir = TemporaryDirectory()
        let butler = try Self.repository(dir)
        var q = DatasetQuery()
        q.datasetTypes = ["raw"]
        q.where = expression
        q.binds = ["instrument_name": .string("LATISS"), "exposure_ids": BindValue(parsing: "2023032100053,2024062400106")]
        #expect(try butler.registry.queryDatasets(q).datasets.count == count)
    }

    @Test("text meant to break out of the SQL is a value or an error, and the database is unchanged", arguments: [
        "instrument = '' OR 1=1 --'",
        "instrument = ''; DROP TABLE dataset; --'",
        "instrument = 'x'' OR ''1''=''1'",
        "exposure.obs_id = 'a\\'; DELETE FROM dataset; --'",
        "instrument = 'x' OR 1=1 --",
        "instrument = 'x'; DROP TABLE dataset",
        "GLOB(instrument, '*') AND exposure IN (1); DROP TABLE dataset",
        "1..5",
    ])
    func injection(_ expression: String) throws {
        let dir = TemporaryDirectory()
        let butler = try Self.repository(dir)
        let before = try registrySnapshot(dir.path("repo"))
        var q = DatasetQuery()
        q.where = expression
        do {
            let found = try butler.registry.queryDatasets(q).datasets
            #expect(found.isEmpty || found.count == 10)
        } catch let error as ButlerError {
            #expect(error.code == .invalidValue)
        }
        #expect(try registrySnapshot(dir.path("repo")) == before)
    }

    @Test("tags: associate, idempotent, conflicts, disassociate")
    func tags() throws {
        let dir = TemporaryDirectory()
        let butler = try Self.repository(dir)
        let r = butler.registry
        let latiss = try refs(butler, "raw", ["LATISS/raw/all"])
        #expect(try r.associate("selected", latiss) == 2)
        #expect(try r.associate("selected", latiss) == 0)
        #expect(try refs(butler, "raw", ["selected"]).count == 2)
        #expect(try r.collection("selected")?.type == .tagged)
        // Another dataset with the same data ID cannot join the tag.
        try r.registerRun("other")
        let twin = try r.insertDatasets("raw", run: "other", dataIds: [["instrument": "LATISS", "detector": 0, "exposure": 2023032100053]])
        #expect(errorCode { try r.associate("selected", twin) } == .conflict)
        #expect(try r.disassociate("selected", [latiss[0]]) == 1)
        #expect(try refs(butler, "raw", ["selected"]).count == 1)
        #expect(errorCode { try r.disassociate("LATISS/raw/all", latiss) } == .invalidValue)
        // Removing the run removes its datasets from tags too.
        try butler.removeRuns(["LATISS/raw/all"])
        #expect(try refs(butler, "raw", ["selected"]).isEmpty)
    }

    @Test("calibrations: certify, refuse overlaps, find the one valid at an exposure's time, decertify part of a range")
    func calibrations() throws {
        let dir = TemporaryDirectory()
        let butler = try Self.repository(dir)
        let r = butler.registry
        try r.registerDatasetType(try r.makeDatasetType("bias", storageClass: "ExposureF", dimensions: ["instrument", "detector"], isCalibration: true))
        try r.registerRun("calib/old")
        try r.registerRun("calib/new")
        let old = try r.insertDatasets("bias", run: "calib/old", dataIds: [["instrument": "LATISS", "detector": 0]])
        let new = try r.insertDatasets("bias", run: "calib/new", dataIds: [["instrument": "LATISS", "detector": 0]])
        let cut = TAITime(iso: "2024-01-01T00:00:00", scale: .tai)!
        try r.certify("LATISS/calib", old, validity: Timespan(begin: nil, end: cut))
        #expect(errorCode { try r.certify("LATISS/calib", new, validity: Timespan(begin: TAITime(iso: "2023-12-01", scale: .tai), end: nil)) } == .conflict)
        try r.certify("LATISS/calib", new, validity: Timespan(begin: cut, end: nil))  // touching is allowed
        try r.modifyChain("LATISS/defaults", children: ["LATISS/raw/all", "LATISS/calib"])
        let in2023 = try r.findDataset("bias", dataId: ["instrument": "LATISS", "detector": "0", "exposure": "2023032100053"], collections: ["LATISS/defaults"])
        #expect(in2023?.run == "calib/old")
        let in2024 = try r.findDataset("bias", dataId: ["instrument": "LATISS", "detector": "0", "exposure": "2024062400106"], collections: ["LATISS/defaults"])
        #expect(in2024?.run == "calib/new")
        // Without a time a CALIBRATION collection is skipped, as Rubin's find_dataset does (FindDatasetCLITests compares).
        #expect(try r.findDataset("bias", dataId: ["instrument": "LATISS", "detector": "0"], collections: ["LATISS/calib"]) == nil)
        // Remove June 2023 from the old bias: its range is split in two.
        let changed = try r.decertify("LATISS/calib", datasetType: "bias",
                                      range: Timespan(begin: TAITime(iso: "2023-03-01", scale: .tai), end: TAITime(iso: "2023-04-01", scale: .tai)))
        #expect(changed == 1)
        let ranges = try r.certifications("LATISS/calib", datasetType: "bias").map(\.1)
        #expect(ranges.count == 3)
        #expect(try r.findDataset("bias", dataId: ["instrument": "LATISS", "detector": "0", "exposure": "2023032100053"], collections: ["LATISS/calib"]) == nil)
        let raw = try r.makeDatasetType("raw", storageClass: "Exposure", dimensions: ["instrument", "detector", "exposure"])
        #expect(errorCode { try r.certify("LATISS/calib", [DatasetRef(id: UUID(), datasetType: raw, run: "x", dataId: old[0].dataId)], validity: Timespan(begin: nil, end: nil)) } == .invalidValue)
    }

    @Test("datasets named by UUID or TYPE:key=value; ambiguous and missing names list what was found")
    func datasetNames() throws {
        let dir = TemporaryDirectory()
        let butler = try Self.repository(dir)
        let r = butler.registry
        #expect(try r.resolveDataset("5d46d9db-ef3e-55ee-aac3-4ac15cd4d8a6").dataId["exposure"] == .int(2023032100053))
        #expect(try r.resolveDataset("raw:instrument=HSC,detector=50,exposure=904024").run == "HSC/raw/all")
        try r.registerRun("HSC/raw/again")
        try r.insertDatasets("raw", run: "HSC/raw/again", dataIds: [["instrument": "HSC", "detector": 50, "exposure": 904024]])
        let ambiguous = butlerError { try r.resolveDataset("raw:instrument=HSC,detector=50,exposure=904024") }
        #expect(ambiguous?.code == .conflict)
        #expect(ambiguous?.message.contains("HSC/raw/again") == true)
        #expect(try r.resolveDataset("raw:instrument=HSC,detector=50,exposure=904024", collections: ["HSC/raw/again", "HSC/raw/all"]).run == "HSC/raw/again")
        #expect(errorCode { try r.resolveDataset("raw:detector=50,exposure=1") } != nil)
        #expect(errorCode { try r.resolveDataset("00000000-0000-0000-0000-000000000000") } == .notFound)
        #expect(errorCode { try r.resolveDataset("not a dataset") } == .invalidValue)
    }

    @Test("prune: unstore keeps the registry entry, purge removes everything, disassociate leaves the run alone; retrieve copies files out")
    func pruneAndRetrieve() throws {
        let dir = TemporaryDirectory()
        let butler = try Self.repository(dir, transfer: .copy)
        let hsc = try refs(butler, "raw", ["HSC/raw/all"])
        let out = dir.path("out")
        let written = try butler.retrieveArtifacts(hsc, to: out)
        #expect(written.count == 1)
        #expect(written[0].path.hasPrefix(out + "/HSC/raw/all/raw/"))
        #expect(errorCode { try butler.retrieveArtifacts(hsc, to: out) } == .alreadyExists)
        #expect(try butler.retrieveArtifacts(hsc, to: out, clobber: true).count == 1)
        let flat = try butler.retrieveArtifacts(hsc, to: dir.path("flat"), preservePath: false)
        #expect(flat[0].deletingLastPathComponent().path == dir.path("flat"))

        let file = try #require(butler.fileLocations(hsc.map(\.id))[hsc[0].id])
        try butler.pruneDatasets(hsc, mode: .unstore)
        #expect(!FileManager.default.fileExists(atPath: file.path))
        #expect(try refs(butler, "raw", ["HSC/raw/all"]).count == 1)
        #expect(try butler.registry.storedFiles(of: hsc[0].id).isEmpty)

        let decam = try refs(butler, "raw", ["DECam/raw/all"], where: "instrument = 'DECam' AND exposure = 229388")
        try butler.registry.associate("keep", decam)
        #expect(errorCode { try butler.pruneDatasets(decam, mode: .purge(run: "HSC/raw/all")) } == .invalidValue)
        try butler.pruneDatasets(decam, mode: .disassociate(tag: "keep"))
        #expect(try refs(butler, "raw", ["DECam/raw/all"]).count == 2)
        try butler.pruneDatasets(decam, mode: .purge(run: "DECam/raw/all"))
        #expect(try refs(butler, "raw", ["DECam/raw/all"]).count == 1)
        #expect(try butler.registry.dataset(decam[0].id) == nil)
    }
}
