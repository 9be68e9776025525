import Crypto
import Foundation

/// Rubin's rings skymap (`lsst.skymap.RingsSkyMap`): the sphere cut into `numRings` declination rings plus two polar
/// caps, each ring into tracts of equal RA width, each tract a gnomonic (or stereographic) pixel grid cut into
/// patches. Tract and patch ids, pixel boxes and regions follow Rubin's definitions, so a tract number means the same
/// sky here and in Rubin's repositories (tract 9813 of `hsc_rings_v1` is COSMOS).
///
/// - Tract 0 is the south cap, then the rings from south to north, each from `raStart` eastward; the last tract is
///   the north cap. Ring `i` is centred on Dec `−90° + (i + 1) · ringSize`, `ringSize = 180° / (numRings + 1)`, and
///   has `int(2π cos(d) / ringSize) + 1` tracts, `d` the ring's edge nearest the equator.
/// - A tract's pixel box holds a circle of radius `ringSize / 2 + tractOverlap` about its centre, grown to a whole
///   number of patches; patch `(x, y)` has id `x + y · nx`.
/// - Regions are the boxes' outer pixel edges mapped to the sky (a patch's box includes its border).
public struct RingsSkyMap: Sendable, Hashable {
    public var config: RingsSkyMapConfig

    /// One tract: its centre and pixel grid.
    public struct Tract: Sendable, Hashable {
        public let id: Int
        public let center: UnitVector
        /// Pixels along x and y.
        public let width: Int, height: Int
        /// The pixel of the centre, 0-based (Rubin's `crpix`).
        public let crpix: (x: Double, y: Double)
        /// Whether this is the north cap, whose projection is turned by 180° (FITS WCS's LONPOLE at Dec 90°).
        let northCap: Bool

        public static func == (a: Self, b: Self) -> Bool { a.id == b.id }
        public func hash(into h: inout Hasher) { h.combine(id) }
    }

    /// The most patches a skymap may have, its tracts times the patches of a tract: 10,000,000, five times Rubin's
    /// largest (`lsst_cells_v1`, 18,938 tracts of 10 x 10 patches). A config beyond it is refused before anything is
    /// computed, with the numbers it would make.
    public static let maximumPatches = 10_000_000

    /// - Throws: ``ButlerError/Code/invalidValue`` for a config that ``RingsSkyMapConfig`` refuses, or that makes
    ///   more than ``maximumPatches`` patches.
    public init(config: RingsSkyMapConfig) throws {
        try config.validate()
        let (tracts, nx, ny) = Self.estimatedSize(config)
        let patches = tracts * nx * ny
        guard patches.isFinite, patches <= Double(Self.maximumPatches) else {
            func count(_ v: Double) -> String {
                guard v.isFinite, v < 1e15 else { return v.isFinite ? String(format: "%.3g", v) : "unboundedly many" }
                var digits = String(Int(v)), grouped = ""
                while digits.count > 3 { grouped = "," + digits.suffix(3) + grouped; digits.removeLast(3) }
                return digits + grouped
            }
            throw ButlerError(.invalidValue, "skymap config '\(config.name)': numRings \(config.numRings) and pixelScale \(config.pixelScale) make \(count(tracts)) tracts of \(count(nx)) x \(count(ny)) patches, \(count(patches)) patches in all, more than the limit of 10,000,000 (Rubin's lsst_cells_v1 has 1,893,800): use fewer rings, a larger pixelScale or larger patches")
        }
        self.config = config
    }

    /// The tracts and patches per tract along x and y that a valid config makes, computed in floating point without
    /// building anything (exact for the sizes a skymap may have; a lower bound, still beyond the limit, for more
    /// than 100,000 rings).
    static func estimatedSize(_ config: RingsSkyMapConfig) -> (tracts: Double, nx: Double, ny: Double) {
        let rings = config.numRings
        let ringSize = Double.pi / Double(rings + 1)
        var tracts = 2.0
        if rings > 100_000 {
            // Each ring has at least 2π cos(d) / ringSize tracts: over the rings, about 4 (numRings + 1)² / π.
            tracts = 4 * Double(rings + 1) * Double(rings + 1) / .pi
        } else {
            for i in 0..<rings {
                let start = ringSize * (Double(i) + 0.5) - .pi / 2
                let d = min(abs(start), abs(start + ringSize))
                tracts += (2 * .pi * cos(d) / ringSize).rounded(.down) + 1
            }
        }
        let reach = ringSize / 2 + config.tractOverlap * .pi / 180
        let plane = config.projection == "STG" ? 2 * tan(reach / 2) : tan(reach)
        let extent = plane * 180 / .pi / (config.pixelScale / 3600)
        let pixels = (extent + 0.5).rounded(.down) - (-extent - 0.5).rounded(.up) + 1
        let (ix, iy) = config.patchInnerDimensions
        return (tracts, (pixels / Double(ix)).rounded(.up), (pixels / Double(iy)).rounded(.up))
    }

