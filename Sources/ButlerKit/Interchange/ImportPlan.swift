import Foundation

/// Everything an import decides before it writes: which dataset types, collections and datasets are new, each new
/// file's full data IDs and destination path, and every conflict with what the repository holds. Checking it all
/// first is what lets a refused import leave nothing behind (Rubin's leaves dataset types and collections).
struct ImportPlan {
    struct NewFile: Sendable {
        let datasetType: String
        let run: String
        let file: ExportedFile
        /// Full data IDs (required and implied values), one per ref.
        let dataIds: [[String: DataIDValue]]
        /// Path in this datastore, from its file template (empty for a registry-only import).
        let destination: String
    }

    let contents: ExportContents
    let options: ImportOptions
    /// Dataset types by name, as this repository defines (or will define) them.
    var datasetTypes: [String: DatasetType] = [:]
    var newDatasetTypes: [DatasetType] = []
    /// New dataset types whose storage class this repository does not know (kept as names), by type name.
    var unknownStorageClasses: [String: String] = [:]
    var newCollections: [String] = []
    var newRecordCount = 0
    var newFiles: [NewFile] = []
    var presentCount = 0
    /// Every dataset the associations may name: the new ones and those already here.
    var refsById: [UUID: DatasetRef] = [:]
    private var recordsToSync: [DimensionRecord] = []
    private(set) var collectionsToCreate: [ExportedCollection] = []

