import ButlerKit
import Foundation

/// The made-up camera both generators fill: instrument `BenchCam`, five filters, DETECTORS detectors, and EXPOSURES
/// science exposures of 30 s, 100 a night from 2025-01-01, each in its own group.
enum BenchCamera {
    static let instrument = "BenchCam"
    static let filters = ["g", "r", "i", "z", "y"]

    /// Inserts the camera's dimension records and returns the exposure ids, in order.
    static func insert(into r: Registry, exposures: Int, detectors: Int) throws -> [Int] {
        try r.insertDimensionRecords("instrument", [DimensionRecord(element: "instrument", fields: ["name": .string(instrument)])])
        try r.insertDimensionRecords("physical_filter", filters.map {
            DimensionRecord(element: "physical_filter", fields: ["instrument": .string(instrument), "name": .string("\($0)-bench"), "band": .string($0)])
        })
        try r.insertDimensionRecordsUnchecked("detector", (0..<detectors).map {
            DimensionRecord(element: "detector", fields: ["instrument": .string(instrument), "id": .int($0), "full_name": .string(String(format: "D%03d", $0))])
        })
        let perNight = 100
        let days = (0..<((exposures + perNight - 1) / perNight)).map { n in
            TAITime(nanoseconds: TAITime.startOfDayObs(20250101, offsetSeconds: 0).nanoseconds + Int64(n) * 86_400_000_000_000).dayObs(offsetSeconds: 0)
        }
        try r.insertDimensionRecordsUnchecked("day_obs", days.map { DimensionRecord(element: "day_obs", fields: ["instrument": .string(instrument), "id": .int($0)]) })
        var exposureIds: [Int] = [], groups: [DimensionRecord] = [], records: [DimensionRecord] = []
        for e in 0..<exposures {
            let day = days[e / perNight], seq = e % perNight + 1, id = day * 100_000 + seq
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
        return exposureIds
    }

    /// A new repository; `BENCH_REGISTRY` names a registry URL (PostgreSQL) instead of its own SQLite file.
    static func createRepository(_ path: String) throws -> Butler {
        try Butler.create(at: path, registry: ProcessInfo.processInfo.environment["BENCH_REGISTRY"].flatMap { $0.isEmpty ? nil : $0 })
    }
}