    var ringSize: Double { .pi / Double(config.numRings + 1) }

    /// Tracts in each ring, south to north.
    public var tractsPerRing: [Int] {
        (0..<config.numRings).map { i in
            let start = ringSize * (Double(i) + 0.5) - .pi / 2
            let d = min(abs(start), abs(start + ringSize))
            return Int(2 * .pi * cos(d) / ringSize) + 1
        }
    }

    /// The number of tracts (Rubin's `tract_max`).
    public var tractCount: Int { tractsPerRing.reduce(0, +) + 2 }

    /// The pixel box every tract has (Rubin's rings tracts all share one), with the patches per axis and the
    /// offset of the box's origin from the centre.
    var grid: (width: Int, height: Int, nx: Int, ny: Int, crpixX: Double, crpixY: Double) {
        let reach = ringSize / 2 + config.tractOverlap * .pi / 180
        let plane = config.projection == "STG" ? 2 * tan(reach / 2) : tan(reach)
        let extent = plane * 180 / .pi / (config.pixelScale / 3600)
        func axis(_ inner: Int) -> (dim: Int, num: Int, min: Int) {
            var minimum = Int((-extent - 0.5).rounded(.up))
            let maximum = Int((extent + 0.5).rounded(.down))
            var dim = maximum - minimum + 1
            let num = (dim + inner - 1) / inner
            let delta = inner * num - dim
            if delta > 0 { dim = inner * num; minimum -= delta / 2 }
            return (dim, num, minimum)
        }
        let (ix, iy) = config.patchInnerDimensions
        let x = axis(ix), y = axis(iy)
        return (x.dim, y.dim, x.num, y.num, Double(-x.min), Double(-y.min))
    }

    /// Patches per tract along x and y (Rubin's `patch_nx_max`, `patch_ny_max`).
    public var patchGrid: (nx: Int, ny: Int) { let g = grid; return (g.nx, g.ny) }

    /// A tract by id.
    public func tract(_ id: Int) throws -> Tract {
        guard id >= 0, id < tractCount else { throw ButlerError(.notFound, "skymap \(config.name) has tracts 0...\(tractCount - 1), not \(id)") }
        let g = grid
        let center: UnitVector
        if id == 0 {
            center = UnitVector(ra: 0, dec: -90)
        } else if id == tractCount - 1 {
            center = UnitVector(ra: 0, dec: 90)
        } else {
            var rest = id - 1
            var ring = 0
            for n in tractsPerRing {
                if rest < n { break }
                rest -= n
                ring += 1
            }
            let n = tractsPerRing[ring]
            var ra = config.raStart + 360 * Double(rest) / Double(n)
            ra = ra.truncatingRemainder(dividingBy: 360)
            if ra < 0 { ra += 360 }
            center = UnitVector(ra: ra, dec: -90 + Double(ring + 1) * ringSize * 180 / .pi)
        }
        return Tract(id: id, center: center, width: g.width, height: g.height, crpix: (g.crpixX, g.crpixY), northCap: id == tractCount - 1)
    }

