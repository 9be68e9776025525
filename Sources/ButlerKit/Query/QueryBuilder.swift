public import Foundation

/// The type of a compiled expression.
enum ValueType: Equatable, CustomStringConvertible {
    case integer, float, string, bool, time, uuid
    /// `NULL` (an identifier `null` in any case, as Rubin reads it): only `x = NULL`, `x != NULL`, `x IN (NULL)` and
    /// an open end of a timespan `(T'...', NULL)`.
    case null
    /// A timespan: SQL for its begin and end (NULL means unbounded).
    case timespan(begin: String, end: String)
    /// A sky region: a literal or a record's (tested only with OVERLAPS).
    case region(RegionOperand)

    var isNumeric: Bool { self == .integer || self == .float }

    var description: String {
        switch self {
        case .integer: return "an integer"
        case .float: return "a number"
        case .string: return "a string"
        case .bool: return "a condition"
        case .time: return "a time"
        case .uuid: return "a UUID"
        case .null: return "NULL"
        case .timespan: return "a timespan"
        case .region: return "a region"
        }
    }
}

/// A bound value for `:name` in an expression (`--bind name=value`).
public enum BindValue: Sendable {
    case integer(Int)
    case float(Double)
    case string(String)
    case list([BindValue])
    /// A time (Rubin binds an astropy `Time`); on the command line `T'2021-01-01T00:00:00'`.
    case time(TAITime)
    /// A timespan, nil for an open end (Rubin's `Timespan`); on the command line `(T'...', T'...')`.
    case timespan(begin: TAITime?, end: TAITime?)
    /// A dataset ID (Rubin binds a `uuid.UUID`); on the command line `UUID('...')`.
    case uuid(UUID)
    /// A sky region, the union of its pieces (one for most shapes); on the command line `CIRCLE(...)`, `BOX(...)`,
    /// `POLYGON(...)`, `POINT(...)` or `REGION('...')` (see TypedBinds.swift).
    case region([SkyRegion])

    /// Parses a command-line value: comma-separated values make a list (for `IN (:name)`), numbers are numbers.
    public init(parsing text: String) {
        let items = text.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmedSpaces }
        if items.count > 1 {
            self = .list(items.map { BindValue(parsing: $0) })
        } else if let i = Int(text) {
            self = .integer(i)
        } else if let d = Double(text) {
            self = .float(d)
        } else {
            var s = text
            if s.count >= 2, s.hasPrefix("'"), s.hasSuffix("'") { s = String(s.dropFirst().dropLast()) }
            self = .string(s)
        }
    }
}

/// Builds one SQL SELECT over a base table (a dataset tags table or dimension tables), joining the dimension
/// tables that names in `--where` and `--order-by` need, and compiles expressions to SQL with bound parameters:
/// no value is ever spliced into the SQL text (the edges of a sky region, unit-vector components computed from the
/// region, are the one exception: numeric literals, so that a region of any size needs no parameters).
final class QueryBuilder {
    let universe: DimensionUniverse
    let expressionText: String
    var from: [String] = []
    var joins: [String] = []
    /// SQL for the value of each dimension known so far.
    var dimensions: [String: String] = [:]
    /// Aliases of joined element tables.
    var aliases: [String: String] = [:]
    var parameters: [SQLValue] = []
    var binds: [String: BindValue] = [:]
    /// For dataset queries: the dataset type name, the dataset alias and the run and collection aliases.
    var datasetType: String?
    var datasetAlias: String?
    var runAlias: String?
    var collectionAlias: String?
    /// For dataset queries that reach CALIBRATION collections: SQL for the validity range of each row and for the
    /// flag saying that the row is a certification (`TYPE.timespan`; rows of other collections have no range).
    var validityColumns: (begin: String, end: String, flag: String)?
    /// For dimension-record queries: the element whose fields can be named without a prefix.
    var recordElement: String?
    /// The engine the SQL is for (GLOB and offset-only paging are spelled differently).
    var dialect: SQLDialect = .sqlite
    /// Extra name resolution (provenance metrics and the like), tried before failing.
    var extraNames: ((QueryBuilder, [String]) throws -> (String, ValueType)?)?
    /// Whether a dimension was related through sky regions (tract to visit): rows can repeat, so SELECTs are DISTINCT.
    var joinedSpatially = false
    /// The spatial elements whose regions the SQL tests (see ``requireIndexedRegions(_:)``).
    var regionElements: Set<String> = []
    /// SQL of the boolean columns named so far (`exposure.can_see_sky`): conditions that can also be NULL-tested.
    private var booleanColumns: Set<String> = []
    private var aliasCounter = 0
    /// The tract or patch (element and key SQL) that a visit was related to through the visit's region, until a
    /// detector narrows it (``relateDetectorRegion()``).
    private var spatialVisit: (element: String, keys: [(column: String, sql: String)])?

    init(universe: DimensionUniverse, expression: String = "") {
        self.universe = universe
        self.expressionText = expression
    }

    func alias(_ base: String) -> String {
        aliasCounter += 1
        return "\(base)_\(aliasCounter)"
    }

    /// Adds a parameter and returns its numbered placeholder (`?3`), so SQL can use operands in any order.
    func bind(_ value: SQLValue) -> String {
        parameters.append(value)
        return "?\(parameters.count)"
    }

    func fail(_ message: String, _ column: Int) -> ButlerError {
        ExpressionError(expression: expressionText, column: column, message: message).butlerError
    }

    // MARK: Dimensions and elements

    /// SQL for the value of a dimension, joining tables as needed.
    func dimension(_ name: String, column: Int = 0) throws -> String {
        if let known = dimensions[name] { return known }
        var visiting = Set<String>()
        if let sql = try resolve(name, &visiting) {
            try relateDetectorRegion()
            return sql
        }
        let known = universe.sorted(dimensions.keys).joined(separator: ", ")
        throw fail("dimension '\(name)' is not related to the dimensions of this query (\(known))", column)
    }

