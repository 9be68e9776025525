import Foundation

// MARK: - From and to ExportContents

extension ZipIndex {
    /// The member name Rubin gives a file: the first 8 hex digits of its first dataset's id, `-`, and the basename
    /// of its path (`f4852260-raw_LATISS_….fits`). A member of a stored Zip keeps its name when it has this form
    /// already (so that a Zip of datasets ingested from a Zip holds the same members, under the same Zip name).
    public static func memberName(for file: ExportedFile) -> String {
        let prefix = file.refs.first.map { String($0.id.lowercasedString.prefix(8)) } ?? "00000000"
        let path = ZipMemberPath(recordedPath: file.path)?.member ?? file.path
        let base = path.split(separator: "/", omittingEmptySubsequences: true).last.map(String.init) ?? path
        return base.hasPrefix(prefix + "-") && ZipMemberPath(recordedPath: file.path) != nil ? base : prefix + "-" + base
    }

    /// A formatter for a file whose export has none: Rubin's FITS exposure formatter for exposure and image storage
    /// classes, its generic FITS formatter otherwise. (Rubin imports every formatter it reads, so it must be a real
    /// class path.)
    public static func fallbackFormatter(storageClass: String) -> String {
        let exposureLike = ["Exposure", "ExposureF", "ExposureI", "ExposureD", "ImageF", "ImageI", "ImageD", "ImageU",
                            "MaskedImageF", "MaskedImageI", "MaskedImageD", "MaskX", "Mask"]
        return exposureLike.contains(storageClass)
            ? "lsst.obs.base.formatters.fitsExposure.FitsExposureFormatter"
            : "lsst.obs.base.formatters.fitsGeneric.FitsGenericFormatter"
    }

