import ButlerKit
import ButlerTestSupport
import Foundation
import Testing

/// Rings skymaps: Rubin's facts for hsc_rings_v1 and lsst_cells_v1, tract and patch regions against astropy's WCS,
/// registration, and tracts and patches related to visits through their regions (checked with sphgeom).
@Suite("rings skymaps: Rubin's tracts and patches, regions against astropy, spatial joins against sphgeom")
struct SkyMapTests {
    static func hsc() -> RingsSkyMapConfig {
        var c = RingsSkyMapConfig()
        c.name = "hsc_rings_v1"; c.numRings = 120; c.projection = "TAN"; c.tractOverlap = 1.0 / 60; c.pixelScale = 0.168
        return c
    }

    static func lsstCells() -> RingsSkyMapConfig {
        var c = hsc()
        c.name = "lsst_cells_v1"; c.pixelScale = 0.2; c.tractBuilder = .cells
        return c
    }

    /// A coarse map for tests: 3 rings (26 tracts of 45°), 30" pixels, 6 × 6 patches of 1000 pixels a tract.
    static func small(projection: String = "TAN") -> RingsSkyMapConfig {
        var c = RingsSkyMapConfig()
        c.name = "small"; c.numRings = 3; c.projection = projection; c.tractOverlap = 1.0; c.pixelScale = 30
        c.legacyPatchInnerDimensions = (1000, 1000); c.legacyPatchBorder = 50
        return c
    }

    @Test("hsc_rings_v1 and lsst_cells_v1 have Rubin's tract count, tract and patch grids, centres and hashes")
    func rubinFacts() throws {
        let hsc = try RingsSkyMap(config: Self.hsc())
        #expect(hsc.tractCount == 18938)
        #expect(hsc.tractsPerRing.prefix(5) == [10, 16, 22, 29, 35] && hsc.tractsPerRing.max() == 243)
        #expect(hsc.patchGrid == (9, 9))
        let cosmos = try hsc.tract(9813)
        #expect(cosmos.width == 36000 && cosmos.height == 36000 && cosmos.crpix == (17999, 17999))
        #expect(cosmos.center.angle(to: UnitVector(ra: 150.248, dec: 2.231)) < 0.001, "tract 9813 is COSMOS")
        #expect(try hsc.tract(5063).center.angle(to: UnitVector(ra: 53.088, dec: -27.521)) < 0.001, "tract 5063 is ECDFS")
        #expect(hsc.tractId(of: UnitVector(ra: 150.1, dec: 2.2)) == 9813)
        #expect(hsc.hash == "e29fe9f1008e359f36a3677e7d69cc439376d1e6")
        let lsst = try RingsSkyMap(config: Self.lsstCells())
        #expect(lsst.tractCount == 18938 && lsst.patchGrid == (10, 10))
        #expect(try lsst.tract(9813).width == 30000 && (try lsst.tract(9813)).crpix == (14999, 14999))
        #expect(lsst.config.patchInnerDimensions == (3000, 3000) && lsst.config.patchBorder == 200)
        #expect(lsst.hash == "e2736e41244df00bbdb93aecac0ae4b2d19dda91")
        #expect(try RingsSkyMap(config: Self.small()).tractCount == 26, "Rubin's own test: 3 rings make 26 tracts")
    }