    /// Resolves a dimension as Rubin's query system adds a dimension that an expression names to the query's
    /// dimensions: through a chain of elements whose records imply it starting from known dimensions (band from an
    /// exposure's physical_filter); or else (with `throughJoins`) through an always-joined element that relates it
    /// to known dimensions (exposure <-> visit through visit_definition), through sky regions (a tract of a visit),
    /// or by itself: its own table joined on its required dimensions, related to nothing else (a `band` in a query
    /// of `bias`, whose dimensions have no filter, is any band that exists).
    private func resolve(_ name: String, _ visiting: inout Set<String>, throughJoins: Bool = true) throws -> String? {
        if let known = dimensions[name] { return known }
        // A sky pixel is known only as a column of the query (a dataset type's htm7); it has no table to join.
        guard visiting.insert(name).inserted, let target = universe[name], target.isDimension, !target.isSkyPix else { return nil }
        defer { visiting.remove(name) }
        if let sql = try resolveThroughImplyingElement(name, &visiting) { return sql }
        guard throughJoins else { return nil }
        for element in universe.elements where element.hasTable && !element.isDimension && element.alwaysJoin {
            let required = universe.requiredDimensions(of: element.name)
            guard required.contains(name) else { continue }
            var keys: [(String, String)] = []
            var ok = true
            // The other side resolves without further join elements (no chains of relations).
            for dim in required where dim != name {
                guard let sql = try resolve(dim, &visiting, throughJoins: false) else { ok = false; break }
                keys.append((dim, sql))
            }
            guard ok, !keys.isEmpty else { continue }
            let a = alias(element.name)
            joins.append("JOIN \(q(element.name)) AS \(a) ON " + keys.map { "\(a).\(q($0.0)) = \($0.1)" }.joined(separator: " AND "))
            aliases[element.name] = a
            let sql = "\(a).\(q(name))"
            dimensions[name] = sql
            return sql
        }
        if let sql = try resolveSpatially(name, &visiting) { return sql }
        return try resolveByItself(name, &visiting)
    }

    /// A dimension that nothing known relates to: its own records (the distinct values of the table it is a view
    /// of), joined on its required dimensions.
    private func resolveByItself(_ name: String, _ visiting: inout Set<String>) throws -> String? {
        guard let element = universe[name], let pk = element.primaryKey else { return nil }
        var keys: [(String, String)] = []
        for dim in universe.requiredDimensions(of: name) where dim != name {
            guard let sql = try resolve(dim, &visiting) else { return nil }
            keys.append((dim, sql))
        }
        let a = alias(name)
        let table = element.viewOf.map { "(SELECT DISTINCT \(q(name)) AS \(q(pk.name)) FROM \(q($0)))" } ?? q(name)
        // What its records imply agrees with what the query already has: a physical_filter named in a query of
        // bands is one of that band's filters (Rubin adds it to the query's dimensions, and band is implied by it).
        if element.hasTable {
            for implied in element.implies { if let known = dimensions[implied] { keys.append((implied, known)) } }
        }
        joins.append(keys.isEmpty ? "CROSS JOIN \(table) AS \(a)"
                     : "JOIN \(table) AS \(a) ON " + keys.map { "\(a).\(q($0.0)) = \($0.1)" }.joined(separator: " AND "))
        if element.hasTable { aliases[name] = a }
        let sql = "\(a).\(q(pk.name))"
        dimensions[name] = sql
        return sql
    }

    /// Relates a dimension of the other spatial family through sky regions, as Rubin does: a tract, patch or skymap
    /// in a query on visits or exposures (through their visit, or visit and detector) joins the tracts or patches
    /// whose regions overlap the visit's (or detector's); a visit in a query on tracts or patches, the reverse.
    private func resolveSpatially(_ name: String, _ visiting: inout Set<String>) throws -> String? {
        let targets = ["tract": "tract", "skymap": "tract", "patch": "patch", "visit": "visit"]
        guard let targetName = targets[name], let target = universe[targetName], target.isSpatial, target.hasTable else { return nil }
        let sources = targetName == "visit" ? ["patch", "tract"] : ["visit_detector_region", "visit"]
        for sourceName in sources {
            guard let source = universe[sourceName], source.isSpatial, source.hasTable else { continue }
            var keys: [(column: String, sql: String)] = []
            for key in RegionIndex.keys(of: source, in: universe) {
                guard let sql = try resolve(key.indexColumn, &visiting) else { break }
                keys.append((key.indexColumn, sql))
            }
            guard keys.count == RegionIndex.keys(of: source, in: universe).count else { continue }
            regionElements.formUnion([sourceName, targetName])
            let t = alias(targetName)
            let targetKeys = RegionIndex.keys(of: target, in: universe)
            var conditions = [try overlapSQL(.record(element: sourceName, keys: keys),
                                             .record(element: targetName, keys: targetKeys.map { ($0.indexColumn, "\(t).\(q($0.recordField))") }))]
            for key in targetKeys { if let known = dimensions[key.indexColumn] { conditions.append("\(t).\(q(key.recordField)) = \(known)") } }
            joins.append("JOIN \(q(targetName)) AS \(t) ON " + conditions.joined(separator: " AND "))
            aliases[targetName] = t
            for key in targetKeys where dimensions[key.indexColumn] == nil { dimensions[key.indexColumn] = "\(t).\(q(key.recordField))" }
            if targetName == "visit" { spatialVisit = (sourceName, keys) }
            joinedSpatially = true
            return dimensions[name]
        }
        return nil
    }

    /// Once a query that related a visit to its tracts or patches through the visit's region (see
    /// ``resolveSpatially(_:_:)``) also knows a detector, relates the detector's region instead, as Rubin does (the
    /// patches of `visit = 1 AND detector = 1` are those that the detector saw, not all those of the visit).
    private func relateDetectorRegion() throws {
        guard let (skyElement, skyKeys) = spatialVisit, dimensions["detector"] != nil,
              let region = universe["visit_detector_region"], region.isSpatial, region.hasTable else { return }
        var keys: [(column: String, sql: String)] = []
        var on: [String] = []
        let a = alias(region.name)
        for key in RegionIndex.keys(of: region, in: universe) {
            guard let sql = dimensions[key.indexColumn] else { return }
            keys.append((key.indexColumn, sql))
            on.append("\(a).\(q(key.recordField)) = \(sql)")
        }
        spatialVisit = nil
        regionElements.insert(region.name)
        on += [try overlapSQL(.record(element: region.name, keys: keys), .record(element: skyElement, keys: skyKeys))]
        joins.append("JOIN \(q(region.name)) AS \(a) ON " + on.joined(separator: " AND "))
    }

