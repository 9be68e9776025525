internal import GRDB
internal import GRDBSQLite
import Foundation
internal import Logging

private let logger = Logger(label: "butler.registry")

/// The embedded SQLite registry backend, through GRDB. Nothing of GRDB leaves this file.
///
/// The database runs in WAL mode with a busy timeout, so several processes can read while one writes.
///
/// A registry this process may not write (a read-only mount, another user's repository) is opened read-only:
/// `mode=ro` when the WAL's `-shm` file exists or can be made, else `immutable=1` (no locks, no `-shm`, no journal).
/// Then every read works and every write fails with one line saying that the repository is read-only.
package final class SQLiteDatabase: RegistryDatabase, @unchecked Sendable {
    // @unchecked: the DatabaseQueue serializes every access itself.
    private let queue: DatabaseQueue
    /// The connection of the transaction in progress and the thread running it: a read or write started from inside
    /// another (a query's row handler asking for file locations) joins it instead of re-entering the queue.
    private var current: (db: Database, thread: pthread_t)?
    /// Whether this process wrote the registry (then its statistics are brought up to date when it closes).
    private var wrote = false
    private let currentLock = NSLock()
    package let path: String
    package var dialect: SQLDialect { .sqlite }
    /// Why this process may not write the registry (`nil` when it may).
    package let readOnlyReason: String?
    package var isReadOnly: Bool { readOnlyReason != nil }

    /// Opens (or creates, when `create` is true) the SQLite file at `path`.
    package init(path: String, create: Bool) throws {
        if !create && !FileManager.default.fileExists(atPath: path) {
            throw ButlerError(.notARepository, "registry database not found: \(path)")
        }
        let reason = create ? nil : Self.readOnlyReason(path)
        var config = Configuration()
        config.busyMode = .timeout(60)
        config.foreignKeysEnabled = true
        var openPath = path
        // A page cache of up to 64 MiB (SQLite's default is 2 MiB): a lineage walk or a large query visits pages of a
        // gigabyte-sized registry again and again, and each miss is a read(2). Memory is taken only as pages are read.
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA cache_size = -65536")
        }
        if let reason {
            config.readonly = true
            openPath = Self.readOnlyURI(path)
            logger.debug("opening the registry read-only", metadata: ["path": "\(path)", "reason": "\(reason)", "uri": "\(openPath)"])
        } else {
            config.prepareDatabase { db in
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
            }
        }
        do {
            queue = try DatabaseQueue(path: openPath, configuration: config)
            if create {
                try queue.writeWithoutTransaction { db in _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL") }
            }
        } catch let error as DatabaseError {
            throw ButlerError(.database, "cannot open registry \(path): \(error.message ?? "\(error)")")
        }
        self.path = path
        self.readOnlyReason = reason
    }

    /// A process that wrote leaves the query planner's statistics up to date, as SQLite advises: `PRAGMA optimize`
    /// analyzes the tables this connection used whose statistics are missing or whose size changed tenfold (so the
    /// cost, a read of those tables, comes once per tenfold growth). Without statistics SQLite scans by dataset type
    /// and collection where an index on the data ID would find one night of a release twenty times sooner. Sampled
    /// statistics (`analysis_limit`) are not used: see ``Registry/analyzeAfterBulkLoad()``. Failing here changes
    /// nothing written.
    deinit {
        guard wrote, readOnlyReason == nil else { return }
        try? queue.writeWithoutTransaction { db in _ = try Row.fetchAll(db, sql: "PRAGMA optimize") }
    }

    /// Why the registry file cannot be written by this process, or `nil`: the file, or the folder where SQLite keeps
    /// its `-wal` and `-shm` files, is not writable (access(2) for the effective user, which also sees read-only
    /// mounts, even for root).
    package static func readOnlyReason(_ path: String) -> String? {
        var path = path
        while path.hasPrefix("//") { path.removeFirst() }
        let folder = (path as NSString).deletingLastPathComponent
        if !isWritable(path) { return "\(path) is not writable (\(String(cString: strerror(errno))))" }
        if !isWritable(folder.isEmpty ? "." : folder) { return "its folder \(folder) is not writable (\(String(cString: strerror(errno))))" }
        return nil
    }

    /// The URI filename that opens `path` read-only: `mode=ro` when SQLite can use the WAL index (`-shm` exists, or
    /// the folder is writable), else `immutable=1`, which reads the database file alone.
    private static func readOnlyURI(_ path: String) -> String {
        var absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        // `file://x/...` would name a host: one leading slash only.
        while absolute.hasPrefix("//") { absolute.removeFirst() }
        var encoded = ""
        for ch in absolute.unicodeScalars {
            switch ch {
            case "%", "?", "#": encoded += String(format: "%%%02X", ch.value)
            default: encoded.unicodeScalars.append(ch)
            }
        }
        let folder = (absolute as NSString).deletingLastPathComponent
        let fm = FileManager.default
        if fm.fileExists(atPath: path + "-shm") || isWritable(folder) { return "file:\(encoded)?mode=ro" }
        if let size = (try? fm.attributesOfItem(atPath: path + "-wal"))?[.size] as? Int, size > 0 {
            logger.warning("the registry's write-ahead log cannot be read without its -shm file; changes not yet checkpointed are not seen",
                           metadata: ["path": "\(path)-wal"])
        }
        return "file:\(encoded)?immutable=1"
    }

    /// Whether the effective user may write `path` (`errno` tells why not).
    package static func isWritable(_ path: String) -> Bool {
        faccessat(AT_FDCWD, path, W_OK, AT_EACCESS) == 0
    }

    package func write<T>(_ body: (any SQLConnection) throws -> T) throws -> T {
        if let readOnlyReason {
            throw ButlerError(.readOnly, "repository is read-only: \(readOnlyReason); the registry \(path) cannot be changed")
        }
        if let db = joinable() { return try mapErrors { try body(SQLiteConnection(db: db)) } }
        let result = try mapErrors {
            try queue.writeWithoutTransaction { db in
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try within(db) { try body(SQLiteConnection(db: db)) }
                    return .commit
                }
                return result!
            }
        }
        // Committed: statistics are refreshed when the registry closes (a refused write leaves the file as it was).
        currentLock.lock()
        wrote = true
        currentLock.unlock()
        return result
    }

    /// When called from inside this database's own transaction, on its thread: that transaction's connection.
    private func joinable() -> Database? {
        currentLock.lock()
        defer { currentLock.unlock() }
        guard let current, pthread_equal(current.thread, pthread_self()) != 0 else { return nil }
        return current.db
    }

    private func within<T>(_ db: Database, _ body: () throws -> T) rethrows -> T {
        currentLock.lock()
        current = (db, pthread_self())
        currentLock.unlock()
        defer {
            currentLock.lock()
            current = nil
            currentLock.unlock()
        }
        return try body()
    }

    /// A deferred transaction: one consistent snapshot. Not `query_only`, so that a query may fill a TEMP table
    /// (writes to the temporary database take no lock on the registry file).
    package func read<T>(_ body: (any SQLConnection) throws -> T) throws -> T {
        if let db = joinable() { return try mapErrors { try body(SQLiteConnection(db: db)) } }
        return try mapErrors {
            try queue.inDatabase { db in
                var result: T?
                try db.inTransaction(.deferred) {
                    result = try within(db) { try body(SQLiteConnection(db: db)) }
                    return .commit
                }
                return result!
            }
        }
    }

    private func mapErrors<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as DatabaseError {
            throw SQLiteConnection.butlerError(error)
        }
    }
}

