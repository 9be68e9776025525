public import Foundation

/// What to export (or transfer): the datasets a query finds, the collections to carry, and whether their provenance goes along.
public struct ExportRequest: Sendable {
    /// The datasets: dataset types, collections, `--where`, find-first and provenance selection, as `query-datasets` takes them.
    public var query = DatasetQuery()
    /// Collections to carry with their chains, tags and validity ranges (restricted to the exported datasets); the RUNs of
    /// the exported datasets always go. `nil`: the collections the query names (all collections when it names none).
    public var collections: [String]?
    /// Carry collections of these types only (``ExportRequest/collections``); RUNs of exported datasets always go.
    public var collectionTypes: Set<CollectionType> = Set(CollectionType.allCases)
    /// Carry the provenance of the exported datasets (their steps, environments, configs, metrics, tombstones, copies).
    public var withProvenance = true

    public init() {}
}

extension Butler {
    /// Gathers what an export or a transfer carries: the datasets the request finds, each with its file (path as
    /// recorded in this datastore, size, checksum, formatter), their dataset types and RUNs, the requested collections
    /// (chains with every child, TAGGED and CALIBRATION memberships of the exported datasets), the dimension records
    /// their data IDs reach (and join records among them), and their provenance.
    ///
    /// - Throws: ``ButlerError/Code/notFound`` when the request finds no dataset (with the reasons the query gives).
    public func exportContents(_ request: ExportRequest) throws -> ExportContents {
        var refs: [UUID: DatasetRef] = [:]
        var order: [UUID] = []
        let reasons = try registry.forEachDataset(request.query) { result in
            if refs.updateValue(result.ref, forKey: result.ref.id) == nil { order.append(result.ref.id) }
        }
        guard !order.isEmpty else {
            throw ButlerError(.notFound, "nothing to export: " + (reasons.isEmpty ? "no dataset matched" : reasons.joined(separator: "; ")))
        }
        var contents = ExportContents()
        contents.universeNamespace = registry.universe.namespace
        contents.universeVersion = registry.universe.version
        let exported = order.map { refs[$0]! }
        try registry.database.read { c in
            contents.datasets = try exportedDatasets(exported, in: c)
            contents.datasetTypes = Dictionary(grouping: exported, by: \.datasetType.name).keys.sorted().map { name in
                let type = exported.first { $0.datasetType.name == name }!.datasetType
                return ExportedDatasetType(name: type.name, storageClass: type.storageClass, dimensions: type.dimensions.names,
                                           isCalibration: type.isCalibration)
            }
            let collections = try exportedCollections(request, runs: Set(exported.map(\.run)), in: c)
            contents.collections = collections
            let ids = Set(order)
            contents.tags = try exportedTags(collections.filter { $0.type == .tagged }, exporting: ids, in: c)
            contents.certifications = try exportedCertifications(collections.filter { $0.type == .calibration }, exporting: ids, in: c)
            contents.dimensionRecords = try exportedRecords(for: exported, in: c)
            if request.withProvenance { contents.provenance = try registry.provenanceBundle(for: order, source: identity, in: c) }
        }
        return contents
    }

    /// The exported datasets with their files, grouped by (dataset type, RUN), sorted; datasets sharing a file share an entry.
    private func exportedDatasets(_ refs: [DatasetRef], in c: any SQLConnection) throws -> [ExportedDatasets] {
        var files: [String: (path: String, formatter: String?, storageClass: String, checksum: String?, size: Int64?, hdu: Int?)] = [:]
        for chunk in refs.map({ $0.id.lowercasedString }).chunked(500) {
            let list = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
            for row in try c.query("""
                SELECT dataset_id, path, formatter, storage_class, checksum, file_size, hdu FROM file_datastore_records
                WHERE component = '' AND dataset_id IN (\(list))
                """, chunk.map { .text($0) }) {
                files[row[0].string ?? ""] = (row[1].string ?? "", row[2].string, row[3].string ?? "", row[4].string, row[5].int64, row[6].int64.map { Int($0) })
            }
        }
        var groups: [String: [String: ExportedFile]] = [:]
        var groupKeys: [String: (String, String)] = [:]
        for ref in refs {
            let key = ref.datasetType.name + "\u{0}" + ref.run
            groupKeys[key] = (ref.datasetType.name, ref.run)
            guard let file = files[ref.id.lowercasedString] else {
                throw ButlerError(.notFound, "dataset \(ref.id.lowercasedString) (\(ref.datasetType.name) in \(ref.run)) has no file in the datastore")
            }
            let exportedRef = ExportedRef(id: ref.id, dataId: Dictionary(uniqueKeysWithValues: ref.dataId.required))
            let fileKey = file.path + "#" + (file.hdu.map(String.init) ?? "")
            if groups[key]?[fileKey] != nil {
                groups[key]![fileKey]!.refs.append(exportedRef)
            } else {
                groups[key, default: [:]][fileKey] = ExportedFile(
                    refs: [exportedRef], path: file.path,
                    formatter: RubinFormatters.formatter(recorded: file.formatter, storageClass: file.storageClass, datasetType: ref.datasetType,
                                                         dataId: ref.dataId),
                    size: file.size, checksum: file.checksum, hdu: file.hdu)
            }
        }
        return groupKeys.sorted { ($0.value.0, $0.value.1) < ($1.value.0, $1.value.1) }.map { key, names in
            ExportedDatasets(datasetType: names.0, run: names.1, files: groups[key]!.values.sorted { $0.path < $1.path })
        }
    }

