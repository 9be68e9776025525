public import Foundation
internal import Glibc

extension ExportYAML {
    /// Writes `contents` as Rubin's `export.yaml` to `url`, streaming: the text goes to the file in chunks, without
    /// a YAML tree, so 100,000 datasets cost little memory. The file is written under a temporary name beside `url`
    /// and renamed into place, so no half-written file is ever left at `url`.
    ///
    /// The order is Rubin's: dimension entries in universe order, collections (non-CHAINED by name, then CHAINED
    /// with every child chain first), for each (dataset type, run) in order a `dataset_type` entry then its
    /// `dataset` entry, then associations by collection name. A dimension record's `timespan_begin`/`timespan_end`
    /// become `datetime_begin`/`datetime_end`, its `region` a `!<lsst.sphgeom.…>` mapping, its hashes `!!binary`.
    ///
    /// - Parameter universe: the universe the records follow (field order, dimension order, temporal elements).
    /// - Throws: ``ButlerError/Code/io`` when the file cannot be written.
    public static func write(_ contents: ExportContents, universe: DimensionUniverse, to url: URL) throws {
        let directory = url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(UUID().lowercasedString).tmp")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
            throw ButlerError(.io, "cannot write export file \(url.path): cannot create \(temporary.path)")
        }
        do {
            let handle = try FileHandle(forWritingTo: temporary)
            defer { try? handle.close() }
            var sink = Sink(handle: handle)
            try emit(contents, universe: universe, into: &sink)
            try sink.flush()
            try handle.synchronize()
            try handle.close()
            guard rename(temporary.path, url.path) == 0 else {
                throw ButlerError(.io, "cannot write export file \(url.path): \(String(cString: strerror(errno)))")
            }
        } catch let error as ButlerError {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw ButlerError(.io, "cannot write export file \(url.path): \(error.localizedDescription)")
        }
    }

    /// The text ``write(_:universe:to:)`` writes (for small contents and tests).
    public static func text(_ contents: ExportContents, universe: DimensionUniverse) -> String {
        var sink = Sink(handle: nil)
        try? emit(contents, universe: universe, into: &sink)
        return String(decoding: sink.buffer, as: UTF8.self)
    }

    /// A byte buffer that goes to a file every megabyte (or stays in memory without a file).
    struct Sink {
        let handle: FileHandle?
        var buffer: [UInt8] = []

        init(handle: FileHandle?) {
            self.handle = handle
            buffer.reserveCapacity(1 << 20 + 4096)
        }

        mutating func put(_ text: String) throws {
            buffer.append(contentsOf: text.utf8)
            if handle != nil && buffer.count >= 1 << 20 { try flush() }
        }

        mutating func flush() throws {
            guard let handle, !buffer.isEmpty else { return }
            try handle.write(contentsOf: buffer)
            buffer.removeAll(keepingCapacity: true)
        }
    }

    // MARK: Entries

    private static func emit(_ contents: ExportContents, universe: DimensionUniverse, into out: inout Sink) throws {
        try out.put("description: \(YAMLPlainScalar.quoted(fileDescription))\n")
        try out.put("version: \(YAMLPlainScalar.quoted(formatVersion))\n")
        try out.put("universe_version: \(contents.universeVersion)\n")
        try out.put("universe_namespace: \(YAMLPlainScalar.quoted(contents.universeNamespace))\n")
        let empty = contents.dimensionRecords.allSatisfy { $0.records.isEmpty } && contents.collections.isEmpty
            && contents.datasetTypes.isEmpty && contents.datasets.isEmpty && contents.tags.isEmpty && contents.certifications.isEmpty
        if empty {
            try out.put("data: []\n")
            return
        }
        try out.put("data:\n")
        try emitDimensions(contents.dimensionRecords, universe: universe, into: &out)
        try emitCollections(contents.collections, into: &out)
        try emitDatasets(contents, universe: universe, into: &out)
        try emitAssociations(contents, into: &out)
    }

    private static func emitDimensions(_ groups: [ExportedElementRecords], universe: DimensionUniverse, into out: inout Sink) throws {
        var byElement: [String: [DimensionRecord]] = [:]
        var seen: [String] = []
        for group in groups where !group.records.isEmpty {
            if byElement[group.element] == nil { seen.append(group.element) }
            byElement[group.element, default: []].append(contentsOf: group.records)
        }
        for name in rubinOrder(seen, universe: universe) {
            try out.put("- type: dimension\n  element: \(YAMLPlainScalar.quoted(name))\n  records:\n")
            let layout = RecordLayout(element: name, universe: universe)
            for record in byElement[name]! {
                try emitRecord(record, layout: layout, into: &out)
            }
        }
    }

    /// The fields of an element's records in Rubin's order: required dimensions, the element's key, implied
    /// dimensions, alternate keys, metadata, region, then the timespan split in two.
    private struct RecordLayout {
        var fields: [(name: String, isHash: Bool)] = []
        var isSpatial = false
        var isTemporal = false

        init(element name: String, universe: DimensionUniverse) {
            guard let element = universe[name] else { return }
            var fields = rubinOrder(universe.requiredDimensions(of: name), universe: universe).map { ($0, false) }
            if let key = element.primaryKey { fields.append((key.name, key.type == .hash)) }
            fields += element.implies.map { ($0, false) }
            fields += element.keys.dropFirst().map { ($0.name, $0.type == .hash) }
            fields += element.metadata.map { ($0.name, $0.type == .hash) }
            self.fields = fields
            isSpatial = element.isSpatial
            isTemporal = element.isTemporal
        }
    }

    private static func emitRecord(_ record: DimensionRecord, layout: RecordLayout, into out: inout Sink) throws {
        var line = ""
        var first = true
        func key(_ name: String) {
            line += first ? "  - " : "    "
            first = false
            line += YAMLPlainScalar.quoted(name) + ":"
        }
        var written = Set<String>()
        for (name, isHash) in layout.fields {
            written.insert(name)
            key(name)
            if isHash, case .string(let s)? = record.fields[name], let bytes = hexBytes(s) {
                // As PyYAML writes bytes: a literal block of base64 lines of 76 characters.
                let base64 = Array(Data(bytes).base64EncodedString().utf8)
                line += " !!binary |\n"
                for start in stride(from: 0, to: base64.count, by: 76) {
                    line += "      " + String(decoding: base64[start..<min(start + 76, base64.count)], as: UTF8.self) + "\n"
                }
                continue
            }
            line += " " + scalar(record.fields[name]) + "\n"
        }
        if layout.isSpatial {
            written.insert("region")
            key("region")
            line += region(record.fields["region"], indent: "      ")
        }
        // Fields the universe does not know (another universe's records) are kept, sorted, before the timespan.
        for name in record.fields.keys.sorted() where !written.contains(name) && name != "timespan_begin" && name != "timespan_end" {
            if name == "region" {
                key(name)
                line += region(record.fields[name], indent: "      ")
                continue
            }
            key(name)
            line += " " + scalar(record.fields[name]) + "\n"
        }
        let begin = record.fields["timespan_begin"], end = record.fields["timespan_end"]
        if begin != nil || end != nil {
            key("datetime_begin")
            line += " " + time(begin, isEnd: false) + "\n"
            key("datetime_end")
            line += " " + time(end, isEnd: true) + "\n"
        }
        if first { line = "  - {}\n" }
        try out.put(line)
    }

    private static func scalar(_ value: DimensionValue?) -> String {
        switch value {
        case nil: return "null"
        case .int(let v): return String(v)
        case .float(let v): return YAMLPlainScalar.float(v)
        case .bool(let v): return v ? "true" : "false"
        case .string(let s): return YAMLPlainScalar.quoted(s)
        }
    }

    /// A region value: ` null\n`, or the tag and, on the next line, `encoded: <hex>`.
    private static func region(_ value: DimensionValue?, indent: String) -> String {
        guard case .string(let hex)? = value else { return " null\n" }
        let kinds: [String: String] = ["70": "ConvexPolygon", "63": "Circle", "62": "Box", "65": "Ellipse",
                                       "75": "UnionRegion", "69": "IntersectionRegion"]
        let kind = kinds[String(hex.prefix(2)).lowercased()] ?? "ConvexPolygon"
        return " !<lsst.sphgeom.\(kind)>\n\(indent)encoded: \(YAMLPlainScalar.quoted(hex))\n"
    }

    /// A time bound from a record field (TAI nanoseconds), `null` when unbounded.
    private static func time(_ value: DimensionValue?, isEnd: Bool) -> String {
        guard case .int(let ns)? = value else { return "null" }
        return time(TAITime(nanoseconds: Int64(ns)), isEnd: isEnd)
    }

    private static func time(_ t: TAITime?, isEnd: Bool) -> String {
        guard let t else { return "null" }
        // Rubin's sentinels for unbounded (0, 2100-01-01 TAI), as its export writes them.
        if isEnd ? t.nanoseconds >= rubinMaxNanoseconds : t.nanoseconds == 0 { return "null" }
        return "\(timeTag) '\(isoText(t))'"
    }

    private static func hexBytes(_ s: String) -> [UInt8]? {
        let u = Array(s.utf8)
        guard !u.isEmpty, u.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return nil
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(u.count / 2)
        var i = 0
        while i < u.count {
            guard let h = nibble(u[i]), let l = nibble(u[i + 1]) else { return nil }
            bytes.append(h << 4 | l)
            i += 2
        }
        return bytes
    }

    private static func emitCollections(_ collections: [ExportedCollection], into out: inout Sink) throws {
        let plain = collections.filter { $0.type != .chained }.sorted { $0.name < $1.name }
        for c in plain {
            var text = "- type: collection\n  collection_type: \(c.type)\n  name: \(YAMLPlainScalar.quoted(c.name))\n"
            if let doc = c.doc { text += "  doc: \(YAMLPlainScalar.quoted(doc))\n" }
            if c.type == .run {
                text += "  host: \(c.host.map(YAMLPlainScalar.quoted) ?? "null")\n"
                text += "  timespan_begin: \(time(c.timespan?.begin, isEnd: false))\n"
                text += "  timespan_end: \(time(c.timespan?.end, isEnd: true))\n"
            }
            try out.put(text)
        }
        // Chains by name, each after every chain it contains (Rubin's importer sets chains in file order).
        let chains = collections.filter { $0.type == .chained }.sorted { $0.name < $1.name }
        let byName = Dictionary(chains.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var placed = Set<String>()
        var visiting = Set<String>()
        func place(_ c: ExportedCollection) throws {
            guard !placed.contains(c.name), visiting.insert(c.name).inserted else { return }
            for child in c.children { if let sub = byName[child] { try place(sub) } }
            placed.insert(c.name)
            var text = "- type: collection\n  collection_type: CHAINED\n  name: \(YAMLPlainScalar.quoted(c.name))\n"
            if let doc = c.doc { text += "  doc: \(YAMLPlainScalar.quoted(doc))\n" }
            if c.children.isEmpty {
                text += "  children: []\n"
            } else {
                text += "  children:\n" + c.children.map { "  - \(YAMLPlainScalar.quoted($0))\n" }.joined()
            }
            try out.put(text)
        }
        for c in chains { try place(c) }
    }

    private static func emitDatasets(_ contents: ExportContents, universe: DimensionUniverse, into out: inout Sink) throws {
        var types: [String: ExportedDatasetType] = [:]
        for t in contents.datasetTypes where types[t.name] == nil { types[t.name] = t }
        var typeText: [String: String] = [:]
        func typeEntry(_ name: String) -> String? {
            if let text = typeText[name] { return text }
            guard let t = types[name] else { return nil }
            let all = (try? universe.group(t.dimensions).names) ?? t.dimensions
            var text = "- type: dataset_type\n  name: \(YAMLPlainScalar.quoted(t.name))\n"
            let dims = rubinOrder(all, universe: universe)
            text += dims.isEmpty ? "  dimensions: []\n" : "  dimensions:\n" + dims.map { "  - \(YAMLPlainScalar.quoted($0))\n" }.joined()
            text += "  storage_class: \(YAMLPlainScalar.quoted(t.storageClass))\n"
            text += "  is_calibration: \(t.isCalibration)\n"
            typeText[name] = text
            return text
        }
        var dataIdOrder: [String: [String]] = [:]
        var written = Set<String>()
        let groups = contents.datasets.enumerated().sorted { a, b in
            (a.element.datasetType, a.element.run, a.offset) < (b.element.datasetType, b.element.run, b.offset)
        }.map(\.element)
        for group in groups {
            if let text = typeEntry(group.datasetType) { try out.put(text) }
            written.insert(group.datasetType)
            try out.put("- type: dataset\n  dataset_type: \(YAMLPlainScalar.quoted(group.datasetType))\n  run: \(YAMLPlainScalar.quoted(group.run))\n")
            if group.files.isEmpty {
                try out.put("  records: []\n")
                continue
            }
            try out.put("  records:\n")
            for file in group.files {
                var text = ""
                if file.refs.isEmpty {
                    text += "  - dataset_id: []\n    data_id: []\n"
                } else {
                    text += "  - dataset_id:\n"
                    for ref in file.refs { text += "    - \(uuidTag) '\(ref.id.lowercasedString)'\n" }
                    text += "    data_id:\n"
                    for ref in file.refs {
                        if ref.dataId.isEmpty {
                            text += "    - {}\n"
                            continue
                        }
                        let keys = Array(ref.dataId.keys)
                        let signature = keys.sorted().joined(separator: ",")
                        let order = dataIdOrder[signature] ?? rubinOrder(keys, universe: universe)
                        dataIdOrder[signature] = order
                        for (i, k) in order.enumerated() {
                            text += i == 0 ? "    - " : "      "
                            text += YAMLPlainScalar.quoted(k) + ": "
                            switch ref.dataId[k]! {
                            case .int(let v): text += String(v)
                            case .string(let s): text += YAMLPlainScalar.quoted(s)
                            }
                            text += "\n"
                        }
                    }
                }
                text += "    path: \(YAMLPlainScalar.quoted(file.path))\n"
                if let formatter = file.formatter { text += "    formatter: \(YAMLPlainScalar.quoted(formatter))\n" }
                if let size = file.size { text += "    file_size: \(size)\n" }
                if let checksum = file.checksum { text += "    checksum: \(YAMLPlainScalar.quoted(checksum))\n" }
                if let hdu = file.hdu { text += "    hdu: \(hdu)\n" }
                try out.put(text)
            }
        }
        // Dataset types without datasets here (Rubin's importer registers them all the same).
        for name in types.keys.sorted() where !written.contains(name) {
            if let text = typeEntry(name) { try out.put(text) }
        }
    }

    private static func emitAssociations(_ contents: ExportContents, into out: inout Sink) throws {
        enum Entry { case tags(ExportedTags), certifications(ExportedCertifications) }
        var entries: [(String, Int, Entry)] = []
        for (i, t) in contents.tags.enumerated() { entries.append((t.collection, i, .tags(t))) }
        for (i, c) in contents.certifications.enumerated() { entries.append((c.collection, contents.tags.count + i, .certifications(c))) }
        entries.sort { ($0.0, $0.1) < ($1.0, $1.1) }
        for (_, _, entry) in entries {
            switch entry {
            case .tags(let t):
                var text = "- type: associations\n  collection: \(YAMLPlainScalar.quoted(t.collection))\n  collection_type: TAGGED\n"
                text += t.ids.isEmpty ? "  dataset_ids: []\n" : "  dataset_ids:\n"
                try out.put(text)
                for id in t.ids { try out.put("  - \(uuidTag) '\(id.lowercasedString)'\n") }
            case .certifications(let c):
                var text = "- type: associations\n  collection: \(YAMLPlainScalar.quoted(c.collection))\n  collection_type: CALIBRATION\n"
                text += c.ranges.isEmpty ? "  validity_ranges: []\n" : "  validity_ranges:\n"
                try out.put(text)
                for range in c.ranges {
                    var r = ""
                    if range.timespan.isEmpty {
                        r += "  - timespan: \(timespanTag) 'EMPTY'\n"
                    } else {
                        r += "  - timespan: \(timespanTag)\n"
                        r += "      begin: \(time(range.timespan.begin, isEnd: false))\n"
                        r += "      end: \(time(range.timespan.end, isEnd: true))\n"
                    }
                    r += range.ids.isEmpty ? "    dataset_ids: []\n" : "    dataset_ids:\n"
                    for id in range.ids { r += "    - \(uuidTag) '\(id.lowercasedString)'\n" }
                    try out.put(r)
                }
            }
        }
    }
}
