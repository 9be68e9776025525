internal import CLibPQ
import Foundation
internal import S3

/// The PostgreSQL registry backend, through libpq. Nothing of libpq leaves this file.
///
/// One connection per process, used by one transaction at a time. Writes run in READ COMMITTED transactions and are
/// retried with backoff on serialization failures, deadlocks and unique-key races with concurrent writers; reads see
/// one snapshot (REPEATABLE READ). Each repository lives in its own schema (`?schema=NAME`, `public` by default).
package final class PostgresDatabase: RegistryDatabase, @unchecked Sendable {
    // @unchecked: every use of the connection holds `lock`.
    private let lock = NSRecursiveLock()
    /// Whether a transaction is open (a read or write started from inside another joins it).
    private var inTransaction = false
    private var inWrite = false
    /// The failures of the write transaction in progress.
    private var currentState: FailureState?
    private let connection: OpaquePointer
    /// The URL with any password masked, for messages.
    package let displayURL: String
    /// The passwords the URL holds, masked in every message of libpq that may quote the URL.
    private let secrets: [String]
    package let schema: String
    /// Whether this connection created its schema (so that a failed `create` can drop it again).
    package let createdSchema: Bool
    package var dialect: SQLDialect { .postgresql }

    /// Connects to the server named by `url` (`postgresql://[user[:password]@]host[:port]/dbname[?schema=NAME&...]`).
    ///
    /// Passwords come from the URL, `PGPASSWORD`, `~/.pgpass` or a service file, as libpq does it. Connecting gives up
    /// after 10 seconds unless the URL sets `connect_timeout`.
    /// - Parameter create: create the schema when it is missing (otherwise a missing schema is not a repository).
    package init(url: String, create: Bool) throws {
        let parsed = try PostgresURL(url)
        displayURL = parsed.display
        schema = parsed.schema
        secrets = parsed.secrets
        let conn = try Self.connect(parsed.conninfo, display: parsed.display, secrets: parsed.secrets)
        connection = conn
        do {
            let exists = try Self.run(conn, "SELECT 1 FROM pg_namespace WHERE nspname = $1", [.text(schema)]).rows.isEmpty == false
            createdSchema = !exists
            if !exists {
                guard create else { throw ButlerError(.notARepository, "no schema '\(schema)' in the PostgreSQL database at \(parsed.display)") }
                _ = try Self.run(conn, "CREATE SCHEMA IF NOT EXISTS \(q(schema))", [])
            }
            try Self.prepareSession(conn, schema: schema)
        } catch {
            PQfinish(conn)
            throw error
        }
    }

    /// How long connecting (or reconnecting after a lost connection) keeps trying while the server is full or
    /// unreachable: `BUTLER_PG_CONNECT_WAIT` seconds, 300 by default.
    static var connectWait: Double {
        ProcessInfo.processInfo.environment["BUTLER_PG_CONNECT_WAIT"].flatMap(Double.init) ?? 300
    }

    /// Whether a failed first connection is worth another try: the server is full (`too many clients`, SQLSTATE
    /// 53300, or only reserved slots left), or starting or stopping. A server that is not there, a refused password
    /// or a missing database fails at once.
    static func isFull(_ message: String) -> Bool {
        let text = message.lowercased()
        return ["too many clients", "remaining connection slots", "too many connections", "the database system is starting up",
                "the database system is shutting down", "the database system is in recovery mode"].contains { text.contains($0) }
    }

    /// Whether a connection that was working and is lost is worth waiting for: the server full or restarting, or
    /// not answering for a while (a restart, a network cut).
    static func isTransient(_ message: String) -> Bool {
        let text = message.lowercased()
        return isFull(message) || ["connection refused", "timeout expired", "server closed the connection", "connection reset",
                                   "could not receive data", "could not send data", "no route to host"].contains { text.contains($0) }
    }

    /// Connects, waiting with capped exponential backoff (and jitter, so that a crowd of jobs does not come back in
    /// step) while the failure is transient, for at most ``connectWait`` seconds in all.
    private static func connect(_ conninfo: String, display: String, secrets: [String]) throws -> OpaquePointer {
        let deadline = Date().addingTimeInterval(connectWait)
        var attempt = 0
        while true {
            guard let conn = PQconnectdb(conninfo) else {
                throw ButlerError(.database, "cannot connect to PostgreSQL at \(display): out of memory")
            }
            if PQstatus(conn) == CONNECTION_OK {
                butler_silence_notices(conn)
                return conn
            }
            let message = String(cString: PQerrorMessage(conn)).trimmingCharacters(in: .whitespacesAndNewlines)
            PQfinish(conn)
            attempt += 1
            guard isFull(message), Date() < deadline else {
                let waited = attempt > 1 ? " (gave up after \(attempt) attempts)" : ""
                // libpq quotes a URL it cannot parse whole, password included.
                throw ButlerError(.database, "cannot connect to PostgreSQL at \(display): \(oneLine(SecretRedaction.redact(message, secrets: secrets)))\(waited)")
            }
            backoff(attempt, until: deadline)
        }
    }

    /// Sleeps 50 ms doubling to at most 2 s, with up to 100% jitter, never past `deadline`.
    private static func backoff(_ attempt: Int, until deadline: Date) {
        let base = min(0.05 * pow(2, Double(min(attempt - 1, 6))), 2.0)
        let pause = min(base * Double.random(in: 1...2), max(0, deadline.timeIntervalSinceNow))
        usleep(UInt32(pause * 1_000_000))
    }

    /// The session settings every connection runs with.
    private static func prepareSession(_ conn: OpaquePointer, schema: String) throws {
        _ = try run(conn, "SET search_path TO \(q(schema)), public", [])
        _ = try run(conn, "SET client_min_messages TO warning", [])
    }

    /// After a statement failed: when the connection itself is gone (the server restarted, a network cut), resets
    /// it, waiting as ``connect(_:display:)`` does, and returns true so that the transaction runs again from its
    /// start. Returns false when the connection is fine (the failure was the statement's).
    private func recoverConnection() throws -> Bool {
        guard PQstatus(connection) == CONNECTION_BAD else { return false }
        let deadline = Date().addingTimeInterval(Self.connectWait)
        var attempt = 0
        while true {
            PQreset(connection)
            if PQstatus(connection) == CONNECTION_OK {
                butler_silence_notices(connection)
                try Self.prepareSession(connection, schema: schema)
                return true
            }
            attempt += 1
            let message = String(cString: PQerrorMessage(connection)).trimmingCharacters(in: .whitespacesAndNewlines)
            guard Self.isTransient(message) || message.isEmpty, Date() < deadline else {
                throw ButlerError(.database, "lost the connection to PostgreSQL at \(displayURL) and could not reconnect: \(oneLine(SecretRedaction.redact(message, secrets: secrets)))")
            }
            Self.backoff(attempt, until: deadline)
        }
    }

    deinit { PQfinish(connection) }

    package func write<T>(_ body: (any SQLConnection) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        if inTransaction {
            guard inWrite, let currentState else { throw ButlerError(.database, "a registry write cannot start inside a read of the same registry") }
            return try body(PostgresConnection(conn: connection, state: currentState))
        }
        inTransaction = true
        inWrite = true
        defer { inTransaction = false; inWrite = false; currentState = nil }
        var attempt = 0, reconnects = 0
        var savepoints = false
        while true {
            let state = FailureState(savepoints: savepoints)
            currentState = state
            do {
                _ = try Self.run(connection, "BEGIN", [])
                let result = try body(PostgresConnection(conn: connection, state: state))
                if state.failures > 0 && !savepoints {
                    // A statement failed and the body carried on (a constraint the registry checks by trying): the
                    // server aborted the transaction, so run it again with a savepoint around each write statement.
                    _ = try? Self.run(connection, "ROLLBACK", [])
                    savepoints = true
                    continue
                }
                _ = try Self.run(connection, "COMMIT", [])
                return result
            } catch {
                // A lost connection: reconnect and run the whole transaction again (what was not committed is gone
                // with the session; a commit that did land shows up as unique-key conflicts, retried below).
                if reconnects < 5, try recoverConnection() {
                    reconnects += 1
                    continue
                }
                _ = try? Self.run(connection, "ROLLBACK", [])
                if !savepoints && (state.failures > 1 || state.lastState == "25P02") {
                    savepoints = true
                    continue
                }
                let sqlState = (error as? PostgresError)?.state ?? state.lastState
                // Serialization failures and deadlocks: run the whole transaction again. A unique key that another
                // writer committed first: once or twice (the body then sees the row; a real conflict stays one).
                let limit = sqlState == "23505" ? 2 : 10
                guard let sqlState, PostgresError.retryable.contains(sqlState), attempt < limit else {
                    throw (error as? PostgresError)?.butlerError ?? error
                }
                attempt += 1
                usleep(UInt32(2_000 << min(attempt, 8)) + UInt32.random(in: 0...10_000))
            }
        }
    }

    package func read<T>(_ body: (any SQLConnection) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        if inTransaction { return try body(PostgresConnection(conn: connection, state: currentState ?? FailureState(savepoints: false))) }
        inTransaction = true
        defer { inTransaction = false }
        var reconnects = 0
        while true {
            do {
                _ = try Self.run(connection, "BEGIN ISOLATION LEVEL REPEATABLE READ", [])
                let result = try body(PostgresConnection(conn: connection, state: FailureState(savepoints: false)))
                _ = try Self.run(connection, "COMMIT", [])
                return result
            } catch {
                if reconnects < 5, try recoverConnection() {
                    reconnects += 1
                    continue
                }
                _ = try? Self.run(connection, "ROLLBACK", [])
                throw (error as? PostgresError)?.butlerError ?? error
            }
        }
    }

    /// Runs one statement; `?` and `?N` placeholders become `$N`.
    fileprivate static func run(_ conn: OpaquePointer, _ sql: String, _ arguments: [SQLValue]) throws -> (columns: [String], rows: [[SQLValue]]) {
        var rows: [[SQLValue]] = []
        let columns = try each(conn, sql, arguments) { rows.append($0) }
        return (columns, rows)
    }

    /// Runs one statement and hands each row to `body`.
    @discardableResult
    fileprivate static func each(_ conn: OpaquePointer, _ sql: String, _ arguments: [SQLValue], _ body: ([SQLValue]) throws -> Void) throws -> [String] {
        let text = PlaceholderRewriter.rewrite(sql)
        let encoded: [String?] = arguments.map(\.postgresText)
        let result: OpaquePointer? = withCStrings(encoded) { pointers in
            PQexecParams(conn, text, Int32(pointers.count), nil, pointers, nil, nil, 0)
        }
        guard let result else { throw PostgresError(state: "", message: String(cString: PQerrorMessage(conn)), sql: sql) }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            throw PostgresError(result: result, sql: sql)
        }
        let columnCount = Int(PQnfields(result)), rowCount = Int(PQntuples(result))
        let columns = (0..<columnCount).map { String(cString: PQfname(result, Int32($0))) }
        let types = (0..<columnCount).map { PQftype(result, Int32($0)) }
        var values: [SQLValue] = []
        values.reserveCapacity(columnCount)
        for r in 0..<rowCount {
            values.removeAll(keepingCapacity: true)
            for c in 0..<columnCount {
                if PQgetisnull(result, Int32(r), Int32(c)) != 0 { values.append(.null); continue }
                let raw = PQgetvalue(result, Int32(r), Int32(c))!
                values.append(SQLValue(postgres: raw, length: Int(PQgetlength(result, Int32(r), Int32(c))), type: types[c]))
            }
            try body(values)
        }
        return columns
    }
}

