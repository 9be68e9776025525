public import Foundation

/// What moves between repositories: the registry content of a set of datasets, as Rubin's export format carries it
/// (dimension records, collections, dataset types, datasets with their files, tags and certifications), plus, when
/// asked for, their provenance.
///
/// One value, three carriers: Rubin's `export.yaml` (``ExportYAML``), Rubin's Zip index (``ZipIndex``), and
/// repository-to-repository transfers, which pass it in memory. Exporting builds it from a registry
/// (``Butler/exportContents(_:)``); importing writes it into one (``Butler/importDirectory(_:exportFile:options:)``,
/// ``Butler/transferDatasets(from:_:options:)``, ``Butler/ingestZip(_:options:)``).
public struct ExportContents: Sendable {
    /// The dimension universe's namespace and version (Rubin's `universe_namespace`, `universe_version`).
    public var universeNamespace = "daf_butler"
    public var universeVersion = 8
    /// Dimension records, grouped by element; elements in universe order, none empty.
    public var dimensionRecords: [ExportedElementRecords] = []
    /// Collections: RUN, TAGGED and CALIBRATION ones, then CHAINED ones with every child listed before its parent.
    public var collections: [ExportedCollection] = []
    /// Dataset types of the exported datasets.
    public var datasetTypes: [ExportedDatasetType] = []
    /// The datasets, grouped by dataset type and RUN.
    public var datasets: [ExportedDatasets] = []
    /// Memberships of TAGGED collections.
    public var tags: [ExportedTags] = []
    /// Validity ranges in CALIBRATION collections.
    public var certifications: [ExportedCertifications] = []
    /// How the datasets were made (our own; Rubin's formats have no place for it), when exported with it.
    public var provenance: ProvenanceBundle?

    public init() {}

    /// Every dataset id in the contents.
    public var datasetIds: [UUID] { datasets.flatMap { $0.files.flatMap { $0.refs.map(\.id) } } }
}

/// The records of one dimension element.
public struct ExportedElementRecords: Sendable {
    public var element: String
    /// Records with fields named as Rubin names them (a temporal record's `timespan_begin`/`timespan_end` in TAI
    /// nanoseconds; a region as the hex of Rubin's `sphgeom` encoding, field `region`).
    public var records: [DimensionRecord]

    public init(element: String, records: [DimensionRecord]) {
        self.element = element
        self.records = records
    }
}

/// A collection as exported: RUNs carry a host and a timespan, chains their children in search order.
public struct ExportedCollection: Sendable, Hashable {
    public var name: String
    public var type: CollectionType
    public var doc: String?
    /// For a CHAINED collection, its children in search order.
    public var children: [String]
    /// For a RUN, the host it was made on and its timespan, when known.
    public var host: String?
    public var timespan: Timespan?

    public init(name: String, type: CollectionType, doc: String? = nil, children: [String] = [], host: String? = nil, timespan: Timespan? = nil) {
        self.name = name
        self.type = type
        self.doc = doc
        self.children = children
        self.host = host
        self.timespan = timespan
    }
}

/// A dataset type as exported, by dimension names (resolved against the importing repository's universe).
public struct ExportedDatasetType: Sendable, Hashable {
    public var name: String
    public var storageClass: String
    /// Its dimensions: required and implied (Rubin writes all of them; its reader accepts the required ones only).
    public var dimensions: [String]
    public var isCalibration: Bool

    public init(name: String, storageClass: String, dimensions: [String], isCalibration: Bool) {
        self.name = name
        self.storageClass = storageClass
        self.dimensions = dimensions
        self.isCalibration = isCalibration
    }
}

/// The datasets of one dataset type in one RUN.
public struct ExportedDatasets: Sendable {
    public var datasetType: String
    public var run: String
    public var files: [ExportedFile]

    public init(datasetType: String, run: String, files: [ExportedFile]) {
        self.datasetType = datasetType
        self.run = run
        self.files = files
    }
}

/// A dataset's id and data ID (required dimensions only; implied values are looked up at the destination).
public struct ExportedRef: Sendable, Hashable {
    public var id: UUID
    public var dataId: [String: DataIDValue]

    public init(id: UUID, dataId: [String: DataIDValue]) {
        self.id = id
        self.dataId = dataId
    }
}

/// One file and the datasets it holds (several refs share a file when, say, one file holds every detector).
public struct ExportedFile: Sendable {
    public var refs: [ExportedRef]
    /// Where the file is: relative to the export directory (or the source datastore, in a transfer), or absolute.
    public var path: String
    /// Rubin's formatter class name (`lsst.obs.base.formatters.fitsExposure.FitsExposureFormatter`), when known.
    public var formatter: String?
    /// Size in bytes and checksum (SHA-256 as hex; `sha256:<hex>` is read too) recorded at the source: checked on
    /// arrival when present.
    public var size: Int64?
    public var checksum: String?
    /// The HDU that holds the datasets, when the file holds several.
    public var hdu: Int?

    public init(refs: [ExportedRef], path: String, formatter: String? = nil, size: Int64? = nil, checksum: String? = nil, hdu: Int? = nil) {
        self.refs = refs
        self.path = path
        self.formatter = formatter
        self.size = size
        self.checksum = checksum
        self.hdu = hdu
    }
}

/// The datasets of a TAGGED collection.
public struct ExportedTags: Sendable {
    public var collection: String
    public var ids: [UUID]

    public init(collection: String, ids: [UUID]) {
        self.collection = collection
        self.ids = ids
    }
}

/// The validity ranges of a CALIBRATION collection, each with the datasets certified for it.
public struct ExportedCertifications: Sendable {
    public struct Range: Sendable {
        public var timespan: Timespan
        public var ids: [UUID]

        public init(timespan: Timespan, ids: [UUID]) {
            self.timespan = timespan
            self.ids = ids
        }
    }

    public var collection: String
    public var ranges: [Range]

    public init(collection: String, ranges: [Range]) {
        self.collection = collection
        self.ranges = ranges
    }
}
