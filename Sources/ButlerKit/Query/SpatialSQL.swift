import Foundation

/// One side of a spatial `OVERLAPS`: a region written in the expression (`CIRCLE(...)`: the union of its pieces, one
/// for most shapes, several for a wide `BOX` or `RANGE` and for a list of sky pixels), or the region of a record
/// (`visit.region`), identified by the SQL of its key dimensions in the index tables' column order.
enum RegionOperand: Equatable {
    case literal([SkyRegion])
    case record(element: String, keys: [(column: String, sql: String)])

    static func == (a: Self, b: Self) -> Bool {
        switch (a, b) {
        case (.literal(let x), .literal(let y)): return x == y
        case (.record(let e1, let k1), .record(let e2, let k2)): return e1 == e2 && k1.map(\.sql) == k2.map(\.sql)
        default: return false
        }
    }
}

/// Spatial conditions as SQL on both engines, from the index tables of ``RegionIndex``: candidates by HTM pixel
/// (an indexed look-up), then the exact tests of ``ConvexPolygon`` on the stored edges (sums of products of
/// columns and constants).
///
/// The SQL's nesting does not grow with the region: the polygons of a literal are one table of edges (a `VALUES`
/// list in a `WITH`, however many vertices and pieces) joined to the record's edges, and lists of pixel ranges or
/// circles are OR-ed by halves. SQLite refuses expressions nested about 1,000 deep, which a polygon of a few hundred
/// vertices written as one OR of tests per vertex reached.
extension QueryBuilder {
    /// The region of a spatial element's record in this query, its keys resolved (joining what they need).
    func recordRegion(_ elementName: String, column: Int) throws -> RegionOperand {
        guard let element = universe[elementName], element.isSpatial, element.hasTable else {
            throw fail("'\(elementName)' has no region; regions belong to \(universe.elements.filter(\.isSpatial).map(\.name).joined(separator: ", "))", column)
        }
        let keys = try RegionIndex.keys(of: element, in: universe).map { key in (column: key.indexColumn, sql: try dimension(key.indexColumn, column: column)) }
        regionElements.insert(elementName)
        return .record(element: elementName, keys: keys)
    }

    /// Refuses the query when a region it tests is stored but not indexed (see ``RegionIndex/unreadPixel``): an
    /// answer without that record would be silently wrong.
    func requireIndexedRegions(_ c: any SQLConnection) throws {
        for name in regionElements.sorted() {
            guard let element = universe[name] else { continue }
            if let problem = try RegionIndex.unreadRegion(c, element: element, universe: universe) {
                throw ButlerError(.invalidValue, "cannot answer this spatial query: \(problem)")
            }
        }
    }

    /// SQL that is true when two regions share a point.
    func overlapSQL(_ a: RegionOperand, _ b: RegionOperand) throws -> String {
        switch (a, b) {
        case (.literal(let x), .literal(let y)):
            return x.contains { a in y.contains { a.overlaps($0) } } ? "(1 = 1)" : "(1 = 0)"
        case (.record(let element, let keys), .literal(let regions)), (.literal(let regions), .record(let element, let keys)):
            return try recordOverlapsLiteral(element, keys, regions)
        case (.record(let e1, let k1), .record(let e2, let k2)):
            return recordOverlapsRecord(e1, k1, e2, k2)
        }
    }

    private func number(_ v: Double) -> String { bind(.real(v)) }

    /// `n·v` for an edge alias, a vector column prefix (`n`, `a`) and a constant vector.
    private func dot(_ alias: String, _ prefix: String, _ v: Vector3) -> String {
        "(\(alias).\(prefix)x * \(number(v.x)) + \(alias).\(prefix)y * \(number(v.y)) + \(alias).\(prefix)z * \(number(v.z)))"
    }

