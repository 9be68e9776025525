public import Foundation

/// A validity range of a calibration: half-open `[begin, end)` in TAI; `nil` bounds are unbounded.
public struct Timespan: Sendable, Hashable, CustomStringConvertible {
    public var begin: TAITime?
    public var end: TAITime?

    public init(begin: TAITime?, end: TAITime?) {
        self.begin = begin
        self.end = end
    }

    /// Whether the two ranges share a moment (ranges that only touch do not).
    public func overlaps(_ other: Timespan) -> Bool {
        (begin ?? TAITime(nanoseconds: .min)) < (other.end ?? TAITime(nanoseconds: .max))
            && (other.begin ?? TAITime(nanoseconds: .min)) < (end ?? TAITime(nanoseconds: .max))
    }

    public var description: String {
        "[\(begin.map(\.isoTAI) ?? "-inf"), \(end.map(\.isoTAI) ?? "+inf"))"
    }
}

extension Registry {
    package static func calibTableName(_ groupId: Int64) -> String {
        String(format: "dataset_calibs_%08lld", groupId)
    }

    /// The calibration association table of a calibration dataset type, created on first use.
    package func calibTable(for stored: StoredDatasetType, in c: any SQLConnection) throws -> String {
        guard let groupId = Int64(stored.tagTable.suffix(8)) else {
            throw ButlerError(.database, "unexpected tags table name \(stored.tagTable)")
        }
        let table = Self.calibTableName(groupId)
        if try !c.tableExists(table) {
            let d = c.dialect
            var lines = [
                "id \(d.autoIncrementPrimaryKey)",
                "dataset_type_id \(d.bigint) NOT NULL REFERENCES dataset_type (id)",
                "dataset_id \(d.uuid) NOT NULL REFERENCES dataset (id) ON DELETE CASCADE",
                "collection_id \(d.bigint) NOT NULL REFERENCES collection (collection_id) ON DELETE CASCADE",
            ]
            for name in stored.type.dimensions.required {
                let dim = universe[name]!
                let column = DimensionSchema.Column(name: name, type: dim.primaryKey!.type, length: dim.primaryKey!.length, role: .required)
                lines.append("\(q(name)) \(DimensionSchema.sqlType(column, d)) NOT NULL")
            }
            lines.append("validity_begin \(d.bigint)")
            lines.append("validity_end \(d.bigint)")
            try c.execute("CREATE TABLE \(q(table)) (\n    " + lines.joined(separator: ",\n    ") + ")")
            try c.execute("CREATE INDEX \(q(table + "_lookup")) ON \(q(table)) (dataset_type_id, collection_id\(stored.type.dimensions.required.map { ", " + q($0) }.joined()))")
            if d.engine == .postgresql {
                // The database itself refuses overlapping validity ranges, even from writers that race each other.
                try c.execute("CREATE EXTENSION IF NOT EXISTS btree_gist SCHEMA public")
                try c.execute("ALTER TABLE \(q(table)) ADD CONSTRAINT \(q(table + "_no_overlap")) EXCLUDE USING gist (dataset_type_id WITH =, collection_id WITH =\(stored.type.dimensions.required.map { ", " + q($0) + " WITH =" }.joined()), int8range(validity_begin, validity_end) WITH &&)")
            }
        }
        try c.execute("UPDATE dataset_type SET calibration_association_table = ? WHERE id = ?", [.text(table), .integer(stored.id)])
        return table
    }

    // MARK: TAGGED

    /// Tags datasets into a TAGGED collection (created when missing). Datasets already tagged are left alone.
    ///
    /// - Returns: the number of datasets newly tagged.
    /// - Throws: ``ButlerError/Code/conflict`` when the tag holds another dataset of the same type and data ID.
    @discardableResult
    public func associate(_ tag: String, _ refs: [DatasetRef]) throws -> Int {
        try database.write { c in try associate(tag, refs, in: c) }
    }