    /// An element whose record implies the dimension (exposure -> physical_filter -> band), preferring elements whose
    /// value is already known (so an exposure's filter comes from the exposure, not through a visit).
    private func resolveThroughImplyingElement(_ name: String, _ visiting: inout Set<String>) throws -> String? {
        let candidates = universe.elements.filter { $0.hasTable && $0.isDimension && $0.implies.contains(name) }
            .sorted { (dimensions[$0.name] != nil ? 0 : 1) < (dimensions[$1.name] != nil ? 0 : 1) }
        for element in candidates {
            // The implying element's own value comes by implication from known dimensions only: a band is not
            // looked for through the physical_filter of some visit that happens to share a detector.
            if let alias = try joinDimensionTable(element.name, &visiting, throughJoins: false) {
                let sql = "\(alias).\(q(name))"
                dimensions[name] = sql
                return sql
            }
        }
        return nil
    }

    /// Joins a dimension's table on its key values (which must resolve), returning its alias.
    private func joinDimensionTable(_ name: String, _ visiting: inout Set<String>, throughJoins: Bool = true) throws -> String? {
        if let a = aliases[name] { return a }
        guard let element = universe[name], element.hasTable, let pk = element.primaryKey else { return nil }
        var keys: [(String, String)] = []
        for dim in universe.requiredDimensions(of: name) {
            guard let sql = try resolve(dim, &visiting, throughJoins: throughJoins) else { return nil }
            keys.append((dim, sql))
        }
        guard let value = try resolve(name, &visiting, throughJoins: throughJoins) else { return nil }
        // Resolving the value by itself may have joined the table already.
        if let a = aliases[name] { return a }
        keys.append((pk.name, value))
        let a = alias(name)
        joins.append("JOIN \(q(name)) AS \(a) ON " + keys.map { "\(a).\(q($0.0)) = \($0.1)" }.joined(separator: " AND "))
        aliases[name] = a
        return a
    }

    /// The alias of an element's table, joined on demand.
    func element(_ name: String, column: Int) throws -> String {
        if let a = aliases[name] { return a }
        var visiting = Set<String>()
        if let a = try joinDimensionTable(name, &visiting) { return a }
        throw fail("'\(name)' is not related to the dimensions of this query", column)
    }

    // MARK: Compiling expressions

    /// Compiles a boolean expression to SQL.
    /// SQL for a query's constraints: `dataID`'s values as equalities, and the `--where` expression. Refused, in
    /// Rubin's words, when a term of the expression depends on a governor that neither the expression nor `dataID`
    /// names (see `GovernorConstraints.swift`); syntax and type errors come first, as in Rubin's.
    func whereCondition(_ expression: Expression?, dataID: [String: DataIDValue] = [:]) throws -> String? {
        var parts: [String] = []
        for (name, value) in dataID.sorted(by: { $0.key < $1.key }) {
            guard universe[name]?.isDimension == true else {
                throw ButlerError(.invalidValue, "invalid data ID: '\(name)' is not a dimension (\(universe.dimensions.map(\.name).joined(separator: ", ")))")
            }
            parts.append("\(try dimension(name)) = \(bind(value.sqlValue))")
        }
        if let expression {
            parts.append("(" + (try compileCondition(expression)) + ")")
            if let (governor, column) = expression.unconstrainedGovernor(in: universe, given: dataID.keys, recordElement: recordElement) {
                throw fail("Query 'where' expression references a dimension dependent on \(governor) without constraining it directly "
                           + "(add \(governor) = ... to the expression)", column)
            }
        }
        return parts.isEmpty ? nil : parts.joined(separator: " AND ")
    }

    func compileCondition(_ expression: Expression) throws -> String {
        let (sql, type) = try compile(expression)
        guard type == .bool else {
            throw fail("expected a condition (a comparison, IN, OVERLAPS, GLOB, AND, OR, NOT), found \(type)", expression.column)
        }
        return sql
    }