    /// `u·w` for two edge aliases' vector columns.
    private func dot(_ a: String, _ pa: String, _ b: String, _ pb: String) -> String {
        "(\(a).\(pa)x * \(b).\(pb)x + \(a).\(pa)y * \(b).\(pb)y + \(a).\(pa)z * \(b).\(pb)z)"
    }

    /// The edges of one record: `FROM E_region_edge AS alias WHERE alias.keys = ...`.
    private func edges(_ element: String, _ keys: [(column: String, sql: String)], _ alias: String) -> String {
        "FROM \(q(RegionIndex.edgeTable(element))) AS \(alias) WHERE " + keys.map { "\(alias).\(q($0.column)) = \($0.sql)" }.joined(separator: " AND ")
    }

    /// Candidates: the record's keys among those of the overlap rows of the regions' pixels.
    private func candidates(_ element: String, _ keys: [(column: String, sql: String)], _ regions: [SkyRegion]) -> String {
        // Many pieces (a wide box, a list of pixels) are enveloped at a coarser level, whose triangles stand for
        // ranges of the index's: a few more candidates, far fewer triangles visited.
        let fine = RegionIndex.pixelization
        let coarser = regions.count > 64 ? 3 : (regions.count > 8 ? 2 : 0)
        let coarse = (try? HTMPixelization(level: max(0, fine.level - coarser))) ?? fine
        let shift = 2 * (fine.level - coarse.level)
        var ranges = regions.flatMap { coarse.envelope($0) }.map { ($0.lowerBound << shift)...((($0.upperBound + 1) << shift) - 1) }
            .sorted { $0.lowerBound < $1.lowerBound }
        var union: [ClosedRange<Int>] = []
        for r in ranges {
            if let last = union.last, r.lowerBound <= last.upperBound + 1 {
                union[union.count - 1] = last.lowerBound...max(last.upperBound, r.upperBound)
            } else {
                union.append(r)
            }
        }
        ranges = union
        // A large region has many ranges: the smallest gaps are filled (more candidates, fewer parameters).
        while ranges.count > 256 {
            var merged: [ClosedRange<Int>] = []
            let gaps = zip(ranges, ranges.dropFirst()).map { $1.lowerBound - $0.upperBound }.sorted()
            let fill = gaps[gaps.count / 2]
            for r in ranges {
                if let last = merged.last, r.lowerBound - last.upperBound <= fill { merged[merged.count - 1] = last.lowerBound...r.upperBound } else { merged.append(r) }
            }
            ranges = merged
        }
        let o = alias("pix")
        guard !ranges.isEmpty else { return "(1 = 0)" }
        let pixels = ranges.map { r in r.lowerBound == r.upperBound
            ? "\(o).skypix_index = \(bind(.integer(Int64(r.lowerBound))))"
            : "\(o).skypix_index BETWEEN \(bind(.integer(Int64(r.lowerBound)))) AND \(bind(.integer(Int64(r.upperBound))))" }
        let tuple = keys.count == 1 ? keys[0].sql : "(" + keys.map(\.sql).joined(separator: ", ") + ")"
        let columns = keys.map { "\(o).\(q($0.column))" }.joined(separator: ", ")
        return "\(tuple) IN (SELECT \(columns) FROM \(q(RegionIndex.overlapTable(element))) AS \(o) WHERE \(Self.anyOf(pixels[...])))"
    }

    /// `(a OR b)`, `((a OR b) OR (c OR d))`, ...: halves joined, so that the nesting is log2 of the count.
    static func anyOf(_ parts: ArraySlice<String>) -> String {
        if parts.isEmpty { return "(1 = 0)" }
        if parts.count == 1 { return parts.first! }
        let middle = parts.startIndex + parts.count / 2
        return "(\(anyOf(parts[..<middle])) OR \(anyOf(parts[middle...])))"
    }

