import Foundation
import Testing
@testable import ButlerKit
import ButlerTestSupport

@Suite("Dataset types")
struct DatasetTypeTests {
    @Test("registering the same definition twice is a no-op; a different one is a conflict showing both")
    func register() throws {
        let dir = TemporaryDirectory()
        let registry = try makeRepository(in: dir).registry
        let raw = try registry.makeDatasetType("raw", storageClass: "Exposure", dimensions: ["instrument", "detector", "exposure"])
        #expect(try registry.registerDatasetType(raw))
        #expect(try !registry.registerDatasetType(raw))
        let other = try registry.makeDatasetType("raw", storageClass: "ExposureF", dimensions: ["detector", "exposure"])
        let error = butlerError { try registry.registerDatasetType(other) }
        #expect(error?.code == .conflict)
        #expect(error?.message.contains("Exposure)") == true)
        #expect(error?.message.contains("ExposureF") == true)
        #expect(try registry.queryDatasetTypes().map(\.name) == ["raw"])
        #expect(try registry.datasetType("raw")?.dimensions.required == ["instrument", "detector", "exposure"])
    }

    @Test("bad names, storage classes and dimensions are refused")
    func badInput() throws {
        let dir = TemporaryDirectory()
        let registry = try makeRepository(in: dir).registry
        #expect(errorCode { _ = try registry.makeDatasetType("calexp.wcs", storageClass: "Exposure", dimensions: []) } == .invalidName)
        #expect(errorCode { _ = try registry.makeDatasetType("1raw", storageClass: "Exposure", dimensions: []) } == .invalidName)
        #expect(errorCode { _ = try registry.makeDatasetType("my raw", storageClass: "Exposure", dimensions: []) } == .invalidName)
        #expect(errorCode { _ = try registry.makeDatasetType("raw", storageClass: "NoSuchClass", dimensions: []) } == .notFound)
        #expect(errorCode { _ = try registry.makeDatasetType("raw", storageClass: "Exposure", dimensions: ["detectr"]) } == .notFound)
        #expect(errorCode { _ = try registry.makeDatasetType("raw", storageClass: "Exposure", dimensions: ["visit_definition"]) } == .invalidValue)
        #expect(try registry.queryDatasetTypes().isEmpty)
    }

    @Test("globs select dataset types; removal refuses types that still have datasets")
    func queryAndRemove() throws {
        let dir = TemporaryDirectory()
        let butler = try makeRepository(in: dir)
        let registry = butler.registry
        try insertTestInstrument(registry)
        for (name, dims) in [("raw", ["exposure", "detector"]), ("calexp", ["visit", "detector"]), ("calexp_background", ["visit", "detector"])] {
            try registry.registerDatasetType(try registry.makeDatasetType(name, storageClass: "ExposureF", dimensions: dims))
        }
        #expect(try registry.queryDatasetTypes(["calexp*"]).map(\.name) == ["calexp", "calexp_background"])
        #expect(try registry.queryDatasetTypes(["raw,calexp"]).map(\.name) == ["calexp", "raw"])
        try registry.registerRun("run")
        try registry.insertDatasets("raw", run: "run", dataIds: [["instrument": "TestCam", "detector": 0, "exposure": 100]])
        #expect(errorCode { try registry.removeDatasetTypes(["raw"]) } == .inUse)
        #expect(errorCode { try registry.removeDatasetTypes(["nothing"]) } == .notFound)
        #expect(try registry.removeDatasetTypes(["calexp*"]) == ["calexp", "calexp_background"])
        #expect(try registry.queryDatasetTypes().map(\.name) == ["raw"])
    }
}

@Suite("Collections")
struct CollectionTests {
    func makeRegistry(_ dir: TemporaryDirectory) throws -> Registry {
        let registry = try makeRepository(in: dir).registry
        try registry.registerRun("run/a")
        try registry.registerRun("run/b")
        try registry.registerCollection("tag", type: .tagged)
        try registry.registerCollection("calib", type: .calibration)
        return registry
    }

    @Test("the four collection types; re-registering with another type is a conflict")
    func types() throws {
        let dir = TemporaryDirectory()
        let registry = try makeRegistry(dir)
        #expect(try registry.queryCollections().map(\.type) == [.calibration, .run, .run, .tagged])
        #expect(try registry.queryCollections(types: [.run]).map(\.name) == ["run/a", "run/b"])
        #expect(try !registry.registerRun("run/a"))
        #expect(errorCode { try registry.registerCollection("run/a", type: .tagged) } == .conflict)
        for bad in ["", "has space", "comma,name", "star*", String(repeating: "x", count: 65), "tab\tname"] {
            #expect(errorCode { try registry.registerRun(bad) } == .invalidName, "\(bad)")
        }
    }