    /// The index of a Zip holding `contents`' files.
    ///
    /// Data IDs get their implied values from the contents' dimension records; dataset types keep their required
    /// dimensions only. Every element the dataset types' dimensions reach is listed under `dimension_records`,
    /// empty when the contents have none of its records (as Rubin writes it). Collections, tags, certifications
    /// and provenance are not part of an index.
    ///
    /// - Parameters:
    ///   - memberNames: the member name of each file (Rubin's naming by default).
    ///   - universe: the universe the contents' dimension names and records belong to.
    /// - Throws: ``ButlerError/Code/invalidValue`` for a dataset of an unlisted dataset type, an unknown dimension,
    ///   a file without datasets or two files with the same member name.
    public init(_ contents: ExportContents, memberNames: (ExportedFile) -> String = ZipIndex.memberName(for:), universe: DimensionUniverse) throws {
        let order = RubinOrder(universe)
        var datasetTypes: [String: DatasetType] = [:]
        var groups: [String: DimensionGroup] = [:]
        for type in contents.datasetTypes {
            let group = try universe.group(type.dimensions)
            groups[type.name] = group
            datasetTypes[type.name] = DatasetType(name: type.name, storageClass: type.storageClass,
                                                  dimensions: order.sorted(group.required), isCalibration: type.isCalibration)
        }
        let records = RecordLookup(contents.dimensionRecords, universe: universe)
        var compactRefs: [String: CompactRef] = [:]
        var artifactMap: [String: Artifact] = [:]
        var reached = Set<String>()
        for datasets in contents.datasets {
            guard let group = groups[datasets.datasetType], let type = datasetTypes[datasets.datasetType] else {
                throw ButlerError(.invalidValue, "datasets of type '\(datasets.datasetType)' in RUN '\(datasets.run)' have no dataset type entry")
            }
            reached.formUnion(group.names)
            for file in datasets.files {
                guard !file.refs.isEmpty else { throw ButlerError(.invalidValue, "file \(file.path) holds no dataset") }
                for ref in file.refs {
                    compactRefs[ref.id.lowercasedString] = CompactRef(datasetTypeName: datasets.datasetType, run: datasets.run,
                                                                      dataId: records.expand(ref.dataId, group: group))
                }
                let member = memberNames(file)
                if let existing = artifactMap[member] {
                    // The same file listed under several dataset types or runs is one member.
                    guard existing.info.path == file.path else {
                        throw ButlerError(.invalidValue, "two files have the Zip member name \(member): \(existing.info.path) and \(file.path)")
                    }
                    artifactMap[member]!.ids += file.refs.map(\.id).filter { !existing.ids.contains($0) }
                    continue
                }
                let info = FileInfo(formatter: file.formatter ?? Self.fallbackFormatter(storageClass: type.storageClass), path: file.path,
                                    storageClass: type.storageClass, checksum: file.checksum.flatMap(Checksum.prefixed), fileSize: file.size ?? 0)
                artifactMap[member] = Artifact(info: info, ids: file.refs.map(\.id))
            }
        }
        // Every element whose required dimensions the dataset types span has an entry, as in Rubin's index (Rubin's
        // reader looks each of them up, band included).
        var dimensionRecords: [String: [[Value]]] = [:]
        for element in universe.elements {
            let needs = universe.requiredDimensions(of: element.name) + (element.isDimension ? [element.name] : [])
            if needs.allSatisfy(reached.contains) { dimensionRecords[element.name] = [] }
        }
        // An element without a table of its own (band) has the distinct values of the column that holds it.
        for element in universe.elements where !element.hasTable && dimensionRecords[element.name] != nil {
            guard let source = element.viewOf else { continue }
            let keys = universe.requiredDimensions(of: element.name) + [element.name]
            var seen = Set<[Value]>()
            for group in contents.dimensionRecords where group.element == source {
                for record in group.records {
                    let row = keys.map { RecordField.plain($0, .string).value(in: record) }
                    if !row.contains(.null), seen.insert(row).inserted { dimensionRecords[element.name]!.append(row) }
                }
            }
        }
        for group in contents.dimensionRecords {
            guard let element = universe[group.element], element.hasTable else {
                throw ButlerError(.invalidValue, "dimension records of unknown element '\(group.element)'")
            }
            let fields = order.recordFields(of: element)
            dimensionRecords[element.name, default: []] += group.records.map { record in fields.map { $0.value(in: record) } }
        }
        self.init(refs: Refs(universeVersion: contents.universeVersion, universeNamespace: contents.universeNamespace,
                             datasetTypes: datasetTypes, compactRefs: compactRefs, dimensionRecords: dimensionRecords),
                  artifactMap: artifactMap)
    }

