import Foundation

/// HEALPix in the nested numbering at one level (`nside = 2^level`), as Rubin's `healpixN` skypix dimensions and
/// hpgeom number it: 12 base faces, each split into `nside²` pixels whose bits interleave x (even) and y (odd).
public struct HEALPixPixelization: Sendable {
    /// The level: 0 to 17.
    public let level: Int
    public var nside: Int { 1 << level }
    /// The number of pixels: 12 × nside².
    public var count: Int { 12 << (2 * level) }

    public init(level: Int) throws {
        guard (0...17).contains(level) else { throw ButlerError(.invalidValue, "HEALPix level \(level) is outside 0...17") }
        self.level = level
    }

    static let jrll = [2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4]
    static let jpll = [1, 3, 5, 7, 0, 2, 4, 6, 1, 3, 5, 7]

    /// The pixel holding a direction.
    public func index(of v: UnitVector) -> Int {
        let z = v.z, za = abs(z)
        var phi = atan2(v.y, v.x)
        if phi < 0 { phi += 2 * .pi }
        let tt = min(phi / (.pi / 2), 4 - 1e-15)
        let n = nside
        let face: Int, ix: Int, iy: Int
        if za <= 2.0 / 3.0 {
            let t1 = Double(n) * (0.5 + tt), t2 = Double(n) * z * 0.75
            let jp = Int(t1 - t2), jm = Int(t1 + t2)
            let ifp = jp >> level, ifm = jm >> level
            face = ifp == ifm ? (ifp | 4) : (ifp < ifm ? ifp : ifm + 8)
            ix = jm & (n - 1)
            iy = n - (jp & (n - 1)) - 1
        } else {
            let ntt = min(3, Int(tt))
            let tp = tt - Double(ntt)
            let tmp = Double(n) * (3 * (1 - za)).squareRoot()
            let jp = min(n - 1, Int(tp * tmp)), jm = min(n - 1, Int((1 - tp) * tmp))
            if z >= 0 { (face, ix, iy) = (ntt, n - jm - 1, n - jp - 1) } else { (face, ix, iy) = (ntt + 8, jp, jm) }
        }
        return face << (2 * level) + Self.interleave(ix, iy)
    }

    /// The polygon around a pixel: the convex hull of points along its boundary (its edges are not great circles;
    /// the hull holds the pixel and exceeds it by slivers).
    public func polygon(_ pixel: Int) throws -> ConvexPolygon {
        guard pixel >= 0, pixel < count else {
            throw ButlerError(.invalidValue, "\(pixel) is not a HEALPix level \(level) pixel (0...\(count - 1))")
        }
        let face = pixel >> (2 * level)
        let (ix, iy) = Self.deinterleave(pixel & ((1 << (2 * level)) - 1))
        let steps = 4
        var points: [UnitVector] = []
        for k in 0..<steps {
            let t = Double(k) / Double(steps)
            for (fx, fy) in [(t, 0.0), (1.0, t), (1 - t, 1.0), (0.0, 1 - t)] {
                points.append(direction(face: face, x: (Double(ix) + fx) / Double(nside), y: (Double(iy) + fy) / Double(nside)))
            }
        }
        // Grown by a hair (1e-9 rad outward from the centre) so that no point of the pixel falls outside by rounding.
        let center = direction(face: face, x: (Double(ix) + 0.5) / Double(nside), y: (Double(iy) + 0.5) / Double(nside))
        let grown = points.map { p in (p.vector + (p.vector - center.vector) * 1e-7).unit! }
        return try ConvexPolygon.hull(of: grown)
    }

    /// The direction of a point of a base face at continuous coordinates x, y in [0, 1].
    func direction(face: Int, x: Double, y: Double) -> UnitVector {
        let jr = Double(Self.jrll[face]) - x - y
        var nr: Double, z: Double
        if jr < 1 {
            nr = jr
            z = 1 - nr * nr / 3
        } else if jr > 3 {
            nr = 4 - jr
            z = nr * nr / 3 - 1
        } else {
            nr = 1
            z = (2 - jr) * 2 / 3
        }
        var tmp = Double(Self.jpll[face]) * nr + x - y
        if tmp < 0 { tmp += 8 }
        if tmp >= 8 { tmp -= 8 }
        let phi = nr < 1e-15 ? 0 : (.pi / 4) * tmp / nr
        let r = (max(0, 1 - z * z)).squareRoot()
        return UnitVector(x: r * cos(phi), y: r * sin(phi), z: z)!
    }

    static func interleave(_ x: Int, _ y: Int) -> Int {
        var result = 0
        for bit in 0..<17 { result |= ((x >> bit) & 1) << (2 * bit) | ((y >> bit) & 1) << (2 * bit + 1) }
        return result
    }

    static func deinterleave(_ v: Int) -> (Int, Int) {
        var x = 0, y = 0
        for bit in 0..<17 { x |= ((v >> (2 * bit)) & 1) << bit; y |= ((v >> (2 * bit + 1)) & 1) << bit }
        return (x, y)
    }
}
