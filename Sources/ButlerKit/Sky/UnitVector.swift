import Foundation

/// A direction on the sky: a unit vector in ICRS Cartesian coordinates (x toward RA 0, Dec 0; z toward the north
/// celestial pole), as sphgeom's `UnitVector3d`.
public struct UnitVector: Sendable, Hashable {
    public let x: Double
    public let y: Double
    public let z: Double

    /// The direction of a vector (normalized here; the zero vector has none).
    public init?(x: Double, y: Double, z: Double) {
        let norm = (x * x + y * y + z * z).squareRoot()
        guard norm > 0, norm.isFinite else { return nil }
        self.x = x / norm
        self.y = y / norm
        self.z = z / norm
    }

    init(unchecked x: Double, _ y: Double, _ z: Double) {
        self.x = x
        self.y = y
        self.z = z
    }

    /// The direction of a position in degrees.
    public init(ra: Double, dec: Double) {
        let a = ra * .pi / 180, d = dec * .pi / 180
        self.init(unchecked: cos(d) * cos(a), cos(d) * sin(a), sin(d))
    }

    /// Right ascension in degrees, in [0, 360).
    public var ra: Double {
        let a = atan2(y, x) * 180 / .pi
        return a < 0 ? a + 360 : (a >= 360 ? a - 360 : a)
    }

    /// Declination in degrees.
    public var dec: Double { atan2(z, (x * x + y * y).squareRoot()) * 180 / .pi }

    func dot(_ o: UnitVector) -> Double { x * o.x + y * o.y + z * o.z }

    /// The cross product, not normalized.
    func cross(_ o: UnitVector) -> Vector3 {
        Vector3(x: y * o.z - z * o.y, y: z * o.x - x * o.z, z: x * o.y - y * o.x)
    }

    var vector: Vector3 { Vector3(x: x, y: y, z: z) }

    /// The angle to another direction, in degrees.
    public func angle(to o: UnitVector) -> Double {
        let c = cross(o)
        return atan2((c.x * c.x + c.y * c.y + c.z * c.z).squareRoot(), dot(o)) * 180 / .pi
    }
}

/// A Cartesian vector of any length (sums, cross products) on the way to a ``UnitVector``.
struct Vector3: Sendable, Hashable {
    var x: Double, y: Double, z: Double

    static func + (a: Self, b: Self) -> Self { Self(x: a.x + b.x, y: a.y + b.y, z: a.z + b.z) }
    static func - (a: Self, b: Self) -> Self { Self(x: a.x - b.x, y: a.y - b.y, z: a.z - b.z) }
    static func * (a: Self, s: Double) -> Self { Self(x: a.x * s, y: a.y * s, z: a.z * s) }
    func dot(_ o: Self) -> Double { x * o.x + y * o.y + z * o.z }
    func dot(_ o: UnitVector) -> Double { x * o.x + y * o.y + z * o.z }
    func cross(_ o: Self) -> Self { Self(x: y * o.z - z * o.y, y: z * o.x - x * o.z, z: x * o.y - y * o.x) }
    var norm: Double { dot(self).squareRoot() }
    var unit: UnitVector? { UnitVector(x: x, y: y, z: z) }
}