    func compile(_ e: Expression) throws -> (String, ValueType) {
        switch e {
        case .literal(let literal, let column):
            switch literal {
            case .integer(let v): return (bind(.integer(Int64(v))), .integer)
            case .float(let v): return (bind(.real(v)), .float)
            case .string(let s): return (bind(.text(s)), .string)
            case .time(let text):
                do {
                    return (bind(.integer(try parseTimeLiteral(text).nanoseconds)), .time)
                } catch {
                    throw fail("invalid time literal T'\(text)': \(error.message)", column)
                }
            case .uuid(let s):
                guard let uuid = Self.uuid(s) else { throw fail("invalid UUID '\(s)': expected 32 hexadecimal digits, with or without dashes", column) }
                return (bind(.text(uuid.lowercasedString)), .uuid)
            }
        case .name(let parts, let column):
            if parts.count == 1, binds[parts[0]] != nil {
                // Rubin's older spelling of a bind value: a bare name that the bind map holds.
                return try compile(.bind(parts[0], column: column))
            }
            if parts.count == 1, parts[0].lowercased() == "null" { return ("NULL", .null) }
            let (sql, type) = try name(parts, column: column)
            if type == .bool { booleanColumns.insert(sql) }
            return (sql, type)
        case .bind(let name, let column):
            guard let value = binds[name] else {
                throw fail("no value for :\(name); give one with --bind \(name)=VALUE", column)
            }
            switch value {
            case .integer(let i): return (bind(.integer(Int64(i))), .integer)
            case .float(let d): return (bind(.real(d)), .float)
            case .string(let s): return (bind(.text(s)), .string)
            case .list: throw fail(":\(name) is a list; lists are allowed only in IN (:\(name))", column)
            case .time, .timespan, .uuid, .region: return compileTypedBind(value)!
            }
        case .unary(let op, let inner, let column):
            let (sql, type) = try compile(inner)
            if op == "NOT" {
                guard type == .bool else { throw fail("NOT needs a condition, found \(type)", column) }
                return ("(NOT \(sql))", .bool)
            }
            guard type.isNumeric else { throw fail("'-' needs a number, found \(type)", column) }
            return ("(-\(typed(sql, type)))", type)
        case .binary(let op, let l, let r, let column):
            return try binary(op, l, r, column: column)
        case .logical(let op, let items, _):
            return (try logical(op, items), .bool)
        case .sum(let terms, _):
            return try sum(terms)
        case .inList(let left, let items, let negated, let column):
            return try inList(left, items, negated: negated, column: column)
        case .function(let name, let args, let column):
            switch name {
            case "GLOB":
                guard args.count == 2 else { throw fail("GLOB takes two arguments: GLOB(name, 'pattern')", column) }
                guard case .name = args[0] else { throw fail("GLOB matches a name (a string field), as GLOB(exposure.obs_id, 'AT_O_*')", args[0].column) }
                let (value, type) = try compile(args[0])
                guard type == .string else { throw fail("GLOB needs a string to match, found \(type)", args[0].column) }
                switch args[1] {
                case .literal(.string, _), .bind: break
                default: throw fail("the GLOB pattern must be a string or a bind value", args[1].column)
                }
                let (pattern, ptype) = try compile(args[1])
                guard ptype == .string else { throw fail("the GLOB pattern must be a string", args[1].column) }
                // Rubin's patterns have two wildcards, `*` and `?` (`\\*`, `\\?`, `\\[`, `\\]`, `\\\\` stand for the
                // character itself); everything else is itself, translated so that neither engine reads more into it.
                guard pattern.hasPrefix("?"), let index = Int(pattern.dropFirst()), index >= 1, index <= parameters.count,
                      case .text(let glob) = parameters[index - 1] else {
                    throw fail("the GLOB pattern must be a string literal or a bind value", args[1].column)
                }
                let tokens = Self.globTokens(glob)
                // As Rubin: `*` alone matches every row. Its placeholder is not in the SQL, so neither is its value
                // (it is the last one bound: SQLite refuses more values than placeholders).
                if tokens == [.any] {
                    if index == parameters.count { parameters.removeLast() } else { parameters[index - 1] = .null }
                    return ("(1 = 1)", .bool)
                }
                if dialect.engine == .sqlite {
                    parameters[index - 1] = .text(Self.sqliteGlob(tokens))
                    return ("(\(value) GLOB \(pattern))", .bool)
                }
                // PostgreSQL has no GLOB: the bound pattern becomes an anchored regular expression.
                parameters[index - 1] = .text(Self.regex(tokens))
                return ("(\(value) ~ \(pattern))", .bool)
            case "POINT", "CIRCLE", "BOX", "POLYGON", "REGION":
                return ("", .region(.literal(try regionLiteral(name, args, column: column))))
            default:
                throw fail("unknown function \(name); expected GLOB or UUID", column)
            }
        case .tuple(let items, let column):
            guard items.count == 2 else { throw fail("a time range is written (T'begin', T'end')", column) }
            let (a, ta) = try compile(items[0])
            let (b, tb) = try compile(items[1])
            guard ta == .time || ta == .null, tb == .time || tb == .null else {
                throw fail("a timespan needs two times (or NULL for an open end), as (T'2020-01-01', T'2021-01-01'); a time is written T'...'", column)
            }
            return ("", .timespan(begin: a, end: b))
        }
    }

    /// A flat AND or OR list as SQL whose nesting grows with the logarithm of its length, not the length (SQLite's
    /// parser overflows at about 100 nested parentheses). In an OR list, two or more `name = value` on one name become
    /// one `name IN (values)`.
    private func logical(_ op: String, _ items: [Expression]) throws -> String {
        enum Slot { case sql(String), group(String) }
        var slots: [Slot] = []
        var groups: [String: [(item: Expression, name: Expression, value: Expression)]] = [:]
        for item in items {
            if op == "OR", let (name, value) = Self.equality(item), case .name(let parts, _) = name {
                let key = parts.joined(separator: ".")
                if groups[key] == nil { slots.append(.group(key)) }
                groups[key, default: []].append((item, name, value))
            } else {
                slots.append(.sql(try compileCondition(item)))
            }
        }
        var parts: [String] = []
        for slot in slots {
            switch slot {
            case .sql(let sql):
                parts.append(sql)
            case .group(let key):
                let members = groups[key]!
                if members.count == 1 { parts.append(try compileCondition(members[0].item)); continue }
                let (value, type) = try compile(members[0].name)
                var values: [String] = []
                for member in members {
                    let (sql, t) = try compile(member.value)
                    try checkComparable(type, t, member.name, member.value, column: member.item.column)
                    values.append(sql)
                }
                parts.append("(\(value) IN (\(values.joined(separator: ", "))))")
            }
        }
        return Self.balanced(parts[...], op)
    }

    /// `name = value` or `value = name` with a plain value (a literal, a negative number or a bind value).
    private static func equality(_ e: Expression) -> (Expression, Expression)? {
        guard case .binary("=", let l, let r, _) = e else { return nil }
        func isValue(_ e: Expression) -> Bool {
            switch e {
            case .literal, .bind, .unary("-", .literal, _): return true
            default: return false
            }
        }
        if case .name = l, isValue(r) { return (l, r) }
        if case .name = r, isValue(l) { return (r, l) }
        return nil
    }

    /// `(a op b)`, `((a op b) op (c op d))`, ...: halves joined, so the nesting is log2 of the count.
    private static func balanced(_ parts: ArraySlice<String>, _ op: String) -> String {
        if parts.count == 1 { return parts.first! }
        let middle = parts.startIndex + parts.count / 2
        return "(\(balanced(parts[..<middle], op)) \(op) \(balanced(parts[middle...], op)))"
    }

    /// A bare parameter as an operand of arithmetic: PostgreSQL cannot choose `+` for two parameters of unknown
    /// type, so there the parameter is cast to its type.
    private func typed(_ sql: String, _ type: ValueType) -> String {
        guard dialect.engine == .postgresql, sql.hasPrefix("?"), sql.dropFirst().allSatisfy(\.isNumber) else { return sql }
        return "CAST(\(sql) AS \(type == .float ? "DOUBLE PRECISION" : "BIGINT"))"
    }

