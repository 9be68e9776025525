import Foundation

/// Sky pixels as query dimensions (`butler query-data-ids REPO visit htm7`), as Rubin's query system has them: the
/// common skypix dimension (``DimensionUniverse/commonSkyPix``, `htm7`) joined to the region of a spatial record of
/// the query (a visit's detector, a visit, a patch or a tract, named among the dimensions or in `--where`); its
/// values are the pixels whose own region overlaps that record's region (candidates from the region index, then the
/// exact test). Other levels, and a sky pixel with nothing spatial to relate it to, are refused, as Rubin refuses
/// them.
extension Registry {
    /// The answer of ``queryDataIDs(_:_:)`` when `dimensions` hold a sky pixel dimension; nil when they hold none.
    func queryDataIDsWithSkyPix(_ dimensions: [String], _ query: DimensionQuery) throws -> (DimensionGroup, [DataCoordinate])? {
        let skypix = dimensions.filter { universe[$0]?.isSkyPix == true }
        guard let first = skypix.first else { return nil }
        if let type = query.datasets, try requireDatasetTypeDimensions(type).contains(first) {
            throw ButlerError(.invalidValue, "cannot query \(first) with --datasets \(type), whose dimensions hold \(first): "
                              + "list its datasets with query-datasets \(type) (their data IDs hold the pixels)")
        }
        let common = universe.commonSkyPix
        for name in skypix where universe.skyPixDimension(name) != common {
            throw ButlerError(.invalidValue, "cannot relate \(name) to the regions of records: only the common sky pixelization, \(common), can be a query dimension (as in Rubin's query system)")
        }
        let rest = dimensions.filter { $0 != first }
        let expression: Expression?
        do { expression = try Parser.parse(query.where) } catch { throw error.butlerError }
        // The dimensions `--where` names join the query, as in Rubin's (`htm7 --where "visit = 1"`).
        var named = Set<String>()
        if let expression { collectDimensions(expression, into: &named) }
        named.formUnion(query.dataID.keys)
        if let type = query.datasets { named.formUnion(try requireDatasetTypeDimensions(type)) }
        let inner = universe.sorted(Set(rest).union(named))
        let innerGroup = try universe.group(inner)
        try requireConnectedSpatialFamilies(of: innerGroup, skypix: first, expression)
        let spatial = ["visit_detector_region", "visit", "patch", "tract"].first { name in
            guard let element = universe[name], element.isSpatial, element.hasTable else { return false }
            return RegionIndex.keys(of: element, in: universe).allSatisfy { innerGroup.names.contains($0.indexColumn) }
        }
        guard let spatial, let element = universe[spatial] else {
            throw ButlerError(.invalidValue, "cannot query \(first): nothing in the query has a region to relate its pixels to (add visit, visit and detector, tract or patch, as dimensions or in --where)")
        }
        // A term on the pixel itself narrows the pixels listed (the inner query only narrows the records).
        let allowedPixels = try expression?.allowedSkyPixels(of: first, binds: query.binds)
        let outer = try universe.group(rest)
        let group = DimensionGroup(required: [first] + outer.required, implied: outer.implied)
        var innerQuery = query
        innerQuery.limit = nil
        innerQuery.offset = 0
        let (_, rows) = try queryDataIDs(inner, innerQuery)
        let keys = RegionIndex.keys(of: element, in: universe)
        let pixelization = RegionIndex.pixelization
        var pixelsByRecord: [[DataIDValue]: [Int]] = [:]
        var seen = Set<[DataIDValue?]>()
        var result: [DataCoordinate] = []
        for row in rows {
            let keyValues = keys.map { row[$0.indexColumn] ?? .int(0) }
            if pixelsByRecord[keyValues] == nil {
                guard let region = try regionOf(element, keys: keys, values: keyValues) else {
                    throw ButlerError(.invalidValue, "cannot answer this query of \(first): a \(spatial) record (\(zip(keys, keyValues).map { "\($0.0.indexColumn)=\($0.1)" }.joined(separator: ", "))) has no region this butler reads")
                }
                // Candidates from the envelope, then the exact test of each pixel's own region.
                pixelsByRecord[keyValues] = pixelization.envelope(region).flatMap { Array($0) }.filter { pixel in
                    (try? pixelization.triangle(pixel)).map { SkyRegion.polygon($0).overlaps(region) } ?? false
                }
            }
            for pixel in pixelsByRecord[keyValues]! where allowedPixels?.contains(pixel) ?? true {
                var values: [String: DataIDValue] = [first: .int(pixel)]
                for name in group.names where name != first { values[name] = row[name] }
                guard seen.insert(group.names.map { values[$0] }).inserted else { continue }
                result.append(DataCoordinate(dimensions: group, values: values))
            }
        }
        if query.orderBy.isEmpty {
            result.sort { a, b in
                for name in group.required { if a[name] != b[name] { return (a[name] ?? .int(0)) < (b[name] ?? .int(0)) } }
                return false
            }
        }
        let paged = result.dropFirst(query.offset)
        return (group, Array(query.limit.map { paged.prefix($0) } ?? paged))
    }

