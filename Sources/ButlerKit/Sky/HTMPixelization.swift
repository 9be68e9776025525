import Foundation

/// The Hierarchical Triangular Mesh at one level, numbered as sphgeom's `HtmPixelization` (Rubin's `htm7` skypix
/// dimension is level 7): the 8 root triangles are 8 (S0) to 15 (N3); the children of triangle `i` are `4i` to
/// `4i + 3`, each a convex polygon.
public struct HTMPixelization: Sendable {
    /// The subdivision level: 0 to 24.
    public let level: Int

    public init(level: Int) throws {
        guard (0...24).contains(level) else { throw ButlerError(.invalidValue, "HTM level \(level) is outside 0...24") }
        self.level = level
    }

    /// The corners of the root triangles 8...15, counter-clockwise.
    static let roots: [(UnitVector, UnitVector, UnitVector)] = {
        let x = UnitVector(unchecked: 1, 0, 0), y = UnitVector(unchecked: 0, 1, 0), z = UnitVector(unchecked: 0, 0, 1)
        let mx = UnitVector(unchecked: -1, 0, 0), my = UnitVector(unchecked: 0, -1, 0), mz = UnitVector(unchecked: 0, 0, -1)
        return [(x, mz, y), (y, mz, mx), (mx, mz, my), (my, mz, x), (x, z, my), (my, z, mx), (mx, z, y), (y, z, x)]
    }()

    /// The children of a triangle: corner triangles 0, 1, 2, then the middle one.
    static func children(_ t: (UnitVector, UnitVector, UnitVector)) -> [(UnitVector, UnitVector, UnitVector)] {
        let (v0, v1, v2) = t
        let w0 = (v1.vector + v2.vector).unit!, w1 = (v0.vector + v2.vector).unit!, w2 = (v0.vector + v1.vector).unit!
        return [(v0, w2, w1), (v1, w0, w2), (v2, w1, w0), (w0, w1, w2)]
    }

    /// The number of pixels: 8 × 4^level.
    public var count: Int { 8 << (2 * level) }

    /// The pixels' first index (8 × 4^level); indices run to `2 × firstIndex - 1`.
    public var firstIndex: Int { 8 << (2 * level) }

    /// The pixel holding a direction.
    public func index(of v: UnitVector) -> Int {
        func inside(_ t: (UnitVector, UnitVector, UnitVector)) -> Bool {
            t.0.cross(t.1).dot(v) >= 0 && t.1.cross(t.2).dot(v) >= 0 && t.2.cross(t.0).dot(v) >= 0
        }
        var id = 8 + (Self.roots.firstIndex(where: inside) ?? Self.roots.indices.max { a, b in
            Self.roots[a].0.dot(v) + Self.roots[a].1.dot(v) + Self.roots[a].2.dot(v) < Self.roots[b].0.dot(v) + Self.roots[b].1.dot(v) + Self.roots[b].2.dot(v)
        }!)
        var triangle = Self.roots[id - 8]
        for _ in 0..<level {
            let kids = Self.children(triangle)
            // Rounding can leave a direction on no child's inner side: the nearest middle is taken.
            let k = kids.firstIndex(where: inside) ?? 3
            triangle = kids[k]
            id = id * 4 + k
        }
        return id
    }

    /// The triangle of a pixel, as a polygon.
    public func triangle(_ index: Int) throws -> ConvexPolygon {
        guard index >= firstIndex, index < 2 * firstIndex else {
            throw ButlerError(.invalidValue, "\(index) is not an HTM level \(level) pixel (\(firstIndex)...\(2 * firstIndex - 1))")
        }
        var path: [Int] = []
        var id = index
        for _ in 0..<level { path.append(id & 3); id >>= 2 }
        var t = Self.roots[id - 8]
        for k in path.reversed() { t = Self.children(t)[k] }
        return try ConvexPolygon(vertices: [t.0, t.1, t.2])
    }

    /// The pixels a region may touch, as closed ranges of indices, sorted and merged: every pixel the region
    /// overlaps is in them (a few more may be, near its boundary). A triangle wholly inside the region adds all its
    /// descendants without visiting them.
    public func envelope(_ region: SkyRegion) -> [ClosedRange<Int>] {
        var ranges: [ClosedRange<Int>] = []
        func visit(_ t: (UnitVector, UnitVector, UnitVector), _ id: Int, _ depth: Int) {
            let triangle = try! ConvexPolygon(vertices: [t.0, t.1, t.2])
            // The triangle grown slightly, so that rounding never loses a pixel the region touches.
            guard Self.mayOverlap(triangle, region) else { return }
            let shift = 2 * (level - depth)
            if depth == level || Self.contains(region, triangle) {
                ranges.append((id << shift)...(((id + 1) << shift) - 1))
                return
            }
            for (k, child) in Self.children(t).enumerated() { visit(child, id * 4 + k, depth + 1) }
        }
        for (i, root) in Self.roots.enumerated() { visit(root, 8 + i, 0) }
        ranges.sort { $0.lowerBound < $1.lowerBound }
        var merged: [ClosedRange<Int>] = []
        for r in ranges {
            if let last = merged.last, r.lowerBound <= last.upperBound + 1 {
                merged[merged.count - 1] = last.lowerBound...max(last.upperBound, r.upperBound)
            } else {
                merged.append(r)
            }
        }
        return merged
    }

    /// Whether the region may share a point with the triangle, with a margin of about 1e-9 rad for rounding.
    static func mayOverlap(_ t: ConvexPolygon, _ region: SkyRegion) -> Bool {
        let margin = 1e-9
        switch region {
        case .point(let p):
            return t.edges.allSatisfy { $0.n.dot(p) >= -margin }
        case .circle(let c, let r):
            return t.overlaps(center: c, radius: min(r + margin * 180 / .pi, 180))
        case .polygon(let g):
            if t.overlaps(g) { return true }
            // Near misses: a vertex of either within the margin of the other.
            return g.vertices.contains { v in t.edges.allSatisfy { $0.n.dot(v) >= -margin } }
                || t.vertices.contains { v in g.edges.allSatisfy { $0.n.dot(v) >= -margin } }
        }
    }

    /// Whether the region holds the whole triangle.
    static func contains(_ region: SkyRegion, _ t: ConvexPolygon) -> Bool {
        switch region {
        case .point: return false
        case .circle(let c, let r):
            // A cap no larger than a hemisphere is convex: holding the corners is holding the triangle. A larger
            // one holds the triangle when the cap it leaves (about the antipode) misses it, with a margin.
            if r <= 90 { return t.vertices.allSatisfy { $0.angle(to: c) < r } }
            let antipode = UnitVector(unchecked: -c.x, -c.y, -c.z)
            return !t.overlaps(center: antipode, radius: 180 - r + 1e-6)
        case .polygon(let g):
            return t.vertices.allSatisfy { v in g.edges.allSatisfy { $0.n.dot(v) > 1e-12 } }
        }
    }
}
