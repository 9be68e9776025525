import Foundation

/// Typed bind values (times, timespans, UUIDs, regions), as Rubin binds astropy `Time`, `Timespan`, `uuid.UUID`
/// and sphgeom regions through its library; on the command line they are written as literals of the `--where`
/// language (`--bind t="T'2021-09-09T03:02:00'"`).
extension BindValue {
    /// The literal forms a typed bind value is written in: `T'...'`, `(T'...', T'...')`, `UUID('...')` and the
    /// region functions.
    private static let typedPrefixes = ["T'", "(", "UUID(", "POINT(", "CIRCLE(", "BOX(", "POLYGON(", "REGION("]

    /// Parses a command-line bind value: a literal of the `--where` language (a time `T'2021-01-01T00:00:00'`, a
    /// timespan `(T'...', T'...')` with `NULL` for an open end, `UUID('...')`, or a region `POINT(...)`,
    /// `CIRCLE(...)`, `BOX(...)`, `POLYGON(...)`, `REGION('...')`) becomes a typed value; anything else is read
    /// as by ``init(parsing:)`` (numbers, strings, comma-separated lists).
    ///
    /// - Throws: ``ButlerError/Code/invalidValue`` naming the value when a typed literal is malformed.
    public static func parse(_ text: String) throws -> BindValue {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let upper = trimmed.uppercased()
        guard typedPrefixes.contains(where: { upper.hasPrefix($0) }) else { return BindValue(parsing: text) }
        do {
            return try typedLiteral(trimmed)
        } catch let error as ButlerError {
            throw ButlerError(.invalidValue, "bind value \(trimmed): \(error.message.split(separator: "\n").first.map(String.init) ?? error.message)")
        }
    }

    private static func typedLiteral(_ text: String) throws -> BindValue {
        let parsed: Expression?
        do { parsed = try Parser.parse(text) } catch { throw error.butlerError }
        func time(_ e: Expression) throws -> TAITime? {
            switch e {
            case .literal(.time(let t), _):
                do { return try parseTimeLiteral(t) } catch { throw ButlerError(.invalidValue, "invalid time literal T'\(t)': \(error.message)") }
            case .name(let parts, _) where parts.count == 1 && parts[0].lowercased() == "null": return nil
            default: throw ButlerError(.invalidValue, "a timespan is written (T'begin', T'end'), with NULL for an open end")
            }
        }
        switch parsed {
        case .literal(.time, _)?:
            return .time(try time(parsed!)!)
        case .tuple(let items, _)? where items.count == 2:
            return .timespan(begin: try time(items[0]), end: try time(items[1]))
        case .literal(.uuid(let s), _)?:
            guard let uuid = QueryBuilder.uuid(s) else { throw ButlerError(.invalidValue, "invalid UUID '\(s)': expected 32 hexadecimal digits, with or without dashes") }
            return .uuid(uuid)
        case .function(let name, let args, let column)? where ["POINT", "CIRCLE", "BOX", "POLYGON", "REGION"].contains(name):
            let builder = QueryBuilder(universe: try DimensionUniverse.makeDefault(), expression: text)
            return .region(try builder.regionLiteral(name, args, column: column))
        default:
            throw ButlerError(.invalidValue, "expected a time T'...', a timespan (T'...', T'...'), UUID('...') or a region (POINT, CIRCLE, BOX, POLYGON, REGION)")
        }
    }
}

extension QueryBuilder {
    /// SQL and type of a typed bind value (``BindValue/time(_:)`` and the others); nil for the untyped ones.
    func compileTypedBind(_ value: BindValue) -> (String, ValueType)? {
        switch value {
        case .time(let t): return (bind(.integer(t.nanoseconds)), .time)
        case .timespan(let begin, let end):
            return ("", .timespan(begin: begin.map { bind(.integer($0.nanoseconds)) } ?? "NULL", end: end.map { bind(.integer($0.nanoseconds)) } ?? "NULL"))
        case .uuid(let u): return (bind(.text(u.lowercasedString)), .uuid)
        case .region(let pieces): return ("", .region(.literal(pieces)))
        case .integer, .float, .string, .list: return nil
        }
    }

    /// SQL of a typed bind value in `IN (:name)`: a time or a UUID (a timespan or region has no single value).
    func typedBindInList(_ value: BindValue, name: String, column: Int) throws -> String {
        guard let (sql, type) = compileTypedBind(value), type == .time || type == .uuid else {
            throw fail(":\(name) holds a timespan or region; IN takes single values", column)
        }
        return sql
    }
}
