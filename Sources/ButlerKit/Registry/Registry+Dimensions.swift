import Foundation

/// What ``Registry/syncDimensionRecord(_:update:)`` did.
public enum SyncResult: Sendable, Equatable {
    /// The record was new and has been inserted.
    case inserted
    /// An identical record existed; nothing changed.
    case unchanged
    /// A different record existed and has been updated (only with `update: true`).
    case updated
}

extension Registry {
    // MARK: Records

    /// Inserts dimension records of one element, all or none.
    ///
    /// ```swift
    /// try registry.insertDimensionRecords("instrument", [DimensionRecord(element: "instrument", fields: ["name": "LATISS"])])
    /// ```
    /// - Throws: ``ButlerError/Code/conflict`` when a record exists already, ``ButlerError/Code/notFound`` when a
    ///   record it depends on is missing, ``ButlerError/Code/invalidValue`` for a bad field.
    public func insertDimensionRecords(_ element: String, _ records: [DimensionRecord]) throws {
        let element = try tableElement(element)
        let columns = DimensionSchema.columns(of: element, in: universe)
        let rows = try records.map { try validatedRow($0, element: element, columns: columns) }
        try database.write { c in
            for (record, row) in zip(records, rows) {
                try insertRow(c, element: element, columns: columns, record: record, row: row)
            }
        }
    }

    /// Inserts a record, or checks that an identical one exists.
    ///
    /// - Parameter update: replace a different existing record instead of failing.
    /// - Throws: ``ButlerError/Code/conflict`` when a different record exists (the message lists the differences).
    @discardableResult
    public func syncDimensionRecord(_ record: DimensionRecord, update: Bool = false) throws -> SyncResult {
        let element = try tableElement(record.element)
        let columns = DimensionSchema.columns(of: element, in: universe)
        let row = try validatedRow(record, element: element, columns: columns)
        return try database.write { c in
            try syncRow(c, element: element, columns: columns, record: record, row: row, update: update)
        }
    }

    /// Syncs many records in one transaction (used by instrument registration and ingest).
    package func syncDimensionRecords(_ records: [DimensionRecord], update: Bool = false, in c: any SQLConnection) throws {
        for record in records {
            let element = try tableElement(record.element)
            let columns = DimensionSchema.columns(of: element, in: universe)
            let row = try validatedRow(record, element: element, columns: columns)
            _ = try syncRow(c, element: element, columns: columns, record: record, row: row, update: update)
        }
    }

    /// The records of one element, optionally restricted to those matching some key values.
    ///
    /// - Parameter dataId: column values to match (`["instrument": "LATISS"]`, `["id": 0]`).
    public func fetchDimensionRecords(_ element: String, dataId: [String: DataIDValue] = [:]) throws -> [DimensionRecord] {
        let element = try tableElement(element)
        let columns = DimensionSchema.columns(of: element, in: universe)
        for key in dataId.keys where !columns.contains(where: { $0.name == key }) {
            throw ButlerError(.invalidValue, "element '\(element.name)' has no field '\(key)'; fields: \(columns.map(\.name).joined(separator: ", "))")
        }
        let keys = dataId.keys.sorted()
        let filter = keys.isEmpty ? "" : " WHERE " + keys.map { "\(q($0)) = ?" }.joined(separator: " AND ")
        let order = columns.filter(\.isPrimaryKey).map { q($0.name) }.joined(separator: ", ")
        let sql = "SELECT \(columns.map { q($0.name) }.joined(separator: ", ")) FROM \(q(element.name))\(filter) ORDER BY \(order)"
        return try database.read { c in
            try c.query(sql, keys.map { dataId[$0]!.sqlValue }).map { record(from: $0, element: element, columns: columns) }
        }
    }

    /// The field names of an element's records, in table order.
    public func recordFields(of element: String) -> [String] {
        guard let e = universe[element], e.hasTable else { return [] }
        return DimensionSchema.columns(of: e, in: universe).map(\.name)
    }

    // MARK: Data IDs

    /// Validates and expands a data ID: values are typed, required dimensions checked, records looked up and
    /// implied values (physical_filter, band, day_obs, group, ...) filled in.
    ///
    /// When the only missing required value is a governor (instrument, skymap) and the registry holds exactly
    /// one record of it, that one is used.
    ///
    /// - Parameters:
    ///   - values: values by dimension name, typed or as strings (`"detector": "0"`).
    ///   - dimensions: the dimensions the data ID must identify; by default, those named in `values`.
    /// - Throws: ``ButlerError/Code/invalidValue`` for a missing or mistyped value, ``ButlerError/Code/notFound``
    ///   for a value without its record.
    public func expandDataID(_ values: [String: String], dimensions: [String]? = nil) throws -> DataCoordinate {
        try expandDataID(values, dimensions: dimensions, records: nil)
    }