    /// ``associate(_:_:)`` in the caller's transaction.
    package func associate(_ tag: String, _ refs: [DatasetRef], in c: any SQLConnection) throws -> Int {
        do {
            _ = try registerCollection(tag, type: .tagged, doc: nil, in: c)
            let record = try requireCollection(tag, in: c)
            guard record.type == .tagged else {
                throw ButlerError(.invalidValue, "collection '\(tag)' is \(record.type), not TAGGED")
            }
            var added = 0
            for ref in refs {
                let stored = try requireDatasetType(ref.datasetType.name, in: c)
                let dims = stored.type.dimensions.required
                let id = ref.id.lowercasedString
                if try c.queryOne("SELECT 1 FROM \(q(stored.tagTable)) WHERE dataset_id = ? AND collection_id = ?", [.text(id), .integer(record.id)]) != nil { continue }
                do {
                    try c.execute("INSERT INTO \(q(stored.tagTable)) (dataset_type_id, dataset_id, collection_id\(dims.map { ", " + q($0) }.joined())) VALUES (?, ?, ?\(String(repeating: ", ?", count: dims.count)))",
                                  [.integer(stored.id), .text(id), .integer(record.id)] + dims.map { ref.dataId[$0]!.sqlValue })
                } catch ButlerError.conflict {
                    throw ButlerError(.conflict, "TAGGED collection '\(tag)' already holds another '\(stored.type.name)' dataset with data ID \(ref.dataId)")
                }
                try c.execute("\(c.dialect.insertOrIgnore) collection_summary_dataset_type (collection_id, dataset_type_id) VALUES (?, ?)\(c.dialect.insertOrIgnoreSuffix)",
                              [.integer(record.id), .integer(stored.id)])
                added += 1
            }
            return added
        }
    }

    /// Removes datasets from a TAGGED collection.
    ///
    /// - Returns: the number removed.
    @discardableResult
    public func disassociate(_ tag: String, _ refs: [DatasetRef]) throws -> Int {
        try database.write { c in
            let record = try requireCollection(tag, in: c)
            guard record.type == .tagged else {
                throw ButlerError(.invalidValue, "collection '\(tag)' is \(record.type), not TAGGED; datasets leave a RUN only by being removed")
            }
            var removed = 0
            for ref in refs {
                let stored = try requireDatasetType(ref.datasetType.name, in: c)
                let before = try c.queryOne("SELECT COUNT(*) FROM \(q(stored.tagTable)) WHERE dataset_id = ? AND collection_id = ?", [.text(ref.id.lowercasedString), .integer(record.id)])?[0].int ?? 0
                try c.execute("DELETE FROM \(q(stored.tagTable)) WHERE dataset_id = ? AND collection_id = ?", [.text(ref.id.lowercasedString), .integer(record.id)])
                removed += before
            }
            return removed
        }
    }

    // MARK: CALIBRATION

    /// Certifies datasets into a CALIBRATION collection (created when missing) with a validity range.
    ///
    /// - Throws: ``ButlerError/Code/conflict`` when the range overlaps an existing one for the same dataset type and
    ///   data ID (ranges may touch), ``ButlerError/Code/invalidValue`` for a type that is not a calibration.
    public func certify(_ collection: String, _ refs: [DatasetRef], validity: Timespan) throws {
        if let b = validity.begin, let e = validity.end, !(b < e) {
            throw ButlerError(.invalidValue, "empty validity range \(validity): the end must be after the begin")
        }
        try database.write { c in try certify(collection, refs, validity: validity, in: c) }
    }

