import Foundation

/// What to search for in ``Registry/queryDataIDs(_:)`` and ``Registry/queryDimensionRecords(_:_:)``.
public struct DimensionQuery: Sendable {
    /// Only data IDs (or records) for which a dataset of this type exists in ``collections``.
    public var datasets: String?
    /// Collections searched for ``datasets``.
    public var collections: [String] = []
    /// A `--where` expression.
    public var `where` = ""
    public var binds: [String: BindValue] = [:]
    /// Dimension values the results must have (`["instrument": "LATISS"]`), as Rubin's `data_id` argument: equality
    /// constraints, and a governor named here satisfies the expression's need for it (`exposure = 5`).
    public var dataID: [String: DataIDValue] = [:]
    public var orderBy: [String] = []
    public var limit: Int?
    public var offset = 0

    public init() {}
}

extension Registry {
    /// Data IDs over `dimensions` (expanded with what they require and imply): every combination of dimension
    /// records that the relationships allow, constrained by `query`.
    ///
    /// With ``DimensionQuery/datasets``, the dataset type's dimensions are joined too (related to the query's), but
    /// the data IDs hold only `dimensions` and what they require and imply, as Rubin's do.
    ///
    /// - Returns: the dimension group and the data IDs (required and implied values).
    public func queryDataIDs(_ dimensions: [String], _ query: DimensionQuery = DimensionQuery()) throws -> (DimensionGroup, [DataCoordinate]) {
        // A sky pixel dimension (`htm7`): pixels of the query's spatial records (Registry+QuerySkypix.swift).
        if let withSkyPix = try queryDataIDsWithSkyPix(dimensions, query) { return withSkyPix }
        let expression: Expression?
        do { expression = try Parser.parse(query.where) } catch { throw error.butlerError }
        return try database.read { c in
            var names = dimensions
            var stored: StoredDatasetType?
            if let type = query.datasets {
                stored = try requireDatasetType(type, in: c)
                names += stored!.type.dimensions.required
            }
            let group = try universe.group(names)
            let builder = QueryBuilder(universe: universe, expression: query.where)
            builder.dialect = c.dialect
            builder.binds = query.binds
            builder.extraNames = extraQueryNames
            // One table per required dimension, joined on the dimensions they share.
            for name in group.required {
                let element = universe[name]!
                if element.isSkyPix {
                    throw ButlerError(.invalidValue, "cannot query data IDs over \(name), a dimension of \(query.datasets ?? "the query"), here yet: "
                                      + "list the datasets with query-datasets (their data IDs hold the pixels)")
                }
                let a = builder.alias(name)
                let table: String
                if let viewOf = element.viewOf {
                    table = "(SELECT DISTINCT \(q(name)) AS \(q(element.primaryKey!.name)) FROM \(q(viewOf)))"
                } else {
                    table = q(name)
                }
                let keys = universe.requiredDimensions(of: name).compactMap { dim in builder.dimensions[dim].map { (dim, $0) } }
                if builder.from.isEmpty {
                    builder.from = ["\(table) AS \(a)"]
                } else if keys.isEmpty {
                    builder.joins.insert("CROSS JOIN \(table) AS \(a)", at: 0)
                } else {
                    builder.joins.append("JOIN \(table) AS \(a) ON " + keys.map { "\(a).\(q($0.0)) = \($0.1)" }.joined(separator: " AND "))
                }
                for dim in universe.requiredDimensions(of: name) where builder.dimensions[dim] == nil { builder.dimensions[dim] = "\(a).\(q(dim))" }
                builder.dimensions[name] = "\(a).\(q(element.primaryKey!.name))"
                if element.hasTable { builder.aliases[name] = a }
            }
            // Join elements that relate dimensions of the group (exposure and visit through visit_definition).
            for element in universe.elements where element.hasTable && !element.isDimension && element.alwaysJoin {
                let required = universe.requiredDimensions(of: element.name)
                guard required.allSatisfy({ group.required.contains($0) }) else { continue }
                let a = builder.alias(element.name)
                builder.joins.append("JOIN \(q(element.name)) AS \(a) ON " + required.map { "\(a).\(q($0)) = \(builder.dimensions[$0]!)" }.joined(separator: " AND "))
            }
            if let stored {
                let searched = try resolveCollections(query.collections, findFirst: false, in: c)
                guard !searched.isEmpty else { return (group, []) }
                // Certifications in CALIBRATION collections count as well as RUN and TAGGED memberships.
                let source = try membershipSource(stored, searched, in: c).sql
                // The dataset type's dimensions may be implied ones of the query (a flat's physical_filter from a
                // visit): join them wherever the query has them.
                builder.joins.append("JOIN \(source) AS t ON t.dataset_type_id = \(stored.id) AND t.collection_id IN (\(searched.map { String($0.id) }.joined(separator: ", ")))"
                    + (try stored.type.dimensions.required.map { " AND t.\(q($0)) = \(try builder.dimension($0))" }.joined()))
            }
            let implied = try group.implied.map { try builder.dimension($0) }
            // A visit (or exposure) and a tract (or patch) asked for together are related through their regions.
            let spatial = try builder.spatialRelation(of: group.required)
            let parts = [spatial, try builder.whereCondition(expression, dataID: query.dataID)].compactMap { $0 }
            let condition = parts.isEmpty ? nil : parts.joined(separator: " AND ")
            let order = try builder.orderBy(query.orderBy)
            // The dimensions asked for, without those only the dataset type brought in (Rubin's data IDs of
            // `tract, detector` over flats have no physical_filter).
            let output = stored == nil ? group : try universe.group(dimensions)
            let outputNames = output.required + output.implied
            let columns = group.required.map { builder.dimensions[$0]! } + implied
            let outputColumns = outputNames.map { name in columns[(group.required + group.implied).firstIndex(of: name)!] }
            // No dimensions: one row with no columns, as Rubin has it (when the expression is true).
            guard !builder.from.isEmpty else {
                guard let condition else { return (output, [DataCoordinate(dimensions: output, values: [:])]) }
                let one = try c.query("SELECT 1 WHERE \(condition)", builder.parameters)
                return (output, one.isEmpty ? [] : [DataCoordinate(dimensions: output, values: [:])])
            }
            try builder.requireIndexedRegions(c)
            let sql = builder.selectSQL(columns: outputColumns.isEmpty ? ["1"] : outputColumns, condition: condition, order: order,
                                        defaultOrder: (0..<output.required.count).map { "c\($0)" }, limit: query.limit, offset: query.offset)
            if ProcessInfo.processInfo.environment["BUTLER_DEBUG_SQL"] != nil { logger.debug("\(sql)"); FileHandle.standardError.write(Data((sql + "\n").utf8)) }
            let rows = try c.query(sql, builder.parameters)
            return (output, rows.map { row in
                var values: [String: DataIDValue] = [:]
                for (i, name) in outputNames.enumerated() { values[name] = DataIDValue(row[i]) }
                return DataCoordinate(dimensions: output, values: values)
            })
        }
    }