    /// ``expandDataID(_:dimensions:)-(_,_)``, reusing and keeping the records it looks up in `records`.
    package func expandDataID(_ values: [String: String], dimensions: [String]?, records: DimensionRecordCache?) throws -> DataCoordinate {
        var typed: [String: DataIDValue] = [:]
        for (key, text) in values {
            let dim = try universe.dimension(key)
            typed[key] = try Self.typedValue(text, for: dim)
        }
        return try database.read { c in try expandDataID(typed, dimensions: dimensions, in: c, records: records) }
    }

    /// Validates and expands a data ID with typed values; see ``expandDataID(_:dimensions:)-(_,_)``.
    public func expandDataID(_ values: [String: DataIDValue], dimensions: [String]? = nil) throws -> DataCoordinate {
        try database.read { c in try expandDataID(values, dimensions: dimensions, in: c) }
    }

    package func expandDataID(_ values: [String: DataIDValue], dimensions: [String]?, in c: any SQLConnection,
                              records: DimensionRecordCache? = nil) throws -> DataCoordinate {
        for key in values.keys { _ = try universe.dimension(key) }
        let group = try universe.group(dimensions ?? Array(values.keys))
        let allowed = Set(group.names)
        var result: [String: DataIDValue] = [:]
        for (key, value) in values {
            guard allowed.contains(key) else {
                throw ButlerError(.invalidValue, "data ID key '\(key)' is not one of the dimensions \(group)")
            }
            let dim = universe[key]!
            if case .string = value, dim.primaryKey!.type == .int {
                throw ButlerError(.invalidValue, "data ID value \(key)=\(value) is not an integer")
            }
            if case .int(let i) = value, dim.primaryKey!.type == .string {
                result[key] = .string(String(i))
                continue
            }
            result[key] = value.normalized
        }
        for name in group.required where result[name] == nil {
            let dim = universe[name]!
            if dim.isGovernor, dim.hasTable {
                let rows = try c.query("SELECT \(q(dim.primaryKey!.name)) FROM \(q(name)) LIMIT 2")
                if rows.count == 1, let only = DataIDValue(rows[0][0]) {
                    result[name] = only
                    continue
                }
            }
            throw ButlerError(.invalidValue, "data ID \(DataCoordinate(dimensions: group, values: result)) is missing required dimension '\(name)' (dimensions \(group))")
        }
        // Look up each dimension's record once its key values are known, filling implied values as we go.
        var done = Set<String>()
        var progress = true
        while progress {
            progress = false
            for name in group.names where !done.contains(name) {
                let dim = universe[name]!
                let keys = DimensionSchema.keyColumns(of: dim, in: universe)
                guard keys.allSatisfy({ result[$0.dimension] != nil }) else { continue }
                done.insert(name)
                progress = true
                let keyValues = keys.map { result[$0.dimension]! }
                if dim.isSkyPix {
                    try universe.checkSkyPixValue(name, result[name]!)  // no record: the value must be a pixel
                    continue
                }
                let row: [DataIDValue?]
                if let known = records?.implied(by: name, keys: keyValues) {
                    row = known
                } else if let viewOf = dim.viewOf {
                    let rows = try c.query("SELECT 1 FROM \(q(viewOf)) WHERE \(q(name)) = ? LIMIT 1", [result[name]!.sqlValue])
                    if rows.isEmpty {
                        throw ButlerError(.notFound, "no \(name) '\(result[name]!)' in the registry (no \(viewOf) record has it)")
                    }
                    records?.store([], for: name, keys: keyValues)
                    continue
                } else {
                    let sql = "SELECT \(dim.implies.isEmpty ? "1" : dim.implies.map(q).joined(separator: ", ")) FROM \(q(name)) WHERE "
                        + keys.map { "\(q($0.column)) = ?" }.joined(separator: " AND ")
                    guard let found = try c.queryOne(sql, keyValues.map(\.sqlValue)) else {
                        let described = keys.map { k -> String in
                            let v = result[k.dimension]!
                            if case .string(let s) = v { return "\(k.column)='\(s)'" }
                            return "\(k.column)=\(v)"
                        }.joined(separator: ", ")
                        throw ButlerError(.notFound, "no \(name) record with \(described) in the registry")
                    }
                    row = dim.implies.indices.map { DataIDValue(found[$0]) }
                    records?.store(row, for: name, keys: keyValues)
                }
                for (i, implied) in dim.implies.enumerated() where allowed.contains(implied) && i < row.count {
                    guard let value = row[i] else { continue }
                    if let given = result[implied], given != value {
                        // Rubin's words (InconsistentDataIdError).
                        func shown(_ v: DataIDValue) -> String { if case .string(let s) = v { return "'\(s)'" } else { return "\(v)" } }
                        throw ButlerError(.conflict, "Data ID \(DataCoordinate(dimensions: group, values: values)) has \(implied)=\(shown(given)), "
                                          + "but \(name) implies \(implied)=\(shown(value)).")
                    }
                    result[implied] = value
                }
            }
        }
        return DataCoordinate(dimensions: group, values: result)
    }

