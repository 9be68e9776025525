public import Foundation

/// The index of one of Rubin's Zip files of datasets, `_butler_zip_index.json` (index version `V1`), exactly as
/// Rubin's `butler retrieve-artifacts --zip` writes it and `butler ingest-zip` reads it.
///
/// ```json
/// {"index_version":"V1",
///  "refs":{"container_version":"V1","universe_version":8,"universe_namespace":"daf_butler",
///          "dataset_types":{"raw":{"name":"raw","storageClass":"Exposure","dimensions":["instrument","detector","exposure"],
///                                  "parentStorageClass":null,"isCalibration":false}},
///          "compact_refs":{"f4852260-…":{"dataset_type_name":"raw","run":"LATISS/raw/all","data_id":{"instrument":"LATISS",…}}},
///          "dimension_records":{"instrument":[["LATISS",1,…]],…}},
///  "artifact_map":{"f4852260-raw_….fits":{"info":{"formatter":"…","path":"…","storage_class":"Exposure","component":null,
///                                                  "checksum":null,"file_size":8640},"ids":["f4852260-…"]}}}
/// ```
///
/// Dataset types list their required dimensions only; compact refs carry full data IDs (implied values too);
/// dimension records are lists of values in Rubin's record-field order (required keys, implied dimensions, alternate
/// keys, metadata, then the region as hex and the timespan as `[begin_ns, end_ns]` in TAI, an unbounded end being
/// `4102444800000000000` and an unbounded begin `0`; an instant, which our records hold as begin == end, is
/// `[t, t + 1]`, as Rubin pads it; Rubin's empty timespan reads as no timespan). The index has no collection docs,
/// no TAGGED, CHAINED or CALIBRATION collections, no validity ranges and no ingest dates.
///
/// Convert from ``ExportContents`` with ``init(_:memberNames:universe:)`` and back with
/// ``exportContents(universe:source:)`` (in `ZipIndex+Contents.swift`); read and write whole Zips with ``ButlerZip``.
public struct ZipIndex: Codable, Sendable, Equatable {
    /// The member name of the index in a Zip.
    public static let memberName = "_butler_zip_index.json"

    /// `V1`, the only version there is.
    public var indexVersion: String
    /// The datasets, their dataset types and dimension records.
    public var refs: Refs
    /// Zip member name -> the file's datastore record and the datasets it holds.
    public var artifactMap: [String: Artifact]

    public init(refs: Refs, artifactMap: [String: Artifact]) {
        self.indexVersion = "V1"
        self.refs = refs
        self.artifactMap = artifactMap
    }

    enum CodingKeys: String, CodingKey {
        case indexVersion = "index_version", refs, artifactMap = "artifact_map"
    }

    /// Rubin's `SerializedDatasetRefContainerV1`.
    public struct Refs: Codable, Sendable, Equatable {
        public var containerVersion: String
        public var universeVersion: Int
        public var universeNamespace: String
        /// Dataset types by name.
        public var datasetTypes: [String: DatasetType]
        /// Datasets by lower-case UUID text.
        public var compactRefs: [String: CompactRef]
        /// Records by element name, each a list of values in record-field order; `null` in a Zip written without them.
        public var dimensionRecords: [String: [[Value]]]?

        public init(universeVersion: Int, universeNamespace: String, datasetTypes: [String: DatasetType],
                    compactRefs: [String: CompactRef], dimensionRecords: [String: [[Value]]]?) {
            self.containerVersion = "V1"
            self.universeVersion = universeVersion
            self.universeNamespace = universeNamespace
            self.datasetTypes = datasetTypes
            self.compactRefs = compactRefs
            self.dimensionRecords = dimensionRecords
        }

        enum CodingKeys: String, CodingKey {
            case containerVersion = "container_version", universeVersion = "universe_version"
            case universeNamespace = "universe_namespace", datasetTypes = "dataset_types"
            case compactRefs = "compact_refs", dimensionRecords = "dimension_records"
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(containerVersion, forKey: .containerVersion)
            try c.encode(universeVersion, forKey: .universeVersion)
            try c.encode(universeNamespace, forKey: .universeNamespace)
            try c.encode(datasetTypes, forKey: .datasetTypes)
            try c.encode(compactRefs, forKey: .compactRefs)
            try c.encode(dimensionRecords, forKey: .dimensionRecords)
        }
    }

    /// Rubin's `SerializedDatasetType`.
    public struct DatasetType: Codable, Sendable, Equatable {
        public var name: String
        public var storageClass: String
        /// Required dimensions only.
        public var dimensions: [String]
        public var parentStorageClass: String?
        public var isCalibration: Bool