    /// ``certify(_:_:validity:)`` in the caller's transaction; a dataset already certified for exactly this range is left alone.
    package func certify(_ collection: String, _ refs: [DatasetRef], validity: Timespan, in c: any SQLConnection) throws {
        do {
            _ = try registerCollection(collection, type: .calibration, doc: nil, in: c)
            let record = try requireCollection(collection, in: c)
            guard record.type == .calibration else {
                throw ButlerError(.invalidValue, "collection '\(collection)' is \(record.type), not CALIBRATION")
            }
            for ref in refs {
                let stored = try requireDatasetType(ref.datasetType.name, in: c)
                guard stored.type.isCalibration else {
                    throw ButlerError(.invalidValue, "dataset type '\(stored.type.name)' is not a calibration (register it with --is-calibration)")
                }
                let table = try calibTable(for: stored, in: c)
                let dims = stored.type.dimensions.required
                let match = dims.map { " AND \(q($0)) = ?" }.joined()
                let existing = try c.query("SELECT validity_begin, validity_end, dataset_id FROM \(q(table)) WHERE dataset_type_id = ? AND collection_id = ?\(match)",
                                           [.integer(stored.id), .integer(record.id)] + dims.map { ref.dataId[$0]!.sqlValue })
                if existing.contains(where: { row in
                    row[2].string == ref.id.lowercasedString && row[0].int64 == validity.begin?.nanoseconds && row[1].int64 == validity.end?.nanoseconds
                }) { continue }
                for row in existing {
                    let other = Timespan(begin: row[0].int64.map(TAITime.init(nanoseconds:)), end: row[1].int64.map(TAITime.init(nanoseconds:)))
                    if other.overlaps(validity) {
                        throw ButlerError(.conflict, "'\(stored.type.name)' \(ref.dataId) in '\(collection)': validity \(validity) overlaps \(other) of dataset \(row[2].string ?? "")")
                    }
                }
                try c.execute("INSERT INTO \(q(table)) (dataset_type_id, dataset_id, collection_id\(dims.map { ", " + q($0) }.joined()), validity_begin, validity_end) VALUES (?, ?, ?\(String(repeating: ", ?", count: dims.count)), ?, ?)",
                              [.integer(stored.id), .text(ref.id.lowercasedString), .integer(record.id)] + dims.map { ref.dataId[$0]!.sqlValue }
                              + [SQLValue(validity.begin?.nanoseconds), SQLValue(validity.end?.nanoseconds)])
                try c.execute("\(c.dialect.insertOrIgnore) collection_summary_dataset_type (collection_id, dataset_type_id) VALUES (?, ?)\(c.dialect.insertOrIgnoreSuffix)",
                              [.integer(record.id), .integer(stored.id)])
            }
        }
    }

    /// Removes a time range from the validity of a calibration type's associations in a CALIBRATION collection:
    /// associations inside the range go, those that straddle it are cut (split in two when the range is inside them).
    ///
    /// - Parameter dataIds: only these data IDs (all when `nil`).
    /// - Returns: the number of associations changed or removed.
    @discardableResult
    public func decertify(_ collection: String, datasetType: String, range: Timespan, dataIds: [DataCoordinate]? = nil) throws -> Int {
        try database.write { c in
            let record = try requireCollection(collection, in: c)
            guard record.type == .calibration else { throw ButlerError(.invalidValue, "collection '\(collection)' is \(record.type), not CALIBRATION") }
            let stored = try requireDatasetType(datasetType, in: c)
            let table = try calibTable(for: stored, in: c)
            let dims = stored.type.dimensions.required
            let wanted = dataIds.map { Set($0.map(\.keyValueString)) }
            var changed = 0
            let rows = try c.query("SELECT id, dataset_id, validity_begin, validity_end\(dims.map { ", " + q($0) }.joined()) FROM \(q(table)) WHERE dataset_type_id = ? AND collection_id = ?",
                                   [.integer(stored.id), .integer(record.id)])
            for row in rows {
                var values: [String: DataIDValue] = [:]
                for (i, d) in dims.enumerated() { values[d] = DataIDValue(row[4 + i]) }
                let dataId = DataCoordinate(dimensions: stored.type.dimensions, values: values)
                if let wanted, !wanted.contains(dataId.keyValueString) { continue }
                let span = Timespan(begin: row[2].int64.map(TAITime.init(nanoseconds:)), end: row[3].int64.map(TAITime.init(nanoseconds:)))
                guard span.overlaps(range) else { continue }
                changed += 1
                try c.execute("DELETE FROM \(q(table)) WHERE id = ?", [row[0]])
                let insert = "INSERT INTO \(q(table)) (dataset_type_id, dataset_id, collection_id\(dims.map { ", " + q($0) }.joined()), validity_begin, validity_end) VALUES (?, ?, ?\(String(repeating: ", ?", count: dims.count)), ?, ?)"
                let base: [SQLValue] = [.integer(stored.id), row[1], .integer(record.id)] + dims.map { values[$0]!.sqlValue }
                // The part before the removed range, and the part after it.
                if let rb = range.begin, (span.begin ?? TAITime(nanoseconds: .min)) < rb {
                    try c.execute(insert, base + [SQLValue(span.begin?.nanoseconds), .integer(rb.nanoseconds)])
                }
                if let re = range.end, re < (span.end ?? TAITime(nanoseconds: .max)) {
                    try c.execute(insert, base + [.integer(re.nanoseconds), SQLValue(span.end?.nanoseconds)])
                }
            }
            return changed
        }
    }