    @Test("chains: every mode, nesting and flattening")
    func chains() throws {
        let dir = TemporaryDirectory()
        let registry = try makeRegistry(dir)
        #expect(try registry.modifyChain("chain", children: ["run/a"]) == ["run/a"])
        #expect(try registry.modifyChain("chain", children: ["run/b", "tag"], mode: .extend) == ["run/a", "run/b", "tag"])
        #expect(try registry.modifyChain("chain", children: ["calib"], mode: .prepend) == ["calib", "run/a", "run/b", "tag"])
        #expect(try registry.modifyChain("chain", children: ["run/b"], mode: .remove) == ["calib", "run/a", "tag"])
        #expect(try registry.modifyChain("chain", children: [], mode: .pop) == ["run/a", "tag"])
        #expect(try registry.modifyChain("chain", children: ["-1"], mode: .pop) == ["run/a"])
        try registry.modifyChain("outer", children: ["run/b", "chain", "run/a"])
        #expect(try registry.flattenedCollections("outer") == ["run/b", "run/a"])
        #expect(try registry.modifyChain("flat", children: ["outer"], flatten: true) == ["run/b", "run/a"])
        #expect(try registry.parentChains(of: "run/a") == ["chain", "flat", "outer"])
        #expect(errorCode { try registry.modifyChain("chain", children: ["missing"], mode: .extend) } == .notFound)
        #expect(errorCode { try registry.modifyChain("chain", children: ["5"], mode: .pop) } == .invalidValue)
        #expect(errorCode { try registry.modifyChain("run/a", children: ["run/b"]) } == .conflict)
        #expect(errorCode { try registry.modifyChain("nochain", children: [], mode: .pop) } == .notFound)
    }

    @Test("cycles are refused, directly and through nesting, and the chain is unchanged")
    func cycles() throws {
        let dir = TemporaryDirectory()
        let registry = try makeRegistry(dir)
        try registry.modifyChain("inner", children: ["run/a"])
        try registry.modifyChain("middle", children: ["inner"])
        try registry.modifyChain("outer", children: ["middle"])
        #expect(errorCode { try registry.modifyChain("inner", children: ["inner"], mode: .extend) } == .cycle)
        #expect(errorCode { try registry.modifyChain("inner", children: ["outer"], mode: .extend) } == .cycle)
        #expect(try registry.collection("inner")?.children == ["run/a"])
    }

    @Test("removing collections: RUNs refused, chains protected, all or none")
    func remove() throws {
        let dir = TemporaryDirectory()
        let registry = try makeRegistry(dir)
        try registry.modifyChain("chain", children: ["tag", "run/a"])
        let inUse = butlerError { try registry.removeCollections(["tag"]) }
        #expect(inUse?.code == .inUse)
        #expect(inUse?.message.contains("chain") == true)
        #expect(try registry.collection("tag") != nil)
        #expect(errorCode { try registry.removeCollections(["run/a"]) } == .invalidValue)
        #expect(errorCode { try registry.removeCollections(["nothing"]) } == .notFound)
        #expect(try registry.removeCollections(["tag"], removeFromParents: true).map(\.name) == ["tag"])
        #expect(try registry.collection("chain")?.children == ["run/a"])
        // A glob over everything leaves RUNs alone.
        let removed = try registry.removeCollections(["*"])
        #expect(Set(removed.map(\.name)) == ["calib", "chain"])
        #expect(try registry.queryCollections().map(\.name) == ["run/a", "run/b"])
    }
}