    /// The records of one element, constrained by `query` (its own fields can be named without a prefix).
    public func queryDimensionRecords(_ elementName: String, _ query: DimensionQuery = DimensionQuery()) throws -> [DimensionRecord] {
        let element = try tableElement(elementName)
        let expression: Expression?
        do { expression = try Parser.parse(query.where) } catch { throw error.butlerError }
        return try database.read { c in
            let columns = DimensionSchema.columns(of: element, in: universe)
            let builder = QueryBuilder(universe: universe, expression: query.where)
            builder.dialect = c.dialect
            builder.binds = query.binds
            builder.recordElement = element.name
            builder.extraNames = extraQueryNames
            builder.from = ["\(q(element.name)) AS e"]
            builder.aliases[element.name] = "e"
            for col in columns where col.role == .required || col.role == .implied { builder.dimensions[col.name] = "e.\(q(col.name))" }
            if let pk = element.primaryKey, element.isDimension { builder.dimensions[element.name] = "e.\(q(pk.name))" }
            if let type = query.datasets {
                let stored = try requireDatasetType(type, in: c)
                let searched = try resolveCollections(query.collections, findFirst: false, in: c)
                guard !searched.isEmpty else { return [] }
                // Certifications in CALIBRATION collections count as well as RUN and TAGGED memberships.
                let source = try membershipSource(stored, searched, in: c).sql
                builder.joins.append("JOIN \(source) AS t ON t.dataset_type_id = \(stored.id) AND t.collection_id IN (\(searched.map { String($0.id) }.joined(separator: ", ")))"
                    + (try stored.type.dimensions.required.map { " AND t.\(q($0)) = \(try builder.dimension($0))" }.joined()))
            }
            let condition = try builder.whereCondition(expression, dataID: query.dataID)
            let order = try builder.orderBy(query.orderBy)
            let keyOrder = columns.filter(\.isPrimaryKey).map { "e.\(q($0.name))" }
            try builder.requireIndexedRegions(c)
            let sql = builder.selectSQL(columns: columns.map { "e.\(q($0.name))" }, condition: condition, order: order,
                                        defaultOrder: keyOrder, limit: query.limit, offset: query.offset)
            return try c.query(sql, builder.parameters).map { record(from: $0, element: element, columns: columns) }
        }
    }
}
