public import Foundation
internal import Yams

extension ExportYAML {
    /// Reads an `export.yaml` written by this butler or by Rubin's (`Butler.export`, format 1.0.0 to 1.0.x).
    ///
    /// Entries may come in any order, keys this reader does not know are ignored (a dimension record's fields are
    /// all kept: the registry refuses fields its universe lacks, as Rubin's does), a dataset type may list all its
    /// dimensions or only the required ones, a record may lack its `formatter`. UUIDs are taken with or without
    /// their `!uuid` tag, times with 0 to 9 fractional digits, validity ranges in both of Rubin's forms
    /// (`timespan: !lsst.daf.butler.Timespan {begin, end}` and the older `{begin, end, dataset_ids}`). Untagged
    /// plain scalars are typed as PyYAML types them (`0` an integer, `'0'` a string). A file without
    /// `universe_version` is read as universe version 0, as Rubin reads it; a `daf_butler` universe version newer
    /// than the one this butler ships (``DimensionUniverse/makeDefault()``) is refused.
    ///
    /// The result lists dimension records by element in file order, collections with every CHAINED one after its
    /// child chains, dataset types once each.
    ///
    /// - Throws: ``ButlerError/Code/io`` when the file cannot be read; ``ButlerError/Code/invalidValue``, naming
    ///   the file and the reason, when it is not YAML, not a mapping, lacks `version` or `data`, has a format
    ///   version other than 1.0.x, a `daf_butler` universe version newer than this butler's, an entry of unknown
    ///   `type`, a dataset record whose `dataset_id` and `data_id` lists differ in length, or a malformed UUID or time.
    public static func read(_ url: URL) throws -> ExportContents {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw ButlerError(.io, "cannot read export file \(url.path): \(error.localizedDescription)")
        }
        return try parse(text, source: url.path)
    }

    /// Reads export YAML text; `source` names it in error messages.
    public static func parse(_ text: String, source: String) throws -> ExportContents {
        let root: Node?
        do {
            root = try YAMLLoader.compose(text, resolver: .basic)
        } catch {
            throw ButlerError(.invalidValue, "cannot read export file \(source): not valid YAML: \(describeYAMLError(error))")
        }
        do {
            guard let root else { throw ReadProblem("the file is empty") }
            var reader = ExportReader()
            try reader.read(root)
            return reader.finish()
        } catch let problem as ReadProblem {
            throw ButlerError(.invalidValue, "cannot read export file \(source): \(problem.message)")
        }
    }
}

/// The universe this butler ships (`Resources/dimensions.yaml`), read once, against which `universe_version` is checked.
private let shippedUniverse: DimensionUniverse? = try? DimensionUniverse.makeDefault()

private struct ReadProblem: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

private let strTag = Tag.Name.str.rawValue

/// The scalars of a composed tree, as PyYAML's safe loader sees them.
private extension Node {
    /// The value for a key of a mapping node.
    func at(_ key: String) -> Node? {
        guard case .mapping(let m) = self else { return nil }
        for (k, v) in m where k.scalar?.string == key { return v }
        return nil
    }

    /// Whether this is an untagged plain scalar (typed by its text).
    var isImplicitScalar: Bool {
        guard case .scalar(let s) = self else { return false }
        return s.style == .plain && (s.tag.rawValue.isEmpty || s.tag.rawValue == "!")
    }

    /// The explicit tag of a node (`!uuid`, `lsst.sphgeom.ConvexPolygon`), or `nil`.
    var explicitTag: String? {
        let raw: String
        switch self {
        case .scalar(let s): raw = s.tag.rawValue
        case .mapping(let m): raw = m.tag.rawValue
        case .sequence(let q): raw = q.tag.rawValue
        case .alias: return nil
        }
        return raw.isEmpty || raw == "!" || raw == strTag ? nil : raw
    }

    var isNullValue: Bool {
        guard case .scalar(let s) = self else { return false }
        if s.tag.rawValue == Tag.Name.null.rawValue { return true }
        return isImplicitScalar && YAMLPlainScalar.resolve(s.string) == .null
    }

    /// A short rendering for messages.
    var shown: String {
        switch self {
        case .scalar(let s): return "'\(s.string.count > 80 ? String(s.string.prefix(80)) + "..." : s.string)'"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }
}

private struct ExportReader {
    var contents = ExportContents()
    var elementIndex: [String: Int] = [:]
    var typeIndex: [String: Int] = [:]
    var datasetIndex: [String: Int] = [:]
    var tagIndex: [String: Int] = [:]
    var certificationIndex: [String: Int] = [:]
    var collectionIndex: [String: Int] = [:]