    /// Types a string value for a dimension's key.
    package static func typedValue(_ text: String, for dim: DimensionElement) throws -> DataIDValue {
        switch dim.primaryKey!.type {
        case .int:
            guard let i = Int(text) else {
                throw ButlerError(.invalidValue, "data ID value \(dim.name)=\(text) is not an integer")
            }
            return .int(i)
        default:
            return .string(text)
        }
    }

    // MARK: Internals

    package func tableElement(_ name: String) throws -> DimensionElement {
        let element = try universe.element(name)
        guard element.hasTable else {
            let why = element.viewOf.map { "its values come from \($0)" } ?? "a sky pixel dimension: its values are pixel indices"
            throw ButlerError(.invalidValue, "element '\(name)' has no records of its own (\(why))")
        }
        return element
    }

    private func validatedRow(_ record: DimensionRecord, element: DimensionElement, columns: [DimensionSchema.Column]) throws -> [SQLValue] {
        let known = Set(columns.map(\.name))
        for field in record.fields.keys.sorted() where !known.contains(field) {
            throw ButlerError(.invalidValue, "\(element.name) record has unknown field '\(field)'; fields: \(columns.map(\.name).joined(separator: ", "))")
        }
        return try columns.map { column in
            guard let value = record.fields[column.name] else {
                if column.role != .metadata && column.role != .timespan && column.role != .region {
                    throw ButlerError(.invalidValue, "\(element.name) record is missing field '\(column.name)'")
                }
                return .null
            }
            return try Self.sqlValue(value, column: column, element: element.name)
        }
    }

    private static func sqlValue(_ value: DimensionValue, column: DimensionSchema.Column, element: String) throws -> SQLValue {
        let bad = { ButlerError(.invalidValue, "\(element).\(column.name) = \(value) is not a valid \(column.type.rawValue)") }
        switch (column.type, value) {
        case (.int, .int(let v)): return .integer(Int64(v))
        case (.int, .string(let s)): guard let v = Int64(s) else { throw bad() }; return .integer(v)
        case (.float, .float(let v)): return .real(v)
        case (.float, .int(let v)): return .real(Double(v))
        case (.float, .string(let s)): guard let v = Double(s) else { throw bad() }; return .real(v)
        case (.bool, .bool(let v)): return .integer(v ? 1 : 0)
        case (.bool, .int(let v)) where v == 0 || v == 1: return .integer(Int64(v))
        case (.bool, .string(let s)):
            switch s.lowercased() {
            case "true", "1", "t", "yes": return .integer(1)
            case "false", "0", "f", "no": return .integer(0)
            default: throw bad()
            }
        case (.string, .string(let s)), (.hash, .string(let s)):
            if let limit = column.length, column.type == .string, s.count > limit {
                throw ButlerError(.invalidValue, "\(element).\(column.name) = '\(s)' is longer than \(limit) characters")
            }
            return .text(s.normalizedName)
        case (.string, .int(let v)): return .text(String(v))
        default: throw bad()
        }
    }

    package func record(from row: SQLRow, element: DimensionElement, columns: [DimensionSchema.Column]) -> DimensionRecord {
        var fields: [String: DimensionValue] = [:]
        for (i, column) in columns.enumerated() {
            let v = row[i]
            if v.isNull { continue }
            switch column.type {
            case .int: if let x = v.int { fields[column.name] = .int(x) }
            case .float: if let x = v.double { fields[column.name] = .float(x) }
            case .bool: if let x = v.int { fields[column.name] = .bool(x != 0) }
            case .string, .hash: if let x = v.string { fields[column.name] = .string(x) }
            }
        }
        return DimensionRecord(element: element.name, fields: fields)
    }

