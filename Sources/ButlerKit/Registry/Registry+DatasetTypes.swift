import Foundation

extension Registry {
    /// A dataset type with its dimensions expanded against this registry's universe.
    ///
    /// - Throws: ``ButlerError/Code/notFound`` for an unknown dimension or storage class,
    ///   ``ButlerError/Code/invalidName`` for a bad name.
    public func makeDatasetType(_ name: String, storageClass: String, dimensions: [String], isCalibration: Bool = false) throws -> DatasetType {
        try DatasetType.validate(name: name)
        try storageClasses.validate(storageClass)
        return DatasetType(name: name, storageClass: storageClass, dimensions: try universe.group(dimensions), isCalibration: isCalibration)
    }

    /// Registers a dataset type.
    ///
    /// - Returns: `true` when it was registered, `false` when an identical one existed (a no-op).
    /// - Throws: ``ButlerError/Code/conflict`` when one with the same name and a different definition exists;
    ///   the message shows both.
    @discardableResult
    public func registerDatasetType(_ type: DatasetType) throws -> Bool {
        try DatasetType.validate(name: type.name)
        try storageClasses.validate(type.storageClass)
        return try database.write { c in try registerDatasetType(type, in: c) }
    }

    /// ``registerDatasetType(_:)`` in the caller's transaction.
    package func registerDatasetType(_ type: DatasetType, in c: any SQLConnection) throws -> Bool {
        do {
            if let existing = try datasetType(type.name, in: c) {
                guard existing.type == type else {
                    throw ButlerError(.conflict, "dataset type '\(type.name)' exists with a different definition: registered \(existing.type), given \(type)")
                }
                return false
            }
            let (groupId, tagTable) = try dimensionGroup(type.dimensions, in: c)
            try c.execute("""
                \(c.dialect.insertOrIgnore) dataset_type (name, storage_class, dimension_group_id, is_calibration, tag_association_table)
                VALUES (?, ?, ?, ?, ?)\(c.dialect.insertOrIgnoreSuffix)
                """, [.text(type.name), .text(type.storageClass), .integer(groupId), SQLValue(type.isCalibration), .text(tagTable)])
            guard let stored = try datasetType(type.name, in: c), stored.type == type else {
                throw ButlerError(.conflict, "dataset type '\(type.name)' was registered concurrently with another definition")
            }
            return true
        }
    }

    /// Removes dataset types whose names match `patterns`.
    ///
    /// - Returns: the names removed.
    /// - Throws: ``ButlerError/Code/inUse`` when a matching type still has datasets, ``ButlerError/Code/notFound``
    ///   when a name without wildcards matches nothing.
    @discardableResult
    public func removeDatasetTypes(_ patterns: [String]) throws -> [String] {
        let pattern = NamePattern(patterns)
        return try database.write { c in
            let all = try allDatasetTypes(in: c)
            for literal in pattern.literals where !all.contains(where: { $0.type.name == literal }) {
                throw ButlerError(.notFound, "no dataset type named '\(literal)'")
            }
            let matched = all.filter { pattern.matches($0.type.name) }
            for entry in matched {
                let count = try c.queryOne("SELECT COUNT(*) FROM dataset WHERE dataset_type_id = ?", [.integer(entry.id)])?[0].int ?? 0
                if count > 0 {
                    throw ButlerError(.inUse, "dataset type '\(entry.type.name)' still has \(count) dataset(s); remove them first (remove-runs or prune-datasets --purge)")
                }
            }
            for entry in matched {
                try c.execute("DELETE FROM dataset_type WHERE id = ?", [.integer(entry.id)])
            }
            return matched.map(\.type.name)
        }
    }

    /// The registered dataset types whose names match any of `patterns` (all when empty), sorted by name.
    public func queryDatasetTypes(_ patterns: [String] = []) throws -> [DatasetType] {
        let pattern = NamePattern(patterns)
        return try database.read { c in
            try allDatasetTypes(in: c).map(\.type).filter { pattern.matches($0.name) }
        }
    }

    /// The dataset type with this name, or `nil`.
    public func datasetType(_ name: String) throws -> DatasetType? {
        try database.read { c in try datasetType(name, in: c)?.type }
    }

    // MARK: Internals

    package struct StoredDatasetType {
        package let id: Int64
        package let type: DatasetType
        package let tagTable: String
    }

    package func datasetType(_ name: String, in c: any SQLConnection) throws -> StoredDatasetType? {
        try c.query(Self.datasetTypeSelect + " WHERE dataset_type.name = ?", [.text(name)]).first.map(storedDatasetType)
    }