    /// The validity ranges of a calibration type in a CALIBRATION collection, by dataset.
    public func certifications(_ collection: String, datasetType: String) throws -> [(DatasetRef, Timespan)] {
        try database.read { c in
            let record = try requireCollection(collection, in: c)
            let stored = try requireDatasetType(datasetType, in: c)
            let table = Self.calibTableName(Int64(stored.tagTable.suffix(8)) ?? 0)
            guard try c.tableExists(table) else { return [] }
            let dims = stored.type.dimensions.required
            return try c.query("""
                SELECT t.dataset_id, run.name, t.validity_begin, t.validity_end\(dims.map { ", t." + q($0) }.joined())
                FROM \(q(table)) AS t JOIN dataset AS d ON d.id = t.dataset_id JOIN collection AS run ON run.collection_id = d.run_id
                WHERE t.dataset_type_id = ? AND t.collection_id = ? ORDER BY \((dims.map { "t." + q($0) } + ["t.validity_begin"]).joined(separator: ", "))
                """, [.integer(stored.id), .integer(record.id)]).map { row in
                var values: [String: DataIDValue] = [:]
                for (i, d) in dims.enumerated() { values[d] = DataIDValue(row[4 + i]) }
                let ref = DatasetRef(id: UUID(uuidString: row[0].string!)!, datasetType: stored.type, run: row[1].string ?? "",
                                     dataId: DataCoordinate(dimensions: stored.type.dimensions, values: values))
                return (ref, Timespan(begin: row[2].int64.map(TAITime.init(nanoseconds:)), end: row[3].int64.map(TAITime.init(nanoseconds:))))
            }
        }
    }

    // MARK: Finding one dataset