    /// A flat sum of signed terms, as SQL nested by halves (log2 of the term count), so that 20,000 terms compile
    /// and run on both engines.
    private func sum(_ terms: [Expression.SumTerm]) throws -> (String, ValueType) {
        var leaves: [(sql: String, negated: Bool)] = []
        var type: ValueType = .integer
        for (i, term) in terms.enumerated() {
            let (sql, t) = try compile(term.value)
            guard t.isNumeric else {
                let op = (i == 0 ? terms[1] : term).negated ? "-" : "+"
                throw fail("'\(op)' needs numbers, found \(t)", term.value.column)
            }
            if i > 0, t != type {
                let op = term.negated ? "-" : "+"
                throw fail("'\(op)' needs two integers or two floats, found \(type) and \(t) (write 2.0 for a float)", term.value.column)
            }
            type = t
            leaves.append((typed(sql, t), term.negated))
        }
        let (sql, negated) = Self.balancedSum(leaves[...])
        return (negated ? "(-\(sql))" : sql, type)
    }

    /// The SQL of a run of signed terms and whether it stands for their negated sum (only when all are negated).
    private static func balancedSum(_ leaves: ArraySlice<(sql: String, negated: Bool)>) -> (String, Bool) {
        if leaves.count == 1 { return (leaves.first!.sql, leaves.first!.negated) }
        let middle = leaves.startIndex + leaves.count / 2
        let (a, an) = balancedSum(leaves[..<middle]), (b, bn) = balancedSum(leaves[middle...])
        switch (an, bn) {
        case (false, false): return ("(\(a) + \(b))", false)
        case (true, true): return ("(\(a) + \(b))", true)
        case (false, true): return ("(\(a) - \(b))", false)
        case (true, false): return ("(\(b) - \(a))", false)
        }
    }

    private func binary(_ op: String, _ l: Expression, _ r: Expression, column: Int) throws -> (String, ValueType) {
        if let skypix = Self.skypix(l) ?? Self.skypix(r), dimensions["\(skypix.system)\(skypix.level)"] == nil {
            let value = Self.skypix(l) != nil ? r : l
            let name = "\(skypix.system)\(skypix.level)"
            guard op == "=", let pixel = try constantNumber(value), pixel == pixel.rounded(), pixel.magnitude < 1e15 else {
                throw fail("\(name) is a sky pixel: write \(name) = PIXEL or \(name) IN (PIXELS)", column)
            }
            return (try skypixCondition(skypix, pixels: [Int(pixel)], column: column), .bool)
        }
        let (a, ta) = try compile(l)
        let (b, tb) = try compile(r)
        if op == "OVERLAPS" {
            // Half-open [begin, end); NULL bounds are unbounded. Each operand appears once (its parameters bind once).
            let lo = "-9223372036854775808", hi = "9223372036854775807"
            switch (ta, tb) {
            case (.region(let x), .region(let y)):
                return (try overlapSQL(x, y), .bool)
            case (.region, _), (_, .region):
                throw fail("a region OVERLAPS a region (x.region, POINT, CIRCLE, BOX, POLYGON, REGION), found \(ta) and \(tb)", column)
            case (.timespan(let ab, let ae), .timespan(let bb, let be)):
                return ("(COALESCE(\(ab), \(lo)) < COALESCE(\(be), \(hi)) AND COALESCE(\(bb), \(lo)) < COALESCE(\(ae), \(hi)))", .bool)
            case (.timespan(let begin, let end), .time), (.time, .timespan(let begin, let end)):
                // A timespan overlaps an instant that it contains: begin <= t < end.
                let t = ta == .time ? a : b
                return ("(COALESCE(\(begin), \(lo)) <= \(t) AND \(t) < COALESCE(\(end), \(hi)))", .bool)
            default:
                throw fail("OVERLAPS compares a timespan (x.timespan or (T'begin', T'end')) with a timespan or a time, found \(ta) and \(tb)", column)
            }
        }
        if ["*", "/", "%"].contains(op) {
            guard ta.isNumeric, tb.isNumeric else { throw fail("'\(op)' needs numbers, found \(ta) and \(tb)", column) }
            guard ta == tb else { throw fail("'\(op)' needs two integers or two floats, found \(ta) and \(tb) (write 2.0 for a float)", column) }
            // x / 0 and x % 0 are NULL (match nothing) on both engines, as SQLite has them; PostgreSQL would fail.
            let divisor = op == "*" ? typed(b, tb) : "NULLIF(\(typed(b, tb)), 0)"
            return ("(\(typed(a, ta)) \(op) \(divisor))", ta)
        }
        // x = NULL is IS NULL, x != NULL is IS NOT NULL (Rubin has no IS).
        if ta == .null || tb == .null {
            let (other, otherType, otherSide) = ta == .null ? (b, tb, r) : (a, ta, l)
            guard op == "=" || op == "!=" else { throw fail("NULL can only be compared with '=' or '!=' (x = NULL means x IS NULL)", column) }
            switch otherType {
            case .null: throw fail("NULL = NULL compares nothing; compare a name with NULL", column)
            case .timespan: throw fail("a timespan cannot be compared with NULL", column)
            case .bool where !booleanColumns.contains(other):
                throw fail("only a name, not a condition, can be compared with NULL", otherSide.column)
            default:
                return ("(\(other) IS \(op == "=" ? "" : "NOT ")NULL)", .bool)
            }
        }
        // Comparisons.
        if case .region = ta { throw fail("a region can only be tested with OVERLAPS", l.column) }
        if case .region = tb { throw fail("a region can only be tested with OVERLAPS", r.column) }
        try checkComparable(ta, tb, l, r, column: column)
        let sqlOp = op == "!=" ? "<>" : op
        // An integer against a float compares as floats (PostgreSQL would read a float parameter as the column's type).
        if ta != tb { return ("(\(typed(a, ta)) \(sqlOp) \(typed(b, tb)))", .bool) }
        return ("(\(a) \(sqlOp) \(b))", .bool)
    }