    /// The contents this index describes, in `universe`: each file's path is its member name, its size the
    /// index's `file_size`, its checksum the index's when it is one of ours (`sha256:`), and data IDs keep their
    /// required values only.
    ///
    /// Collections are one RUN per run named; there are no tags or certifications (an index has none).
    /// - Parameter source: names the Zip in errors.
    /// - Throws: ``ButlerError/Code/invalidValue`` for another universe namespace or a newer universe version, a
    ///   dataset of an unknown dataset type, a data ID with a key its dataset type's dimensions lack, an id in
    ///   `artifact_map` without its `compact_refs` entry, an unknown dimension or element, or a malformed record.
    public func exportContents(universe: DimensionUniverse, source: String) throws -> ExportContents {
        guard refs.universeNamespace == universe.namespace else {
            throw ButlerError(.invalidValue, "\(source): its universe namespace is '\(refs.universeNamespace)', not '\(universe.namespace)'")
        }
        // An older version of the same universe reads as Rubin reads it; a newer one has dimensions this butler lacks.
        guard refs.universeVersion >= 0, refs.universeVersion <= universe.version else {
            throw ButlerError(.invalidValue, "\(source): its universe_version is \(refs.universeVersion), which this butler does not know (its '\(universe.namespace)' universe is version \(universe.version))")
        }
        let order = RubinOrder(universe)
        var contents = ExportContents()
        contents.universeNamespace = refs.universeNamespace
        contents.universeVersion = refs.universeVersion

        var groups: [String: DimensionGroup] = [:]
        for (key, type) in refs.datasetTypes.sorted(by: { $0.key < $1.key }) {
            let group: DimensionGroup
            do {
                group = try universe.group(type.dimensions)
            } catch let error as ButlerError {
                throw ButlerError(.invalidValue, "\(source): dataset type '\(key)': \(error.message)")
            }
            groups[key] = group
            contents.datasetTypes.append(ExportedDatasetType(name: key, storageClass: type.storageClass,
                                                             dimensions: universe.sorted(group.names), isCalibration: type.isCalibration))
        }
        var requiredIds: [String: ExportedRef] = [:]
        var compactById: [String: CompactRef] = [:]
        for (idText, ref) in refs.compactRefs {
            guard let id = UUID(registryText: idText) else {
                throw ButlerError(.invalidValue, "\(source): compact_refs key '\(idText)' is not a UUID")
            }
            guard let group = groups[ref.datasetTypeName] else {
                throw ButlerError(.invalidValue, "\(source): dataset \(idText) is of dataset type '\(ref.datasetTypeName)', which the index does not define")
            }
            // A key the dataset type's dimensions lack is refused rather than dropped: the sender meant a data ID
            // this repository cannot hold.
            let known = Set(group.names)
            if let extra = ref.dataId.keys.filter({ !known.contains($0) }).sorted().first {
                throw ButlerError(.invalidValue, "\(source): data ID of dataset \(idText) has the key '\(extra)', which is not a dimension of dataset type '\(ref.datasetTypeName)' (\(group.names.joined(separator: ", ")))")
            }
            var dataId: [String: DataIDValue] = [:]
            for name in group.required {
                guard let value = ref.dataId[name] else {
                    throw ButlerError(.invalidValue, "\(source): data ID of dataset \(idText) lacks required dimension '\(name)'")
                }
                dataId[name] = try Self.typed(value, dimension: universe[name]!, source: source, dataset: idText)
            }
            requiredIds[id.lowercasedString] = ExportedRef(id: id, dataId: dataId)
            compactById[id.lowercasedString] = ref
        }
        // Files by (dataset type, run); a file holding datasets of several types or runs appears under each.
        var byTypeRun: [String: [String: [ExportedFile]]] = [:]
        for member in artifactMap.keys.sorted() {
            let artifact = artifactMap[member]!
            var parts: [String: [String: [ExportedRef]]] = [:]
            var partOrder: [(String, String)] = []
            for id in artifact.ids {
                let text = id.lowercasedString
                guard let ref = requiredIds[text], let compact = compactById[text] else {
                    throw ButlerError(.invalidValue, "\(source): member \(member) holds dataset \(text), which compact_refs does not describe")
                }
                if parts[compact.datasetTypeName]?[compact.run] == nil { partOrder.append((compact.datasetTypeName, compact.run)) }
                parts[compact.datasetTypeName, default: [:]][compact.run, default: []].append(ref)
            }
            guard !partOrder.isEmpty else { throw ButlerError(.invalidValue, "\(source): member \(member) holds no dataset") }
            let checksum = artifact.info.checksum.flatMap { $0.hasPrefix("sha256:") ? Checksum.prefixed($0) : nil }
            for (type, run) in partOrder {
                let file = ExportedFile(refs: parts[type]![run]!, path: member, formatter: artifact.info.formatter,
                                        size: artifact.info.fileSize, checksum: checksum)
                byTypeRun[type, default: [:]][run, default: []].append(file)
            }
        }
        for type in byTypeRun.keys.sorted() {
            for run in byTypeRun[type]!.keys.sorted() {
                contents.datasets.append(ExportedDatasets(datasetType: type, run: run, files: byTypeRun[type]![run]!))
            }
        }
        let runs = Set(refs.compactRefs.values.map(\.run))
        contents.collections = runs.sorted().map { ExportedCollection(name: $0, type: .run) }

        for (name, rows) in (refs.dimensionRecords ?? [:]) {
            guard let element = universe[name] else {
                throw ButlerError(.invalidValue, "\(source): dimension_records names unknown element '\(name)'")
            }
            guard element.hasTable, !rows.isEmpty else { continue }
            let fields = order.recordFields(of: element)
            let records = try rows.enumerated().map { i, row -> DimensionRecord in
                guard row.count == fields.count else {
                    throw ButlerError(.invalidValue, "\(source): record \(i + 1) of '\(name)' has \(row.count) values, expected \(fields.count) (\(fields.map(\.label).joined(separator: ", ")))")
                }
                var record = DimensionRecord(element: name, fields: [:])
                for (field, value) in zip(fields, row) {
                    try field.store(value, in: &record, source: source, index: i + 1)
                }
                return record
            }
            contents.dimensionRecords.append(ExportedElementRecords(element: name, records: records))
        }
        contents.dimensionRecords.sort { universe.position(of: $0.element) < universe.position(of: $1.element) }
        return contents
    }