    /// The sky direction of a tract pixel position (0-based, Rubin's convention: east toward −x, north toward +y at
    /// rotation 0).
    public func direction(_ tract: Tract, x: Double, y: Double) -> UnitVector {
        let s = config.pixelScale / 3600 * .pi / 180
        let r = config.rotation * .pi / 180
        let dx = x - tract.crpix.x, dy = y - tract.crpix.y
        var xi = s * (-dx * cos(r) + dy * sin(r)), eta = s * (dx * sin(r) + dy * cos(r))
        if tract.northCap { (xi, eta) = (-xi, -eta) }
        let plane = TangentPlane(center: tract.center)
        guard config.projection == "STG" else { return plane.direction(xi, eta) }
        // Stereographic: plane radius 2 tan(θ/2) for an angle θ from the centre.
        let radius = (xi * xi + eta * eta).squareRoot()
        guard radius > 0 else { return tract.center }
        let tangentRadius = tan(2 * atan(radius / 2))
        return plane.direction(xi / radius * tangentRadius, eta / radius * tangentRadius)
    }

    /// The region of a pixel box (inclusive integer bounds): its outer pixel edges mapped to the sky.
    func region(_ tract: Tract, minX: Int, minY: Int, maxX: Int, maxY: Int) throws -> ConvexPolygon {
        let (x0, y0, x1, y1) = (Double(minX) - 0.5, Double(minY) - 0.5, Double(maxX) + 0.5, Double(maxY) + 0.5)
        return try ConvexPolygon.hull(of: [(x0, y0), (x1, y0), (x1, y1), (x0, y1)].map { direction(tract, x: $0.0, y: $0.1) })
    }

    /// A tract's region (its whole pixel box).
    public func region(of tract: Tract) throws -> ConvexPolygon {
        try region(tract, minX: 0, minY: 0, maxX: tract.width - 1, maxY: tract.height - 1)
    }

    /// A patch's region: its inner box grown by the border (clipped to the tract for the legacy builder).
    public func region(of tract: Tract, patchX x: Int, patchY y: Int) throws -> ConvexPolygon {
        let (ix, iy) = config.patchInnerDimensions
        let border = config.patchBorder
        var (minX, minY) = (x * ix - border, y * iy - border)
        var (maxX, maxY) = ((x + 1) * ix - 1 + border, (y + 1) * iy - 1 + border)
        if config.tractBuilder == .legacy {
            (minX, minY) = (max(0, minX), max(0, minY))
            (maxX, maxY) = (min(tract.width - 1, maxX), min(tract.height - 1, maxY))
        }
        return try region(tract, minX: minX, minY: minY, maxX: maxX, maxY: maxY)
    }

    /// The tract whose inner area holds a direction (Rubin's `findTract`), by ring and RA.
    public func tractId(of v: UnitVector) -> Int {
        let dec = v.dec * .pi / 180
        let f = 0.5 * ringSize - .pi / 2
        if dec < f { return 0 }
        if dec > -f { return tractCount - 1 }
        let ring = min(config.numRings - 1, Int((dec - f) / ringSize))
        let n = tractsPerRing[ring]
        var ra = (v.ra - config.raStart) * .pi / 180
        ra = ra.truncatingRemainder(dividingBy: 2 * .pi)
        if ra < 0 { ra += 2 * .pi }
        var t = Int(ra / (2 * .pi / Double(n)) + 0.5)
        if t == n { t = 0 }
        return 1 + tractsPerRing.prefix(ring).reduce(0, +) + t
    }

    /// Rubin's skymap hash: SHA-1 of the class name, the tract builder's parameters and the rings' (little-endian
    /// packed as Rubin's `struct.pack` does), as 40 hexadecimal digits.
    public var hash: String {
        var bytes = Array("RingsSkyMap".utf8)
        func int32(_ v: Int) { withUnsafeBytes(of: Int32(v).littleEndian) { bytes += $0 } }
        func double(_ v: Double) { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
        switch config.tractBuilder {
        case .legacy:
            int32(config.patchInnerDimensions.x); int32(config.patchInnerDimensions.y); int32(config.patchBorder)
        case .cells:
            int32(config.cellInnerDimensions.x); int32(config.cellInnerDimensions.y); int32(config.cellBorder)
            int32(config.numCellsPerPatchInner); int32(config.numCellsInPatchBorder)
        }
        double(config.tractOverlap); double(config.pixelScale)
        bytes += Array(config.projection.utf8.prefix(3)) + Array(repeating: 0, count: max(0, 3 - config.projection.utf8.count))
        double(config.rotation)
        int32(config.numRings); double(config.raStart)
        return Insecure.SHA1.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }
}