/// One statement's error from the server, with its SQLSTATE.
private struct PostgresError: Error {
    let state: String
    let message: String
    let sql: String

    init(state: String, message: String, sql: String) {
        self.state = state
        self.message = message.trimmingCharacters(in: .whitespacesAndNewlines)
        self.sql = sql
    }

    init(result: OpaquePointer, sql: String) {
        let field = { (code: Character) -> String in
            guard let value = PQresultErrorField(result, Int32(code.asciiValue!)) else { return "" }
            return String(cString: value)
        }
        self.init(state: field("C"), message: field("M") + (field("D").isEmpty ? "" : " (\(field("D")))"), sql: sql)
    }

    /// Serialization failure, deadlock, or a unique key another transaction committed first: the whole transaction
    /// can run again and will see the other's work.
    static let retryable: Set<String> = ["40001", "40P01", "23505"]

    var butlerError: ButlerError {
        let context = " - while executing `\(sqlExcerpt(sql))`"
        let message = oneLine(self.message)
        switch state {
        case "23505", "23P01": return ButlerError(.conflict, "PostgreSQL constraint violated: \(message)\(context)")
        case "23503": return ButlerError(.inUse, "PostgreSQL foreign key constraint violated: \(message)\(context)")
        default: return ButlerError(.database, "PostgreSQL error \(state): \(message)\(context)")
        }
    }
}

