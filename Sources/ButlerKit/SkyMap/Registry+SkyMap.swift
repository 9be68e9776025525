import Foundation

/// What ``Butler/registerSkyMap(_:progress:)`` did.
public struct SkyMapRegistration: Sendable {
    public let name: String
    public let hash: String
    public let tracts: Int
    public let patches: Int
    /// False when the same skymap (same hash) was registered already: nothing was written.
    public let inserted: Bool
}

extension Butler {
    /// Registers a rings skymap: its `skymap` record (Rubin's hash, `tract_max`, `patch_nx_max`, `patch_ny_max`),
    /// every tract and patch with its region, and the regions' spatial index, in one transaction.
    ///
    /// Registering the same skymap again changes nothing; a different one under a registered name is refused.
    /// - Throws: ``ButlerError/Code/invalidValue`` for a bad config, ``ButlerError/Code/conflict`` for a name
    ///   registered with other parameters.
    ///
    /// - Parameter progress: told of the tracts written as they are (a rings skymap of Rubin's has about 19,000).
    public func registerSkyMap(_ config: RingsSkyMapConfig, progress: ProgressReport? = nil) throws -> SkyMapRegistration {
        let map = try RingsSkyMap(config: config)
        return try registry.registerSkyMap(map, progress: progress)
    }
}

extension Registry {
    package func registerSkyMap(_ map: RingsSkyMap, progress: ProgressReport? = nil) throws -> SkyMapRegistration {
        let name = map.config.name, hash = map.hash
        let (nx, ny) = map.patchGrid
        let total = map.tractCount
        let tractElement = try universe.element("tract"), patchElement = try universe.element("patch")
        return try database.write { c in
            if let row = try c.queryOne("SELECT hash FROM skymap WHERE name = ?", [.text(name)]) {
                guard row[0].string == hash else {
                    throw ButlerError(.conflict, "skymap '\(name)' is registered with other parameters (hash \(row[0].string ?? "none"); this config's is \(hash))")
                }
                return SkyMapRegistration(name: name, hash: hash, tracts: total, patches: total * nx * ny, inserted: false)
            }
            try c.execute("INSERT INTO skymap (name, hash, tract_max, patch_nx_max, patch_ny_max) VALUES (?, ?, ?, ?, ?)",
                          [.text(name), .text(hash), .integer(Int64(total)), .integer(Int64(nx)), .integer(Int64(ny))])
            // Regions are computed in parallel a batch of tracts at a time, then written in bulk.
            struct Rows: Sendable {
                var tracts: [[SQLValue]] = [], patches: [[SQLValue]] = []
                var tractPixels: [[SQLValue]] = [], tractEdges: [[SQLValue]] = []
                var patchPixels: [[SQLValue]] = [], patchEdges: [[SQLValue]] = []
            }
            let batch = max(1, 20_000 / (nx * ny))
            for start in stride(from: 0, to: total, by: batch) {
                let ids = Array(start..<min(total, start + batch))
                let computed: [Result<Rows, any Error>] = parallelMap(ids, workers: ProcessInfo.processInfo.activeProcessorCount) { id in
                    Result {
                        var rows = Rows()
                        let tract = try map.tract(id)
                        let region = try map.region(of: tract)
                        let keys: [SQLValue] = [.text(name), .integer(Int64(id))]
                        rows.tracts.append(keys + [.text(SphgeomEncoding.hex(region))])
                        rows.tractPixels += RegionIndex.pixels(of: .polygon(region)).map { keys + [.integer(Int64($0))] }
                        rows.tractEdges += RegionIndex.edgeRows(of: region).map { keys + $0 }
                        for y in 0..<ny {
                            for x in 0..<nx {
                                let patch = try map.region(of: tract, patchX: x, patchY: y)
                                let patchKeys = keys + [.integer(Int64(x + y * nx))]
                                rows.patches.append(patchKeys + [.integer(Int64(x)), .integer(Int64(y)), .text(SphgeomEncoding.hex(patch))])
                                rows.patchPixels += RegionIndex.pixels(of: .polygon(patch)).map { patchKeys + [.integer(Int64($0))] }
                                rows.patchEdges += RegionIndex.edgeRows(of: patch).map { patchKeys + $0 }
                            }
                        }
                        return rows
                    }
                }
                var rows = Rows()
                for result in computed {
                    let r = try result.get()
                    rows.tracts += r.tracts; rows.patches += r.patches
                    rows.tractPixels += r.tractPixels; rows.tractEdges += r.tractEdges
                    rows.patchPixels += r.patchPixels; rows.patchEdges += r.patchEdges
                }
                let tractKeys = RegionIndex.keys(of: tractElement, in: universe).map(\.indexColumn)
                let patchKeys = RegionIndex.keys(of: patchElement, in: universe).map(\.indexColumn)
                try c.insertRows(into: "tract", columns: ["skymap", "id", "region"], rows: rows.tracts)
                try c.insertRows(into: "patch", columns: ["skymap", "tract", "id", "cell_x", "cell_y", "region"], rows: rows.patches)
                try c.insertRows(into: RegionIndex.overlapTable("tract"), columns: tractKeys + ["skypix_index"], rows: rows.tractPixels)
                try c.insertRows(into: RegionIndex.edgeTable("tract"), columns: tractKeys + RegionIndex.edgeColumns, rows: rows.tractEdges)
                try c.insertRows(into: RegionIndex.overlapTable("patch"), columns: patchKeys + ["skypix_index"], rows: rows.patchPixels)
                try c.insertRows(into: RegionIndex.edgeTable("patch"), columns: patchKeys + RegionIndex.edgeColumns, rows: rows.patchEdges)
                progress?(ids.last! + 1, total)
            }
            return SkyMapRegistration(name: name, hash: hash, tracts: total, patches: total * nx * ny, inserted: true)
        }
    }
}