private struct SQLiteConnection: SQLConnection {
    let db: Database
    var dialect: SQLDialect { .sqlite }

    func execute(_ sql: String, _ arguments: [SQLValue]) throws {
        do {
            if arguments.isEmpty && !sql.contains("?") {
                try db.execute(sql: sql)
            } else {
                let statement = try db.cachedStatement(sql: sql)
                try statement.execute(arguments: StatementArguments(arguments.map(\.databaseValue)))
            }
        } catch let error as DatabaseError {
            throw Self.butlerError(error)
        }
    }

    func query(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow] {
        var rows: [SQLRow] = []
        try forEachRow(sql, arguments) { rows.append($0) }
        return rows
    }

    func forEachRow(_ sql: String, _ arguments: [SQLValue], _ body: (SQLRow) throws -> Void) throws {
        do {
            let statement = try db.cachedStatement(sql: sql)
            let columns = statement.columnNames
            let cursor = try Row.fetchCursor(statement, arguments: StatementArguments(arguments.map(\.databaseValue)))
            var values: [SQLValue] = []
            values.reserveCapacity(columns.count)
            // The cursor steps the statement; each row's columns are read from it through SQLite's C API (hundreds of
            // thousands of rows for a large lineage or export).
            let raw = statement.sqliteStatement
            while try cursor.next() != nil {
                values.removeAll(keepingCapacity: true)
                for i in 0..<Int32(columns.count) { values.append(Self.column(raw, i)) }
                try body(SQLRow(columns: columns, values: values))
            }
        } catch let error as DatabaseError {
            throw Self.butlerError(error)
        }
    }