/// How a write transaction's statements fail: whether each runs under a savepoint, how many failed, and the SQLSTATE
/// of the last failure (to decide on a retry after the body rethrew it).
private final class FailureState {
    let savepoints: Bool
    var failures = 0
    var lastState: String?

    init(savepoints: Bool) { self.savepoints = savepoints }
}

private struct PostgresConnection: SQLConnection {
    let conn: OpaquePointer
    /// When `state.savepoints` is set, each writing statement runs under a savepoint, so that a failed one (a
    /// constraint the registry checks by trying) leaves the transaction usable, as on SQLite.
    let state: FailureState
    var dialect: SQLDialect { .postgresql }

    private func guarded<T>(_ sql: String, _ body: () throws -> T) throws -> T {
        let savepoint = state.savepoints && !Self.isRead(sql)
        if savepoint { _ = try PostgresDatabase.run(conn, "SAVEPOINT butler_statement", []) }
        do {
            let result = try body()
            if savepoint { _ = try PostgresDatabase.run(conn, "RELEASE SAVEPOINT butler_statement", []) }
            return result
        } catch let error as PostgresError {
            state.failures += 1
            state.lastState = error.state
            if savepoint { _ = try? PostgresDatabase.run(conn, "ROLLBACK TO SAVEPOINT butler_statement", []) }
            throw error.butlerError
        }
    }

