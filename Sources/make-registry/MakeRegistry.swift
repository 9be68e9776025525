import ButlerKit
import Foundation

/// Fills a new repository through ButlerKit with a data-release-shaped registry for `make bench`:
/// EXPOSURES exposures x DETECTORS detectors x 5 dataset types, spread over RUNS runs under one chain `bench/all`.
///
/// Usage: make-registry REPO [EXPOSURES] [DETECTORS] [RUNS]
@main
struct MakeRegistry {
    static func main() throws {
        let args = CommandLine.arguments
        guard args.count >= 2 else {
            FileHandle.standardError.write(Data("usage: make-registry REPO [EXPOSURES] [DETECTORS] [RUNS]\n".utf8))
            exit(2)
        }
        let exposures = args.count > 2 ? Int(args[2]) ?? 20_000 : 20_000
        let detectors = args.count > 3 ? Int(args[3]) ?? 10 : 10
        let runs = args.count > 4 ? Int(args[4]) ?? 300 : 300
        // BENCH_REGISTRY: a registry URL (PostgreSQL) instead of the repository's own SQLite file.
        let butler = try Butler.create(at: args[1], registry: ProcessInfo.processInfo.environment["BENCH_REGISTRY"].flatMap { $0.isEmpty ? nil : $0 })
        let r = butler.registry
        let instrument = "BenchCam"
        try r.insertDimensionRecords("instrument", [DimensionRecord(element: "instrument", fields: ["name": .string(instrument)])])
        let filters = ["g", "r", "i", "z", "y"]
        try r.insertDimensionRecords("physical_filter", filters.map {
            DimensionRecord(element: "physical_filter", fields: ["instrument": .string(instrument), "name": .string("\($0)-bench"), "band": .string($0)])
        })
        try r.insertDimensionRecordsUnchecked("detector", (0..<detectors).map {
            DimensionRecord(element: "detector", fields: ["instrument": .string(instrument), "id": .int($0), "full_name": .string(String(format: "D%03d", $0))])
        })
        let perNight = 100
        let nights = (exposures + perNight - 1) / perNight
        let days = (0..<nights).map { n -> Int in
            let t = TAITime(nanoseconds: TAITime.startOfDayObs(20250101, offsetSeconds: 0).nanoseconds + Int64(n) * 86_400_000_000_000)
            return t.dayObs(offsetSeconds: 0)
        }
        try r.insertDimensionRecordsUnchecked("day_obs", days.map {
            DimensionRecord(element: "day_obs", fields: ["instrument": .string(instrument), "id": .int($0)])
        })
        var groups: [DimensionRecord] = [], records: [DimensionRecord] = []
        var exposureIds: [Int] = []
        for e in 0..<exposures {
            let day = days[e / perNight], seq = e % perNight + 1
            let id = day * 100_000 + seq
            exposureIds.append(id)
            let begin = TAITime.startOfDayObs(day, offsetSeconds: 0).adding(seconds: Double(seq * 60))
            groups.append(DimensionRecord(element: "group", fields: ["instrument": .string(instrument), "name": .string("g\(id)")]))
            records.append(DimensionRecord(element: "exposure", fields: [
                "instrument": .string(instrument), "id": .int(id), "obs_id": .string("BC_\(id)"), "physical_filter": .string("\(filters[e % 5])-bench"),
                "group": .string("g\(id)"), "day_obs": .int(day), "exposure_time": .float(30), "observation_type": .string("science"),
                "seq_num": .int(seq), "timespan_begin": .int(Int(begin.nanoseconds)), "timespan_end": .int(Int(begin.adding(seconds: 30).nanoseconds)),
            ]))
        }
        try r.insertDimensionRecordsUnchecked("group", groups)
        try r.insertDimensionRecordsUnchecked("exposure", records)
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
                try r.insertDatasetsUnchecked(t, run: run, dataIds: dataIds, idGenerationMode: .unique)
            }
        }
        // Newest runs first in the chain, as reprocessing chains are.
        try r.modifyChain("bench/all", children: runNames.reversed())
        try r.analyzeAfterBulkLoad()
        print("\(exposures * detectors * types.count) datasets in \(runs) runs under bench/all")
    }
}
