import ButlerKit
import Foundation

/// Fills a new repository through ButlerKit with a data-release-shaped registry for `make bench`:
/// EXPOSURES exposures x DETECTORS detectors x 5 dataset types, spread over RUNS runs under one chain `bench/all`.
///
/// Usage: make-registry REPO [EXPOSURES] [DETECTORS] [RUNS]
///        make-registry --release REPO [EXPOSURES] [DETECTORS] [EXPOSURES_PER_PATCH] [RUNS]   (see ``MakeRelease``)
///        make-registry --engine-floor DONE BEFORE RUN   (see ``EngineFloor``)
@main
struct MakeRegistry {
    static func main() throws {
        if CommandLine.arguments.dropFirst().first == "--release" {
            try MakeRelease.main(Array(CommandLine.arguments.dropFirst(2)))
            return
        }
        if CommandLine.arguments.dropFirst().first == "--engine-floor" {
            try EngineFloor.main(Array(CommandLine.arguments.dropFirst(2)))
            return
        }
        let args = CommandLine.arguments
        guard args.count >= 2 else {
            FileHandle.standardError.write(Data("usage: make-registry REPO [EXPOSURES] [DETECTORS] [RUNS]\n       make-registry --release REPO [EXPOSURES] [DETECTORS] [EXPOSURES_PER_PATCH] [RUNS]\n".utf8))
            exit(2)
        }
        let exposures = args.count > 2 ? Int(args[2]) ?? 20_000 : 20_000
        let detectors = args.count > 3 ? Int(args[3]) ?? 10 : 10
        let runs = args.count > 4 ? Int(args[4]) ?? 300 : 300
        let butler = try BenchCamera.createRepository(args[1])
        let r = butler.registry
        let instrument = BenchCamera.instrument
        let exposureIds = try BenchCamera.insert(into: r, exposures: exposures, detectors: detectors)
        let types = ["raw", "postISRCCD", "calexp", "src", "calexpBackground"]
        for t in types {
            try r.registerDatasetType(try r.makeDatasetType(t, storageClass: t == "src" ? "SourceCatalog" : "ExposureF", dimensions: ["instrument", "detector", "exposure"]))
        }
        let perRun = (exposures + runs - 1) / runs
        var runNames: [String] = []
        for k in 0..<runs {
            let run = String(format: "bench/run%03d", k)
            runNames.append(run)
            try r.registerRun(run)
            let slice = exposureIds[min(k * perRun, exposures)..<min((k + 1) * perRun, exposures)]
            let dataIds = slice.flatMap { e in (0..<detectors).map { d in [DataIDValue.string(instrument), .int(d), .int(e)] } }
            for t in types {
                let ids = try r.insertDatasetsUnchecked(t, run: run, dataIds: dataIds, idGenerationMode: .unique)
                // BENCH_FILE_RECORDS=1: each dataset gets a file record (a path only; no file is written), so that
                // commands that hand out input paths (resolve-inputs) can be measured.
                if ProcessInfo.processInfo.environment["BENCH_FILE_RECORDS"] == "1" {
                    try r.insertRowsUnchecked("file_datastore_records", columns: ["dataset_id", "component", "path", "storage_class", "file_size"],
                                              rows: ids.map { [.text($0), .text(""), .text("\(run)/\(t)/\($0).fits"), .text("ExposureF"), .integer(1)] })
                }
            }
        }
        // Newest runs first in the chain, as reprocessing chains are.
        try r.modifyChain("bench/all", children: runNames.reversed())
        try r.analyzeAfterBulkLoad()
        print("\(exposures * detectors * types.count) datasets in \(runs) runs under bench/all")
    }
}
