/// The tables of a dimension universe: one per element that has a table, with its keys and foreign keys.
package enum DimensionSchema {
    /// A column of an element's table.
    package struct Column: Sendable {
        package enum Role: Sendable { case required, key, alternateKey, implied, metadata, timespan, region }
        package let name: String
        package let type: DimensionColumn.ValueType
        package let length: Int?
        package let role: Role
        package var isPrimaryKey: Bool { role == .required || role == .key }
    }

    /// The columns of an element's table, in table order.
    package static func columns(of element: DimensionElement, in universe: DimensionUniverse) -> [Column] {
        var columns: [Column] = []
        for dep in universe.requiredDimensions(of: element.name) {
            let key = universe[dep]!.primaryKey!
            columns.append(Column(name: dep, type: key.type, length: key.length, role: .required))
        }
        for (i, key) in element.keys.enumerated() {
            columns.append(Column(name: key.name, type: key.type, length: key.length, role: i == 0 ? .key : .alternateKey))
        }
        for dep in element.implies {
            let key = universe[dep]!.primaryKey!
            columns.append(Column(name: dep, type: key.type, length: key.length, role: .implied))
        }
        for m in element.metadata {
            columns.append(Column(name: m.name, type: m.type, length: m.length, role: .metadata))
        }
        if element.isTemporal {
            columns.append(Column(name: "timespan_begin", type: .int, length: nil, role: .timespan))
            columns.append(Column(name: "timespan_end", type: .int, length: nil, role: .timespan))
        }
        if element.isSpatial {
            columns.append(Column(name: "region", type: .string, length: nil, role: .region))
        }
        return columns
    }

    /// The primary-key columns of a dimension's table that a data ID value maps to: the required
    /// dimensions' columns and the dimension's own key. For `detector`: `instrument`, `id`.
    package static func keyColumns(of element: DimensionElement, in universe: DimensionUniverse) -> [(column: String, dimension: String)] {
        var result = universe.requiredDimensions(of: element.name).map { ($0, $0) }
        if let key = element.primaryKey { result.append((key.name, element.name)) }
        return result
    }

    /// `CREATE TABLE` statements for every element of the universe that has a table, in dependency order.
    package static func createStatements(for universe: DimensionUniverse, dialect d: SQLDialect) -> [String] {
        var statements: [String] = []
        for element in universe.elements where element.hasTable {
            let columns = columns(of: element, in: universe)
            var lines = columns.map { column -> String in
                let nullable = (column.isPrimaryKey || column.role == .alternateKey || column.role == .implied) ? " NOT NULL" : ""
                return "    \(q(column.name)) \(sqlType(column, d))\(nullable)"
            }
            lines.append("    PRIMARY KEY (\(columns.filter(\.isPrimaryKey).map { q($0.name) }.joined(separator: ", ")))")
            let required = universe.requiredDimensions(of: element.name)
            let available = Set(required + element.implies)
            for alt in columns where alt.role == .alternateKey {
                lines.append("    UNIQUE (\((required + [alt.name]).map(q).joined(separator: ", ")))")
            }
            // Required and implied dependencies point at their own tables.
            for dep in element.requires + element.implies {
                let target = universe[dep]!
                guard target.hasTable else { continue }
                // The target's required dimensions must be columns of this table for a composite key.
                let targetRequired = universe.requiredDimensions(of: dep)
                guard targetRequired.allSatisfy(available.contains) else { continue }
                let local = targetRequired + [dep]
                let remote = targetRequired + [target.primaryKey!.name]
                lines.append("    FOREIGN KEY (\(local.map(q).joined(separator: ", "))) REFERENCES \(q(target.name)) (\(remote.map(q).joined(separator: ", ")))")
            }
            statements.append("CREATE TABLE \(q(element.name)) (\n" + lines.joined(separator: ",\n") + ")")
            for dep in element.implies where universe[dep]!.hasTable {
                statements.append("CREATE INDEX \(q(element.name + "_" + dep)) ON \(q(element.name)) (\(q(dep)))")
            }
        }
        return statements
    }

    package static func sqlType(_ column: Column, _ d: SQLDialect) -> String {
        switch column.type {
        case .int: return d.bigint
        case .float: return d.double
        case .bool: return d.boolean
        case .string: return column.length.map { "VARCHAR(\($0))" } ?? "TEXT"
        case .hash: return "TEXT"
        }
    }
}
