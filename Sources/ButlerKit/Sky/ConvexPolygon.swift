import Foundation

/// A convex polygon on the sky: vertices joined by great-circle arcs, counter-clockwise seen from outside the
/// sphere (the interior is on the left of each edge), as sphgeom's `ConvexPolygon`. Each region it stands for is
/// smaller than a hemisphere.
public struct ConvexPolygon: Sendable, Hashable {
    /// The vertices, counter-clockwise; at least three.
    public let vertices: [UnitVector]

    /// One edge: from `a` to `b`, with the unit normal `n` of its great circle (the interior is where `n·v >= 0`)
    /// and `p = n × a`, `q = b × n`, the normals of the planes that bound the arc at its ends (a direction `c`
    /// whose nearest point on the great circle lies on the arc has `p·c >= 0` and `q·c >= 0`).
    struct Edge: Sendable, Hashable {
        let a: UnitVector, b: UnitVector, n: UnitVector
        let p: Vector3, q: Vector3
    }

    let edges: [Edge]

    /// The squared chord length below which two consecutive vertices are one: sphgeom's bound on the error of a
    /// computed squared chord length (`MAX_SQUARED_CHORD_LENGTH_ERROR`, 2.5e-15, a chord of 5e-8 rad or 0.01"),
    /// under which sphgeom cannot tell two points apart by distance. sphgeom decodes such polygons as they are
    /// (its exact orientation tests give the degenerate edge no say); Rubin's exports hold vertices 1.5e-15 apart.
    static let duplicateSquaredChord = 2.5e-15

    /// A polygon from vertices already in counter-clockwise order around a convex region (as sphgeom encodes them).
    /// Consecutive vertices closer than sphgeom's tolerance (``duplicateSquaredChord``) count once, as sphgeom's
    /// own tests treat them: a near-zero edge has no direction of its own.
    ///
    /// - Throws: ``ButlerError/Code/invalidValue`` when there are fewer than 3 distinct vertices or they do not make
    ///   a convex counter-clockwise polygon.
    public init(vertices given: [UnitVector]) throws {
        var vertices: [UnitVector] = []
        for v in given {
            if let last = vertices.last, Self.squaredChord(last, v) <= Self.duplicateSquaredChord { continue }
            vertices.append(v)
        }
        while vertices.count > 1, Self.squaredChord(vertices[vertices.count - 1], vertices[0]) <= Self.duplicateSquaredChord {
            vertices.removeLast()
        }
        guard vertices.count >= 3 else { throw ButlerError(.invalidValue, "a polygon needs at least 3 distinct vertices, got \(vertices.count)") }
        var edges: [Edge] = []
        for i in vertices.indices {
            let a = vertices[i], b = vertices[(i + 1) % vertices.count]
            guard let n = a.cross(b).unit else { throw ButlerError(.invalidValue, "a polygon has two equal or opposite consecutive vertices") }
            edges.append(Edge(a: a, b: b, n: n, p: n.cross(a), q: b.cross(n)))
        }
        for edge in edges {
            for v in vertices where v != edge.a && v != edge.b {
                guard edge.n.dot(v) >= -1e-12 else {
                    throw ButlerError(.invalidValue, "the vertices do not make a convex polygon in counter-clockwise order")
                }
            }
        }
        self.vertices = vertices
        self.edges = edges
    }

    /// The convex hull of points that lie within a hemisphere (as Rubin's `POLYGON(...)` reads its vertices):
    /// computed in the gnomonic projection about their mean direction, where great circles are straight lines.
    ///
    /// - Throws: ``ButlerError/Code/invalidValue`` for fewer than 3 points, points spread over more than a
    ///   hemisphere, or points on one great circle.
    public static func hull(of points: [UnitVector]) throws -> ConvexPolygon {
        let sum = points.reduce(Vector3(x: 0, y: 0, z: 0)) { $0 + $1.vector }
        guard points.count >= 3, let center = sum.unit else {
            throw ButlerError(.invalidValue, "a polygon needs at least 3 distinct vertices")
        }
        let frame = TangentPlane(center: center)
        var projected: [(x: Double, y: Double, v: UnitVector)] = []
        for p in points {
            guard let (x, y) = frame.project(p), x.magnitude < 1e6, y.magnitude < 1e6 else {
                throw ButlerError(.invalidValue, "the polygon's vertices span more than a hemisphere")
            }
            projected.append((x, y, p))
        }
        // Graham's scan by angle about the points' mean (inside the hull), from the lowest point: counter-clockwise
        // in the (east, north) plane is counter-clockwise on the sky seen from outside, because east × north is the
        // outward normal. Angles about an inner point separate the points along an edge; a sort by x (Andrew's
        // monotone chain) or by angle about a point on the boundary orders them by rounding noise instead.
        typealias Point = (x: Double, y: Double, v: UnitVector)
        let cx = projected.map(\.x).reduce(0, +) / Double(projected.count)
        let cy = projected.map(\.y).reduce(0, +) / Double(projected.count)
        var sorted = projected.sorted { atan2($0.y - cy, $0.x - cx) < atan2($1.y - cy, $1.x - cx) }
        let lowest = sorted.indices.min { (sorted[$0].y, sorted[$0].x) < (sorted[$1].y, sorted[$1].x) }!
        sorted = Array(sorted[lowest...] + sorted[..<lowest])
        func turn(_ o: Point, _ a: Point, _ b: Point) -> Double {
            (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x)
        }
        let tolerance = 1e-15
        var hull: [Point] = []
        for p in sorted {
            while hull.count >= 2 && turn(hull[hull.count - 2], hull[hull.count - 1], p) <= tolerance { hull.removeLast() }
            hull.append(p)
        }
        // Close the loop: drop ends that do not turn left.
        var changed = true
        while changed && hull.count >= 3 {
            changed = false
            if turn(hull[hull.count - 2], hull[hull.count - 1], hull[0]) <= tolerance { hull.removeLast(); changed = true; continue }
            if turn(hull[hull.count - 1], hull[0], hull[1]) <= tolerance { hull.removeFirst(); changed = true }
        }
        guard hull.count >= 3 else { throw ButlerError(.invalidValue, "the polygon's vertices lie on one great circle") }
        return try ConvexPolygon(vertices: hull.map(\.v))
    }

