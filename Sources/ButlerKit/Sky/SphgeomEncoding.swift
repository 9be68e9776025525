import Foundation

/// Regions in sphgeom's binary encoding, as Rubin's registry stores them and its export YAML and Zip indexes carry
/// them (hexadecimal): a type byte, then little-endian doubles. `p` ConvexPolygon: x, y, z of each vertex;
/// `c` Circle: center x, y, z, squared chord length, opening angle (radians); `b` Box: longitude a, b and latitude
/// a, b (radians).
public enum SphgeomEncoding {
    /// The hexadecimal encoding of a polygon (lower case), as the `region` column holds it.
    public static func hex(_ polygon: ConvexPolygon) -> String {
        var bytes: [UInt8] = [0x70]
        for v in polygon.vertices {
            for d in [v.x, v.y, v.z] { withUnsafeBytes(of: d.bitPattern.littleEndian) { bytes += $0 } }
        }
        return bytes.map { String(format: "%02x", $0) }.joined()
    }

    /// The region an encoding holds: polygons and circles as they are, a box as ``SkyRegion/box(ra:dec:width:height:)``
    /// makes it.
    ///
    /// - Throws: ``ButlerError/Code/invalidValue`` for text that is not hexadecimal, a truncated encoding, or a type
    ///   this butler does not read (ellipses, unions and intersections).
    public static func region(hex text: String) throws -> SkyRegion {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count / 2)
        var iterator = text.utf8.makeIterator()
        while let high = iterator.next() {
            guard let low = iterator.next(), let h = hexValue(high), let l = hexValue(low) else {
                throw ButlerError(.invalidValue, "region encoding is not hexadecimal")
            }
            bytes.append(h << 4 | l)
        }
        guard let type = bytes.first else { throw ButlerError(.invalidValue, "empty region encoding") }
        let body = bytes.dropFirst()
        guard body.count % 8 == 0 else { throw ButlerError(.invalidValue, "truncated region encoding (\(bytes.count) bytes)") }
        let doubles: [Double] = stride(from: body.startIndex, to: body.endIndex, by: 8).map { start in
            var bits: UInt64 = 0
            for k in 0..<8 { bits |= UInt64(body[start + k]) << (8 * UInt64(k)) }
            return Double(bitPattern: bits)
        }
        switch type {
        case 0x70:
            guard doubles.count >= 9, doubles.count % 3 == 0 else { throw ButlerError(.invalidValue, "a ConvexPolygon encoding needs 3 or more vertices") }
            let vertices = try stride(from: 0, to: doubles.count, by: 3).map { i -> UnitVector in
                guard let v = UnitVector(x: doubles[i], y: doubles[i + 1], z: doubles[i + 2]) else {
                    throw ButlerError(.invalidValue, "a ConvexPolygon encoding has a zero vertex")
                }
                return v
            }
            return .polygon(try ConvexPolygon(vertices: vertices))
        case 0x63:
            guard doubles.count == 5, let center = UnitVector(x: doubles[0], y: doubles[1], z: doubles[2]) else {
                throw ButlerError(.invalidValue, "a Circle encoding has 5 numbers")
            }
            return .circle(center: center, radius: doubles[4] * 180 / .pi)
        case 0x62:
            guard doubles.count == 4 else { throw ButlerError(.invalidValue, "a Box encoding has 4 numbers") }
            let deg = doubles.map { $0 * 180 / .pi }
            var width = deg[1] - deg[0]
            if width < 0 { width += 360 }
            return try SkyRegion.box(ra: deg[0] + width / 2, dec: (deg[2] + deg[3]) / 2, width: width, height: deg[3] - deg[2])
        default:
            throw ButlerError(.invalidValue, "region type '\(String(UnicodeScalar(type)))' (0x\(String(format: "%02x", type))) is not read by this butler: polygons, circles and boxes are")
        }
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        case 0x41...0x46: return c - 0x41 + 10
        default: return nil
        }
    }
}