        public init(name: String, storageClass: String, dimensions: [String], parentStorageClass: String? = nil, isCalibration: Bool) {
            self.name = name
            self.storageClass = storageClass
            self.dimensions = dimensions
            self.parentStorageClass = parentStorageClass
            self.isCalibration = isCalibration
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(name, forKey: .name)
            try c.encode(storageClass, forKey: .storageClass)
            try c.encode(dimensions, forKey: .dimensions)
            try c.encode(parentStorageClass, forKey: .parentStorageClass)
            try c.encode(isCalibration, forKey: .isCalibration)
        }
    }

    /// Rubin's `MinimalistSerializableDatasetRef`: a dataset's type, RUN and full data ID (implied values too).
    public struct CompactRef: Codable, Sendable, Equatable {
        public var datasetTypeName: String
        public var run: String
        public var dataId: [String: DataIDValue]

        public init(datasetTypeName: String, run: String, dataId: [String: DataIDValue]) {
            self.datasetTypeName = datasetTypeName
            self.run = run
            self.dataId = dataId
        }

        enum CodingKeys: String, CodingKey {
            case datasetTypeName = "dataset_type_name", run, dataId = "data_id"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            datasetTypeName = try c.decode(String.self, forKey: .datasetTypeName)
            run = try c.decode(String.self, forKey: .run)
            let raw = try c.decode([String: Value].self, forKey: .dataId)
            var dataId: [String: DataIDValue] = [:]
            for (key, value) in raw {
                switch value {
                case .int(let i): dataId[key] = .int(Int(i))
                case .string(let s): dataId[key] = .string(s)
                default:
                    throw DecodingError.typeMismatch(DataIDValue.self, .init(codingPath: c.codingPath + [CodingKeys.dataId],
                                                                             debugDescription: "data ID value '\(key)' is neither an integer nor a string"))
                }
            }
            self.dataId = dataId
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(datasetTypeName, forKey: .datasetTypeName)
            try c.encode(run, forKey: .run)
            try c.encode(dataId.mapValues { v -> Value in
                switch v {
                case .int(let i): return .int(Int64(i))
                case .string(let s): return .string(s)
                }
            }, forKey: .dataId)
        }
    }

    /// One member of the Zip: Rubin's `ArtifactIndexInfo`.
    public struct Artifact: Codable, Sendable, Equatable {
        public var info: FileInfo
        /// The datasets the file holds.
        public var ids: [UUID]

        public init(info: FileInfo, ids: [UUID]) {
            self.info = info
            self.ids = ids
        }

        enum CodingKeys: String, CodingKey { case info, ids }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            info = try c.decode(FileInfo.self, forKey: .info)
            let texts = try c.decode([String].self, forKey: .ids)
            ids = try texts.map { text in
                guard let id = UUID(registryText: text) else {
                    throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath + [CodingKeys.ids], debugDescription: "'\(text)' is not a UUID"))
                }
                return id
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(info, forKey: .info)
            try c.encode(ids.map(\.lowercasedString), forKey: .ids)
        }
    }

    /// Rubin's `SerializedStoredFileInfo`: the source datastore's record of a file.
    public struct FileInfo: Codable, Sendable, Equatable {
        /// The formatter's Python class path.
        public var formatter: String
        /// The file's path in the source datastore.
        public var path: String
        public var storageClass: String
        public var component: String?
        /// Rubin writes `null` unless its datastore computes checksums; ours is `sha256:<hex>`.
        public var checksum: String?
        public var fileSize: Int64

        public init(formatter: String, path: String, storageClass: String, component: String? = nil, checksum: String?, fileSize: Int64) {
            self.formatter = formatter
            self.path = path
            self.storageClass = storageClass
            self.component = component
            self.checksum = checksum
            self.fileSize = fileSize
        }

        enum CodingKeys: String, CodingKey {
            case formatter, path, storageClass = "storage_class", component, checksum, fileSize = "file_size"
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(formatter, forKey: .formatter)
            try c.encode(path, forKey: .path)
            try c.encode(storageClass, forKey: .storageClass)
            try c.encode(component, forKey: .component)
            try c.encode(checksum, forKey: .checksum)
            try c.encode(fileSize, forKey: .fileSize)
        }
    }

    /// A JSON value in a dimension record or data ID.
    public enum Value: Codable, Sendable, Hashable {
        case null
        case bool(Bool)
        case int(Int64)
        case float(Double)
        case string(String)
        case array([Value])

        public init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { self = .null; return }
            if let b = try? c.decode(Bool.self) { self = .bool(b); return }
            if let i = try? c.decode(Int64.self) { self = .int(i); return }
            if let d = try? c.decode(Double.self) { self = .float(d); return }
            if let s = try? c.decode(String.self) { self = .string(s); return }
            if let a = try? c.decode([Value].self) { self = .array(a); return }
            throw DecodingError.typeMismatch(Value.self, .init(codingPath: c.codingPath, debugDescription: "expected a number, string, boolean, null or list"))
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .null: try c.encodeNil()
            case .bool(let b): try c.encode(b)
            case .int(let i): try c.encode(i)
            case .float(let d): try c.encode(d)
            case .string(let s): try c.encode(s)
            case .array(let a): try c.encode(a)
            }
        }
    }
}