    init(contents: ExportContents, butler: Butler, options: ImportOptions) throws {
        self.contents = contents
        self.options = options
        let registry = butler.registry
        let universe = registry.universe
        let lookup = ImportRecordLookup(registry: registry)

        // Dimension records: known elements, and which are new.
        // Parents before children (a file may list elements in any order).
        for group in contents.dimensionRecords.sorted(by: { universe.position(of: $0.element) < universe.position(of: $1.element) }) {
            guard let element = universe[group.element], element.hasTable else {
                throw ButlerError(.notFound, "unknown dimension element '\(group.element)' (not in this repository's universe \(universe.namespace) \(universe.version))")
            }
            let fields = Set(registry.recordFields(of: group.element))
            for record in group.records {
                let unknown = record.fields.keys.filter { !fields.contains($0) }.sorted()
                if !unknown.isEmpty {
                    throw ButlerError(.invalidValue, "\(group.element) record: unknown field\(unknown.count == 1 ? "" : "s") \(unknown.joined(separator: ", ")) (fields: \(registry.recordFields(of: group.element).joined(separator: ", ")))")
                }
            }
            if !options.skipDimensions {
                for record in group.records {
                    let typed = try Self.typed(record, element: element, universe: universe)
                    if try lookup.existing(typed) == nil { newRecordCount += 1 }
                    lookup.add(typed)
                    recordsToSync.append(typed)
                }
            }
        }

        // Dataset types.
        let storageClasses = butler.storageClasses
        var declared: [String: ExportedDatasetType] = [:]
        for type in contents.datasetTypes { declared[type.name] = type }
        // Every declared type is registered, with or without datasets (Rubin's `base.yaml` declares `bias` and `flat`
        // and leaves their datasets to `datasets.yaml`).
        for name in Set(contents.datasets.map(\.datasetType)).union(declared.keys).sorted() {
            let existing = try registry.datasetType(name)
            if let given = declared[name] {
                for dim in given.dimensions where universe[dim] == nil {
                    throw ButlerError(.notFound, "dataset type '\(name)': unknown dimension '\(dim)'")
                }
                // A storage class this repository does not know is kept as a name, as Rubin's registry keeps it.
                try DatasetType.validate(name: name)
                if existing == nil, !storageClasses.contains(given.storageClass) {
                    guard let first = given.storageClass.unicodeScalars.first, first.properties.isAlphabetic || first == "_",
                          given.storageClass.count <= 200,
                          given.storageClass.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil || $0 == "_" || $0 == ".") })
                    else {
                        throw ButlerError(.invalidValue, "dataset type '\(name)': storage class '\(escapedForMessage(given.storageClass))' is not a storage class name (letters, digits, '_' and '.')")
                    }
                    unknownStorageClasses[name] = given.storageClass
                }
                let type = DatasetType(name: name, storageClass: given.storageClass, dimensions: try universe.group(given.dimensions),
                                       isCalibration: given.isCalibration)
                if let existing {
                    guard existing == type else {
                        throw ButlerError(.conflict, "dataset type '\(name)' is \(existing) here but \(type) in the import")
                    }
                } else {
                    guard options.registerDatasetTypes else {
                        throw ButlerError(.notFound, "dataset type '\(name)' is not in \(butler.root.path); register it first or pass --register-dataset-types")
                    }
                    newDatasetTypes.append(type)
                }
                datasetTypes[name] = type
            } else if let existing {
                datasetTypes[name] = existing
            } else {
                throw ButlerError(.notFound, "unknown dataset type '\(name)': the import does not define it and \(butler.root.path) has none")
            }
        }

        // Collections: types must agree, chains must agree; every dataset's RUN must be there or come along.
        var incoming: [String: ExportedCollection] = [:]
        for collection in contents.collections {
            try Registry.validateCollectionName(collection.name)
            incoming[collection.name] = collection
            if let existing = try registry.collection(collection.name) {
                guard existing.type == collection.type else {
                    throw ButlerError(.conflict, "collection '\(collection.name)' is \(existing.type) here but \(collection.type) in the import")
                }
                if collection.type == .chained, existing.children != collection.children {
                    throw ButlerError(.conflict, "chain '\(collection.name)' is [\(existing.children.joined(separator: ", "))] here but [\(collection.children.joined(separator: ", "))] in the import")
                }
            } else {
                newCollections.append(collection.name)
                collectionsToCreate.append(collection)
            }
        }
        for collection in contents.collections where collection.type == .chained {
            for child in collection.children where incoming[child] == nil {
                guard try registry.collection(child) == nil else { continue }
                throw ButlerError(.notFound, "chain '\(collection.name)' names collection '\(child)', which is neither in the import nor here")
            }
        }
        for group in contents.datasets where incoming[group.run] == nil {
            guard let here = try registry.collection(group.run) else {
                throw ButlerError(.notFound, "no RUN collection '\(group.run)' in the import or here, for the '\(group.datasetType)' datasets")
            }
            guard here.type == .run else { throw ButlerError(.conflict, "collection '\(group.run)' is \(here.type) here, not a RUN") }
        }
        for group in contents.datasets {
            if let c = incoming[group.run], c.type != .run {
                throw ButlerError(.conflict, "collection '\(group.run)' holds datasets but is \(c.type) in the import, not a RUN")
            }
        }

        // Datasets: those here already must be the same; the others get full data IDs and a destination path.
        let allIds = contents.datasetIds
        let presentRefs = try registry.datasetRefs(allIds)
        var present: [String: DatasetRef] = [:]
        for (id, ref) in presentRefs { present[id.lowercasedString] = ref }
        var seen = Set<UUID>()
        var templates: [String: FileTemplate] = [:]
        var claimedHere: [String: String] = [:]
        for group in contents.datasets {
            let type = datasetTypes[group.datasetType]!
            var dataIdsInRun: [String: UUID]?
            for file in group.files {
                var fresh = 0
                for ref in file.refs {
                    if let here = present[ref.id.lowercasedString] {
                        guard here.datasetType.name == type.name, here.run == group.run else {
                            throw ButlerError(.conflict, "dataset \(ref.id.lowercasedString) is a '\(here.datasetType.name)' in run '\(here.run)' here but a '\(type.name)' in run '\(group.run)' in the import")
                        }
                    } else {
                        fresh += 1
                    }
                }
                if fresh == 0 {
                    for ref in file.refs where seen.insert(ref.id).inserted {
                        presentCount += 1
                        if let full = presentRefs[ref.id] {
                            guard full.dataId.required.allSatisfy({ key, value in Self.same(ref.dataId[key], value) }) else {
                                throw ButlerError(.conflict, "dataset \(ref.id.lowercasedString) has data ID \(full.dataId) here but \(Self.describe(ref.dataId)) in the import")
                            }
                            refsById[ref.id] = full
                        }
                    }
                    continue
                }
                guard fresh == file.refs.count else {
                    throw ButlerError(.conflict, "\(file.path) holds datasets of which some are here and some are not: \(file.refs.map(\.id.lowercasedString).joined(separator: ", "))")
                }
                var dataIds: [[String: DataIDValue]] = []
                for ref in file.refs {
                    guard seen.insert(ref.id).inserted else {
                        throw ButlerError(.conflict, "dataset \(ref.id.lowercasedString) appears twice in the import")
                    }
                    let full = try lookup.expand(ref.dataId, type: type, universe: universe)
                    dataIds.append(full)
                    refsById[ref.id] = DatasetRef(id: ref.id, datasetType: type, run: group.run, dataId: DataCoordinate(dimensions: type.dimensions, values: full))
                    // The same data ID in this RUN under another id is a conflict naming both.
                    if dataIdsInRun == nil { dataIdsInRun = try Self.dataIds(of: type, inRun: group.run, registry: registry) }
                    let key = Self.key(full, type: type)
                    if let other = dataIdsInRun?[key], other != ref.id {
                        throw ButlerError(.conflict, "run '\(group.run)' holds '\(type.name)' \(Self.describe(ref.dataId)) as dataset \(other.lowercasedString) here, but the import has it as \(ref.id.lowercasedString)")
                    }
                    dataIdsInRun?[key] = ref.id
                }
                if options.withoutDatastore {
                    // Registry only: no file goes anywhere, so no path is made or claimed.
                    newFiles.append(NewFile(datasetType: type.name, run: group.run, file: file, dataIds: dataIds, destination: ""))
                    continue
                }
                if templates[type.name] == nil { templates[type.name] = try butler.fileTemplate(for: type) }
                var values: [String: String] = ["run": group.run, "datasetType": type.name]
                for (k, v) in dataIds[0] { values[k] = v.description }
                for element in ["detector", "exposure", "visit"] where dataIds[0][element] != nil {
                    if let record = try lookup.record(element, dataIds[0], universe: universe) {
                        for (field, value) in record.fields { values["\(element).\(field)"] = value.description }
                    }
                }
                let name = (file.path as NSString).lastPathComponent
                let destination = options.transfer == .direct ? file.path
                    : try templates[type.name]!.format(values) + RawIngester.fitsExtensionOrOwn(of: name, storageClass: type.storageClass)
                if let other = claimedHere[destination] {
                    throw ButlerError(.conflict, "the file template of \(butler.root.path) puts both \(other) and \(file.path) at \(destination)")
                }
                claimedHere[destination] = file.path
                newFiles.append(NewFile(datasetType: type.name, run: group.run, file: file, dataIds: dataIds, destination: destination))
            }
        }

        // Associations must name datasets of the import or of this repository.
        for tags in contents.tags {
            for id in tags.ids where refsById[id] == nil {
                guard let here = try registry.dataset(id) else {
                    throw ButlerError(.notFound, "TAGGED collection '\(tags.collection)' names dataset \(id.lowercasedString), which is neither in the import nor here")
                }
                refsById[id] = here
            }
        }
        for certs in contents.certifications {
            for range in certs.ranges {
                for id in range.ids where refsById[id] == nil {
                    guard let here = try registry.dataset(id) else {
                        throw ButlerError(.notFound, "CALIBRATION collection '\(certs.collection)' names dataset \(id.lowercasedString), which is neither in the import nor here")
                    }
                    refsById[id] = here
                }
                if let b = range.timespan.begin, let e = range.timespan.end, !(b < e) {
                    throw ButlerError(.invalidValue, "CALIBRATION collection '\(certs.collection)': empty validity range \(range.timespan)")
                }
            }
        }
    }

    /// Writes dimension records, dataset types and collections (chains last), in the caller's transaction.
    func writeRegistry(in c: any SQLConnection, registry: Registry) throws {
        try registry.syncDimensionRecords(recordsToSync, in: c)
        for type in newDatasetTypes { _ = try registry.registerDatasetType(type, in: c) }
        for collection in collectionsToCreate where collection.type != .chained {
            _ = try registry.registerCollection(collection.name, type: collection.type, doc: collection.doc, in: c)
            if collection.type == .run, collection.host != nil || collection.timespan != nil {
                let record = try registry.requireCollection(collection.name, in: c)
                try c.execute("UPDATE run SET host = ?, timespan_begin = ?, timespan_end = ? WHERE collection_id = ?",
                              [SQLValue(collection.host), SQLValue(collection.timespan?.begin?.nanoseconds), SQLValue(collection.timespan?.end?.nanoseconds),
                               .integer(record.id)])
            }
        }
        // Chains in file order, each after its children (Rubin writes them so; a child chain may also come later).
        var pending = collectionsToCreate.filter { $0.type == .chained }
        while !pending.isEmpty {
            let before = pending.count
            pending = try pending.filter { chain in
                for child in chain.children where try registry.collection(child, in: c) == nil { return true }
                _ = try registry.registerCollection(chain.name, type: .chained, doc: chain.doc, in: c)
                let parent = try registry.requireCollection(chain.name, in: c)
                for (position, child) in chain.children.enumerated() {
                    let record = try registry.requireCollection(child, in: c)
                    try c.execute("INSERT INTO collection_chain (parent, position, child) VALUES (?, ?, ?)",
                                  [.integer(parent.id), .integer(Int64(position)), .integer(record.id)])
                }
                return false
            }
            if pending.count == before {
                throw ButlerError(.cycle, "chains \(pending.map(\.name).joined(separator: ", ")) in the import contain each other")
            }
        }
    }

    /// Tags and certifications, in the caller's transaction (after the datasets).
    func writeAssociations(in c: any SQLConnection, registry: Registry) throws {
        for tags in contents.tags {
            _ = try registry.associate(tags.collection, tags.ids.compactMap { refsById[$0] }, in: c)
        }
        for certs in contents.certifications {
            for range in certs.ranges {
                do {
                    try registry.certify(certs.collection, range.ids.compactMap { refsById[$0] }, validity: range.timespan, in: c)
                } catch let error as ButlerError where error.code == .conflict {
                    throw ButlerError(.conflict, "importing validity ranges of '\(certs.collection)': \(error.message)")
                }
            }
        }
    }

    // MARK: Helpers

    /// The data IDs of a type's datasets in a RUN here, as keys (empty when the RUN is not here).
    private static func dataIds(of type: DatasetType, inRun run: String, registry: Registry) throws -> [String: UUID] {
        try registry.database.read { c in
            guard let runRecord = try registry.collection(run, in: c), let stored = try registry.datasetType(type.name, in: c) else { return [:] }
            let dims = type.dimensions.required
            var result: [String: UUID] = [:]
            for row in try c.query("SELECT dataset_id\(dims.map { ", " + q($0) }.joined()) FROM \(q(stored.tagTable)) WHERE collection_id = ? AND dataset_type_id = ?",
                                   [.integer(runRecord.id), .integer(stored.id)]) {
                var values: [String: DataIDValue] = [:]
                for (i, d) in dims.enumerated() { values[d] = DataIDValue(row[1 + i]) }
                if let id = row[0].string.flatMap(UUID.init(registryText:)) { result[key(values, type: type)] = id }
            }
            return result
        }
    }

    static func key(_ values: [String: DataIDValue], type: DatasetType) -> String {
        type.dimensions.required.map { values[$0]?.description ?? "" }.joined(separator: "\u{1}")
    }

    static func same(_ a: DataIDValue?, _ b: DataIDValue) -> Bool { a?.description == b.description }

    static func describe(_ values: [String: DataIDValue]) -> String {
        "{" + values.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}"
    }

    /// A record with its key values typed as the universe says (an exposure id read as a string becomes an integer).
    static func typed(_ record: DimensionRecord, element: DimensionElement, universe: DimensionUniverse) throws -> DimensionRecord {
        var record = record
        for name in element.requires + element.implies {
            guard let dim = universe[name], let value = record[name] else { continue }
            record[name] = try typedValue(value, type: dim.primaryKey?.type, what: "\(element.name).\(name)")
        }
        for key in element.keys {
            guard let value = record[key.name] else { continue }
            record[key.name] = try typedValue(value, type: key.type, what: "\(element.name).\(key.name)")
        }
        return record
    }

    /// A key value as its column's type says (`"5"` for an integer key is 5, 5 for a string key is `"5"`).
    static func typedValue(_ value: DimensionValue, type: DimensionColumn.ValueType?, what: String) throws -> DimensionValue {
        switch (type, value) {
        case (.int?, .string(let text)):
            guard let n = Int(text) else { throw ButlerError(.invalidValue, "\(what): '\(text)' is not an integer") }
            return .int(n)
        case (.string?, .int(let n)):
            return .string(String(n))
        default:
            return value
        }
    }
}

