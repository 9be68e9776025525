import ButlerKit
import ButlerTestSupport
import Foundation
import Testing

/// Regions of any size in `--where` (issue 27, item 14), on the test backend: a BOX 150° wide, whole-RA boxes and
/// RANGEs, a 300-vertex POLYGON and a list of 1,000 sky pixels compile to SQL of bounded nesting and find exactly the
/// visits they overlap (against the geometry and, for the boxes, sphgeom); coordinates that are not finite are refused.
@Suite("sky regions of any size in --where")
struct SpatialLimitsTests {
    /// Visit pointings (LSSTCam, about 3.5° across), named for what they test.
    static let pointings: [(name: String, ra: Double, dec: Double)] = [
        ("inside", 320.6, -17.9),    // inside BOX(320, -17.9, 150, 10)
        ("below", 320.0, -45.0),     // south of that box, but inside the convex hull of its corners
        ("west", 250.0, -17.0),      // inside the box near its west end (245°)
        ("far", 100.0, -17.9),       // outside the box's RA range
        ("east", 40.0, -17.9),       // just beyond its east end (35°)
        ("north", 0.0, 60.0),
        ("pole", 0.0, 88.0),
    ]

    static func repository(_ dir: TemporaryDirectory) throws -> (butler: Butler, visits: [String: Int]) {
        let butler = try makeRepository(in: dir)
        try butler.registerInstrument("lsst.obs.lsst.LsstCam")
        let registry = butler.registry
        try registry.insertDimensionRecords("day_obs", [DimensionRecord(element: "day_obs", fields: ["instrument": "LSSTCam", "id": .int(20250101)])])
        try registry.insertDimensionRecords("group", [DimensionRecord(element: "group", fields: ["instrument": "LSSTCam", "name": "g1"])])
        var visits: [String: Int] = [:]
        for (i, p) in pointings.enumerated() {
            let id = 2025010100001 + i
            visits[p.name] = id
            try registry.insertDimensionRecords("exposure", [DimensionRecord(element: "exposure", fields: [
                "instrument": "LSSTCam", "id": .int(id), "obs_id": .string("MC_O_20250101_\(i)"), "physical_filter": "ph_5",
                "group": "g1", "day_obs": .int(20250101), "observation_type": "science", "seq_num": .int(i + 1),
                "tracking_ra": .float(p.ra), "tracking_dec": .float(p.dec), "sky_angle": .float(0),
            ])])
        }
        #expect(try registry.defineVisits(instrument: "LSSTCam").count == pointings.count)
        return (butler, visits)
    }

    /// The names of the visits an expression finds.
    static func found(_ butler: Butler, _ visits: [String: Int], _ expression: String, binds: [String: BindValue] = [:]) throws -> Set<String> {
        var query = DimensionQuery()
        query.where = expression
        query.dataID = ["instrument": "LSSTCam"]  // Rubin refuses `visit = N` without the instrument
        query.binds = binds
        let ids = try butler.registry.queryDimensionRecords("visit", query).compactMap { record -> Int? in
            if case .int(let id)? = record["id"] { return id }
            return nil
        }
        return Set(visits.filter { ids.contains($0.value) }.map(\.key))
    }

    @Test("a BOX 150° wide, whole-RA boxes and RANGEs find the visits inside and not those outside")
    func wideBoxes() throws {
        let dir = TemporaryDirectory()
        let (butler, visits) = try Self.repository(dir)
        func find(_ region: String) throws -> Set<String> { try Self.found(butler, visits, "visit.region OVERLAPS \(region)") }

        // Once an expression-depth error; a convex hull would also take "below".
        #expect(try find("BOX(320, -17.9, 150, 10)") == ["inside", "west"])
        #expect(try find("BOX(320, -17.9, 179, 10)") == ["inside", "west", "east"])
        #expect(try find("BOX(320, -44, 150, 4)") == ["below"])
        // Wider than 180° and the whole RA circle (sphgeom's Box takes any width).
        #expect(try find("BOX(0, -17.9, 360, 10)") == ["inside", "west", "far", "east"])
        #expect(try find("BOX(180, 0, 260, 40)") == ["west", "far"])
        #expect(try find("REGION('RANGE 0 360 -90 90')") == Set(visits.keys))
        #expect(try find("REGION('RANGE 0 360 80 90')") == ["pole"])
        #expect(try find("REGION('RANGE 0 360 55 +Inf')") == ["north", "pole"])
        #expect(try find("REGION('RANGE 300 340 -30 -10')") == ["inside"])
        // Through RA 0: from 300° east to 60°.
        #expect(try find("REGION('RANGE 300 60 -30 70')") == ["inside", "east", "north"])

        // sphgeom agrees on every box it can decide.
        let boxes: [[Double]] = [[320, -17.9, 150, 10], [320, -44, 150, 4], [320, -17.9, 179, 10], [180, 0, 260, 40], [0, -17.9, 360, 10]]
        var cases: [(box: [Double], visit: String, relation: [String: Any])] = []
        for box in boxes {
            for (name, id) in visits {
                let hex = try SkyRegionTests.region(butler, "visit", ["instrument": "LSSTCam", "id": .int(id)])
                cases.append((box, name, ["polygon": hex, "box": box]))
            }
        }
        let answers = try SkyRegionTests.judge(["relations": cases.map(\.relation)])
        let relations = try #require(answers["relations"] as? [[String: Any]])
        var decided = 0
        for (item, relation) in zip(cases, relations) {
            guard let disjoint = relation["disjoint"] as? Bool else { continue }
            decided += 1
            let region = "BOX(\(item.box.map { "\($0)" }.joined(separator: ", ")))"
            let found = try Self.found(butler, visits, "visit.region OVERLAPS \(region) AND visit = \(visits[item.visit]!)")
            #expect(found.isEmpty == disjoint, "\(region) and \(item.visit): sphgeom says \(disjoint ? "disjoint" : "overlapping")")
        }
        #expect(decided * 2 >= cases.count, "\(decided) of \(cases.count) decided by sphgeom")
    }