    /// The squared distance between two directions through the sphere.
    static func squaredChord(_ a: UnitVector, _ b: UnitVector) -> Double {
        let (dx, dy, dz) = (a.x - b.x, a.y - b.y, a.z - b.z)
        return dx * dx + dy * dy + dz * dz
    }

    /// Whether a direction is inside or on the boundary.
    public func contains(_ v: UnitVector) -> Bool {
        edges.allSatisfy { $0.n.dot(v) >= 0 }
    }

    /// Whether the two polygons share a point: a vertex of one inside the other, or two edges that cross.
    public func overlaps(_ other: ConvexPolygon) -> Bool {
        if vertices.contains(where: other.contains) || other.vertices.contains(where: contains) { return true }
        for e in edges {
            for f in other.edges where Self.cross(e, f) { return true }
        }
        return false
    }

    /// Whether two edges cross: each one's ends lie on opposite sides of the other's great circle, and the crossing
    /// point of the two great circles that lies on the first arc lies on the second.
    static func cross(_ e: Edge, _ f: Edge) -> Bool {
        guard e.n.dot(f.a) * e.n.dot(f.b) < 0, f.n.dot(e.a) * f.n.dot(e.b) < 0 else { return false }
        // x = e.n × f.n; x·(e.a + e.b) = f.n·(e.q − e.p) and x·(f.a + f.b) = −e.n·(f.q − f.p).
        return (e.q - e.p).dot(f.n) * -(f.q - f.p).dot(e.n) > 0
    }

    /// Whether the polygon and a circle (center, opening angle in degrees) share a point.
    public func overlaps(center c: UnitVector, radius: Double) -> Bool {
        let cosR = cos(radius * .pi / 180)
        if vertices.contains(where: { $0.dot(c) >= cosR }) { return true }
        // A circle larger than a hemisphere holds a convex polygon's point only if it holds a vertex.
        guard radius < 90 else { return false }
        if contains(c) { return true }
        let sinR = sin(radius * .pi / 180)
        return edges.contains { e in abs(e.n.dot(c)) <= sinR && e.p.dot(c) >= 0 && e.q.dot(c) >= 0 }
    }

    /// The direction of the mean of the vertices (inside the polygon).
    public var centroid: UnitVector {
        vertices.reduce(Vector3(x: 0, y: 0, z: 0)) { $0 + $1.vector }.unit ?? vertices[0]
    }
}

/// The gnomonic (tangent-plane) projection about a direction: `x` toward east, `y` toward north, in units of the
/// plane's distance (radians near the center). Great circles are straight lines in it.
struct TangentPlane: Sendable {
    let center: UnitVector
    let east: Vector3
    let north: Vector3

    init(center: UnitVector) {
        self.center = center
        // East is along z × center; at a pole, RA 90° stands in for it.
        let z = UnitVector(unchecked: 0, 0, 1)
        let e = z.cross(center)
        self.east = e.norm > 1e-12 ? e * (1 / e.norm) : Vector3(x: 0, y: 1, z: 0)
        self.north = center.vector.cross(east)
    }

    /// The plane coordinates of a direction in the hemisphere about the center; nil beyond it.
    func project(_ v: UnitVector) -> (Double, Double)? {
        let d = v.dot(center)
        guard d > 1e-9 else { return nil }
        return (east.dot(v) / d, north.dot(v) / d)
    }

    /// The direction at plane coordinates.
    func direction(_ x: Double, _ y: Double) -> UnitVector {
        (center.vector + east * x + north * y).unit!
    }
}