    @Test("tract and patch regions are their pixel boxes' edges through astropy's TAN and STG WCS, polar caps included")
    func regionsMatchAstropy() throws {
        var tasks: [[String: Any]] = []
        var ours: [ConvexPolygon] = []
        for (config, tracts) in [(Self.small(), [0, 1, 12, 25]), (Self.small(projection: "STG"), [0, 7, 25]), (Self.hsc(), [9813, 0, 18937])] {
            let map = try RingsSkyMap(config: config)
            for id in tracts {
                let tract = try map.tract(id)
                let (w, h) = (Double(tract.width), Double(tract.height))
                let base: [String: Any] = ["crval": [tract.center.ra, tract.center.dec], "crpix": [tract.crpix.x, tract.crpix.y],
                                           "scale": config.pixelScale, "projection": config.projection]
                tasks.append(base.merging(["pixels": [[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]]]) { a, _ in a })
                ours.append(try map.region(of: tract))
                // A corner patch (its border clipped to the tract) and an inner one.
                let (ix, b) = (config.patchInnerDimensions.x, config.patchBorder)
                tasks.append(base.merging(["pixels": [[-0.5, -0.5], [Double(ix + b) - 0.5, -0.5], [Double(ix + b) - 0.5, Double(ix + b) - 0.5], [-0.5, Double(ix + b) - 0.5]]]) { a, _ in a })
                ours.append(try map.region(of: tract, patchX: 0, patchY: 0))
                let lo = Double(ix - b) - 0.5, hi = Double(2 * ix + b) - 0.5
                tasks.append(base.merging(["pixels": [[lo, lo], [hi, lo], [hi, hi], [lo, hi]]]) { a, _ in a })
                ours.append(try map.region(of: tract, patchX: 1, patchY: 1))
            }
        }
        let answers = try SkyRegionTests.judge(["wcs": tasks])
        let worlds = try #require(answers["wcs_world"] as? [[[Double]]])
        for (k, (polygon, world)) in zip(ours, worlds).enumerated() {
            #expect(polygon.vertices.count == 4)
            for corner in world {
                let nearest = polygon.vertices.map { $0.angle(to: UnitVector(ra: corner[0], dec: corner[1])) }.min() ?? 1
                #expect(nearest < 1e-8, "region \(k): corner \(corner) is \(nearest * 3600)\" from ours")
            }
        }
    }

    @Test("register-skymap writes skymap, tracts and patches once; tracts and patches relate to visits as sphgeom says")
    func registrationAndSpatialJoins() throws {
        let dir = TemporaryDirectory()
        let (butler, visits) = try SkyRegionTests.repository(dir)
        let done = try butler.registerSkyMap(Self.small())
        #expect(done.inserted && done.tracts == 26 && done.patches == 936)
        let again = try butler.registerSkyMap(Self.small())
        #expect(!again.inserted)
        var other = Self.small()
        other.pixelScale = 31
        #expect(throws: ButlerError.self) { try butler.registerSkyMap(other) }
        let skymap = try #require(try butler.registry.fetchDimensionRecords("skymap").first)
        #expect(skymap["hash"] == .string(done.hash) && skymap["tract_max"] == .int(26) && skymap["patch_nx_max"] == .int(6))
        #expect(try butler.registry.fetchDimensionRecords("patch").count == 936)

        // What sphgeom says of each visit against each tract.
        let tracts = try butler.registry.fetchDimensionRecords("tract")
        var pairs: [(visit: Int, tract: Int)] = [], relations: [[String: Any]] = []
        for visit in visits {
            let visitHex = try SkyRegionTests.region(butler, "visit", ["instrument": "LSSTCam", "id": .int(visit)])
            for tract in tracts {
                guard case .int(let id)? = tract["id"], case .string(let hex)? = tract["region"] else { continue }
                pairs.append((visit, id))
                relations.append(["polygon": visitHex, "other": hex])
            }
        }
        let answers = try SkyRegionTests.judge(["relations": relations])
        let verdicts = try #require(answers["relations"] as? [[String: Any]])
        var expected = Set<String>(), undecided = 0
        for (pair, verdict) in zip(pairs, verdicts) {
            guard let disjoint = verdict["disjoint"] as? Bool else { undecided += 1; continue }
            if !disjoint { expected.insert("\(pair.visit)/\(pair.tract)") }
        }
        #expect(undecided == 0)
        var query = DimensionQuery()
        query.where = "skymap = 'small'"
        let (_, ids) = try butler.registry.queryDataIDs(["visit", "tract"], query)
        let found = Set(ids.map { "\($0["visit"]!)/\($0["tract"]!)" })
        #expect(found == expected, "ours \(found.sorted()), sphgeom's \(expected.sorted())")
        #expect(expected.count >= visits.count, "every visit lies on a tract")
        // The other way: a tract constrains visits, and a patch constrains visits and detectors.
        let first = try #require(expected.sorted().first?.split(separator: "/").map { Int($0)! })
        query.where = "tract = \(first[1]) AND skymap = 'small'"
        let visitsOnTract = try butler.registry.queryDimensionRecords("visit", query).compactMap { r -> Int? in if case .int(let v)? = r["id"] { return v }; return nil }
        #expect(Set(visitsOnTract) == Set(expected.filter { $0.hasSuffix("/\(first[1])") }.map { Int($0.split(separator: "/")[0])! }))
        query.where = "visit = \(first[0])"
        query.dataID = ["instrument": "LSSTCam"]  // Rubin refuses `visit = N` without the instrument
        let (_, patches) = try butler.registry.queryDataIDs(["tract", "patch"], query)
        #expect(!patches.isEmpty && patches.allSatisfy { $0["skymap"] == .string("small") })
        // Each of those patches overlaps the visit's region (sphgeom), and one far from it does not come back.
        let visitHex = try SkyRegionTests.region(butler, "visit", ["instrument": "LSSTCam", "id": .int(first[0])])
        let patchHexes = try patches.map { id -> String in
            try SkyRegionTests.region(butler, "patch", ["skymap": "small", "tract": id["tract"]!, "id": id["patch"]!])
        }
        let patchVerdicts = try SkyRegionTests.judge(["relations": patchHexes.map { ["polygon": visitHex, "other": $0] }])["relations"] as? [[String: Any]] ?? []
        #expect(patchVerdicts.allSatisfy { $0["disjoint"] as? Bool != true })
        query.where = "tract.region OVERLAPS POINT(\(SkyRegionTests.pointings[0].ra), \(SkyRegionTests.pointings[0].dec)) AND skymap = 'small'"
        let (_, holding) = try butler.registry.queryDataIDs(["tract"], query)
        let map = try RingsSkyMap(config: Self.small())
        let inner = map.tractId(of: UnitVector(ra: SkyRegionTests.pointings[0].ra, dec: SkyRegionTests.pointings[0].dec))
        #expect(holding.contains { $0["tract"] == .int(inner) }, "the tract whose inner area holds the point is among those whose region does")
    }