    private func recordOverlapsLiteral(_ element: String, _ keys: [(column: String, sql: String)], _ regions: [SkyRegion]) throws -> String {
        var exact: [String] = []
        var polygons: [ConvexPolygon] = []
        for region in regions {
            switch region {
            case .point(let p):
                exact.append(contains(element, keys, p))
            case .circle(let c, let r):
                exact.append(recordOverlapsCircle(element, keys, c, r))
            case .polygon(let g):
                polygons.append(g)
            }
        }
        if !polygons.isEmpty { exact.append(recordOverlapsPolygons(element, keys, polygons)) }
        return "(" + candidates(element, keys, regions) + " AND " + Self.anyOf(exact[...]) + ")"
    }

    private func recordOverlapsCircle(_ element: String, _ keys: [(column: String, sql: String)], _ c: UnitVector, _ r: Double) -> String {
        let cosR = cos(r * .pi / 180), sinR = sin(r * .pi / 180), v = c.vector
        let e1 = alias("edge")
        // A vertex within the circle.
        var parts = ["EXISTS (SELECT 1 \(edges(element, keys, e1)) AND \(dot(e1, "a", v)) >= \(number(cosR)))"]
        if r < 90 {
            // The center inside, or an edge nearer the center than the radius.
            let e2 = alias("edge")
            parts.append(contains(element, keys, c))
            parts.append("EXISTS (SELECT 1 \(edges(element, keys, e2)) AND ABS(\(dot(e2, "n", v))) <= \(number(sinR)) AND \(dot(e2, "p", v)) >= 0 AND \(dot(e2, "q", v)) >= 0)")
        }
        return "(" + parts.joined(separator: " OR ") + ")"
    }

    /// A record's region overlaps one of the polygons (see ``ConvexPolygon/overlaps(_:)``): a vertex of the record
    /// inside a polygon, a vertex of a polygon inside the record, or two edges that cross. The polygons are one
    /// table of edges `(piece, a, b, n, m)` (`m = n × (a + b)`), written as a `VALUES` list of numeric literals:
    /// numbers computed here from unit vectors (always finite, never text from the user), so that a region of any
    /// size needs neither parameters nor deeper SQL.
    private func recordOverlapsPolygons(_ element: String, _ keys: [(column: String, sql: String)], _ polygons: [ConvexPolygon]) -> String {
        let g = alias("poly")
        var rows: [String] = []
        for (piece, polygon) in polygons.enumerated() {
            for f in polygon.edges {
                let m = f.n.vector.cross(f.a.vector + f.b.vector)
                let numbers = [f.a.x, f.a.y, f.a.z, f.b.x, f.b.y, f.b.z, f.n.x, f.n.y, f.n.z, m.x, m.y, m.z].map { v -> String in
                    precondition(v.isFinite, "a polygon's edge has a non-finite component")
                    // The first row sets the columns' type (PostgreSQL would take numeric literals as numeric).
                    return rows.isEmpty ? "CAST(\(v) AS DOUBLE PRECISION)" : "\(v)"
                }
                rows.append("(\(piece), " + numbers.joined(separator: ", ") + ")")
            }
        }
        let table = "WITH \(g)(piece, ax, ay, az, bx, by, bz, nx, ny, nz, mx, my, mz) AS (VALUES \(rows.joined(separator: ", ")))"
        // A vertex of the record inside a polygon: no edge of that polygon has it outside (one pass over the pairs of
        // record vertices and polygon edges, grouped by vertex and polygon).
        let e1 = alias("edge"), f1 = alias("poly")
        let vertexInPolygon = "EXISTS (SELECT 1 FROM \(q(RegionIndex.edgeTable(element))) AS \(e1) CROSS JOIN \(g) AS \(f1) WHERE "
            + keys.map { "\(e1).\(q($0.column)) = \($0.sql)" }.joined(separator: " AND ")
            + " GROUP BY \(e1).k, \(f1).piece HAVING MIN(\(dot(e1, "a", f1, "n"))) >= 0)"
        // A vertex of a polygon (the start of each edge) inside the record.
        let v = alias("poly"), e2 = alias("edge")
        let vertexInRecord = "EXISTS (SELECT 1 FROM \(g) AS \(v) WHERE NOT EXISTS (SELECT 1 \(edges(element, keys, e2)) AND \(dot(e2, "n", v, "a")) < 0))"
        // Two edges that cross (see ConvexPolygon.cross).
        let e3 = alias("edge"), f = alias("poly")
        let crossing = "EXISTS (SELECT 1 \(edges(element, keys, e3)) AND EXISTS (SELECT 1 FROM \(g) AS \(f) WHERE"
            + " \(dot(e3, "n", f, "a")) * \(dot(e3, "n", f, "b")) < 0"
            + " AND \(dot(e3, "a", f, "n")) * \(dot(e3, "b", f, "n")) < 0"
            + " AND (\(dot(e3, "q", f, "n")) - \(dot(e3, "p", f, "n"))) * \(dot(e3, "n", f, "m")) > 0))"
        return "EXISTS (\(table) SELECT 1 WHERE \(vertexInPolygon) OR \(vertexInRecord) OR \(crossing))"
    }