    /// The collections carried: RUNs of the datasets, the requested ones, every child of a carried chain (recursively);
    /// non-chained ones sorted by name, then chains with each child before its parents.
    private func exportedCollections(_ request: ExportRequest, runs: Set<String>, in c: any SQLConnection) throws -> [ExportedCollection] {
        var names = Set(runs)
        let requested = request.collections ?? request.query.collections
        let patterns = requested.flatMap { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }.filter { !$0.isEmpty }
        let pattern = NamePattern(patterns)
        for literal in pattern.literals where try registry.collection(literal, in: c) == nil {
            throw ButlerError(.notFound, "no collection named '\(literal)'")
        }
        for row in try c.query("SELECT name, type FROM collection") {
            guard let name = row[0].string, let type = row[1].int64.flatMap({ CollectionType(rawValue: Int($0)) }) else { continue }
            if (patterns.isEmpty || pattern.matches(name)) && request.collectionTypes.contains(type) { names.insert(name) }
        }
        // Chains carry all their children, so that a chain can be defined at the destination.
        var records: [String: CollectionRecord] = [:]
        var pending = Array(names)
        while let name = pending.popLast() {
            guard records[name] == nil, let record = try registry.collection(name, in: c) else { continue }
            records[name] = record
            pending.append(contentsOf: record.children)
        }
        var hosts: [String: (String?, Timespan?)] = [:]
        for row in try c.query("SELECT c.name, r.host, r.timespan_begin, r.timespan_end FROM run AS r JOIN collection AS c ON c.collection_id = r.collection_id") {
            guard let name = row[0].string, records[name] != nil else { continue }
            let begin = row[2].int64.map(TAITime.init(nanoseconds:)), end = row[3].int64.map(TAITime.init(nanoseconds:))
            hosts[name] = (row[1].string, begin == nil && end == nil ? nil : Timespan(begin: begin, end: end))
        }
        var result = records.values.filter { $0.type != .chained }.sorted { $0.name < $1.name }.map { r in
            ExportedCollection(name: r.name, type: r.type, doc: r.doc, host: hosts[r.name]?.0, timespan: hosts[r.name]?.1)
        }
        // Chains in dependency order: a chain after every chain it contains.
        var placed = Set<String>()
        func place(_ record: CollectionRecord) {
            guard record.type == .chained, placed.insert(record.name).inserted else { return }
            for child in record.children { if let r = records[child] { place(r) } }
            result.append(ExportedCollection(name: record.name, type: .chained, doc: record.doc, children: record.children))
        }
        for record in records.values.filter({ $0.type == .chained }).sorted(by: { $0.name < $1.name }) { place(record) }
        return result
    }

    private func exportedTags(_ collections: [ExportedCollection], exporting ids: Set<UUID>, in c: any SQLConnection) throws -> [ExportedTags] {
        let tables = try registry.tagTables(in: c)
        var result: [ExportedTags] = []
        for collection in collections {
            let record = try registry.requireCollection(collection.name, in: c)
            var members: [UUID] = []
            for table in tables {
                for row in try c.query("SELECT dataset_id FROM \(q(table)) WHERE collection_id = ?", [.integer(record.id)]) {
                    if let id = row[0].string.flatMap(UUID.init(registryText:)), ids.contains(id) { members.append(id) }
                }
            }
            result.append(ExportedTags(collection: collection.name, ids: members.sorted { $0.lowercasedString < $1.lowercasedString }))
        }
        return result
    }

