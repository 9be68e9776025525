import Foundation

/// A region of the sky that `--where` can test (`visit.region OVERLAPS CIRCLE(53.1, -27.8, 0.5)`) and that records
/// carry: a point, a circle or a convex polygon (a `BOX` becomes the polygon of its corners along great circles).
public enum SkyRegion: Sendable, Hashable {
    case point(UnitVector)
    /// A circle: its center and opening angle (radius) in degrees.
    case circle(center: UnitVector, radius: Double)
    case polygon(ConvexPolygon)

    /// Whether the two regions share a point.
    public func overlaps(_ other: SkyRegion) -> Bool {
        switch (self, other) {
        case (.point(let a), .point(let b)): return a.angle(to: b) < 1e-9
        case (.point(let p), .circle(let c, let r)), (.circle(let c, let r), .point(let p)): return p.dot(c) >= cos(r * .pi / 180)
        case (.point(let p), .polygon(let g)), (.polygon(let g), .point(let p)): return g.contains(p)
        case (.circle(let c1, let r1), .circle(let c2, let r2)): return c1.angle(to: c2) <= r1 + r2
        case (.circle(let c, let r), .polygon(let g)), (.polygon(let g), .circle(let c, let r)): return g.overlaps(center: c, radius: r)
        case (.polygon(let a), .polygon(let b)): return a.overlaps(b)
        }
    }

    /// Rubin's `BOX(ra, dec, width, height)`: RA within `width / 2` of `ra` and Dec within `height / 2` of `dec`
    /// (degrees), as sphgeom's `Box(center, halfWidth, halfHeight)`. Its edges along parallels are not great
    /// circles: they are followed every half degree at most, and the region is the convex hull of those points
    /// (it differs from the box by slivers under a thousandth of a degree wide).
    public static func box(ra: Double, dec: Double, width: Double, height: Double) throws -> SkyRegion {
        guard width > 0, height > 0, width < 180, dec - height / 2 >= -90, dec + height / 2 <= 90 else {
            throw ButlerError(.invalidValue, "BOX(\(ra), \(dec), \(width), \(height)) needs a positive width below 180° and a height that stays within [-90, 90]")
        }
        let (w, h) = (width / 2, height / 2)
        let steps = max(2, Int((width / 0.5).rounded(.up)))
        var points: [UnitVector] = []
        for i in 0...steps {
            let a = ra - w + width * Double(i) / Double(steps)
            points.append(UnitVector(ra: a, dec: dec - h))
            points.append(UnitVector(ra: a, dec: dec + h))
        }
        return .polygon(try ConvexPolygon.hull(of: points))
    }

    /// A region in IVOA SIAv2 POS syntax, as Rubin's `REGION('...')` takes: `CIRCLE ra dec radius`,
    /// `RANGE ra1 ra2 dec1 dec2` or `POLYGON ra1 dec1 ra2 dec2 ...` (degrees).
    public static func parsingPOS(_ text: String) throws -> SkyRegion {
        let words = text.split(whereSeparator: \.isWhitespace).map(String.init)
        guard let shape = words.first?.uppercased() else { throw ButlerError(.invalidValue, "empty region") }
        let numbers = try words.dropFirst().map { word -> Double in
            guard let v = Double(word), v.isFinite else { throw ButlerError(.invalidValue, "'\(word)' in region '\(text)' is not a number") }
            return v
        }
        switch shape {
        case "CIRCLE":
            guard numbers.count == 3 else { throw ButlerError(.invalidValue, "CIRCLE takes ra dec radius, got '\(text)'") }
            return try circle(ra: numbers[0], dec: numbers[1], radius: numbers[2])
        case "RANGE":
            guard numbers.count == 4 else { throw ButlerError(.invalidValue, "RANGE takes ra1 ra2 dec1 dec2, got '\(text)'") }
            var width = numbers[1] - numbers[0]
            if width < 0 { width += 360 }
            return try box(ra: numbers[0] + width / 2, dec: (numbers[2] + numbers[3]) / 2, width: width, height: numbers[3] - numbers[2])
        case "POLYGON":
            return try polygon(numbers)
        default:
            throw ButlerError(.invalidValue, "unknown region shape '\(shape)' in '\(text)': expected CIRCLE, RANGE or POLYGON")
        }
    }

    /// `CIRCLE(ra, dec, radius)` in degrees.
    public static func circle(ra: Double, dec: Double, radius: Double) throws -> SkyRegion {
        guard dec >= -90, dec <= 90 else { throw ButlerError(.invalidValue, "declination \(dec) is outside [-90, 90]") }
        guard radius >= 0, radius <= 180 else { throw ButlerError(.invalidValue, "circle radius \(radius) is outside [0, 180] degrees") }
        return .circle(center: UnitVector(ra: ra, dec: dec), radius: radius)
    }

    /// `POLYGON(ra1, dec1, ra2, dec2, ...)`: the convex hull of the vertices, in degrees.
    public static func polygon(_ coordinates: [Double]) throws -> SkyRegion {
        guard coordinates.count >= 6, coordinates.count % 2 == 0 else {
            throw ButlerError(.invalidValue, "POLYGON takes pairs ra, dec of at least 3 vertices, got \(coordinates.count) number(s)")
        }
        var points: [UnitVector] = []
        for i in stride(from: 0, to: coordinates.count, by: 2) {
            guard coordinates[i + 1] >= -90, coordinates[i + 1] <= 90 else {
                throw ButlerError(.invalidValue, "declination \(coordinates[i + 1]) is outside [-90, 90]")
            }
            points.append(UnitVector(ra: coordinates[i], dec: coordinates[i + 1]))
        }
        return .polygon(try ConvexPolygon.hull(of: points))
    }
}
