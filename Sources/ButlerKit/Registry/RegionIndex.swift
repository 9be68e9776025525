import Foundation

/// How the sky regions of spatial elements (visit, visit_detector_region, tract, patch) are indexed, so that a
/// spatial query reads an index and tests only candidates, never scans every region.
///
/// For an element `E` whose records are keyed by dimensions `K` (`instrument, visit` for a visit):
/// - `E_skypix_overlap (K, skypix_index)`: the HTM level-``level`` pixels the region may touch (Rubin's common
///   skypix, `htm7`), indexed by pixel. A query region's pixels select the candidates.
/// - `E_region_edge (K, k, ax…qz)`: one row per edge `k` of the region's convex polygon: its start `a`, end `b`,
///   unit normal `n` (the interior is where `n·v >= 0`) and the arc's end planes `p = n × a`, `q = b × n`, so that
///   the exact overlap tests of ``ConvexPolygon`` run as SQL on both databases.
///
/// Invariant (kept by ``Registry/indexRegion(_:element:record:)``, the one writer): a record has rows in both tables
/// exactly when its `region` column holds a region this butler reads; the rows describe that region. A record whose
/// region this butler cannot read has one overlap row with the pixel ``unreadPixel`` instead, so that a spatial
/// query over its element is refused (``unreadRegion(_:element:universe:)``) rather than answered without it.
package enum RegionIndex {
    /// The HTM level of the overlap tables.
    package static let level = 7

    /// The `skypix_index` that marks a record whose region is stored but not indexed (no pixel is negative).
    package static let unreadPixel: Int64 = -1

    package static let pixelization = try! HTMPixelization(level: level)

    /// The columns of an edge row after the keys, in order.
    package static let edgeColumns = ["k", "ax", "ay", "az", "bx", "by", "bz", "nx", "ny", "nz", "px", "py", "pz", "qx", "qy", "qz"]

    package static func overlapTable(_ element: String) -> String { element + "_skypix_overlap" }
    package static func edgeTable(_ element: String) -> String { element + "_region_edge" }

    /// The key columns of an element's index tables: the dimensions that identify a record.
    package static func keys(of element: DimensionElement, in universe: DimensionUniverse) -> [(indexColumn: String, recordField: String)] {
        DimensionSchema.keyColumns(of: element, in: universe).map { ($0.dimension, $0.column) }
    }

    /// `CREATE TABLE` and `CREATE INDEX` statements for every spatial element of the universe.
    package static func createStatements(for universe: DimensionUniverse, dialect d: SQLDialect) -> [String] {
        var statements: [String] = []
        for element in universe.elements where element.isSpatial && element.hasTable {
            let keys = Self.keys(of: element, in: universe)
            let columns = DimensionSchema.columns(of: element, in: universe)
            let keyDefinitions = keys.map { key -> String in
                let column = columns.first { $0.name == key.recordField }!
                return "\(q(key.indexColumn)) \(DimensionSchema.sqlType(column, d)) NOT NULL"
            }
            let keyList = keys.map { q($0.indexColumn) }.joined(separator: ", ")
            statements.append("CREATE TABLE \(q(overlapTable(element.name))) (" + (keyDefinitions + ["skypix_index \(d.bigint) NOT NULL",
                "PRIMARY KEY (\(keyList), skypix_index)"]).joined(separator: ", ") + ")")
            statements.append("CREATE INDEX \(q(overlapTable(element.name) + "_pixel")) ON \(q(overlapTable(element.name))) (skypix_index)")
            statements.append("CREATE TABLE \(q(edgeTable(element.name))) (" + (keyDefinitions + ["k INTEGER NOT NULL"]
                + edgeColumns.dropFirst().map { "\($0) \(d.double) NOT NULL" } + ["PRIMARY KEY (\(keyList), k)"]).joined(separator: ", ") + ")")
        }
        return statements
    }

    /// The pixels of a region, one per row.
    package static func pixels(of region: SkyRegion) -> [Int] {
        pixelization.envelope(region).flatMap { Array($0) }
    }

    /// The edge rows of a polygon (without keys).
    package static func edgeRows(of polygon: ConvexPolygon) -> [[SQLValue]] {
        polygon.edges.enumerated().map { k, e in
            [.integer(Int64(k))] + [e.a.x, e.a.y, e.a.z, e.b.x, e.b.y, e.b.z, e.n.x, e.n.y, e.n.z, e.p.x, e.p.y, e.p.z, e.q.x, e.q.y, e.q.z].map(SQLValue.real)
        }
    }
}