    /// The record's region holds a direction: no edge has it outside.
    private func contains(_ element: String, _ keys: [(column: String, sql: String)], _ p: UnitVector) -> String {
        let e = alias("edge")
        return "NOT EXISTS (SELECT 1 \(edges(element, keys, e)) AND \(dot(e, "n", p.vector)) < 0)"
    }

    private func recordOverlapsRecord(_ e1: String, _ k1: [(column: String, sql: String)], _ e2: String, _ k2: [(column: String, sql: String)]) -> String {
        // Candidates: a pixel in common.
        let o1 = alias("pix"), o2 = alias("pix")
        let tuple = k2.count == 1 ? k2[0].sql : "(" + k2.map(\.sql).joined(separator: ", ") + ")"
        let candidates = "\(tuple) IN (SELECT \(k2.map { "\(o2).\(q($0.column))" }.joined(separator: ", ")) FROM \(q(RegionIndex.overlapTable(e2))) AS \(o2)"
            + " JOIN \(q(RegionIndex.overlapTable(e1))) AS \(o1) ON \(o1).skypix_index = \(o2).skypix_index WHERE "
            + k1.map { "\(o1).\(q($0.column)) = \($0.sql)" }.joined(separator: " AND ") + ")"
        func vertexInside(_ ea: String, _ ka: [(column: String, sql: String)], _ eb: String, _ kb: [(column: String, sql: String)]) -> String {
            let a = alias("edge"), b = alias("edge")
            return "EXISTS (SELECT 1 \(edges(ea, ka, a)) AND NOT EXISTS (SELECT 1 \(edges(eb, kb, b)) AND \(dot(b, "n", a, "a")) < 0))"
        }
        let a = alias("edge"), b = alias("edge")
        let crossing = "EXISTS (SELECT 1 \(edges(e1, k1, a)) AND EXISTS (SELECT 1 \(edges(e2, k2, b))"
            + " AND \(dot(a, "n", b, "a")) * \(dot(a, "n", b, "b")) < 0 AND \(dot(b, "n", a, "a")) * \(dot(b, "n", a, "b")) < 0"
            + " AND (\(dot(b, "n", a, "q")) - \(dot(b, "n", a, "p"))) * (\(dot(a, "n", b, "p")) - \(dot(a, "n", b, "q"))) > 0))"
        return "(\(candidates) AND (\(vertexInside(e1, k1, e2, k2)) OR \(vertexInside(e2, k2, e1, k1)) OR \(crossing)))"
    }
}