    private static func typed(_ value: DataIDValue, dimension: DimensionElement, source: String, dataset: String) throws -> DataIDValue {
        switch (value, dimension.primaryKey?.type) {
        case (.string(let s), .int?):
            guard let i = Int(s) else {
                throw ButlerError(.invalidValue, "\(source): data ID value \(dimension.name)=\(s) of dataset \(dataset) is not an integer")
            }
            return .int(i)
        case (.int(let i), .string?):
            return .string(String(i))
        default:
            return value
        }
    }
}

// MARK: - Rubin's orders

/// Rubin's order of a universe's elements (dependency levels, names sorted within a level), which fixes the order
/// of required and implied dimensions in a record, and so the positions of values in the index's records.
private struct RubinOrder {
    let universe: DimensionUniverse
    let position: [String: Int]

    init(_ universe: DimensionUniverse) {
        self.universe = universe
        var todo = Set(universe.elements.map(\.name))
        var order: [String] = []
        while !todo.isEmpty {
            let unblocked = todo.filter { name in
                let e = universe[name]!
                return (e.requires + e.implies).allSatisfy { !todo.contains($0) }
            }.sorted()
            if unblocked.isEmpty { order += todo.sorted(); break }
            order += unblocked
            todo.subtract(unblocked)
        }
        position = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
    }

    func sorted<S: Sequence>(_ names: S) -> [String] where S.Element == String {
        names.sorted { (position[$0] ?? .max, $0) < (position[$1] ?? .max, $1) }
    }

    /// The fields of an element's records in Rubin's order.
    func recordFields(of element: DimensionElement) -> [RecordField] {
        var fields: [RecordField] = []
        for dep in sorted(universe.requiredDimensions(of: element.name)) {
            fields.append(.plain(dep, universe[dep]!.primaryKey!.type))
        }
        if let key = element.primaryKey { fields.append(.plain(key.name, key.type)) }
        for dep in sorted(element.implies) { fields.append(.plain(dep, universe[dep]!.primaryKey!.type)) }
        for key in element.keys.dropFirst() { fields.append(.plain(key.name, key.type)) }
        for column in element.metadata { fields.append(.plain(column.name, column.type)) }
        if element.isSpatial { fields.append(.plain("region", .string)) }
        if element.isTemporal { fields.append(.timespan) }
        return fields
    }
}

/// One value position in an index record.
private enum RecordField {
    case plain(String, DimensionColumn.ValueType)
    /// `timespan_begin` and `timespan_end`, as `[begin_ns, end_ns]`.
    case timespan

    var label: String {
        switch self {
        case .plain(let name, _): return name
        case .timespan: return "timespan"
        }
    }

    func value(in record: DimensionRecord) -> ZipIndex.Value {
        switch self {
        case .plain(let name, _):
            switch record[name] {
            case nil: return .null
            case .int(let i)?: return .int(Int64(i))
            case .float(let d)?: return .float(d)
            case .string(let s)?: return .string(s)
            case .bool(let b)?: return .bool(b)
            }
        case .timespan:
            func nanoseconds(_ field: String) -> Int64? {
                guard case .int(let i)? = record[field] else { return nil }
                return Int64(i)
            }
            let begin = nanoseconds("timespan_begin"), end = nanoseconds("timespan_end")
            if begin == nil && end == nil { return .null }
            // An instant (begin == end, a zero-second exposure) is one nanosecond long in Rubin's timespans.
            if let begin, let end, begin == end { return .array([.int(begin), .int(end + 1)]) }
            return .array([.int(begin ?? ZipIndex.unboundedBegin), .int(end ?? ZipIndex.unboundedEnd)])
        }
    }

