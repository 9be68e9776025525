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
        guard ra.isFinite, width > 0, height > 0, width < 180, dec - height / 2 >= -90, dec + height / 2 <= 90 else {
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
    /// `RANGE ra1 ra2 dec1 dec2` or `POLYGON ra1 dec1 ra2 dec2 ...` (degrees), as one region.
    ///
    /// A `RANGE` is sphgeom's Box; one that is not a single convex region here (180° of RA or more, or reaching a
    /// pole over less than the whole RA circle) is refused: `--where` takes any RANGE (see ``posRegions(_:)``).
    public static func parsingPOS(_ text: String) throws -> SkyRegion {
        let regions = try posRegions(text)
        guard regions.count == 1 else {
            throw ButlerError(.invalidValue, "region '\(text)' is not one convex region (it is \(regions.count) pieces); --where REGION('...') takes it")
        }
        return regions[0]
    }

    /// A region in IVOA SIAv2 POS syntax as the union of regions `--where` tests: one for `CIRCLE` and `POLYGON`;
    /// for `RANGE ra1 ra2 dec1 dec2` (sphgeom's Box: any RA range, `ra2 < ra1` wrapping through 0, `0 360` the
    /// whole circle; `-Inf`/`+Inf` open ends) the pieces of ``boxRegions(ra:dec:width:height:what:)``.
    static func posRegions(_ text: String) throws -> [SkyRegion] {
        let words = text.split(whereSeparator: \.isWhitespace).map(String.init)
        guard let shape = words.first?.uppercased() else { throw ButlerError(.invalidValue, "empty region") }
        let numbers = try words.dropFirst().map { word -> Double in
            // Open ends (IVOA's -Inf and +Inf) only in a RANGE.
            if shape == "RANGE", ["+inf", "inf", "-inf"].contains(word.lowercased()) { return word.hasPrefix("-") ? -.infinity : .infinity }
            guard let v = Double(word), v.isFinite else { throw ButlerError(.invalidValue, "'\(word)' in region '\(text)' is not a finite number") }
            return v
        }
        switch shape {
        case "CIRCLE":
            guard numbers.count == 3 else { throw ButlerError(.invalidValue, "CIRCLE takes ra dec radius, got '\(text)'") }
            return [try circle(ra: numbers[0], dec: numbers[1], radius: numbers[2])]
        case "RANGE":
            guard numbers.count == 4 else { throw ButlerError(.invalidValue, "RANGE takes ra1 ra2 dec1 dec2, got '\(text)'") }
            let (ra1, ra2) = (numbers[0], numbers[1])
            let dec1 = numbers[2] == -.infinity ? -90 : numbers[2], dec2 = numbers[3] == .infinity ? 90 : numbers[3]
            guard dec1.isFinite, dec2.isFinite, dec1 >= -90, dec2 <= 90, dec1 < dec2 else {
                throw ButlerError(.invalidValue, "region '\(text)': the Dec range \(numbers[2])...\(numbers[3]) is not a non-empty part of [-90, 90]")
            }
            var width: Double
            if ra1 == -.infinity || ra2 == .infinity || (ra1.isFinite && ra2.isFinite && ra2 - ra1 >= 360) {
                width = 360
            } else {
                guard ra1.isFinite, ra2.isFinite else { throw ButlerError(.invalidValue, "region '\(text)': an RA range is open only as -Inf +Inf") }
                width = (ra2 - ra1).truncatingRemainder(dividingBy: 360)
                if width < 0 { width += 360 }
                guard width > 0 else { throw ButlerError(.invalidValue, "region '\(text)': the RA range \(ra1)...\(ra2) is empty") }
            }
            let start = ra1.isFinite ? ra1 : 0
            return try boxRegions(ra: start + width / 2, dec: (dec1 + dec2) / 2, width: width, height: dec2 - dec1, what: "region '\(text)'")
        case "POLYGON":
            return [try polygon(numbers)]
        default:
            throw ButlerError(.invalidValue, "unknown region shape '\(shape)' in '\(text)': expected CIRCLE, RANGE or POLYGON")
        }
    }

    /// How far, in degrees, the pieces of ``boxRegions(ra:dec:width:height:what:)`` may stray from the box's
    /// parallels (a piece's sides along them are great-circle chords).
    static let boxTolerance = 1e-3

    /// Rubin's `BOX(ra, dec, width, height)` (sphgeom's Box: RA within `width / 2` of `ra`, any width up to 360°,
    /// and Dec within `height / 2` of `dec`) as the union of regions that `--where` tests: a box of the whole RA
    /// circle that reaches a pole is a circle about it (the whole sky a circle of radius 180°); any other is cut at
    /// the equator and into slices of RA narrow enough that each slice's convex polygon strays less than
    /// ``boxTolerance`` from the box's parallels.
    ///
    /// - Parameter what: how the box was written, for errors.
    static func boxRegions(ra: Double, dec: Double, width: Double, height: Double, what: String) throws -> [SkyRegion] {
        guard ra.isFinite, dec.isFinite, width.isFinite, height.isFinite else {
            throw ButlerError(.invalidValue, "\(what): coordinates must be finite numbers")
        }
        guard width > 0, width <= 360 else { throw ButlerError(.invalidValue, "\(what): the width \(width) is outside (0, 360] degrees") }
        let (lo, hi) = (dec - height / 2, dec + height / 2)
        guard height > 0, lo >= -90, hi <= 90 else {
            throw ButlerError(.invalidValue, "\(what): Dec \(lo)...\(hi) (the centre ± height/2) is empty or leaves [-90, 90]")
        }
        let north = UnitVector(unchecked: 0, 0, 1), south = UnitVector(unchecked: 0, 0, -1)
        if width >= 360 {
            if hi >= 90 { return [.circle(center: north, radius: 90 - lo)] }
            if lo <= -90 { return [.circle(center: south, radius: hi + 90)] }
        }
        let bands = lo < 0 && hi > 0 ? [(lo, 0.0), (0.0, hi)] : [(lo, hi)]
        var pieces: [SkyRegion] = []
        for (d1, d2) in bands {
            // A chord of a parallel strays most from it near ±45°: the band's parallel nearest 45° sets the slices.
            let (a1, a2) = (min(abs(d1), abs(d2)), max(abs(d1), abs(d2)))
            let worst = min(max(45, a1), a2)
            let n = max(1, Int((width / boxSliceWidth(at: worst)).rounded(.up)))
            for i in 0..<n {
                let r0 = ra - width / 2 + width * Double(i) / Double(n)
                let r1 = ra - width / 2 + width * Double(i + 1) / Double(n)
                var corners: [UnitVector] = []
                for (r, d) in [(r0, d1), (r1, d1), (r1, d2), (r0, d2)] {
                    // A pole is one vertex.
                    let v = d >= 90 ? north : (d <= -90 ? south : UnitVector(ra: r, dec: d))
                    if corners.last != v && corners.first != v { corners.append(v) }
                }
                pieces.append(.polygon(try ConvexPolygon.hull(of: corners)))
            }
        }
        return pieces
    }

    /// The widest slice of RA (degrees, at most 45) whose chord along the parallel at `dec` (degrees, 0...90)
    /// strays at most ``boxTolerance`` from it: the chord's middle is at `atan(tan(dec) / cos(width / 2))`.
    static func boxSliceWidth(at dec: Double) -> Double {
        guard dec > 0, dec + boxTolerance < 90 else { return 45 }
        let ratio = tan(dec * .pi / 180) / tan((dec + boxTolerance) * .pi / 180)
        return min(45, max(0.01, 2 * acos(ratio) * 180 / .pi))
    }

    /// `CIRCLE(ra, dec, radius)` in degrees.
    public static func circle(ra: Double, dec: Double, radius: Double) throws -> SkyRegion {
        guard ra.isFinite else { throw ButlerError(.invalidValue, "right ascension \(ra) is not a finite number") }
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
            guard coordinates[i].isFinite else { throw ButlerError(.invalidValue, "right ascension \(coordinates[i]) is not a finite number") }
            guard coordinates[i + 1] >= -90, coordinates[i + 1] <= 90 else {
                throw ButlerError(.invalidValue, "declination \(coordinates[i + 1]) is outside [-90, 90]")
            }
            points.append(UnitVector(ra: coordinates[i], dec: coordinates[i + 1]))
        }
        return .polygon(try ConvexPolygon.hull(of: points))
    }
}