    @Test("a POLYGON of 300 vertices and 1,000 sky pixels compile and find the right visits")
    func manyVertices() throws {
        let dir = TemporaryDirectory()
        let (butler, visits) = try Self.repository(dir)
        // 300 vertices on a circle of 3° about a pointing.
        func polygon(_ ra: Double, _ dec: Double) -> String {
            let vertices = (0..<300).map { i -> String in
                let t = 2 * Double.pi * Double(i) / 300
                return "\(ra + 3 * cos(t) / cos(dec * .pi / 180)), \(dec + 3 * sin(t))"
            }
            return "POLYGON(\(vertices.joined(separator: ", ")))"
        }
        #expect(try Self.found(butler, visits, "visit.region OVERLAPS \(polygon(320.6, -17.9))") == ["inside"])
        #expect(try Self.found(butler, visits, "visit.region OVERLAPS \(polygon(320.0, -45.0))") == ["below"])
        #expect(try Self.found(butler, visits, "visit.region OVERLAPS \(polygon(200.0, 0.0))").isEmpty)

        // 1,000 HTM level-7 pixels, one of them under the visit "inside".
        let htm = try HTMPixelization(level: 7)
        let pixel = htm.index(of: UnitVector(ra: 320.6, dec: -17.9))
        let far = htm.index(of: UnitVector(ra: 200, dec: 0))
        let pixels = [pixel] + (0..<999).map { far - 500 + $0 }
        #expect(try Self.found(butler, visits, "htm7 IN (\(pixels.map(String.init).joined(separator: ", ")))") == ["inside"])
        #expect(try Self.found(butler, visits, "htm7 IN (\(pixels.dropFirst().map(String.init).joined(separator: ", ")))").isEmpty)
    }

    @Test("POINT, CIRCLE, BOX and POLYGON refuse coordinates that are not finite; RANGEs name their fault")
    func nonFinite() throws {
        let dir = TemporaryDirectory()
        let (butler, visits) = try Self.repository(dir)
        func refusal(_ expression: String, binds: [String: BindValue] = [:]) -> String {
            butlerError { try Self.found(butler, visits, expression, binds: binds) }?.message ?? "no error"
        }
        let nan = BindValue(parsing: "nan")
        #expect(refusal("visit.region OVERLAPS POINT(:ra, :dec)", binds: ["ra": nan, "dec": .float(0)]).contains("POINT's ra (:ra) is nan, not a finite number"))
        #expect(refusal("visit.region OVERLAPS POINT(1e400, 0)").contains("POINT's ra is inf, not a finite number"))
        #expect(refusal("visit.region OVERLAPS POINT(0, :dec)", binds: ["dec": nan]).contains("POINT's dec (:dec) is nan"))
        #expect(refusal("visit.region OVERLAPS CIRCLE(:ra, 0, 1)", binds: ["ra": nan]).contains("CIRCLE's ra (:ra) is nan"))
        #expect(refusal("visit.region OVERLAPS BOX(0, 0, 1e999, 1)").contains("BOX's width is inf"))
        #expect(refusal("visit.region OVERLAPS POLYGON(0, 0, 1, 0, :x, 1)", binds: ["x": nan]).contains("POLYGON's ra3 (:x) is nan"))
        // The message names what was written, not a BOX the user never wrote.
        let range = refusal("visit.region OVERLAPS REGION('RANGE 0 360 -90 -95')")
        #expect(range.contains("region 'RANGE 0 360 -90 -95': the Dec range -90.0...-95.0 is not a non-empty part of [-90, 90]"), "\(range)")
        #expect(!range.contains("BOX"))
        #expect(refusal("visit.region OVERLAPS REGION('RANGE 10 10 0 1')").contains("the RA range 10.0...10.0 is empty"))
        #expect(refusal("visit.region OVERLAPS BOX(0, 0, 400, 1)").contains("BOX(0.0, 0.0, 400.0, 1.0): the width 400.0 is outside (0, 360] degrees"))
        // A whole-sky RANGE is one region; as one convex region for the library it is refused, saying why.
        #expect(butlerError { try SkyRegion.parsingPOS("RANGE 0 360 -10 10") }?.message.contains("is not one convex region") == true)
        #expect(try SkyRegion.parsingPOS("RANGE 0 360 -90 90") == .circle(center: UnitVector(x: 0, y: 0, z: 1)!, radius: 180))
    }
}