    mutating func read(_ root: Node) throws {
        guard case .mapping = root else { throw ReadProblem("the top level is not a mapping") }
        guard let versionNode = root.at("version") else { throw ReadProblem("missing 'version' (the export format version)") }
        try checkVersion(versionNode)
        if let v = root.at("universe_version"), !v.isNullValue {
            guard let s = v.scalar, case .int(let n) = YAMLPlainScalar.resolve(s.string) else {
                throw ReadProblem("universe_version \(v.shown) is not an integer")
            }
            contents.universeVersion = n
        } else {
            contents.universeVersion = 0
        }
        if let ns = root.at("universe_namespace"), !ns.isNullValue, let s = ns.scalar {
            contents.universeNamespace = s.string
        }
        try checkUniverseVersion()
        guard let data = root.at("data") else { throw ReadProblem("missing 'data' (the list of entries)") }
        if data.isNullValue { return }
        guard case .sequence(let entries) = data else { throw ReadProblem("'data' is not a list") }
        for (i, entry) in entries.enumerated() {
            guard case .mapping = entry else { throw ReadProblem("data entry \(i + 1) is not a mapping") }
            guard let type = entry.at("type")?.scalar?.string else { throw ReadProblem("data entry \(i + 1) has no 'type'") }
            let place = "data entry \(i + 1) (\(type))"
            switch type {
            case "dimension": try readDimension(entry, place: place)
            case "collection": try readCollection(entry, place: place)
            case "run":
                // The oldest form of a RUN: a name only.
                try addCollection(ExportedCollection(name: try string(entry, "name", place), type: .run), place: place)
            case "dataset_type": try readDatasetType(entry, place: place)
            case "dataset": try readDatasets(entry, place: place)
            case "associations": try readAssociations(entry, place: place)
            default:
                throw ReadProblem("\(place): unknown entry type '\(type)' (known: dimension, collection, dataset_type, dataset, associations)")
            }
        }
    }

    func checkVersion(_ node: Node) throws {
        guard let text = node.scalar?.string else { throw ReadProblem("'version' \(node.shown) is not a version") }
        if text == "0" { return }  // What Rubin wrote before versioning: read as 1.0.0.
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map { Int($0) }
        guard (2...3).contains(parts.count), parts.allSatisfy({ $0 != nil }) else {
            throw ReadProblem("export format version '\(text)' is not a version (MAJOR.MINOR.PATCH)")
        }
        let major = parts[0]!, minor = parts[1]!
        if major > 1 || (major == 1 && minor > 0) {
            throw ReadProblem("export format version \(text) is newer than this butler reads (1.0.x)")
        }
        if major < 1 { throw ReadProblem("export format version \(text) is older than this butler reads (1.0.x)") }
    }

    /// Refuses a version of the shipped universe's namespace that this butler does not have: a newer one (its
    /// dimensions and record fields are not known here) or a negative one. Older versions of the same universe are
    /// read as before, as Rubin reads them (only a version below 6 would need Rubin's migrations). Files of another
    /// namespace are left to the repository that imports them.
    func checkUniverseVersion() throws {
        guard let shipped = shippedUniverse, contents.universeNamespace == shipped.namespace else { return }
        let version = contents.universeVersion
        if version > shipped.version {
            throw ReadProblem("universe_version \(version) is newer than this butler's '\(shipped.namespace)' universe (version \(shipped.version)); an export of a newer universe cannot be read")
        }
        if version < 0 { throw ReadProblem("universe_version \(version) is not a universe version") }
    }