/// Dimension records by element and key: those of the import first, then this repository's (read once per element).
final class ImportRecordLookup {
    private let registry: Registry
    private var imported: [String: [[DataIDValue]: DimensionRecord]] = [:]
    private var here: [String: [[DataIDValue]: DimensionRecord]] = [:]

    init(registry: Registry) { self.registry = registry }

    func add(_ record: DimensionRecord) {
        guard let element = registry.universe[record.element], let key = Self.key(of: record, element: element) else { return }
        imported[record.element, default: [:]][key] = record
    }

    func existing(_ record: DimensionRecord) throws -> DimensionRecord? {
        guard let element = registry.universe[record.element], element.isDimension, let key = Self.key(of: record, element: element) else { return nil }
        return try hereRecords(element)[key]
    }

    /// The record of `element` that a data ID names.
    func record(_ element: String, _ values: [String: DataIDValue], universe: DimensionUniverse) throws -> DimensionRecord? {
        guard let e = universe[element], e.hasTable, e.isDimension, let own = values[element] else { return nil }
        var key: [DataIDValue] = []
        for r in e.requires { guard let v = values[r] else { return nil }; key.append(v) }
        key.append(own)
        return try imported[element]?[key] ?? hereRecords(e)[key]
    }

    /// A full data ID (required and implied values) for a type, from its required values.
    func expand(_ given: [String: DataIDValue], type: DatasetType, universe: DimensionUniverse) throws -> [String: DataIDValue] {
        var values: [String: DataIDValue] = [:]
        for name in type.dimensions.required {
            guard let value = given[name] else {
                throw ButlerError(.invalidValue, "'\(type.name)' data ID \(ImportPlan.describe(given)) has no value for '\(name)'")
            }
            values[name] = try Self.typed(value, universe[name]!, type: type.name)
            try universe.checkSkyPixValue(name, values[name]!)
        }
        var missing = type.dimensions.implied.filter { values[$0] == nil }
        while !missing.isEmpty {
            let before = missing.count
            for name in missing {
                // An element of the data ID that implies it gives its value.
                for element in values.keys.sorted() where universe[element]?.implies.contains(name) == true {
                    if let record = try record(element, values, universe: universe) {
                        if let v = record[name]?.dataIDValue { values[name] = v }
                        break
                    }
                }
            }
            missing = missing.filter { values[$0] == nil }
            if missing.count == before {
                let element = type.dimensions.required.last { universe[$0]?.implies.isEmpty == false } ?? type.dimensions.required.last ?? type.name
                throw ButlerError(.notFound, "'\(type.name)' \(ImportPlan.describe(given)): no \(element) record gives \(missing.joined(separator: ", ")) (not in the import, not here)")
            }
        }
        // Every required value's record must exist somewhere, or the dataset would name nothing.
        for name in type.dimensions.required {
            guard let e = universe[name], e.hasTable, e.isDimension else { continue }
            if try record(name, values, universe: universe) == nil {
                throw ButlerError(.notFound, "'\(type.name)' \(ImportPlan.describe(given)): no \(name) record \(values[name]!) (not in the import, not here)")
            }
        }
        return values
    }

    private static func typed(_ value: DataIDValue, _ dim: DimensionElement, type: String) throws -> DataIDValue {
        let given: DimensionValue = switch value { case .int(let n): .int(n); case .string(let t): .string(t) }
        return try ImportPlan.typedValue(given, type: dim.primaryKey?.type, what: "'\(type)' data ID: \(dim.name)").dataIDValue ?? value
    }

    private func hereRecords(_ element: DimensionElement) throws -> [[DataIDValue]: DimensionRecord] {
        if let cached = here[element.name] { return cached }
        var index: [[DataIDValue]: DimensionRecord] = [:]
        for record in try registry.fetchDimensionRecords(element.name) {
            if let key = Self.key(of: record, element: element) { index[key] = record }
        }
        here[element.name] = index
        return index
    }

    static func key(of record: DimensionRecord, element: DimensionElement) -> [DataIDValue]? {
        guard let primary = element.primaryKey else { return nil }
        var key: [DataIDValue] = []
        for r in element.requires { guard let v = record[r]?.dataIDValue else { return nil }; key.append(v) }
        guard let own = record[primary.name]?.dataIDValue else { return nil }
        key.append(own)
        return key
    }
}