    private func checkComparable(_ ta: ValueType, _ tb: ValueType, _ l: Expression, _ r: Expression, column: Int) throws {
        if ta == .bool || tb == .bool {
            let side = ta == .bool ? l : r
            throw fail("a condition cannot be compared with '='/'<'; a boolean field is itself a condition: write it alone or with NOT (exposure.can_see_sky, NOT exposure.can_see_sky)", side.column)
        }
        if ta == .null || tb == .null { throw fail("NULL can only be compared with '=' or '!=' (x = NULL means x IS NULL)", column) }
        if ta == tb || (ta.isNumeric && tb.isNumeric) { return }
        if (ta == .uuid && tb == .string) || (ta == .string && tb == .uuid) {
            throw fail("a dataset id is compared with a UUID: UUID('e15ab039-bc8b-4135-87c5-90902a7c0b22')", (ta == .string ? l : r).column)
        }
        if case .timespan = ta { throw fail("a timespan cannot be compared with '='/'<'; use x.timespan.begin or OVERLAPS", column) }
        if case .timespan = tb { throw fail("a timespan cannot be compared with '='/'<'; use x.timespan.begin or OVERLAPS", column) }
        let side: Expression = (ta == .string && tb != .string) || (tb == .string) ? r : l
        throw fail("cannot compare \(ta) with \(tb)", side.column)
    }

    private func inList(_ left: Expression, _ items: [Expression.InItem], negated: Bool, column: Int) throws -> (String, ValueType) {
        if let skypix = Self.skypix(left), dimensions["\(skypix.system)\(skypix.level)"] == nil {
            var pixels: [Int] = []
            for item in items {
                switch item {
                case .value(.literal(.integer(let v), _)): pixels.append(v)
                case .value(.bind(let name, let at)):
                    // A bound number or list of numbers (Rubin binds a Python int or tuple).
                    switch binds[name] {
                    case .integer(let v)?: pixels.append(v)
                    case .list(let values)? where values.allSatisfy({ if case .integer = $0 { return true } else { return false } }):
                        for case .integer(let v) in values { pixels.append(v) }
                    default: throw fail("\(skypix.system)\(skypix.level) IN takes pixel numbers: :\(name) is not bound to numbers", at)
                    }
                case .range(let start, let stop, let stride, let at):
                    let (span, overflow) = stop.subtractingReportingOverflow(start)
                    guard stop < start || (!overflow && span / max(stride, 1) < Expression.skyPixValueLimit) else {
                        throw fail("the range \(start)..\(stop) lists more than \(Expression.skyPixValueLimit) \(skypix.system)\(skypix.level) pixels", at)
                    }
                    if start <= stop { pixels += Swift.stride(from: start, through: stop, by: stride) }
                default: throw fail("\(skypix.system)\(skypix.level) IN takes pixel numbers, ranges and bound numbers", column)
                }
            }
            let sql = try skypixCondition(skypix, pixels: pixels, column: column)
            return (negated ? "(NOT \(sql))" : sql, .bool)
        }
        let (value, type) = try compile(left)
        if type == .bool || type == .null { throw fail("the left side of IN must be a value, found \(type)", left.column) }
        // A time inside a range: T'...' IN (T'begin', T'end').
        if type == .time, items.count == 2, case .value(let a) = items[0], case .value(let b) = items[1] {
            let (sa, ta) = try compile(a), (sb, tb) = try compile(b)
            if ta == .time && tb == .time {
                let sql = "(\(value) >= \(sa) AND \(value) < \(sb))"
                return (negated ? "(NOT \(sql))" : sql, .bool)
            }
        }
        var terms: [String] = []
        var values: [String] = []
        for var item in items {
            // A bare name of the bind map is a bind value (Rubin's older spelling), lists included.
            if case .value(.name(let parts, let c)) = item, parts.count == 1, binds[parts[0]] != nil { item = .value(.bind(parts[0], column: c)) }
            switch item {
            case .range(let a, let b, let stride, let c):
                guard type == .integer else { throw fail("a range needs an integer on the left of IN, found \(type)", c) }
                if b < a { continue }
                let (span, overflow) = b.subtractingReportingOverflow(a)
                if !overflow && span / stride < 100 {
                    for v in Swift.stride(from: a, through: b, by: stride) { values.append(bind(.integer(Int64(v)))) }
                } else {
                    let lo = bind(.integer(Int64(a))), hi = bind(.integer(Int64(b)))
                    var term = "(\(value) BETWEEN \(lo) AND \(hi)"
                    // value ≡ a (mod stride), without computing value - a (which leaves 64 bits at the ends of the
                    // range: PostgreSQL refuses it); both remainders are within one stride of 0 and the stride is at
                    // most a hundredth of the span here.
                    if stride > 1 {
                        let s = bind(.integer(Int64(stride)))
                        term += " AND ((\(value) % \(s)) - \(bind(.integer(Int64(a % stride))))) % \(s) = 0"
                    }
                    terms.append(term + ")")
                }
            case .value(.bind(let name, let c)):
                guard let bound = binds[name] else { throw fail("no value for :\(name); give one with --bind \(name)=VALUE", c) }
                let list: [BindValue]
                if case .list(let l) = bound { list = l } else { list = [bound] }
                for v in list {
                    switch v {
                    case .integer(let i): values.append(bind(.integer(Int64(i))))
                    case .float(let d): values.append(bind(.real(d)))
                    case .string(let s):
                        if type.isNumeric { throw fail(":\(name) holds '\(s)', not \(type)", c) }
                        values.append(bind(.text(s)))
                    case .list: break
                    case .time, .timespan, .uuid, .region: values.append(try typedBindInList(v, name: name, column: c))
                    }
                }
            case .value(let e):
                let (sql, t) = try compile(e)
                if t == .null { terms.append("\(value) IS NULL"); continue }
                try checkComparable(type, t, left, e, column: e.column)
                values.append(t != type ? typed(sql, t) : sql)
            }
        }
        if !values.isEmpty { terms.append("\(value) IN (\(values.joined(separator: ", ")))") }
        // Only empty ranges (1..0): nothing matches.
        if terms.isEmpty { terms.append("1 = 0") }
        let sql = "(" + terms.joined(separator: " OR ") + ")"
        return (negated ? "(NOT \(sql))" : sql, .bool)
    }

    // MARK: Names