    private static func isRead(_ sql: String) -> Bool {
        let head = sql.drop { $0 == " " || $0 == "\n" }.prefix(6).uppercased()
        return head.hasPrefix("SELECT") || head.hasPrefix("WITH")
    }

    func execute(_ sql: String, _ arguments: [SQLValue]) throws {
        _ = try guarded(sql) { try PostgresDatabase.each(conn, sql, arguments) { _ in } }
    }

    func query(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow] {
        var rows: [SQLRow] = []
        try forEachRow(sql, arguments) { rows.append($0) }
        return rows
    }

    func forEachRow(_ sql: String, _ arguments: [SQLValue], _ body: (SQLRow) throws -> Void) throws {
        // The whole result arrives before the first row is handed on, so `body` may run statements of its own.
        var pending: [[SQLValue]] = []
        let columns = try guarded(sql) { try PostgresDatabase.each(conn, sql, arguments) { pending.append($0) } }
        for values in pending { try body(SQLRow(columns: columns, values: values)) }
    }

    /// COPY ... FROM STDIN in text format.
    func insertRows(into table: String, columns: [String], rows: [[SQLValue]]) throws {
        guard !rows.isEmpty else { return }
        let sql = "COPY \(q(table)) (\(columns.map(q).joined(separator: ", "))) FROM STDIN"
        try guarded(sql) { try copy(sql, rows) }
    }