    func finish() -> ExportContents {
        var result = contents
        result.dimensionRecords.removeAll { $0.records.isEmpty }
        // Chains after everything else, each after the chains it contains (file order otherwise).
        let plain = result.collections.filter { $0.type != .chained }
        let chains = result.collections.filter { $0.type == .chained }
        let byName = Dictionary(chains.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var ordered: [ExportedCollection] = []
        var placed = Set<String>()
        var visiting = Set<String>()
        func place(_ c: ExportedCollection) {
            guard !placed.contains(c.name), visiting.insert(c.name).inserted else { return }
            for child in c.children { if let sub = byName[child] { place(sub) } }
            placed.insert(c.name)
            ordered.append(c)
        }
        for c in chains { place(c) }
        result.collections = plain + ordered
        return result
    }

    // MARK: Scalars

    func string(_ entry: Node, _ key: String, _ place: String) throws -> String {
        guard let node = entry.at(key), !node.isNullValue else { throw ReadProblem("\(place): missing '\(key)'") }
        guard let s = node.scalar else { throw ReadProblem("\(place): '\(key)' is \(node.shown), not a string") }
        return s.string
    }

    func optionalString(_ entry: Node, _ key: String, _ place: String) throws -> String? {
        guard let node = entry.at(key), !node.isNullValue else { return nil }
        guard let s = node.scalar else { throw ReadProblem("\(place): '\(key)' is \(node.shown), not a string") }
        return s.string
    }

    func strings(_ node: Node?, _ what: String, _ place: String) throws -> [String] {
        guard let node, !node.isNullValue else { return [] }
        guard case .sequence(let items) = node else { throw ReadProblem("\(place): '\(what)' is not a list") }
        return try items.map { item in
            guard let s = item.scalar else { throw ReadProblem("\(place): '\(what)' holds \(item.shown), not a name") }
            return s.string
        }
    }

    func uuid(_ node: Node, _ place: String) throws -> UUID {
        guard let s = node.scalar else { throw ReadProblem("\(place): dataset id \(node.shown) is not a UUID") }
        if let tag = node.explicitTag, tag != ExportYAML.uuidTag {
            throw ReadProblem("\(place): dataset id '\(s.string)' has tag \(tag), not !uuid")
        }
        guard s.string.utf8.count == 36 || s.string.utf8.count == 32, let id = UUID(registryText: s.string) else {
            throw ReadProblem("\(place): dataset id '\(s.string)' is not a UUID")
        }
        return id
    }

    func uuids(_ node: Node?, _ place: String) throws -> [UUID] {
        guard let node, !node.isNullValue else { return [] }
        if case .sequence(let items) = node { return try items.map { try uuid($0, place) } }
        return [try uuid(node, place)]
    }

    /// A time bound: `!butler_time/tai/iso '…'` (or, leniently, an untagged text or YAML timestamp in TAI), `nil`
    /// for null.
    func time(_ node: Node?, _ what: String, _ place: String, untaggedScale: TAITime.Scale = .tai) throws -> TAITime? {
        guard let node, !node.isNullValue else { return nil }
        guard let s = node.scalar else { throw ReadProblem("\(place): \(what) is \(node.shown), not a time") }
        if let tag = node.explicitTag, tag != ExportYAML.timeTag, tag != Tag.Name.timestamp.rawValue {
            throw ReadProblem("\(place): \(what) '\(s.string)' has tag \(tag), not \(ExportYAML.timeTag)")
        }
        let scale: TAITime.Scale = node.explicitTag == ExportYAML.timeTag ? .tai : untaggedScale
        guard let t = ExportYAML.parseISO(s.string, scale: scale) else {
            throw ReadProblem("\(place): \(what) '\(s.string)' is not a time (YYYY-MM-DD HH:MM:SS[.fffffffff] TAI)")
        }
        return t
    }

    func timespan(_ node: Node, _ place: String) throws -> Timespan {
        if case .scalar(let s) = node {
            if s.string == "EMPTY" { return .empty }
            throw ReadProblem("\(place): timespan '\(s.string)' is neither a {begin, end} mapping nor EMPTY")
        }
        guard case .mapping = node else { throw ReadProblem("\(place): timespan is \(node.shown), not a {begin, end} mapping") }
        if let tag = node.explicitTag, tag != ExportYAML.timespanTag {
            throw ReadProblem("\(place): timespan has tag \(tag), not \(ExportYAML.timespanTag)")
        }
        return Timespan(begin: try time(node.at("begin"), "begin", place), end: try time(node.at("end"), "end", place))
    }

    // MARK: Entries

    mutating func readDimension(_ entry: Node, place: String) throws {
        let element = try string(entry, "element", place)
        let place = "\(place) '\(element)'"
        var records: [DimensionRecord] = []
        if let list = entry.at("records"), !list.isNullValue {
            guard case .sequence(let items) = list else { throw ReadProblem("\(place): 'records' is not a list") }
            records.reserveCapacity(items.count)
            for (i, item) in items.enumerated() {
                // The place is named only on failure (building it for every record costs more than the record).
                do {
                    records.append(try dimensionRecord(item, element: element, place: ""))
                } catch let problem as ReadProblem {
                    throw ReadProblem("\(place) record \(i + 1)\(problem.message)")
                }
            }
        }
        if let i = elementIndex[element] {
            contents.dimensionRecords[i].records += records
        } else {
            elementIndex[element] = contents.dimensionRecords.count
            contents.dimensionRecords.append(ExportedElementRecords(element: element, records: records))
        }
    }

    func dimensionRecord(_ node: Node, element: String, place: String) throws -> DimensionRecord {
        guard case .mapping(let m) = node else { throw ReadProblem("\(place): not a mapping") }
        var fields: [String: DimensionValue] = [:]
        for (k, v) in m {
            guard let key = k.scalar?.string else { throw ReadProblem("\(place): a field name is not a string") }
            if v.isNullValue { continue }
            switch key {
            case "datetime_begin", "datetime_end":
                // Rubin's older files wrote native YAML timestamps, which it reads as UTC.
                let untagged: TAITime.Scale = v.explicitTag == nil && v.isImplicitScalar ? .utc : .tai
                if let t = try time(v, key, place, untaggedScale: untagged) {
                    fields[key == "datetime_begin" ? "timespan_begin" : "timespan_end"] = .int(Int(t.nanoseconds))
                }
            case "timespan":
                let span = try timespan(v, place)
                if let b = span.begin { fields["timespan_begin"] = .int(Int(b.nanoseconds)) }
                if let e = span.end { fields["timespan_end"] = .int(Int(e.nanoseconds)) }
            default:
                fields[key] = try recordValue(v, key: key, place: place)
            }
        }
        return DimensionRecord(element: element, fields: fields)
    }

    func recordValue(_ node: Node, key: String, place: String) throws -> DimensionValue {
        let tag = node.explicitTag
        if case .mapping = node {
            // A region: !<lsst.sphgeom.ConvexPolygon> {encoded: <hex>}.
            guard let encoded = node.at("encoded")?.scalar?.string,
                  tag == nil || tag!.hasPrefix("lsst.sphgeom.") || tag!.hasPrefix("!lsst.sphgeom.") else {
                throw ReadProblem("\(place): field '\(key)' is a mapping that is not a region")
            }
            return .string(encoded.lowercased())
        }
        guard let s = node.scalar else { throw ReadProblem("\(place): field '\(key)' is \(node.shown), not a value") }
        guard let tag else {
            guard node.isImplicitScalar else { return .string(s.string) }
            switch YAMLPlainScalar.resolve(s.string) {
            case .int(let v): return .int(v)
            case .float(let v): return .float(v)
            case .bool(let v): return .bool(v)
            case .null: return .string("")
            case .string(let t), .timestamp(let t), .special(let t): return .string(t)
            }
        }
        switch tag {
        case Tag.Name.binary.rawValue:
            let compact = s.string.filter { !$0.isWhitespace }
            guard let data = Data(base64Encoded: compact) else {
                throw ReadProblem("\(place): field '\(key)' is not valid base64")
            }
            return .string(data.map { String(format: "%02x", $0) }.joined())
        case Tag.Name.int.rawValue:
            guard case .int(let v) = YAMLPlainScalar.resolve(s.string) else { throw ReadProblem("\(place): field '\(key)' '\(s.string)' is not an integer") }
            return .int(v)
        case Tag.Name.float.rawValue:
            switch YAMLPlainScalar.resolve(s.string) {
            case .float(let v): return .float(v)
            case .int(let v): return .float(Double(v))
            default: throw ReadProblem("\(place): field '\(key)' '\(s.string)' is not a number")
            }
        case Tag.Name.bool.rawValue:
            guard case .bool(let v) = YAMLPlainScalar.resolve(s.string) else { throw ReadProblem("\(place): field '\(key)' '\(s.string)' is not a boolean") }
            return .bool(v)
        case ExportYAML.timeTag:
            return .int(Int(try time(node, key, place)!.nanoseconds))
        default:
            return .string(s.string)
        }
    }

    mutating func addCollection(_ c: ExportedCollection, place: String) throws {
        if let i = collectionIndex[c.name] {
            guard contents.collections[i].type == c.type else {
                throw ReadProblem("\(place): collection '\(c.name)' is listed twice, as \(contents.collections[i].type) and \(c.type)")
            }
            contents.collections[i] = c
            return
        }
        collectionIndex[c.name] = contents.collections.count
        contents.collections.append(c)
    }

    mutating func readCollection(_ entry: Node, place: String) throws {
        let name = try string(entry, "name", place)
        let place = "\(place) '\(name)'"
        let typeName = try string(entry, "collection_type", place)
        guard let type = CollectionType(name: typeName) else {
            throw ReadProblem("\(place): unknown collection_type '\(typeName)' (RUN, TAGGED, CALIBRATION or CHAINED)")
        }
        var c = ExportedCollection(name: name, type: type, doc: try optionalString(entry, "doc", place))
        switch type {
        case .run:
            c.host = try optionalString(entry, "host", place)
            let begin = try time(entry.at("timespan_begin"), "timespan_begin", place)
            let end = try time(entry.at("timespan_end"), "timespan_end", place)
            if begin != nil || end != nil { c.timespan = Timespan(begin: begin, end: end) }
        case .chained:
            guard let list = entry.at("children"), !list.isNullValue else { break }
            guard case .sequence(let items) = list else { throw ReadProblem("\(place): 'children' is not a list") }
            c.children = try items.map { item in
                // The oldest form: [child, dataset type restriction].
                if case .sequence(let pair) = item, let first = pair.first?.scalar { return first.string }
                guard let s = item.scalar else { throw ReadProblem("\(place): a child is \(item.shown), not a name") }
                return s.string
            }
        case .tagged, .calibration: break
        }
        try addCollection(c, place: place)
    }

    mutating func readDatasetType(_ entry: Node, place: String) throws {
        let name = try string(entry, "name", place)
        let place = "\(place) '\(name)'"
        let dimensions = try strings(entry.at("dimensions"), "dimensions", place)
        let storageClass = try string(entry, "storage_class", place)
        var isCalibration = false
        if let node = entry.at("is_calibration"), !node.isNullValue {
            guard let s = node.scalar, case .bool(let b) = YAMLPlainScalar.resolve(s.string) else {
                throw ReadProblem("\(place): is_calibration \(node.shown) is not true or false")
            }
            isCalibration = b
        }
        let type = ExportedDatasetType(name: name, storageClass: storageClass, dimensions: dimensions, isCalibration: isCalibration)
        if let i = typeIndex[name] {
            let known = contents.datasetTypes[i]
            guard known.storageClass == storageClass, known.isCalibration == isCalibration else {
                throw ReadProblem("\(place): dataset type '\(name)' is defined twice, differently (storage class \(known.storageClass) and \(storageClass))")
            }
            // Keep the longer list (all dimensions rather than the required ones).
            if dimensions.count > known.dimensions.count { contents.datasetTypes[i] = type }
            return
        }
        typeIndex[name] = contents.datasetTypes.count
        contents.datasetTypes.append(type)
    }

    mutating func readDatasets(_ entry: Node, place: String) throws {
        let datasetType = try string(entry, "dataset_type", place)
        let run = try string(entry, "run", place)
        let place = "\(place) '\(datasetType)' in '\(run)'"
        var files: [ExportedFile] = []
        if let list = entry.at("records"), !list.isNullValue {
            guard case .sequence(let items) = list else { throw ReadProblem("\(place): 'records' is not a list") }
            files.reserveCapacity(items.count)
            for (i, item) in items.enumerated() {
                do {
                    files.append(try file(item, place: ""))
                } catch let problem as ReadProblem {
                    throw ReadProblem("\(place) record \(i + 1)\(problem.message)")
                }
            }
        }
        let key = datasetType + "\u{0}" + run
        if let i = datasetIndex[key] {
            contents.datasets[i].files += files
        } else {
            datasetIndex[key] = contents.datasets.count
            contents.datasets.append(ExportedDatasets(datasetType: datasetType, run: run, files: files))
        }
    }

    func file(_ node: Node, place: String) throws -> ExportedFile {
        guard case .mapping(let m) = node else { throw ReadProblem("\(place): not a mapping") }
        var idsNode: Node?, dataIdsNode: Node?, pathNode: Node?, formatterNode: Node?, sizeNode: Node?, checksumNode: Node?, hduNode: Node?
        for (k, v) in m {
            switch k.scalar?.string {
            case "dataset_id": idsNode = v
            case "data_id": dataIdsNode = v
            case "path": pathNode = v
            case "formatter": formatterNode = v
            case "file_size": sizeNode = v
            case "checksum": checksumNode = v
            case "hdu": hduNode = v
            default: break
            }
        }
        let ids = try uuids(idsNode, place)
        var dataIds: [[String: DataIDValue]] = []
        if let dataIdsNode, !dataIdsNode.isNullValue {
            if case .sequence(let items) = dataIdsNode {
                dataIds = try items.map { try dataId($0, place) }
            } else {
                dataIds = [try dataId(dataIdsNode, place)]
            }
        }
        guard ids.count == dataIds.count else {
            throw ReadProblem("\(place): \(ids.count) dataset id(s) but \(dataIds.count) data ID(s); the lists must be parallel")
        }
        guard let path = pathNode?.scalar?.string, !(pathNode?.isNullValue ?? true) else { throw ReadProblem("\(place): missing 'path'") }
        var file = ExportedFile(refs: zip(ids, dataIds).map { ExportedRef(id: $0, dataId: $1) }, path: path)
        if let f = formatterNode, !f.isNullValue { file.formatter = f.scalar?.string }
        if let n = sizeNode, !n.isNullValue {
            guard let s = n.scalar, case .int(let v) = YAMLPlainScalar.resolve(s.string), v >= 0 else {
                throw ReadProblem("\(place): file_size \(n.shown) is not a size in bytes")
            }
            file.size = Int64(v)
        }
        if let c = checksumNode, !c.isNullValue { file.checksum = c.scalar?.string }
        if let h = hduNode, !h.isNullValue {
            guard let s = h.scalar, case .int(let v) = YAMLPlainScalar.resolve(s.string) else {
                throw ReadProblem("\(place): hdu \(h.shown) is not an HDU number")
            }
            file.hdu = v
        }
        return file
    }

    func dataId(_ node: Node, _ place: String) throws -> [String: DataIDValue] {
        if node.isNullValue { return [:] }
        guard case .mapping(let m) = node else { throw ReadProblem("\(place): data ID \(node.shown) is not a mapping") }
        var result: [String: DataIDValue] = [:]
        result.reserveCapacity(m.count)
        for (k, v) in m {
            guard let key = k.scalar?.string, let s = v.scalar else {
                throw ReadProblem("\(place): data ID value \(v.shown) is not a scalar")
            }
            if v.isImplicitScalar {
                switch YAMLPlainScalar.resolve(s.string) {
                case .int(let i): result[key] = .int(i)
                case .null: continue
                default: result[key] = .string(s.string)
                }
            } else if v.explicitTag == Tag.Name.int.rawValue, case .int(let i) = YAMLPlainScalar.resolve(s.string) {
                result[key] = .int(i)
            } else {
                result[key] = .string(s.string)
            }
        }
        return result
    }

    mutating func readAssociations(_ entry: Node, place: String) throws {
        let collection = try string(entry, "collection", place)
        let place = "\(place) '\(collection)'"
        let typeName = try string(entry, "collection_type", place)
        switch CollectionType(name: typeName) {
        case .tagged?:
            let ids = try uuids(entry.at("dataset_ids"), place)
            if let i = tagIndex[collection] {
                contents.tags[i].ids += ids
            } else {
                tagIndex[collection] = contents.tags.count
                contents.tags.append(ExportedTags(collection: collection, ids: ids))
            }
        case .calibration?:
            var ranges: [ExportedCertifications.Range] = []
            if let list = entry.at("validity_ranges"), !list.isNullValue {
                guard case .sequence(let items) = list else { throw ReadProblem("\(place): 'validity_ranges' is not a list") }
                for (i, item) in items.enumerated() {
                    let where_ = "\(place) validity range \(i + 1)"
                    guard case .mapping = item else { throw ReadProblem("\(where_): not a mapping") }
                    let span: Timespan
                    if let t = item.at("timespan") {
                        span = t.isNullValue ? Timespan(begin: nil, end: nil) : try timespan(t, where_)
                    } else {
                        span = Timespan(begin: try time(item.at("begin"), "begin", where_), end: try time(item.at("end"), "end", where_))
                    }
                    ranges.append(.init(timespan: span, ids: try uuids(item.at("dataset_ids"), where_)))
                }
            }
            if let i = certificationIndex[collection] {
                contents.certifications[i].ranges += ranges
            } else {
                certificationIndex[collection] = contents.certifications.count
                contents.certifications.append(ExportedCertifications(collection: collection, ranges: ranges))
            }
        default:
            throw ReadProblem("\(place): associations of collection_type '\(typeName)' (only TAGGED and CALIBRATION have them)")
        }
    }
}