@Suite("Datasets")
struct DatasetTests {
    @Test("datasets get Rubin's ids; one dataset per type and data ID in a run, enforced by the schema")
    func insertAndUniqueness() throws {
        let dir = TemporaryDirectory()
        let registry = try makeRepository(in: dir).registry
        try insertTestInstrument(registry)
        try registry.registerDatasetType(try registry.makeDatasetType("raw", storageClass: "Exposure", dimensions: ["instrument", "detector", "exposure"]))
        try registry.registerRun("TestCam/raw/all")
        let refs = try registry.insertDatasets("raw", run: "TestCam/raw/all",
                                               dataIds: [["instrument": "TestCam", "detector": 0, "exposure": 100]],
                                               idGenerationMode: .dataIdTypeRun)
        let expected = DatasetIdGenerationMode.uuid5(namespace: DatasetIdGenerationMode.namespace,
                                                     name: "dataset_type=raw,run=TestCam/raw/all,detector=0,exposure=100,instrument=TestCam")
        #expect(refs.first?.id == expected)
        #expect(refs.first?.dataId["physical_filter"] == .string("g-1"))
        let duplicate = butlerError {
            try registry.insertDatasets("raw", run: "TestCam/raw/all", dataIds: [["instrument": "TestCam", "detector": 0, "exposure": 100]])
        }
        #expect(duplicate?.code == .conflict)
        #expect(duplicate?.message.contains("already exists") == true)
        // The schema itself refuses a second row for the same type, collection and data ID.
        let schemaError = butlerError {
            try registry.database.write { c in
                let stored = try registry.requireDatasetType("raw", in: c)
                let run = try registry.requireCollection("TestCam/raw/all", in: c)
                let id = UUID().uuidString.lowercased()
                try c.execute("INSERT INTO dataset (id, dataset_type_id, run_id, ingest_date) VALUES (?, ?, ?, 0)", [.text(id), .integer(stored.id), .integer(run.id)])
                try c.execute("INSERT INTO \(q(stored.tagTable)) (dataset_type_id, dataset_id, collection_id, instrument, detector, exposure) VALUES (?, ?, ?, 'TestCam', 0, 100)",
                              [.integer(stored.id), .text(id), .integer(run.id)])
            }
        }
        #expect(schemaError?.code == .conflict)
        #expect(try registry.datasetCount(inRun: "TestCam/raw/all") == 1)
        #expect(errorCode { try registry.insertDatasets("raw", run: "nope", dataIds: []) } == .notFound)
        try registry.registerCollection("tag", type: .tagged)
        #expect(errorCode { try registry.insertDatasets("raw", run: "tag", dataIds: []) } == .invalidValue)
        #expect(errorCode { try registry.insertDatasets("raw", run: "TestCam/raw/all", dataIds: [["instrument": "TestCam", "detector": 9, "exposure": 100]]) } == .notFound)
    }

    @Test("remove-runs removes the runs, their datasets and their files; runs in chains need force")
    func removeRuns() throws {
        let dir = TemporaryDirectory()
        let butler = try makeRepository(in: dir)
        let registry = butler.registry
        try insertTestInstrument(registry)
        try registry.registerDatasetType(try registry.makeDatasetType("raw", storageClass: "Exposure", dimensions: ["instrument", "detector", "exposure"]))
        try registry.registerRun("r1")
        try registry.registerRun("r2")
        let relative = "r1/raw/file.fits"
        let file = butler.storedLocation(relative)
        try plant(Data("SIMPLE".utf8), at: file)
        let outside = dir.url.appendingPathComponent("outside.fits")
        try Data("SIMPLE".utf8).write(to: outside)
        _ = try registry.database.write { c in
            try registry.insertDatasets("raw", run: "r1", dataIds: [["instrument": "TestCam", "detector": 0, "exposure": 100],
                                                                     ["instrument": "TestCam", "detector": 1, "exposure": 100]],
                                        idGenerationMode: .unique,
                                        files: [StoredFileInfo(path: relative, storageClass: "Exposure"),
                                                StoredFileInfo(path: outside.path, storageClass: "Exposure")], in: c)
        }
        try registry.modifyChain("chain", children: ["r1", "r2"])
        #expect(errorCode { try butler.removeRuns(["r1"]) } == .inUse)
        #expect(try storedFileExists(file))
        #expect(errorCode { try butler.removeRuns(["chain"]) } == .invalidValue)
        let removed = try butler.removeRuns(["r1"], unlinkFromChains: true)
        #expect(removed.runs == ["r1"])
        #expect(removed.datasetCount == 2)
        #expect(removed.unlinkedFrom["r1"] == ["chain"])
        #expect(try !storedFileExists(file))
        #expect(FileManager.default.fileExists(atPath: outside.path), "files ingested in place are never deleted")
        #expect(try registry.collection("chain")?.children == ["r2"])
        #expect(try registry.queryCollections(types: [.run]).map(\.name) == ["r2"])
    }
}