    private func copy(_ sql: String, _ rows: [[SQLValue]]) throws {
        guard let start = PQexec(conn, sql) else { throw PostgresError(state: "", message: String(cString: PQerrorMessage(conn)), sql: sql) }
        guard PQresultStatus(start) == PGRES_COPY_IN else {
            defer { PQclear(start) }
            throw PostgresError(result: start, sql: sql)
        }
        PQclear(start)
        var buffer = ""
        buffer.reserveCapacity(1 << 20)
        func send() throws {
            let ok = buffer.utf8CString.withUnsafeBufferPointer { PQputCopyData(conn, $0.baseAddress, Int32($0.count - 1)) }
            guard ok == 1 else { throw PostgresError(state: "", message: String(cString: PQerrorMessage(conn)), sql: sql) }
            buffer.removeAll(keepingCapacity: true)
        }
        for row in rows {
            buffer += row.map(\.copyText).joined(separator: "\t")
            buffer += "\n"
            if buffer.utf8.count > 1 << 20 { try send() }
        }
        if !buffer.isEmpty { try send() }
        guard PQputCopyEnd(conn, nil) == 1 else { throw PostgresError(state: "", message: String(cString: PQerrorMessage(conn)), sql: sql) }
        var failure: PostgresError?
        while let result = PQgetResult(conn) {
            if PQresultStatus(result) != PGRES_COMMAND_OK && failure == nil { failure = PostgresError(result: result, sql: sql) }
            PQclear(result)
        }
        if let failure { throw failure }
    }

    func tableExists(_ name: String) throws -> Bool {
        try !query("SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?", [.text(name)]).isEmpty
    }
}

/// Rewrites `?` and `?N` placeholders to PostgreSQL's `$N`, leaving quoted text alone. Rewritten statements are cached.
enum PlaceholderRewriter {
    nonisolated(unsafe) private static var cache: [String: String] = [:]
    private static let cacheLock = NSLock()

    static func rewrite(_ sql: String) -> String {
        guard sql.contains("?") else { return sql }
        cacheLock.lock()
        if let hit = cache[sql] { cacheLock.unlock(); return hit }
        cacheLock.unlock()
        var out = ""
        out.reserveCapacity(sql.utf8.count + 16)
        var next = 1
        var quote: Character?
        var index = sql.startIndex
        while index < sql.endIndex {
            let c = sql[index]
            index = sql.index(after: index)
            if let open = quote {
                out.append(c)
                if c == open { quote = nil }
            } else if c == "'" || c == "\"" {
                quote = c
                out.append(c)
            } else if c == "?" {
                let digits = sql[index...].prefix { $0.isASCII && $0.isNumber }
                if digits.isEmpty {
                    out += "$\(next)"
                    next += 1
                } else {
                    out += "$" + digits
                    index = digits.endIndex
                }
            } else {
                out.append(c)
            }
        }
        cacheLock.lock()
        if cache.count > 2_000 { cache.removeAll() }
        cache[sql] = out
        cacheLock.unlock()
        return out
    }
}

/// A `postgresql://` URL split into what libpq takes and what butler uses (`schema`).
struct PostgresURL {
    let conninfo: String
    let schema: String
    let display: String
    /// The passwords written in the URL (as written and percent-decoded), to mask in messages.
    let secrets: [String]