extension QueryBuilder {
    /// A region written in the expression, as the union of its pieces: `POINT(ra, dec)`, `CIRCLE(ra, dec, radius)`,
    /// `BOX(ra, dec, width, height)`, `POLYGON(ra1, dec1, ...)` (degrees; numbers, signed numbers, bind values or
    /// arithmetic of them; a value that is not finite, as a bind `nan` or `1e400`, is refused), or
    /// `REGION('CIRCLE ra dec r' | 'RANGE ...' | 'POLYGON ...')` in IVOA POS syntax. A `BOX` or `RANGE` is sphgeom's
    /// Box, of any width (see ``SkyRegion/boxRegions(ra:dec:width:height:what:)``).
    func regionLiteral(_ name: String, _ args: [Expression], column: Int) throws -> [SkyRegion] {
        do {
            if name == "REGION" {
                guard args.count == 1 else { throw fail("REGION takes one string, as REGION('CIRCLE 53.1 -27.8 0.5')", column) }
                switch args[0] {
                case .literal(.string(let text), _): return try SkyRegion.posRegions(text)
                case .bind(let bound, let c):
                    guard case .string(let text)? = binds[bound] else { throw fail("REGION needs a string; :\(bound) is not one", c) }
                    return try SkyRegion.posRegions(text)
                case .name(let parts, let c) where parts.count == 1:
                    guard case .string(let text)? = binds[parts[0]] else { throw fail("REGION needs a string; \(parts[0]) is not a bind value", c) }
                    return try SkyRegion.posRegions(text)
                default: throw fail("REGION takes a string literal or a bind value", args[0].column)
                }
            }
            let labels: [String] = switch name {
            case "POINT": ["ra", "dec"]
            case "CIRCLE": ["ra", "dec", "radius"]
            case "BOX": ["ra", "dec", "width", "height"]
            default: args.indices.map { $0 % 2 == 0 ? "ra\($0 / 2 + 1)" : "dec\($0 / 2 + 1)" }
            }
            let values = try args.enumerated().map { i, arg -> Double in
                guard let v = try constantNumber(arg) else {
                    throw fail("\(name) takes numbers (degrees) or bind values, not this", arg.column)
                }
                guard v.isFinite else {
                    let label = i < labels.count ? labels[i] : "argument \(i + 1)"
                    var source = ""
                    if case .bind(let bound, _) = arg { source = " (:\(bound))" } else if case .name(let parts, _) = arg, parts.count == 1 { source = " (\(parts[0]))" }
                    throw fail("\(name)'s \(label)\(source) is \(v), not a finite number of degrees", arg.column)
                }
                return v
            }
            switch name {
            case "POINT":
                guard values.count == 2 else { throw fail("POINT takes two numbers: POINT(ra, dec)", column) }
                guard values[1] >= -90, values[1] <= 90 else { throw fail("declination \(values[1]) is outside [-90, 90]", column) }
                return [.point(UnitVector(ra: values[0], dec: values[1]))]
            case "CIRCLE":
                guard values.count == 3 else { throw fail("CIRCLE takes three numbers: CIRCLE(ra, dec, radius)", column) }
                return [try SkyRegion.circle(ra: values[0], dec: values[1], radius: values[2])]
            case "BOX":
                guard values.count == 4 else { throw fail("BOX takes four numbers: BOX(ra, dec, width, height)", column) }
                return try SkyRegion.boxRegions(ra: values[0], dec: values[1], width: values[2], height: values[3],
                                                what: "BOX(\(values.map { "\($0)" }.joined(separator: ", ")))")
            default:
                guard values.count >= 6, values.count % 2 == 0 else {
                    throw fail("POLYGON takes pairs of numbers for at least three vertices: POLYGON(ra1, dec1, ra2, dec2, ra3, dec3)", column)
                }
                return [try SkyRegion.polygon(values)]
            }
        } catch let error as ButlerError where error.code == .invalidValue && !error.message.contains("\n") {
            // A geometry error (not already an expression error with its caret).
            throw fail(error.message, column)
        }
    }