// MARK: - Bytes

extension ZipIndex {
    /// Rubin's sentinels for unbounded timespan ends, in TAI nanoseconds: 1970-01-01 and 2100-01-01.
    public static let unboundedBegin: Int64 = 0
    public static let unboundedEnd: Int64 = 4_102_444_800_000_000_000

    /// The index as single-line JSON with a final newline, as Rubin writes it (keys sorted, so that the same index
    /// is the same bytes).
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(self)
        data.append(UInt8(ascii: "\n"))
        return data
    }

    /// Reads an index, refusing anything but JSON of index version `V1` with every key Rubin requires.
    /// - Parameter source: names the Zip in errors.
    public static func decode(_ data: Data, source: String) throws -> ZipIndex {
        // Versions first, so that a future index is reported as such rather than as a missing key. (Only the two
        // versions are decoded here; a whole JSONSerialization pass took a tenth of a 100,000-member ingest.)
        let versions: VersionProbe
        do {
            versions = try JSONDecoder().decode(VersionProbe.self, from: data)
        } catch DecodingError.dataCorrupted(let context) where context.codingPath.isEmpty {
            throw ButlerError(.invalidValue, "\(source): \(memberName) is not JSON")
        } catch {
            versions = VersionProbe()  // another shape: the full decoding below says what is wrong
        }
        if let version = versions.indexVersion, version != "V1" {
            throw ButlerError(.invalidValue, "\(source): Zip index version \(version) is not supported (V1 is)")
        }
        if let version = versions.refs?.containerVersion, version != "V1" {
            throw ButlerError(.invalidValue, "\(source): Zip index refs container version \(version) is not supported (V1 is)")
        }
        let index: ZipIndex
        do {
            index = try JSONDecoder().decode(ZipIndex.self, from: data)
        } catch {
            throw ButlerError(.invalidValue, "\(source): \(memberName) is not a Zip index (\(describe(error)))")
        }
        return index
    }

    /// The Zip's file name, as Rubin names it: `uuid5(<Rubin's dataset id namespace>, ",".join(sorted(member names)))`
    /// with `.zip`.
    public var zipFileName: String {
        // Python sorts str by code point; comparing the UTF-8 bytes gives the same order.
        let names = artifactMap.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let id = DatasetIdGenerationMode.uuid5(namespace: DatasetIdGenerationMode.namespace, name: names.joined(separator: ","))
        return id.lowercasedString + ".zip"
    }

    /// The two version fields of an index, whatever JSON value they hold (shown as written when not `V1`).
    private struct VersionProbe: Decodable {
        struct Refs: Decodable {
            var containerVersion: String?
            enum CodingKeys: String, CodingKey { case containerVersion = "container_version" }
            init(from decoder: any Decoder) throws {
                containerVersion = try decoder.container(keyedBy: CodingKeys.self).decodeIfPresent(AnyScalar.self, forKey: .containerVersion)?.text
            }
        }
        var indexVersion: String?
        var refs: Refs?
        enum CodingKeys: String, CodingKey { case indexVersion = "index_version", refs }
        init() {}
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            indexVersion = try c.decodeIfPresent(AnyScalar.self, forKey: .indexVersion)?.text
            refs = try? c.decodeIfPresent(Refs.self, forKey: .refs)
        }
    }

    /// A JSON scalar as text (a version written as a number or a string).
    private struct AnyScalar: Decodable {
        var text: String
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let s = try? c.decode(String.self) { text = s }
            else if let i = try? c.decode(Int64.self) { text = String(i) }
            else if let d = try? c.decode(Double.self) { text = String(d) }
            else if let b = try? c.decode(Bool.self) { text = String(b) }
            else { text = "null" }
        }
    }

    private static func describe(_ error: any Error) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.isEmpty ? "top level" : codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            let at = context.codingPath.isEmpty ? "" : " in \(path(context.codingPath))"
            return "missing key '\(key.stringValue)'\(at)"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return "wrong value at \(path(context.codingPath))"
        case DecodingError.dataCorrupted(let context):
            return "\(context.debugDescription) at \(path(context.codingPath))"
        default:
            return String(describing: error).replacingOccurrences(of: "\n", with: " ")
        }
    }
}