    /// Finds the dataset of a type for a data ID in collections, in search order (chains flattened), with the rule of
    /// Rubin's `Butler.find_dataset(..., timespan=)`: in a CALIBRATION collection, the dataset whose validity range
    /// overlaps `timespan` is found. Without `timespan`, the timespan of the data ID's exposure or visit is used (as
    /// Rubin's `Butler.get` does); without either, CALIBRATION collections are skipped, as Rubin skips them.
    ///
    /// - Parameter timespan: the time the validity range must overlap (`Timespan(begin: nil, end: nil)`: any time).
    /// - Returns: the dataset, or `nil` when none is found.
    /// - Throws: ``ButlerError/Code/conflict`` when the first CALIBRATION collection with a match holds more than one
    ///   dataset for the data ID whose validity overlaps the time (Rubin's `CalibrationLookupError`).
    public func findDataset(_ datasetType: String, dataId: [String: String], collections: [String], timespan: Timespan? = nil) throws -> DatasetRef? {
        try database.read { c in
            let stored = try requireDatasetType(datasetType, in: c)
            // The data ID may name more than the type's dimensions (an exposure for a bias): keep them for the time.
            // Values of implied dimensions beyond the type's required ones (a band given with a flat's
            // physical_filter) are ignored, as Rubin's find_dataset ignores them: they are not checked either.
            let required = Set(stored.type.dimensions.required)
            var typed: [String: DataIDValue] = [:]
            for (k, v) in dataId {
                let dimension = try universe.dimension(k)
                if !required.contains(k), universe.elements.contains(where: { $0.implies.contains(k) }) { continue }
                typed[k] = try Self.typedValue(v, for: dimension)
            }
            let full = try expandDataID(typed, dimensions: Array(Set(Array(typed.keys) + stored.type.dimensions.required)), in: c)
            let dims = stored.type.dimensions.required
            var span = timespan
            if span == nil {
                for element in ["exposure", "visit"] where full[element] != nil {
                    let keys = DimensionSchema.keyColumns(of: universe[element]!, in: universe)
                    if let row = try c.queryOne("SELECT timespan_begin, timespan_end FROM \(q(element)) WHERE " + keys.map { "\(q($0.column)) = ?" }.joined(separator: " AND "),
                                                keys.map { full[$0.dimension]!.sqlValue }) {
                        span = Timespan(begin: row[0].int64.map(TAITime.init(nanoseconds:)), end: row[1].int64.map(TAITime.init(nanoseconds:)))
                        break
                    }
                }
            }
            for collection in try resolveCollections(collections, findFirst: true, in: c) {
                let match = dims.map { " AND t.\(q($0)) = ?" }.joined()
                let values = dims.map { full[$0]!.sqlValue }
                var row: SQLRow?
                if collection.type == .calibration {
                    let table = Self.calibTableName(Int64(stored.tagTable.suffix(8)) ?? 0)
                    guard try c.tableExists(table) else { continue }
                    // Rubin's rule: with no time there is no way to choose among validity ranges; skip the collection.
                    guard let span else { continue }
                    // An empty timespan (end not after begin) overlaps nothing.
                    if let b = span.begin, let e = span.end, e <= b { continue }
                    let lo = "-9223372036854775808", hi = "9223372036854775807"
                    let rows = try c.query("""
                        SELECT t.dataset_id, run.name, t.validity_begin, t.validity_end FROM \(q(table)) AS t JOIN dataset AS d ON d.id = t.dataset_id
                        JOIN collection AS run ON run.collection_id = d.run_id
                        WHERE t.dataset_type_id = ? AND t.collection_id = ?\(match)
                          AND COALESCE(t.validity_begin, \(lo)) < COALESCE(?, \(hi)) AND COALESCE(?, \(lo)) < COALESCE(t.validity_end, \(hi))
                        ORDER BY t.validity_begin LIMIT 2
                        """, [.integer(stored.id), .integer(collection.id)] + values + [SQLValue(span.end?.nanoseconds), SQLValue(span.begin?.nanoseconds)])
                    if rows.count > 1 {
                        let ranges = rows.map { Timespan(begin: $0[2].int64.map(TAITime.init(nanoseconds:)), end: $0[3].int64.map(TAITime.init(nanoseconds:))).description }
                        throw ButlerError(.conflict, "ambiguous calibration lookup: more than one '\(datasetType)' dataset in CALIBRATION collection '\(collection.name)' is valid during \(span) (among them \(ranges.joined(separator: " and "))); give a narrower time")
                    }
                    row = rows.first
                } else {
                    row = try c.queryOne("""
                        SELECT t.dataset_id, run.name FROM \(q(stored.tagTable)) AS t JOIN dataset AS d ON d.id = t.dataset_id
                        JOIN collection AS run ON run.collection_id = d.run_id
                        WHERE t.dataset_type_id = ? AND t.collection_id = ?\(match)
                        """, [.integer(stored.id), .integer(collection.id)] + values)
                }
                if let row, let id = row[0].string.flatMap(UUID.init(uuidString:)) {
                    var own: [String: DataIDValue] = [:]
                    for d in stored.type.dimensions.names { own[d] = full[d] }
                    return DatasetRef(id: id, datasetType: stored.type, run: row[1].string ?? "",
                                      dataId: DataCoordinate(dimensions: stored.type.dimensions, values: own))
                }
            }
            return nil
        }
    }

