import Foundation

/// A sky pixelization dimension of the universe (`skypix:` of the dimension configuration, as Rubin's): `htmN`
/// (HTM, levels 1-24) and `healpixN` (HEALPix nested, levels 0-17). Its values are pixel indices; it has no table.
/// The common one, `htm7`, is the level of the registry's region index (``RegionIndex``).
public struct SkyPixDimension: Sendable, Hashable, CustomStringConvertible {
    /// `htm` or `healpix`.
    public let system: String
    public let level: Int
    /// `htm7`.
    public var description: String { "\(system)\(level)" }

    /// The region of a pixel: an HTM triangle, or the polygon around a HEALPix pixel.
    public func region(_ pixel: Int) throws -> SkyRegion {
        if system == "htm" { return .polygon(try HTMPixelization(level: level).triangle(pixel)) }
        return .polygon(try HEALPixPixelization(level: level).polygon(pixel))
    }
}

extension DimensionUniverse {
    /// The sky pixelization dimension of this name (`htm7`, `healpix11`), nil for any other name.
    public func skyPixDimension(_ name: String) -> SkyPixDimension? {
        for (system, levels) in [("htm", 1...24), ("healpix", 0...17)] where name.hasPrefix(system) {
            let digits = name.dropFirst(system.count)
            if !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber), let level = Int(digits), levels.contains(level),
               String(level) == digits {
                return SkyPixDimension(system: system, level: level)
            }
        }
        return nil
    }

    /// The common sky pixelization (`htm7`): the one the registry indexes regions by, the only one a query can
    /// relate to records' regions (as in Rubin's query system).
    public var commonSkyPix: SkyPixDimension { SkyPixDimension(system: "htm", level: RegionIndex.level) }
}