    private func keyDescription(_ record: DimensionRecord, element: DimensionElement) -> String {
        let keys = DimensionSchema.keyColumns(of: element, in: universe).map(\.column)
        return "{" + keys.map { k -> String in
            let v = record.fields[k]
            if case .string(let s)? = v { return "\(k): '\(s)'" }
            return "\(k): \(v.map(\.description) ?? "null")"
        }.joined(separator: ", ") + "}"
    }

    private func insertRow(_ c: any SQLConnection, element: DimensionElement, columns: [DimensionSchema.Column],
                           record: DimensionRecord, row: [SQLValue]) throws {
        let sql = "INSERT INTO \(q(element.name)) (\(columns.map { q($0.name) }.joined(separator: ", "))) VALUES ("
            + Array(repeating: "?", count: columns.count).joined(separator: ", ") + ")"
        do {
            try c.execute(sql, row)
            try indexRegion(c, element: element, record: record)
        } catch ButlerError.conflict {
            throw ButlerError(.conflict, "\(element.name) record \(keyDescription(record, element: element)) already exists, or one of its alternate keys is taken")
        } catch ButlerError.inUse {
            throw try missingDependency(c, record: record, element: element)
        }
    }

    /// Names the dimension record a failed insert depends on.
    private func missingDependency(_ c: any SQLConnection, record: DimensionRecord, element: DimensionElement) throws -> ButlerError {
        for dep in element.requires + element.implies {
            let target = universe[dep]!
            guard target.hasTable, let value = record.fields[dep]?.dataIDValue else { continue }
            let keys = DimensionSchema.keyColumns(of: target, in: universe)
            var args: [SQLValue] = []
            for k in keys {
                let fieldValue = k.dimension == dep ? value : record.fields[k.dimension]?.dataIDValue
                guard let fieldValue else { continue }
                args.append(fieldValue.sqlValue)
            }
            guard args.count == keys.count else { continue }
            let sql = "SELECT 1 FROM \(q(dep)) WHERE " + keys.map { "\(q($0.column)) = ?" }.joined(separator: " AND ")
            if try c.queryOne(sql, args) == nil {
                return ButlerError(.notFound, "\(element.name) record \(keyDescription(record, element: element)) refers to \(dep) '\(value)', which is not in the registry; insert that \(dep) record first")
            }
        }
        return ButlerError(.notFound, "\(element.name) record \(keyDescription(record, element: element)) refers to a dimension record that is not in the registry")
    }

    private func syncRow(_ c: any SQLConnection, element: DimensionElement, columns: [DimensionSchema.Column],
                         record: DimensionRecord, row: [SQLValue], update: Bool) throws -> SyncResult {
        let keyColumns = columns.filter(\.isPrimaryKey)
        let keyIndexes = keyColumns.map { k in columns.firstIndex { $0.name == k.name }! }
        let select = "SELECT \(columns.map { q($0.name) }.joined(separator: ", ")) FROM \(q(element.name)) WHERE "
            + keyColumns.map { "\(q($0.name)) = ?" }.joined(separator: " AND ")
        guard let existingRow = try c.queryOne(select, keyIndexes.map { row[$0] }) else {
            try insertRow(c, element: element, columns: columns, record: record, row: row)
            return .inserted
        }
        let existing = self.record(from: existingRow, element: element, columns: columns)
        let new = self.record(from: SQLRow(columns: columns.map(\.name), values: row), element: element, columns: columns)
        var differences: [String] = []
        for column in columns {
            let a = existing.fields[column.name], b = new.fields[column.name]
            if !Self.same(a, b) {
                differences.append("\(column.name): \(a.map(\.description) ?? "null") -> \(b.map(\.description) ?? "null")")
            }
        }
        if differences.isEmpty { return .unchanged }
        guard update else {
            throw ButlerError(.conflict, "\(element.name) record \(keyDescription(record, element: element)) exists with different values (\(differences.joined(separator: "; ")))")
        }
        let others = columns.enumerated().filter { !$0.element.isPrimaryKey }
        let sql = "UPDATE \(q(element.name)) SET " + others.map { "\(q($0.element.name)) = ?" }.joined(separator: ", ")
            + " WHERE " + keyColumns.map { "\(q($0.name)) = ?" }.joined(separator: " AND ")
        try c.execute(sql, others.map { row[$0.offset] } + keyIndexes.map { row[$0] })
        try indexRegion(c, element: element, record: record)
        return .updated
    }

    private static func same(_ a: DimensionValue?, _ b: DimensionValue?) -> Bool {
        switch (a, b) {
        case (.float(let x)?, .float(let y)?): return x == y || abs(x - y) <= 1e-12 * max(abs(x), abs(y))
        default: return a == b
        }
    }
}