extension RegionIndex {
    /// Writes (or rewrites) the index rows of one record's region, given its key values in ``keys(of:in:)`` order;
    /// a region this butler does not read (or none) leaves no rows. Runs in the transaction that writes the record.
    ///
    /// - Returns: why the region could not be indexed, when it could not.
    @discardableResult
    package static func write(_ c: any SQLConnection, element: DimensionElement, universe: DimensionUniverse,
                              keyValues: [SQLValue], regionHex: String?) throws -> String? {
        let keys = Self.keys(of: element, in: universe)
        let match = keys.map { "\(q($0.indexColumn)) = ?" }.joined(separator: " AND ")
        try c.execute("DELETE FROM \(q(overlapTable(element.name))) WHERE \(match)", keyValues)
        try c.execute("DELETE FROM \(q(edgeTable(element.name))) WHERE \(match)", keyValues)
        guard let hex = regionHex, !hex.isEmpty else { return nil }
        let polygon: ConvexPolygon
        do {
            switch try SphgeomEncoding.region(hex: hex) {
            case .polygon(let p): polygon = p
            case .circle(let center, let radius): polygon = try Self.polygon(around: center, radius: radius)
            case .point: return "a point is not a region"
            }
        } catch let error as ButlerError {
            try c.insertRows(into: overlapTable(element.name), columns: keys.map(\.indexColumn) + ["skypix_index"],
                             rows: [keyValues + [.integer(unreadPixel)]])
            return error.message
        }
        let columns = keys.map(\.indexColumn)
        try c.insertRows(into: overlapTable(element.name), columns: columns + ["skypix_index"],
                         rows: pixels(of: .polygon(polygon)).map { keyValues + [.integer(Int64($0))] })
        try c.insertRows(into: edgeTable(element.name), columns: columns + edgeColumns,
                         rows: edgeRows(of: polygon).map { keyValues + $0 })
        return nil
    }

    /// Why a spatial query over `element` cannot be answered: the first of its records whose region is stored but
    /// not indexed (named by its keys, with the reason its region is not read); nil when every region is indexed.
    package static func unreadRegion(_ c: any SQLConnection, element: DimensionElement, universe: DimensionUniverse) throws -> String? {
        let keys = Self.keys(of: element, in: universe)
        let columns = keys.map { q($0.indexColumn) }.joined(separator: ", ")
        guard let row = try c.queryOne("SELECT \(columns) FROM \(q(overlapTable(element.name))) WHERE skypix_index = ? LIMIT 1",
                                       [.integer(unreadPixel)]) else { return nil }
        let values = (0..<keys.count).map { row[$0] }
        let described = zip(keys, values).map { key, value -> String in
            if let text = value.string { return "\(key.indexColumn)=\(text)" }
            return "\(key.indexColumn)=\(value.int64.map(String.init) ?? "\(value)")"
        }.joined(separator: ", ")
        var reason = "it is not one convex polygon or circle"
        let match = keys.map { "\(q($0.recordField)) = ?" }.joined(separator: " AND ")
        if let stored = try c.queryOne("SELECT region FROM \(q(element.name)) WHERE \(match)", values), let hex = stored[0].string {
            do {
                if case .point = try SphgeomEncoding.region(hex: hex) { reason = "a point is not a region" }
            } catch let error as ButlerError {
                reason = error.message
            }
        }
        return "the region of \(element.name) \(described) is not read by this butler (\(reason)), so a spatial query over \(element.name) would leave it out; replace that record's region to query it"
    }

    /// A 32-sided polygon that holds a circle (its edges touch the circle from outside).
    static func polygon(around center: UnitVector, radius: Double) throws -> ConvexPolygon {
        let plane = TangentPlane(center: center)
        // The gnomonic radius of the circle, grown so that the polygon's edges clear it.
        let r = tan(min(radius, 80) * .pi / 180) / cos(.pi / 32)
        return try ConvexPolygon(vertices: (0..<32).map { i in
            let angle = 2 * .pi * Double(i) / 32
            return plane.direction(r * cos(angle), r * sin(angle))
        })
    }

    /// Indexes every region already stored (a repository made before regions were indexed).
    package static func indexAll(_ c: any SQLConnection, universe: DimensionUniverse) throws {
        for element in universe.elements where element.isSpatial && element.hasTable {
            let keys = Self.keys(of: element, in: universe)
            let rows = try c.query("SELECT \(keys.map { q($0.recordField) }.joined(separator: ", ")), region FROM \(q(element.name)) WHERE region IS NOT NULL", [])
            for row in rows {
                try write(c, element: element, universe: universe, keyValues: (0..<keys.count).map { row[$0] }, regionHex: row[keys.count].string)
            }
        }
    }
}

extension Registry {
    /// Writes the index rows of a record's region (see ``RegionIndex``); logs a region it cannot read.
    package func indexRegion(_ c: any SQLConnection, element: DimensionElement, record: DimensionRecord) throws {
        guard element.isSpatial, element.hasTable else { return }
        var keyValues: [SQLValue] = []
        for key in RegionIndex.keys(of: element, in: universe) {
            guard let value = record.fields[key.recordField]?.dataIDValue else { return }
            keyValues.append(value.sqlValue)
        }
        var hex: String?
        if case .string(let h)? = record.fields["region"] { hex = h }
        if let problem = try RegionIndex.write(c, element: element, universe: universe, keyValues: keyValues, regionHex: hex) {
            logger.warning("region not indexed: spatial queries over this element are refused until the record's region is replaced",
                           metadata: ["element": "\(element.name)", "reason": "\(problem)"])
        }
    }
}