    /// The value of a constant numeric expression (literals, signs, bind values, + - * /); nil for anything else.
    func constantNumber(_ e: Expression) throws -> Double? {
        switch e {
        case .literal(.integer(let v), _): return Double(v)
        case .literal(.float(let v), _): return v
        case .bind(let name, _):
            return numericBind(name)
        case .name(let parts, _) where parts.count == 1:
            return numericBind(parts[0])
        case .unary(let op, let inner, _) where op == "-" || op == "+":
            return try constantNumber(inner).map { op == "-" ? -$0 : $0 }
        case .sum(let terms, _):
            var total = 0.0
            for term in terms {
                guard let v = try constantNumber(term.value) else { return nil }
                total += term.negated ? -v : v
            }
            return total
        case .binary(let op, let l, let r, _) where op == "*" || op == "/":
            guard let a = try constantNumber(l), let b = try constantNumber(r) else { return nil }
            return op == "*" ? a * b : a / b
        default:
            return nil
        }
    }

    private func numericBind(_ name: String) -> Double? {
        switch binds[name] {
        case .integer(let v)?: return Double(v)
        case .float(let v)?: return v
        default: return nil
        }
    }

    /// A skypix dimension name: `htm7` → (htm, 7), `healpix11` → (healpix, 11); nil for other expressions.
    static func skypix(_ e: Expression) -> (system: String, level: Int)? {
        guard case .name(let parts, _) = e, parts.count == 1, let skypix = SkyPixDimension(name: parts[0]) else { return nil }
        return (skypix.system, skypix.level)
    }

    /// `htmN = pixel`, `healpixN IN (pixels)`: the records of the query's spatial element (a visit's detector, a
    /// visit, a patch or a tract) whose regions overlap one of the pixels (an HTM triangle; the polygon around a
    /// HEALPix pixel).
    func skypixCondition(_ skypix: (system: String, level: Int), pixels: [Int], column: Int) throws -> String {
        let name = "\(skypix.system)\(skypix.level)"
        guard pixels.count <= 1000 else { throw fail("at most 1000 \(name) pixels can be listed", column) }
        let operand = try spatialOperand(column: column, what: name)
        let polygons = try pixels.map { pixel -> SkyRegion in
            do {
                if skypix.system == "htm" { return .polygon(try HTMPixelization(level: skypix.level).triangle(pixel)) }
                return .polygon(try HEALPixPixelization(level: skypix.level).polygon(pixel))
            } catch let error as ButlerError { throw fail(error.message, column) }
        }
        guard !polygons.isEmpty else { return "(1 = 0)" }
        // One union of pixels: one table of edges, however many pixels.
        return try overlapSQL(operand, .literal(polygons))
    }

    /// The condition that relates the two spatial families when a query's own dimensions hold both (visit and
    /// tract, exposure and patch, visit, detector and patch): their regions overlap. Nil when they do not.
    func spatialRelation(of dimensions: [String]) throws -> String? {
        let names = Set(dimensions)
        guard let sky = ["patch", "tract"].first(where: names.contains) else { return nil }
        let observation: String
        if names.contains("detector") && (names.contains("visit") || names.contains("exposure")) {
            observation = "visit_detector_region"
        } else if names.contains("visit") || names.contains("exposure") {
            observation = "visit"
        } else {
            return nil
        }
        joinedSpatially = true
        return try overlapSQL(try recordRegion(observation, column: 0), try recordRegion(sky, column: 0))
    }

    /// The most precise spatial element whose keys this query knows or can relate.
    private func spatialOperand(column: Int, what: String) throws -> RegionOperand {
        for element in ["visit_detector_region", "visit", "patch", "tract"] {
            guard let e = universe[element], e.isSpatial else { continue }
            let names = RegionIndex.keys(of: e, in: universe).map(\.indexColumn)
            if names.allSatisfy({ dimensions[$0] != nil }) { return try recordRegion(element, column: column) }
        }
        for element in ["visit", "tract"] {
            if let operand = try? recordRegion(element, column: column) { return operand }
        }
        throw fail("\(what) is a sky pixel: the query has nothing with a region (visit, visit and detector, tract, patch) to relate it to", column)
    }
}
