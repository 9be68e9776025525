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

    /// The dimension a name stands for (`htm7`, `healpix11`), nil for any other name (`htm07`, `htm25`).
    public init?(name: String) {
        for (system, levels) in [("htm", 1...24), ("healpix", 0...17)] where name.hasPrefix(system) {
            let digits = name.dropFirst(system.count)
            if !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber), let level = Int(digits), levels.contains(level),
               String(level) == digits {
                self.init(system: system, level: level)
                return
            }
        }
        return nil
    }

    init(system: String, level: Int) {
        self.system = system
        self.level = level
    }

    /// The region of a pixel: an HTM triangle, or the polygon around a HEALPix pixel.
    public func region(_ pixel: Int) throws -> SkyRegion {
        if system == "htm" { return .polygon(try HTMPixelization(level: level).triangle(pixel)) }
        return .polygon(try HEALPixPixelization(level: level).polygon(pixel))
    }
}

extension DimensionUniverse {
    /// The sky pixelization dimension of this name (`htm7`, `healpix11`), nil for any other name.
    public func skyPixDimension(_ name: String) -> SkyPixDimension? {
        SkyPixDimension(name: name)
    }

    /// Refuses a data ID value of a sky pixel dimension that is not a pixel of its level (`htm7=3`): sky pixels have
    /// no records to look a value up in, so every path that takes a data ID (expansion here, imports) checks this.
    ///
    /// - Throws: ``ButlerError/Code/invalidValue`` naming the value.
    package func checkSkyPixValue(_ name: String, _ value: DataIDValue) throws {
        guard let skypix = skyPixDimension(name) else { return }
        guard case .int(let pixel) = value, (try? skypix.region(pixel)) != nil else {
            throw ButlerError(.invalidValue, "data ID value \(name)=\(value) is not a pixel of \(name)")
        }
    }

    /// The common sky pixelization (`htm7`): the one the registry indexes regions by, the only one a query can
    /// relate to records' regions (as in Rubin's query system).
    public var commonSkyPix: SkyPixDimension { SkyPixDimension(system: "htm", level: RegionIndex.level) }
}
