import ButlerKit
import Crypto
import Foundation

/// Fills a new repository with a data release's datasets and provenance for `make bench`: raws -> isr -> calibrate
/// (PVIs) -> coadd per patch -> measurement catalogs, with ten software releases over the processing runs.
///
/// Usage: make-registry --release REPO [EXPOSURES] [DETECTORS] [EXPOSURES_PER_PATCH] [RUNS]
/// Defaults (14,500 x 10, 15, 30) give ~1,017,000 datasets and ~292,000 quanta; each coadd is made from 150 PVIs and
/// their backgrounds. The package `ip_isr` has version 30.0.K in release K (K = 0..9).
enum MakeRelease {
    static func main(_ args: [String]) throws {
        guard args.count >= 1 else {
            FileHandle.standardError.write(Data("usage: make-registry --release REPO [EXPOSURES] [DETECTORS] [EXPOSURES_PER_PATCH] [RUNS]\n".utf8))
            exit(2)
        }
        func arg(_ i: Int, _ fallback: Int) -> Int { args.count > i ? Int(args[i]) ?? fallback : fallback }
        let exposures = arg(1, 14_500), detectors = arg(2, 10), perPatch = arg(3, 15), runs = arg(4, 30)
        let releases = 10
        let butler = try BenchCamera.createRepository(args[0])
        let r = butler.registry
        let instrument = BenchCamera.instrument, filters = BenchCamera.filters
        let i = DataIDValue.string(instrument)

        // Dimensions.
        let exposureIds = try BenchCamera.insert(into: r, exposures: exposures, detectors: detectors)
        let patches = (exposures + perPatch - 1) / perPatch
        try r.insertDimensionRecords("skymap", [DimensionRecord(element: "skymap", fields: ["name": .string("bench")])])
        try r.insertDimensionRecordsUnchecked("tract", [DimensionRecord(element: "tract", fields: ["skymap": .string("bench"), "id": .int(0)])])
        try r.insertDimensionRecordsUnchecked("patch", (0..<patches).map {
            DimensionRecord(element: "patch", fields: ["skymap": .string("bench"), "tract": .int(0), "id": .int($0), "cell_x": .int($0 % 100), "cell_y": .int($0 / 100)])
        })

        // Dataset types.
        let ide = ["instrument", "detector", "exposure"]
        for (name, storage) in [("raw", "Exposure"), ("postISRCCD", "ExposureF"), ("isr_metadata", "TaskMetadata"), ("calexp", "ExposureF"),
                                ("src", "SourceCatalog"), ("calexpBackground", "Background"), ("calibrate_metadata", "TaskMetadata")] {
            try r.registerDatasetType(try r.makeDatasetType(name, storageClass: storage == "Background" ? "Bytes" : storage, dimensions: ide))
        }
        try r.registerDatasetType(try r.makeDatasetType("bias", storageClass: "ExposureF", dimensions: ["instrument", "detector"]))
        try r.registerDatasetType(try r.makeDatasetType("flat", storageClass: "ExposureF", dimensions: ["instrument", "detector", "physical_filter"]))
        try r.registerDatasetType(try r.makeDatasetType("deepCoadd", storageClass: "ExposureF", dimensions: ["skymap", "tract", "patch"]))
        try r.registerDatasetType(try r.makeDatasetType("deepCoadd_meas", storageClass: "SourceCatalog", dimensions: ["skymap", "tract", "patch"]))

        // Calibrations and raws (no producing step).
        _ = try r.registerRun("bench/calib")
        let biases = try r.insertDatasetsUnchecked("bias", run: "bench/calib", dataIds: (0..<detectors).map { [i, .int($0)] }, idGenerationMode: .unique)
        let flatIds = (0..<detectors).flatMap { d in filters.map { [i, .string("\($0)-bench"), .int(d)] } }
        let flats = try r.insertDatasetsUnchecked("flat", run: "bench/calib", dataIds: flatIds, idGenerationMode: .unique)
        _ = try r.registerRun("bench/raw/all")
        let raws = try r.insertDatasetsUnchecked("raw", run: "bench/raw/all",
                                                 dataIds: exposureIds.flatMap { e in (0..<detectors).map { [i, .int($0), .int(e)] } }, idGenerationMode: .unique)

        // Software releases and configs.
        func sha(_ text: String) -> String { SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined() }
        let environments = (0..<releases).map { sha("release \($0)") }
        try r.insertRowsUnchecked("software_environment", columns: ["id", "code_commit", "code_dirty", "executable_hash"],
                                  rows: (0..<releases).map { [.text(environments[$0]), .text(sha("commit \($0)").prefix(40).description), .integer(0), .null] })
        try r.insertRowsUnchecked("environment_package", columns: ["environment_id", "name", "version"], rows: (0..<releases).flatMap { k in
            [[.text(environments[k]), .text("ip_isr"), .text("30.0.\(k)")]] + (0..<49).map { [.text(environments[k]), .text(String(format: "pkg%02d", $0)), .text("1.\(k / 3)")] }
        })
        let tasks = ["isr", "calibrate", "assembleCoadd", "measure"]
        let configs = Dictionary(uniqueKeysWithValues: tasks.map { ($0, "\($0):\n  mode: bench\n  threshold: 5.0\n") })
        let configHash = configs.mapValues(sha)
        try r.insertRowsUnchecked("config_blob", columns: ["hash", "format", "content"],
                                  rows: tasks.map { [.text(configHash[$0]!), .text("yaml"), .blob(Data(configs[$0]!.utf8))] })

        var clock = TAITime(year: 2026, month: 1, day: 1, scale: .tai).nanoseconds
        var quanta: [[SQLValue]] = [], quantumConfigs: [[SQLValue]] = [], inputs: [[SQLValue]] = [], outputs: [[SQLValue]] = []
        func quantum(_ task: String, runId: Int64, dataId: String, environment: String, in ins: [(String, String)], out outs: [(String, String)]) {
            let id = DatasetIdGenerationMode.uuid7().lowercasedString
            clock += 1_000_000_000
            quanta.append([.text(id), .text(task), .integer(runId), .text(dataId), .text("node\(quanta.count % 64)"), .text("bench"), .null,
                           .integer(clock), .integer(clock + 900_000_000), .text("succeeded"), .integer(0), .text(environment), .text(configHash[task]!), .null])
            quantumConfigs.append([.text(id), .text("\(task).yaml"), .text(configHash[task]!)])
            for (role, dataset) in ins { inputs.append([.text(id), .text(dataset), .text(role)]) }
            for (role, dataset) in outs { outputs.append([.text(id), .text(dataset), .text(role)]) }
        }
        func flush() throws {
            try r.insertRowsUnchecked("quantum", columns: ["id", "task_label", "run_id", "data_id", "host", "user_name", "command", "start_time", "end_time",
                                                         "status", "exit_code", "environment_id", "config_digest", "log_dataset_id"], rows: quanta)
            try r.insertRowsUnchecked("quantum_config", columns: ["quantum_id", "name", "config_hash"], rows: quantumConfigs)
            try r.insertRowsUnchecked("quantum_input", columns: ["quantum_id", "dataset_id", "role"], rows: inputs)
            try r.insertRowsUnchecked("quantum_output", columns: ["quantum_id", "dataset_id", "role"], rows: outputs)
            quanta.removeAll(keepingCapacity: true); quantumConfigs.removeAll(keepingCapacity: true)
            inputs.removeAll(keepingCapacity: true); outputs.removeAll(keepingCapacity: true)
        }

        // Processing runs: isr and calibrate per exposure and detector.
        var calexps = [String](repeating: "", count: raws.count), backgrounds = [String](repeating: "", count: raws.count)
        var runNames: [String] = []
        let perRun = (exposures + runs - 1) / runs
        for k in 0..<runs {
            let run = String(format: "bench/drp/run%02d", k)
            runNames.append(run)
            _ = try r.registerRun(run)
            let runId = try r.collection(run)!.id
            let environment = environments[k * releases / runs]
            let slice = min(k * perRun, exposures)..<min((k + 1) * perRun, exposures)
            let dataIds = slice.flatMap { e in (0..<detectors).map { [i, .int($0), .int(exposureIds[e])] } }
            var made: [String: [String]] = [:]
            for t in ["postISRCCD", "isr_metadata", "calexp", "src", "calexpBackground", "calibrate_metadata"] {
                made[t] = try r.insertDatasetsUnchecked(t, run: run, dataIds: dataIds, idGenerationMode: .unique)
            }
            for (n, e) in slice.enumerated() {
                for d in 0..<detectors {
                    let j = n * detectors + d, rawIndex = e * detectors + d
                    let dataId = "detector=\(d),exposure=\(exposureIds[e]),instrument=\(instrument)"
                    quantum("isr", runId: runId, dataId: dataId, environment: environment,
                            in: [("raw", raws[rawIndex]), ("bias", biases[d]), ("flat", flats[d * filters.count + e % 5])],
                            out: [("outputExposure", made["postISRCCD"]![j]), ("metadata", made["isr_metadata"]![j])])
                    quantum("calibrate", runId: runId, dataId: dataId, environment: environment, in: [("exposure", made["postISRCCD"]![j])],
                            out: [("outputExposure", made["calexp"]![j]), ("outputCat", made["src"]![j]),
                                  ("outputBackground", made["calexpBackground"]![j]), ("metadata", made["calibrate_metadata"]![j])])
                    calexps[rawIndex] = made["calexp"]![j]
                    backgrounds[rawIndex] = made["calexpBackground"]![j]
                }
            }
            try flush()
        }

        // Coadds per patch from the PVIs of its exposures, then measurement.
        _ = try r.registerRun("bench/coadd")
        let coaddRun = try r.collection("bench/coadd")!.id
        let patchIds = (0..<patches).map { [DataIDValue.string("bench"), .int(0), .int($0)] }
        let coadds = try r.insertDatasetsUnchecked("deepCoadd", run: "bench/coadd", dataIds: patchIds, idGenerationMode: .unique)
        let catalogs = try r.insertDatasetsUnchecked("deepCoadd_meas", run: "bench/coadd", dataIds: patchIds, idGenerationMode: .unique)
        let latest = environments[releases - 1]
        for p in 0..<patches {
            let members = (p * perPatch * detectors)..<min((p + 1) * perPatch * detectors, raws.count)
            let dataId = "patch=\(p),skymap=bench,tract=0"
            quantum("assembleCoadd", runId: coaddRun, dataId: dataId, environment: latest,
                    in: members.map { ("calexp", calexps[$0]) } + members.map { ("background", backgrounds[$0]) }, out: [("coadd", coadds[p])])
            quantum("measure", runId: coaddRun, dataId: dataId, environment: latest, in: [("coadd", coadds[p])], out: [("catalog", catalogs[p])])
        }
        try flush()
        try r.modifyChain("bench/all", children: ["bench/coadd"] + runNames.reversed() + ["bench/raw/all", "bench/calib"])
        try r.analyzeAfterBulkLoad()
        let datasets = raws.count * 7 + biases.count + flats.count + patches * 2
        print("\(datasets) datasets, \(raws.count * 2 + patches * 2) quanta; \(patches) patches of \(perPatch * detectors) PVIs; runs under bench/all")
        print("one catalog: deepCoadd_meas:skymap=bench,tract=0,patch=0; one raw: \(raws[0]); ip_isr versions 30.0.0 ... 30.0.\(releases - 1)")
    }
}