    func store(_ value: ZipIndex.Value, in record: inout DimensionRecord, source: String, index: Int) throws {
        func bad() -> ButlerError {
            ButlerError(.invalidValue, "\(source): record \(index) of '\(record.element)' has a wrong value for '\(label)'")
        }
        switch self {
        case .plain(let name, let type):
            switch (value, type) {
            case (.null, _): record[name] = nil
            case (.int(let i), .int): record[name] = .int(Int(i))
            case (.float(let d), .int) where d == d.rounded() && abs(d) < 9e18: record[name] = .int(Int(d))
            case (.int(let i), .float): record[name] = .float(Double(i))
            case (.float(let d), .float): record[name] = .float(d)
            case (.string(let s), .string), (.string(let s), .hash): record[name] = .string(s)
            case (.int(let i), .string): record[name] = .string(String(i))
            case (.bool(let b), .bool): record[name] = .bool(b)
            case (.int(let i), .bool) where i == 0 || i == 1: record[name] = .bool(i == 1)
            default: throw bad()
            }
        case .timespan:
            switch value {
            case .null:
                record["timespan_begin"] = nil
                record["timespan_end"] = nil
            case .array(let pair) where pair.count == 2:
                guard case .int(let begin) = pair[0], case .int(let end) = pair[1] else { throw bad() }
                if begin >= end {
                    // Rubin's empty timespan ([2100, 1970]): no time known.
                    record["timespan_begin"] = nil
                    record["timespan_end"] = nil
                } else if end == begin + 1 {
                    // Rubin's padded instant: ours has begin == end.
                    record["timespan_begin"] = .int(Int(begin))
                    record["timespan_end"] = .int(Int(begin))
                } else {
                    record["timespan_begin"] = begin <= ZipIndex.unboundedBegin ? nil : .int(Int(begin))
                    record["timespan_end"] = end >= ZipIndex.unboundedEnd ? nil : .int(Int(end))
                }
            default:
                throw bad()
            }
        }
    }
}

/// Dimension records by element and primary key, for filling in implied data ID values.
private struct RecordLookup {
    let universe: DimensionUniverse
    var records: [String: [[DataIDValue]: DimensionRecord]] = [:]

    init(_ groups: [ExportedElementRecords], universe: DimensionUniverse) {
        self.universe = universe
        for group in groups {
            guard let element = universe[group.element], element.isDimension else { continue }
            let keys = DimensionSchema.keyColumns(of: element, in: universe).map(\.column)
            for record in group.records {
                let key = keys.compactMap { record[$0]?.dataIDValue }
                if key.count == keys.count { records[element.name, default: [:]][key] = record }
            }
        }
    }

    /// A required-only data ID with the implied values its records give.
    func expand(_ dataId: [String: DataIDValue], group: DimensionGroup) -> [String: DataIDValue] {
        var values = dataId
        let wanted = Set(group.names)
        var changed = true
        while changed {
            changed = false
            for name in group.names {
                guard values[name] != nil, let element = universe[name], !element.implies.isEmpty,
                      let byKey = records[name] else { continue }
                let keys = DimensionSchema.keyColumns(of: element, in: universe).map(\.dimension)
                let key = keys.compactMap { values[$0] }
                guard key.count == keys.count, let record = byKey[key] else { continue }
                for implied in element.implies where wanted.contains(implied) && values[implied] == nil {
                    if let value = record[implied]?.dataIDValue {
                        values[implied] = value
                        changed = true
                    }
                }
            }
        }
        return values
    }
}