    package func requireDatasetType(_ name: String, in c: any SQLConnection) throws -> StoredDatasetType {
        guard let t = try datasetType(name, in: c) else {
            throw ButlerError(.notFound, "no dataset type named '\(name)'; register it with register-dataset-type")
        }
        return t
    }

    package func allDatasetTypes(in c: any SQLConnection) throws -> [StoredDatasetType] {
        try c.query(Self.datasetTypeSelect + " ORDER BY dataset_type.name").map(storedDatasetType)
    }

    private static let datasetTypeSelect = """
        SELECT dataset_type.id, dataset_type.name, dataset_type.storage_class, dimension_group.required,
               dataset_type.is_calibration, dataset_type.tag_association_table
        FROM dataset_type JOIN dimension_group ON dimension_group.id = dataset_type.dimension_group_id
        """

    private func storedDatasetType(_ row: SQLRow) throws -> StoredDatasetType {
        let required = row[3].string!.split(separator: ",").map(String.init)
        let type = DatasetType(name: row[1].string!, storageClass: row[2].string!,
                               dimensions: try universe.group(required), isCalibration: (row[4].int ?? 0) != 0)
        return StoredDatasetType(id: row[0].int64!, type: type, tagTable: row[5].string!)
    }

    /// The id and tags table of a dimension group, creating both when new.
    private func dimensionGroup(_ group: DimensionGroup, in c: any SQLConnection) throws -> (Int64, String) {
        let key = group.required.joined(separator: ",")
        if let row = try c.queryOne("SELECT id FROM dimension_group WHERE required = ?", [.text(key)]), let id = row[0].int64 {
            return (id, Self.tagTableName(id))
        }
        try c.execute("INSERT INTO dimension_group (required) VALUES (?)", [.text(key)])
        guard let id = try c.queryOne("SELECT id FROM dimension_group WHERE required = ?", [.text(key)])?[0].int64 else {
            throw ButlerError(.database, "could not register dimension group \(group)")
        }
        let table = Self.tagTableName(id)
        try c.execute(tagTableDDL(table, group: group, dialect: c.dialect))
        // Look-ups by data ID (most specific dimension first) without naming the collection or the instrument.
        if !group.required.isEmpty {
            try c.execute("CREATE INDEX \(q(table + "_data_id")) ON \(q(table)) (dataset_type_id\(group.required.reversed().map { ", " + q($0) }.joined()))")
        }
        return (id, table)
    }

    package static func tagTableName(_ groupId: Int64) -> String {
        String(format: "dataset_tags_%08lld", groupId)
    }

    /// Every tags table (one per dimension group).
    package func tagTables(in c: any SQLConnection) throws -> [String] {
        try c.query("SELECT id FROM dimension_group ORDER BY id").compactMap { $0[0].int64 }.map(Self.tagTableName)
    }

    /// A tags table: one row per membership of a dataset in a RUN or TAGGED collection, with the required
    /// dimensions as columns so that at most one dataset per (type, data ID) is in any collection.
    private func tagTableDDL(_ table: String, group: DimensionGroup, dialect d: SQLDialect) -> String {
        var lines = [
            "dataset_type_id \(d.bigint) NOT NULL REFERENCES dataset_type (id)",
            "dataset_id \(d.uuid) NOT NULL REFERENCES dataset (id) ON DELETE CASCADE",
            "collection_id \(d.bigint) NOT NULL REFERENCES collection (collection_id) ON DELETE CASCADE",
        ]
        let available = Set(group.required)
        for name in group.required {
            let dim = universe[name]!
            let column = DimensionSchema.Column(name: name, type: dim.primaryKey!.type, length: dim.primaryKey!.length, role: .required)
            lines.append("\(q(name)) \(DimensionSchema.sqlType(column, d)) NOT NULL")
        }
        lines.append("PRIMARY KEY (dataset_id, collection_id)")
        lines.append("UNIQUE (dataset_type_id, collection_id\(group.required.map { ", " + q($0) }.joined()))")
        for name in group.required {
            let dim = universe[name]!
            guard dim.hasTable else { continue }
            let required = universe.requiredDimensions(of: name)
            guard required.allSatisfy(available.contains) else { continue }
            lines.append("FOREIGN KEY (\((required + [name]).map(q).joined(separator: ", "))) REFERENCES \(q(name)) (\((required + [dim.primaryKey!.name]).map(q).joined(separator: ", ")))")
        }
        return "CREATE TABLE \(q(table)) (\n    " + lines.joined(separator: ",\n    ") + ")"
    }
}