    private func name(_ parts: [String], column: Int) throws -> (String, ValueType) {
        if let extra = extraNames, let resolved = try extra(self, parts) { return resolved }
        if parts.count == 1 {
            let n = parts[0]
            if let dim = universe[n], dim.isDimension {
                if dim.isSkyPix && dimensions[n] == nil {
                    throw fail("\(n) is a sky pixel: write \(n) = PIXEL or \(n) IN (PIXELS)", column)
                }
                return (try dimension(n, column: column), Self.type(of: dim.primaryKey!.type))
            }
            if let dataset = datasetAlias {
                switch n {
                case "ingest_date": return ("\(dataset).ingest_date", .time)
                case "dataset_id": return ("\(dataset).id", .uuid)
                case "run": return ("\(runAlias!).name", .string)
                case "collection": return ("\(collectionAlias!).name", .string)
                default: break
                }
            }
            if let record = recordElement, let field = try field(record, n, column: column) { return field }
            throw fail("unknown name '\(n)': expected a dimension (\(universe.dimensions.map(\.name).joined(separator: ", ")))"
                       + (datasetAlias != nil ? ", ingest_date, run, collection or dataset_id" : "")
                       + (recordElement.map { " or a field of \($0)" } ?? ""), column)
        }
        let (first, second) = (parts[0], parts[1])
        if let dataset = datasetAlias, first == datasetType || first == "dataset" {
            guard parts.count == 2 else { throw fail("dataset fields have one part: \(first).ingest_date", column) }
            switch second {
            case "dataset_id", "id": return ("\(dataset).id", .uuid)
            case "ingest_date": return ("\(dataset).ingest_date", .time)
            case "run": return ("\(runAlias!).name", .string)
            case "collection": return ("\(collectionAlias!).name", .string)
            case "timespan":
                // A dataset found outside a CALIBRATION collection has no validity range: an empty one stands for
                // it, so that OVERLAPS never matches it.
                let lo = "-9223372036854775808", hi = "9223372036854775807"
                guard let v = validityColumns else { return ("", .timespan(begin: hi, end: lo)) }
                return ("", .timespan(begin: "(CASE WHEN \(v.flag) = 1 THEN \(v.begin) ELSE \(hi) END)",
                                      end: "(CASE WHEN \(v.flag) = 1 THEN \(v.end) ELSE \(lo) END)"))
            default: throw fail("unknown dataset field '\(second)': expected dataset_id, ingest_date, run, collection or timespan", column)
            }
        }
        guard universe[first] != nil else {
            throw fail("unknown element '\(first)' in '\(parts.joined(separator: "."))'"
                       + (datasetType.map { "; dataset fields are written \($0).ingest_date" } ?? ""), column)
        }
        if parts.count == 3 {
            guard second == "timespan", parts[2] == "begin" || parts[2] == "end" else {
                throw fail("expected \(first).timespan.begin or \(first).timespan.end", column)
            }
            guard universe[first]!.isTemporal else { throw fail("'\(first)' has no timespan", column) }
            let a = try element(first, column: column)
            return ("\(a).timespan_\(parts[2])", .time)
        }
        guard let resolved = try field(first, second, column: column) else {
            let element = universe[first]!
            let fields = DimensionSchema.columns(of: element, in: universe).map(\.name).filter { !$0.hasPrefix("timespan_") }
                + (element.isTemporal ? ["timespan"] : [])
            throw fail("'\(first)' has no field '\(second)'; fields: \(fields.joined(separator: ", "))", column)
        }
        return resolved
    }

    /// A field of an element's record (`exposure.obs_id`, `detector.full_name`, `visit.timespan`).
    private func field(_ elementName: String, _ fieldName: String, column: Int) throws -> (String, ValueType)? {
        guard let element = universe[elementName] else { return nil }
        if fieldName == "region" { return ("", .region(try recordRegion(elementName, column: column))) }
        if fieldName == "timespan" {
            guard element.isTemporal else { return nil }
            let a = try self.element(elementName, column: column)
            return ("", .timespan(begin: "\(a).timespan_begin", end: "\(a).timespan_end"))
        }
        // The primary key of a dimension is its value, which needs no join.
        if element.primaryKey?.name == fieldName && element.isDimension {
            return (try dimension(elementName, column: column), Self.type(of: element.primaryKey!.type))
        }
        guard let col = DimensionSchema.columns(of: element, in: universe).first(where: { $0.name == fieldName && $0.role != .timespan }) else {
            return nil
        }
        if col.role == .required || col.role == .implied, let dim = universe[fieldName], dim.isDimension {
            return (try dimension(fieldName, column: column), Self.type(of: col.type))
        }
        let a = try self.element(elementName, column: column)
        return ("\(a).\(q(fieldName))", Self.type(of: col.type))
    }

    static func type(of column: DimensionColumn.ValueType) -> ValueType {
        switch column {
        case .int: return .integer
        case .float: return .float
        case .string, .hash: return .string
        case .bool: return .bool
        }
    }

    /// A UUID as Python's `uuid.UUID(str)` reads one (Rubin's `UUID('...')`): optional `urn:` and `uuid:` prefixes,
    /// braces and dashes around 32 hexadecimal digits.
    static func uuid(_ text: String) -> UUID? {
        var hex = text.replacingOccurrences(of: "urn:", with: "").replacingOccurrences(of: "uuid:", with: "")
        hex = String(hex.drop(while: { $0 == "{" }).reversed().drop(while: { $0 == "}" }).reversed()).replacingOccurrences(of: "-", with: "")
        guard hex.count == 32, hex.allSatisfy(\.isHexDigit) else { return nil }
        let c = Array(hex)
        let dashed = [c[0..<8], c[8..<12], c[12..<16], c[16..<20], c[20..<32]].map { String($0) }.joined(separator: "-")
        return UUID(uuidString: dashed)
    }

    // MARK: Assembling