    init(_ url: String) throws {
        guard url.hasPrefix("postgresql://") || url.hasPrefix("postgres://") else {
            throw ButlerError(.invalidConfig, "not a PostgreSQL URL: '\(Self.mask(url))'")
        }
        var base = url, schema = "public"
        var params: [String] = []
        if let mark = url.firstIndex(of: "?") {
            base = String(url[..<mark])
            for item in url[url.index(after: mark)...].split(separator: "&") {
                let pair = item.split(separator: "=", maxSplits: 1).map(String.init)
                if pair.first == "schema" {
                    guard pair.count == 2, !pair[1].isEmpty, pair[1].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                        throw ButlerError(.invalidConfig, "bad schema in \(Self.mask(url)): letters, digits and _ only")
                    }
                    schema = pair[1]
                } else {
                    params.append(String(item))
                }
            }
        }
        if !params.contains(where: { $0.hasPrefix("connect_timeout=") }) { params.append("connect_timeout=10") }
        params.append("application_name=butler")
        conninfo = base + "?" + params.joined(separator: "&")
        self.schema = schema
        display = Self.mask(url)
        secrets = Self.passwords(in: url)
    }

    /// Every string of the URL that may be a password: each reading of its user info's password (up to any of its
    /// `@`, as a malformed URL may be read) and each `password=` value, as written and percent-decoded.
    static func passwords(in url: String) -> [String] {
        guard let scheme = url.range(of: "://") else { return [] }
        var found: [String] = []
        let rest = url[scheme.upperBound...]
        let beforeQuery = rest[..<(rest.firstIndex(of: "?") ?? rest.endIndex)]
        if let colon = beforeQuery.firstIndex(of: ":") {
            for at in beforeQuery.indices where beforeQuery[at] == "@" && at > colon {
                found.append(String(beforeQuery[beforeQuery.index(after: colon)..<at]))
            }
        }
        if let mark = url.firstIndex(of: "?") {
            for item in url[url.index(after: mark)...].split(separator: "&") where item.lowercased().hasPrefix("password=") {
                found.append(String(item.dropFirst("password=".count)))
            }
        }
        return Array(Set(found + found.compactMap { $0.removingPercentEncoding })).filter { !$0.isEmpty }
    }

    /// The URL with the password (if any) replaced by `***` (in its user info and in a `password=` parameter).
    static func mask(_ url: String) -> String {
        SecretRedaction.redact(url, secrets: passwords(in: url))
    }
}

extension SQLValue {
    /// The value as PostgreSQL text input (nil for NULL).
    fileprivate var postgresText: String? {
        switch self {
        case .null: return nil
        case .integer(let v): return String(v)
        case .real(let v): return v.isFinite ? String(v) : (v.isNaN ? "NaN" : (v > 0 ? "Infinity" : "-Infinity"))
        case .text(let s): return s
        case .blob(let d): return "\\x" + d.map { String(format: "%02x", $0) }.joined()
        }
    }

    /// The value in COPY's text format.
    fileprivate var copyText: String {
        guard let text = postgresText else { return "\\N" }
        if !text.contains(where: { $0 == "\\" || $0 == "\t" || $0 == "\n" || $0 == "\r" }) { return text }
        var out = ""
        for c in text {
            switch c {
            case "\\": out += "\\\\"
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            default: out.append(c)
            }
        }
        return out
    }

    /// A value from a text-format result column of type `type` (an OID).
    fileprivate init(postgres raw: UnsafeMutablePointer<CChar>, length: Int, type: Oid) {
        switch type {
        case 20, 21, 23, 26: self = Int64(String(cString: raw)).map { .integer($0) } ?? .text(String(cString: raw))
        case 700, 701, 1700: self = Double(String(cString: raw)).map { .real($0) } ?? .text(String(cString: raw))
        case 16: self = .integer(raw.pointee == CChar(UInt8(ascii: "t")) ? 1 : 0)
        case 17:
            // bytea in hex output: \x0a1b...
            let text = String(cString: raw)
            var bytes = [UInt8]()
            bytes.reserveCapacity(max(0, (text.utf8.count - 2) / 2))
            var high: UInt8?
            for c in text.utf8.dropFirst(2) {
                let v: UInt8 = c <= 57 ? c - 48 : (c | 0x20) - 87
                if let h = high { bytes.append(h << 4 | v); high = nil } else { high = v }
            }
            self = .blob(Data(bytes))
        default:
            self = .text(String(decoding: UnsafeRawBufferPointer(start: raw, count: length), as: UTF8.self))
        }
    }
}

/// Calls `body` with C strings for `strings` (NULL for nil), valid only during the call.
private func withCStrings<R>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let pointers: [UnsafeMutablePointer<CChar>?] = strings.map { $0.map { strdup($0) } ?? nil }
    defer { for p in pointers { free(p) } }
    return body(pointers.map { $0.map { UnsafePointer($0) } })
}