    private func exportedCertifications(_ collections: [ExportedCollection], exporting ids: Set<UUID>, in c: any SQLConnection) throws -> [ExportedCertifications] {
        let calibrationTypes = try registry.allDatasetTypes(in: c).filter(\.type.isCalibration)
        var result: [ExportedCertifications] = []
        for collection in collections {
            let record = try registry.requireCollection(collection.name, in: c)
            var byRange: [Timespan: [UUID]] = [:]
            for stored in calibrationTypes {
                let table = Registry.calibTableName(Int64(stored.tagTable.suffix(8)) ?? 0)
                guard try c.tableExists(table) else { continue }
                for row in try c.query("SELECT dataset_id, validity_begin, validity_end FROM \(q(table)) WHERE dataset_type_id = ? AND collection_id = ?",
                                       [.integer(stored.id), .integer(record.id)]) {
                    guard let id = row[0].string.flatMap(UUID.init(registryText:)), ids.contains(id) else { continue }
                    let range = Timespan(begin: row[1].int64.map(TAITime.init(nanoseconds:)), end: row[2].int64.map(TAITime.init(nanoseconds:)))
                    byRange[range, default: []].append(id)
                }
            }
            let ranges = byRange.sorted { ($0.key.begin?.nanoseconds ?? .min, $0.key.end?.nanoseconds ?? .max) < ($1.key.begin?.nanoseconds ?? .min, $1.key.end?.nanoseconds ?? .max) }
                .map { ExportedCertifications.Range(timespan: $0.key, ids: $0.value.sorted { $0.lowercasedString < $1.lowercasedString }) }
            result.append(ExportedCertifications(collection: collection.name, ranges: ranges))
        }
        return result
    }