    /// A dataset by id.
    public func dataset(_ id: UUID) throws -> DatasetRef? {
        try database.read { c in
            guard let row = try c.queryOne("""
                SELECT dt.name, run.name FROM dataset AS d JOIN dataset_type AS dt ON dt.id = d.dataset_type_id
                JOIN collection AS run ON run.collection_id = d.run_id WHERE d.id = ?
                """, [.text(id.lowercasedString)]), let typeName = row[0].string else { return nil }
            let stored = try requireDatasetType(typeName, in: c)
            let dims = stored.type.dimensions.required
            guard let tag = try c.queryOne("SELECT \(dims.isEmpty ? "1" : dims.map(q).joined(separator: ", ")) FROM \(q(stored.tagTable)) WHERE dataset_id = ? LIMIT 1",
                                           [.text(id.lowercasedString)]) else { return nil }
            var values: [String: DataIDValue] = [:]
            for (i, d) in dims.enumerated() { values[d] = DataIDValue(tag[i]) }
            let dataId = try expandDataID(values, dimensions: stored.type.dimensions.names, in: c)
            return DatasetRef(id: id, datasetType: stored.type, run: row[1].string ?? "", dataId: dataId)
        }
    }

    /// Resolves a dataset named on the command line: a UUID, or `TYPE:key=value,...` found in `collections`
    /// (in search order; every collection when none is given, in which case the match must be unique).
    ///
    /// - Parameter timespan: for a calibration found in CALIBRATION collections, the time its validity must overlap
    ///   (see ``findDataset(_:dataId:collections:timespan:)``).
    /// - Throws: ``ButlerError/Code/notFound`` when nothing matches, ``ButlerError/Code/conflict`` when the name is
    ///   ambiguous.
    public func resolveDataset(_ text: String, collections: [String] = [], timespan: Timespan? = nil) throws -> DatasetRef {
        if let id = UUID(uuidString: text.trimmedSpaces) {
            guard let ref = try dataset(id) else { throw ButlerError(.notFound, "no dataset with id \(text)") }
            return ref
        }
        guard let colon = text.firstIndex(of: ":") else {
            throw ButlerError(.invalidValue, "'\(text)' names no dataset: expected a UUID or TYPE:key=value,...")
        }
        let type = String(text[..<colon]).trimmedSpaces
        let dataId = try parseDataIDString(String(text[text.index(after: colon)...]))
        if !collections.isEmpty {
            guard let ref = try findDataset(type, dataId: dataId, collections: collections, timespan: timespan) else {
                throw ButlerError(.notFound, "no '\(type)' dataset with \(dataId.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")) in \(collections.joined(separator: ", "))")
            }
            return ref
        }
        guard let stored = try datasetType(type) else { throw ButlerError(.notFound, "no dataset type named '\(type)'") }
        let expanded = try expandDataID(dataId, dimensions: stored.dimensions.names)
        var query = DatasetQuery()
        query.datasetTypes = [type]
        query.where = stored.dimensions.required.enumerated().map { "\($0.element) = :v\($0.offset)" }.joined(separator: " AND ")
        for (i, d) in stored.dimensions.required.enumerated() {
            switch expanded[d]! { case .int(let v): query.binds["v\(i)"] = .integer(v); case .string(let s): query.binds["v\(i)"] = .string(s) }
        }
        let found = Array(Set(try queryDatasets(query).datasets.map(\.ref)))
        guard let first = found.first else { throw ButlerError(.notFound, "no '\(type)' dataset with data ID \(expanded)") }
        if found.count > 1 {
            throw ButlerError(.conflict, "'\(text)' matches \(found.count) datasets (in runs \(found.map(\.run).sorted().joined(separator: ", "))); name the collections to search or use the UUID")
        }
        return first
    }
}