    /// `SELECT DISTINCT columns FROM ... JOIN ... WHERE condition ORDER BY order, defaultOrder LIMIT OFFSET`.
    /// The result columns are named `c0, c1, ...`; `order` terms come from ``orderBy(_:)``.
    func selectSQL(columns: [String], condition: String?, order: [String], defaultOrder: [String], limit: Int?, offset: Int) -> String {
        var select: [String] = []
        for (i, column) in columns.enumerated() { select.append("\(column) AS c\(i)") }
        var orderTerms: [String] = []
        for (i, term) in order.enumerated() {
            let descending = term.hasSuffix(" DESC")
            let expression = descending ? String(term.dropLast(5)) : term
            select.append("\(expression) AS o\(i)")
            orderTerms.append("o\(i)" + (descending ? " DESC" : ""))
        }
        var sql = "SELECT DISTINCT " + select.joined(separator: ", ")
        sql += " FROM " + from.joined(separator: ", ")
        if !joins.isEmpty { sql += " " + joins.joined(separator: " ") }
        if let condition { sql += " WHERE " + condition }
        let orderBy = orderTerms + defaultOrder
        if !orderBy.isEmpty { sql += " ORDER BY " + orderBy.joined(separator: ", ") }
        if let limit { sql += " LIMIT \(max(0, limit))" } else if offset > 0 && dialect.engine == .sqlite { sql += " LIMIT -1" }
        if offset > 0 { sql += " OFFSET \(offset)" }
        return sql
    }

    // MARK: Ordering

    /// `ORDER BY` terms from names (`visit`, `-exposure.obs_id`, `-timespan.begin` of the record element).
    func orderBy(_ names: [String]) throws -> [String] {
        let items = names.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmedSpaces } }
        // As Rubin (`order_by("")`): an empty term is an error, not "no order".
        if items.contains(where: { $0.isEmpty || $0 == "-" }) {
            throw ButlerError(.invalidValue, "invalid --order-by '\(names.joined(separator: ","))': empty dimension name in ORDER BY")
        }
        return try items.map { item in
            let descending = item.hasPrefix("-")
            let text = descending ? String(item.dropFirst()) : item
            var parts = text.split(separator: ".").map(String.init)
            if parts.first == "timespan", let record = recordElement { parts.insert(record, at: 0) }
            // An unqualified field, as Rubin infers it: the one element of the query's dimensions that has it.
            if parts.count == 1 || (parts.count == 2 && parts[0] == "timespan"), let owner = try unqualifiedFieldOwner(parts[0]) {
                parts.insert(owner, at: 0)
            }
            let (sql, type): (String, ValueType)
            do {
                (sql, type) = try name(parts, column: 0)
            } catch let error as ButlerError {
                // `name` reports against the --where expression; an ordering term is not part of it.
                let reason = error.message.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? error.message
                let prefix = "invalid --where expression: "
                throw ButlerError(error.code, "invalid --order-by '\(item)': " + (reason.hasPrefix(prefix) ? String(reason.dropFirst(prefix.count)) : reason))
            }
            if case .timespan(let begin, _) = type { return begin + (descending ? " DESC" : "") }
            return sql + (descending ? " DESC" : "")
        }
    }

    /// One element of a GLOB pattern in Rubin's syntax.
    enum GlobToken: Equatable {
        /// `*`: any run of characters.
        case any
        /// `?`: one character.
        case one
        case character(Character)
    }

    /// Reads a GLOB pattern as Rubin does: `*` and `?` are the wildcards; a backslash before `*`, `?`, `[`, `]` or a
    /// backslash makes that character plain; any other character, a backslash before anything else and a trailing
    /// backslash are themselves (brackets included: Rubin has no character classes).
    static func globTokens(_ glob: String) -> [GlobToken] {
        var tokens: [GlobToken] = []
        var escaped = false
        for c in glob {
            if escaped {
                escaped = false
                if "\\*?[]".contains(c) { tokens.append(.character(c)); continue }
                tokens.append(.character("\\"))
                tokens.append(.character(c))
                continue
            }
            switch c {
            case "\\": escaped = true
            case "*": tokens.append(.any)
            case "?": tokens.append(.one)
            default: tokens.append(.character(c))
            }
        }
        if escaped { tokens.append(.character("\\")) }
        return tokens
    }

    /// A pattern for SQLite's GLOB that matches exactly what the tokens do: its own special characters `*`, `?`, `[`
    /// and `]` stand for themselves as one-character classes (`[[]`, `[]]`).
    static func sqliteGlob(_ tokens: [GlobToken]) -> String {
        var out = ""
        for token in tokens {
            switch token {
            case .any: out += "*"
            case .one: out += "?"
            case .character(let c): out += "*?[]".contains(c) ? "[\(c)]" : String(c)
            }
        }
        return out
    }

    /// An anchored POSIX regular expression (PostgreSQL's `~`) that matches exactly what the tokens do: every
    /// character other than a letter, a digit or a non-ASCII one is escaped.
    static func regex(_ tokens: [GlobToken]) -> String {
        var out = "^"
        for token in tokens {
            switch token {
            case .any: out += ".*"
            case .one: out += "."
            case .character(let c):
                // A backslash before an ASCII character that is not a letter or a digit makes it plain.
                if c.isASCII && !(c.isLetter || c.isNumber) { out += "\\" }
                out.append(c)
            }
        }
        return out + "$"
    }

    /// The element that owns an unqualified `--order-by` field (`exposure_time`, `timespan`): nil when the name is a
    /// dimension, a dataset field or a field of the record element; the one element of the query's dimensions with
    /// that field otherwise.
    ///
    /// - Throws: when several of the query's elements have the field (it must be qualified).
    private func unqualifiedFieldOwner(_ field: String) throws -> String? {
        if universe[field]?.isDimension == true || recordElement != nil { return nil }
        if datasetAlias != nil && ["ingest_date", "dataset_id", "run", "collection"].contains(field) { return nil }
        let owners = universe.sorted(dimensions.keys).filter { name in
            guard let element = universe[name], element.hasTable else { return false }
            if field == "timespan" { return element.isTemporal }
            return DimensionSchema.columns(of: element, in: universe).contains { $0.name == field && $0.role != .timespan && !$0.isPrimaryKey }
        }
        guard owners.count <= 1 else {
            throw fail("'\(field)' is a field of \(owners.joined(separator: " and ")): write \(owners[0]).\(field)", 0)
        }
        return owners.first
    }

    /// A GLOB pattern in Rubin's syntax as an anchored POSIX regular expression.
    static func regex(fromGlob glob: String) -> String { regex(globTokens(glob)) }
}