    /// The dimension records the data IDs reach, closed over required and implied dimensions, plus the records of join
    /// elements (visit_definition, visit_detector_region, ...) all of whose dimensions are among the exported values.
    private func exportedRecords(for refs: [DatasetRef], in c: any SQLConnection) throws -> [ExportedElementRecords] {
        let universe = registry.universe
        // Wanted records by element, as key tuples (required dimension values, then the element's own value).
        var wanted: [String: Set<[DataIDValue]>] = [:]
        func want(_ element: DimensionElement, _ values: [String: DataIDValue]) {
            guard element.hasTable, element.isDimension, let own = values[element.name] else { return }
            var key: [DataIDValue] = []
            for r in element.requires { guard let v = values[r] else { return }; key.append(v) }
            key.append(own)
            wanted[element.name, default: []].insert(key)
        }
        for ref in refs {
            for name in ref.dataId.dimensions.names { if let e = universe[name] { want(e, ref.dataId.values) } }
        }
        var found: [String: [[DataIDValue]: DimensionRecord]] = [:]
        var all: [String: [DimensionRecord]] = [:]
        // Finds the wanted records, and those they name, until nothing new is wanted.
        func close() throws {
        var changed = true
        while changed {
            changed = false
            for element in universe.elements where element.hasTable && element.isDimension {
                guard let keys = wanted[element.name], keys.count > (found[element.name]?.count ?? -1) || found[element.name] == nil else { continue }
                if all[element.name] == nil { all[element.name] = try registry.fetchDimensionRecords(element.name) }
                let keyField = element.primaryKey!.name
                var index: [[DataIDValue]: DimensionRecord] = [:]
                for record in all[element.name]! {
                    var key: [DataIDValue] = element.requires.compactMap { record[$0]?.dataIDValue }
                    if let own = record[keyField]?.dataIDValue { key.append(own) }
                    if keys.contains(key) { index[key] = record }
                }
                if index.count != found[element.name]?.count { changed = true }
                found[element.name] = index
                // The dimensions these records name (their required and implied values) are wanted too.
                for record in index.values {
                    var values: [String: DataIDValue] = [:]
                    for r in element.requires { values[r] = record[r]?.dataIDValue }
                    for i in element.implies { values[i] = record[i]?.dataIDValue }
                    for name in element.requires + element.implies {
                        guard let dependency = universe[name], dependency.hasTable else { continue }
                        var dependencyValues = values
                        for r in dependency.requires where dependencyValues[r] == nil { dependencyValues[r] = values[r] }
                        let before = wanted[name]?.count ?? 0
                        want(dependency, dependencyValues)
                        if (wanted[name]?.count ?? 0) != before { changed = true }
                    }
                }
            }
        }
        }
        // A join record comes when each of its dimensions' records comes, matched by that dimension's whole key (its
        // required values, then its own): visit 7 of one instrument says nothing about visit 7 of another.
        func isExported(_ record: DimensionRecord, _ dimension: String) -> Bool {
            guard let element = universe[dimension], let index = found[dimension], let own = record[dimension]?.dataIDValue else { return false }
            var key: [DataIDValue] = []
            for r in element.requires {
                guard let v = record[r]?.dataIDValue else { return false }
                key.append(v)
            }
            key.append(own)
            return index[key] != nil
        }
        try close()
        // As Rubin's export: the records an exported dimension populates (a visit's visit_system_membership and
        // visit_definition records) come with it, with the records they name (its visit_system, its exposures).
        // Join elements whose every dimension is in some exported data ID keep the rule above (Rubin's primary records).
        var primary = Set<String>()
        for group in Set(refs.map(\.dataId.dimensions)) {
            let names = Set(group.names)
            for element in universe.elements where !element.isDimension && !element.requires.isEmpty && element.requires.allSatisfy(names.contains) {
                primary.insert(element.name)
            }
        }
        var populated: [String: [DimensionRecord]] = [:]
        for element in universe.elements where element.hasTable && !element.isDimension && !primary.contains(element.name) {
            guard let by = element.populatedBy, !(found[by]?.isEmpty ?? true) else { continue }
            let records = try registry.fetchDimensionRecords(element.name).filter { isExported($0, by) }
            guard !records.isEmpty else { continue }
            populated[element.name] = records
            for record in records {
                for name in element.requires where name != by {
                    guard let dependency = universe[name] else { continue }
                    var values: [String: DataIDValue] = [:]
                    for r in dependency.requires + [name] { values[r] = record[r]?.dataIDValue }
                    want(dependency, values)
                }
            }
        }
        if !populated.isEmpty { try close() }
        var result: [ExportedElementRecords] = []
        for element in universe.elements where element.hasTable {
            if element.isDimension {
                guard let index = found[element.name], !index.isEmpty else { continue }
                result.append(ExportedElementRecords(element: element.name, records: index.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map(\.value)))
            } else if let records = populated[element.name] {
                result.append(ExportedElementRecords(element: element.name, records: records.filter { record in element.requires.allSatisfy { isExported(record, $0) } }))
            } else {
                let dims = element.requires
                guard !dims.isEmpty, dims.allSatisfy({ !(found[$0]?.isEmpty ?? true) }) else { continue }
                let records = try registry.fetchDimensionRecords(element.name).filter { record in
                    dims.allSatisfy { isExported(record, $0) }
                }
                if !records.isEmpty { result.append(ExportedElementRecords(element: element.name, records: records)) }
            }
        }
        return result
    }
}

extension Butler {
    /// What `export-calibs` carries: the calibration datasets certified in CALIBRATION collections, those collections
    /// with their validity ranges, and the datasets' RUNs (no chains, no tags), as Rubin's `export-calibs` writes.
    ///
    /// - Parameters:
    ///   - collections: CALIBRATION collection names or globs (all of them when empty).
    ///   - datasetTypes: calibration dataset type names or globs (all of them when empty).
    public func calibrationExportContents(collections: [String], datasetTypes: [String], withProvenance: Bool) throws -> ExportContents {
        let calibrationCollections = try registry.queryCollections(collections, types: [.calibration]).map(\.name)
        guard !calibrationCollections.isEmpty else {
            throw ButlerError(.notFound, collections.isEmpty ? "no CALIBRATION collection in \(root.path)" : "no CALIBRATION collection matches \(collections.joined(separator: ", "))")
        }
        let pattern = NamePattern(datasetTypes)
        let types = try registry.queryDatasetTypes().filter { $0.isCalibration && (datasetTypes.isEmpty || pattern.matches($0.name)) }.map(\.name)
        guard !types.isEmpty else { throw ButlerError(.notFound, "no calibration dataset type matches \(datasetTypes.joined(separator: ", "))") }
        var request = ExportRequest()
        request.query.datasetTypes = types
        request.query.collections = calibrationCollections
        request.collections = calibrationCollections
        request.collectionTypes = [.calibration]
        request.withProvenance = withProvenance
        return try exportContents(request)
    }
}