    /// Column `i` of the row `statement` is on.
    private static func column(_ statement: OpaquePointer, _ i: Int32) -> SQLValue {
        switch sqlite3_column_type(statement, i) {
        case SQLITE_NULL: return .null
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(statement, i))
        case SQLITE_FLOAT: return .real(sqlite3_column_double(statement, i))
        case SQLITE_TEXT:
            guard let text = sqlite3_column_text(statement, i) else { return .text("") }
            return .text(String(decoding: UnsafeBufferPointer(start: text, count: Int(sqlite3_column_bytes(statement, i))), as: UTF8.self))
        default:
            guard let blob = sqlite3_column_blob(statement, i) else { return .blob(Data()) }
            return .blob(Data(bytes: blob, count: Int(sqlite3_column_bytes(statement, i))))
        }
    }

    func insertRows(into table: String, columns: [String], rows: [[SQLValue]]) throws {
        guard !rows.isEmpty else { return }
        let sql = "INSERT INTO \(q(table)) (\(columns.map(q).joined(separator: ", "))) VALUES ("
            + Array(repeating: "?", count: columns.count).joined(separator: ", ") + ")"
        do {
            // One prepared statement, its values bound through SQLite's C API row after row (the bulk path of
            // record, merge-staged, import and transfer: millions of rows).
            let statement = try db.cachedStatement(sql: sql)
            let raw = statement.sqliteStatement
            defer {
                sqlite3_reset(raw)
                sqlite3_clear_bindings(raw)
            }
            for row in rows {
                sqlite3_reset(raw)
                for (i, value) in row.enumerated() {
                    guard Self.bind(value, at: Int32(i + 1), of: raw) == SQLITE_OK else {
                        throw lastError(sql)
                    }
                }
                guard sqlite3_step(raw) == SQLITE_DONE else { throw lastError(sql) }
            }
        } catch let error as DatabaseError {
            throw Self.butlerError(error)
        }
    }

    /// The connection's last error, as GRDB reports errors.
    private func lastError(_ sql: String) -> DatabaseError {
        guard let connection = db.sqliteConnection else { return DatabaseError(resultCode: .SQLITE_MISUSE, message: "the connection is closed", sql: sql) }
        return DatabaseError(resultCode: ResultCode(rawValue: sqlite3_extended_errcode(connection)),
                             message: sqlite3_errmsg(connection).map { String(cString: $0) }, sql: sql)
    }

    /// Binds `value` to parameter `index` (from 1); SQLite copies text and blobs. An empty text or blob stays empty,
    /// never NULL.
    private static func bind(_ value: SQLValue, at index: Int32, of statement: OpaquePointer) -> Int32 {
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        switch value {
        case .null: return sqlite3_bind_null(statement, index)
        case .integer(let v): return sqlite3_bind_int64(statement, index, v)
        case .real(let v): return sqlite3_bind_double(statement, index, v)
        case .text(var text):
            return text.withUTF8 { bytes in
                guard let base = bytes.baseAddress, !bytes.isEmpty else { return sqlite3_bind_text(statement, index, "", 0, transient) }
                return base.withMemoryRebound(to: CChar.self, capacity: bytes.count) { sqlite3_bind_text(statement, index, $0, Int32(bytes.count), transient) }
            }
        case .blob(let data):
            guard !data.isEmpty else { return sqlite3_bind_zeroblob(statement, index, 0) }
            return data.withUnsafeBytes { sqlite3_bind_blob(statement, index, $0.baseAddress, Int32($0.count), transient) }
        }
    }

    func tableExists(_ name: String) throws -> Bool {
        try db.tableExists(name)
    }

    static func butlerError(_ error: DatabaseError) -> ButlerError {
        let sql = error.sql.map { " - while executing `\(sqlExcerpt($0))`" } ?? ""
        var message = oneLine(error.message ?? "\(error.resultCode)")
        if message.contains("parser stack overflow") || message.contains("Expression tree is too large") {
            message += " (the query nests too deeply for SQLite: write the --where expression with fewer nested levels)"
        }
        switch error.extendedResultCode {
        case .SQLITE_CONSTRAINT_UNIQUE, .SQLITE_CONSTRAINT_PRIMARYKEY:
            return ButlerError(.conflict, "SQLite constraint violated: \(message)\(sql)")
        case .SQLITE_CONSTRAINT_FOREIGNKEY:
            return ButlerError(.inUse, "SQLite foreign key constraint violated: \(message)\(sql)")
        default:
            return ButlerError(.database, "SQLite error \(error.extendedResultCode.rawValue): \(message)\(sql)")
        }
    }
}

extension SQLValue {
    fileprivate var databaseValue: DatabaseValue {
        switch self {
        case .null: return .null
        case .integer(let v): return v.databaseValue
        case .real(let v): return v.databaseValue
        case .text(let v): return v.databaseValue
        case .blob(let v): return v.databaseValue
        }
    }

    fileprivate init(_ value: DatabaseValue) {
        switch value.storage {
        case .null: self = .null
        case .int64(let v): self = .integer(v)
        case .double(let v): self = .real(v)
        case .string(let v): self = .text(v)
        case .blob(let v): self = .blob(v)
        }
    }
}