    @Test("skymap configs: Rubin's pex_config override file, YAML, overrides; bad fields name the file and line")
    func configFiles() throws {
        let dir = TemporaryDirectory()
        let py = dir.path("makeSkyMap.py")
        try """
            # As obs_subaru's config/makeSkyMap.py
            config.name = "hsc_rings_v1"
            config.skyMap.name = "rings"
            config.skyMap["rings"].numRings = 120
            config.skyMap["rings"].projection = "TAN"
            config.skyMap["rings"].tractOverlap = 1.0/60
            config.skyMap["rings"].pixelScale = 0.168

            """.write(toFile: py, atomically: true, encoding: .utf8)
        var config = RingsSkyMapConfig()
        try config.apply(file: py)
        #expect(config == Self.hsc())
        let cells = dir.path("cells.py")
        try "config.skyMap['rings'].tractBuilder = 'cells'\nconfig.skyMap['rings'].tractBuilder['cells'].cellBorder = 50\n".write(toFile: cells, atomically: true, encoding: .utf8)
        try config.apply(file: cells)
        try config.set("name", "lsst_cells_v1")
        try config.set("pixelScale", "0.2")
        #expect(try RingsSkyMap(config: config).hash == "e2736e41244df00bbdb93aecac0ae4b2d19dda91")
        let yaml = dir.path("small.yaml")
        try "name: small\nnumRings: 3\nprojection: TAN\ntractOverlap: 1.0\npixelScale: 30\npatchInnerDimensions: [1000, 1000]\npatchBorder: 50\n".write(toFile: yaml, atomically: true, encoding: .utf8)
        var small = RingsSkyMapConfig()
        try small.apply(file: yaml)
        #expect(small == Self.small())
        try "config.skyMap['rings'].numRings = 12\nconfig.skyMap['rings'].pixelScal = 0.2\n".write(toFile: dir.path("bad.py"), atomically: true, encoding: .utf8)
        var bad = RingsSkyMapConfig()
        let error = #expect(throws: ButlerError.self) { try bad.apply(file: dir.path("bad.py")) }
        #expect(error?.message.hasPrefix("\(dir.path("bad.py")):2: unknown skymap config field 'config.skyMap['rings'].pixelScal'") == true, "\(error?.message ?? "")")
        #expect(throws: ButlerError.self) { try RingsSkyMap(config: RingsSkyMapConfig()) }
    }
}