    /// Rubin joins two spatial families of a query automatically (pixels of a visit, visits of a tract) but refuses
    /// three that nothing joins (pixels, tracts and visits: which region would the pixels be of?), unless `--where`
    /// joins some of them explicitly with OVERLAPS.
    private func requireConnectedSpatialFamilies(of group: DimensionGroup, skypix: String, _ expression: Expression?) throws {
        let familyOf: [String: String] = ["tract": "skymap_regions", "patch": "skymap_regions", "visit": "observation_regions",
                                          "visit_detector_region": "observation_regions"]
        var families = ["htm": Set(["htm"])]
        for name in group.names { if let family = familyOf[name] { families[family] = [family] } }
        guard families.count > 2 else { return }
        // Explicit joins: `a.region OVERLAPS b.region` merges the families of a and b.
        func merge(_ e: Expression) {
            switch e {
            case .binary(let op, .name(let a, _), .name(let b, _), _) where op.uppercased() == "OVERLAPS":
                let fa = universe.skyPixDimension(a[0]) != nil ? "htm" : familyOf[a[0]]
                let fb = universe.skyPixDimension(b[0]) != nil ? "htm" : familyOf[b[0]]
                guard let fa, let fb, let sa = families[fa], let sb = families[fb], sa != sb else { return }
                for member in sa.union(sb) { families[member] = sa.union(sb) }
            case .logical(let op, let items, _) where op.uppercased() == "AND":
                items.forEach(merge)
            default: return
            }
        }
        if let expression { merge(expression) }
        let subsets = Set(families.values)
        guard subsets.count > 2 else { return }
        let names = subsets.map { "{" + $0.sorted().joined(separator: ", ") + "}" }.sorted()
        throw ButlerError(.invalidValue, "Too many disconnected sets of spatial families for an automatic join: [\(names.joined(separator: ", "))]. "
                          + "Add explicit spatial joins to avoid this error (e.g. --where \"visit.region OVERLAPS tract.region\"), or leave \(skypix) out.")
    }

    /// The required dimensions of a dataset type, for the dimensions of a query constrained by it.
    private func requireDatasetTypeDimensions(_ name: String) throws -> [String] {
        try database.read { c in try requireDatasetType(name, in: c).type.dimensions.required }
    }

    /// The region of one record of a spatial element, nil when it has none this butler reads.
    private func regionOf(_ element: DimensionElement, keys: [(indexColumn: String, recordField: String)], values: [DataIDValue]) throws -> SkyRegion? {
        try database.read { c in
            let condition = keys.map { "\(q($0.recordField)) = ?" }.joined(separator: " AND ")
            guard let row = try c.queryOne("SELECT region FROM \(q(element.name)) WHERE \(condition)", values.map(\.sqlValue)) else { return nil }
            switch row[0] {
            case .text(let hex): return try? SphgeomEncoding.region(hex: hex)
            case .blob(let bytes): return try? SphgeomEncoding.region(hex: bytes.map { String(format: "%02x", $0) }.joined())
            default: return nil
            }
        }
    }

    /// The dimensions an expression names: `visit`, and `visit` of `visit.region` or `visit.exposure_time`.
    private func collectDimensions(_ e: Expression, into names: inout Set<String>) {
        e.forEachName { parts, _ in
            if let head = parts.first, let element = universe[head], element.isDimension, !element.isSkyPix { names.insert(head) }
        }
    }
}
