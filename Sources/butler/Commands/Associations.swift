import ArgumentParser
import ButlerKit
import Foundation

/// Parses a TAI date given on the command line (`2024-01-01`, `2024-01-01T12:00:00`, an MJD).
func taiDateArgument(_ text: String) throws -> TAITime {
    if let t = TAITime(iso: text, scale: .tai) { return t }
    if let mjd = Double(text) { return TAITime(mjd: mjd, scale: .tai) }
    throw ValidationError("'\(text)' is not a date: expected ISO 8601 in TAI (2024-01-01T12:00:00) or an MJD")
}

/// A timespan given on the command line: `BEGIN,END` (TAI, half-open; an empty side is unbounded) or one time `T`
/// (the instant [T, T + 1 ns), as Rubin's `Timespan.fromInstant`).
func timespanArgument(_ text: String) throws -> Timespan {
    let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmingCharacters(in: .whitespaces) }
    switch parts.count {
    case 1:
        guard !parts[0].isEmpty else { throw ValidationError("--timespan is empty: expected BEGIN,END or one time") }
        let t = try taiDateArgument(parts[0])
        return Timespan(begin: t, end: TAITime(nanoseconds: t.nanoseconds + 1))
    case 2:
        let span = Timespan(begin: try parts[0].isEmpty ? nil : taiDateArgument(parts[0]), end: try parts[1].isEmpty ? nil : taiDateArgument(parts[1]))
        if let b = span.begin, let e = span.end, e <= b { throw ValidationError("--timespan '\(text)' ends before it begins") }
        return span
    default:
        throw ValidationError("--timespan '\(text)': expected BEGIN,END or one time")
    }
}

/// Selection of datasets shared by associate, disassociate and prune-datasets.
struct DatasetSelection: ParsableArguments {
    @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Collections to search (names or globs; comma-separated or repeated).", valueName: "collections"))
    var collections: [String] = []
    @Option(name: [.customShort("d"), .customLong("dataset-type"), .customLong("datasets")], parsing: .singleValue, help: ArgumentHelp("Dataset type names or globs (all when none; comma-separated or repeated).", valueName: "type"))
    var datasetTypes: [String] = []
    @OptionGroup var query: WhereOptions
    @OptionGroup(title: "Selection by provenance") var provenance: ProvenanceSelectionOptions
    @Flag(name: .long, inversion: .prefixedNo, help: "For each data ID, only the dataset from the first collection in search order.") var findFirst = false

    func run(_ butler: Butler, collections extra: [String] = []) throws -> [DatasetRef] {
        let q = try datasetQuery(butler, collections: extra)
        var seen = Set<UUID>()
        return try butler.registry.queryDatasets(q).datasets.map(\.ref).filter { seen.insert($0.id).inserted }
    }

    /// The query these options describe.
    func datasetQuery(_ butler: Butler, collections extra: [String] = []) throws -> DatasetQuery {
        var q = DatasetQuery()
        q.datasetTypes = datasetTypes
        q.collections = collections + extra
        q.findFirst = findFirst
        try query.apply(to: &q)
        q.provenance = try provenance.selection(butler, collections: q.collections)
        return q
    }
}

extension ButlerCommand {
    struct Associate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Tag the datasets a query finds into a TAGGED collection (created when missing).",
            discussion: "Datasets already in the tag are left alone; another dataset with the same type and data ID is a conflict.")

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Argument(help: ArgumentHelp("TAGGED collection.", valueName: "collection")) var tag: String
        @OptionGroup var selection: DatasetSelection

        func run() throws {
            let butler = try Butler(repository: repository.repo)
            let refs = try selection.run(butler)
            let added = try butler.registry.associate(tag, refs)
            emit("Tagged \(added) dataset(s) into \(tag) (\(refs.count - added) already there)\n")
        }
    }

    struct Disassociate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove the datasets a query finds from a TAGGED collection.")

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Argument(help: ArgumentHelp("TAGGED collection.", valueName: "collection")) var tag: String
        @OptionGroup var selection: DatasetSelection

        func run() throws {
            let butler = try Butler(repository: repository.repo)
            let refs = try selection.run(butler, collections: selection.collections.isEmpty ? [tag] : [])
            let removed = try butler.registry.disassociate(tag, refs)
            emit("Removed \(removed) dataset(s) from \(tag)\n")
        }
    }

    struct CertifyCalibrations: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "certify-calibrations",
            abstract: "Certify calibration datasets from a collection into a CALIBRATION collection with a validity range.",
            discussion: "Dates are TAI and unbounded by default. Ranges for the same type and data ID may touch but not overlap.")

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Argument(help: ArgumentHelp("Collection holding the calibrations.", valueName: "input-collection")) var input: String
        @Argument(help: ArgumentHelp("CALIBRATION collection (created when missing).", valueName: "output-collection")) var output: String
        @Argument(help: ArgumentHelp("Calibration dataset type.", valueName: "dataset-type")) var datasetType: String
        @Option(name: .long, help: "Start of validity, TAI (ISO 8601 or MJD; unbounded when absent).", transform: taiDateArgument) var beginDate: TAITime?
        @Option(name: .long, help: "End of validity, TAI, exclusive (unbounded when absent).", transform: taiDateArgument) var endDate: TAITime?
        @Flag(name: .long, help: "Search every child of a CHAINED input, not only the first match per data ID.") var searchAllInputs = false

        func run() throws {
            let butler = try Butler(repository: repository.repo)
            var q = DatasetQuery()
            q.datasetTypes = [datasetType]
            q.collections = [input]
            q.findFirst = !searchAllInputs
            // Once each: an input CALIBRATION collection lists a dataset once per validity range.
            var seen = Set<UUID>()
            let refs = try butler.registry.queryDatasets(q).datasets.map(\.ref).filter { seen.insert($0.id).inserted }
            guard !refs.isEmpty else { throw ButlerError(.notFound, "no '\(datasetType)' datasets in '\(input)' to certify") }
            let validity = Timespan(begin: beginDate, end: endDate)
            try butler.registry.certify(output, refs, validity: validity)
            emit("Certified \(refs.count) '\(datasetType)' dataset(s) into \(output) for \(validity)\n")
        }
    }

    struct DecertifyCalibrations: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "decertify-calibrations",
            abstract: "Remove a time range from the validity of calibrations in a CALIBRATION collection.",
            discussion: "Associations inside the range are removed; those that straddle it are cut, or split in two.")

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Argument(help: ArgumentHelp("CALIBRATION collection.", valueName: "collection")) var collection: String
        @Argument(help: ArgumentHelp("Calibration dataset type.", valueName: "dataset-type")) var datasetType: String
        @Option(name: .long, help: "Start of the range, TAI (unbounded when absent).", transform: taiDateArgument) var beginDate: TAITime?
        @Option(name: .long, help: "End of the range, TAI, exclusive (unbounded when absent).", transform: taiDateArgument) var endDate: TAITime?
        @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Only this data ID (k=v,...; repeatable).", valueName: "k=v,...")) var dataId: [String] = []

        func run() throws {
            let butler = try Butler(repository: repository.repo)
            let type = try butler.registry.datasetType(datasetType)
            guard let type else { throw ButlerError(.notFound, "no dataset type named '\(datasetType)'") }
            let ids = try dataId.isEmpty ? nil : dataId.map { try butler.registry.expandDataID(try parseDataIDString($0), dimensions: type.dimensions.names) }
            let n = try butler.registry.decertify(collection, datasetType: datasetType, range: Timespan(begin: beginDate, end: endDate), dataIds: ids)
            emit("Changed \(n) certification(s) in \(collection)\n")
        }
    }

    struct FindDataset: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "find-dataset",
            abstract: "Find one dataset: by UUID, or TYPE:key=value,... in collections (calibrations valid at --timespan or the exposure's time).",
            discussion: """
                A CALIBRATION collection in the search path is searched for the calibration whose validity overlaps \
                --timespan (Rubin's `find_dataset(..., timespan=)`), else the time of the exposure or visit in the data ID; \
                with neither it is skipped, as Rubin skips it. More than one match there is an error (ambiguous).
                Example: butler find-dataset REPO bias:instrument=LATISS,detector=0 --collections LATISS/defaults --timespan 2023-03-21T16:11:07
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Argument(help: ArgumentHelp("A dataset UUID or TYPE:key=value,...", valueName: "dataset")) var dataset: String
        @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Collections in search order.", valueName: "collections")) var collections: [String] = []
        @Option(name: .long, help: ArgumentHelp(
            "Time a calibration's validity must overlap, TAI (ISO 8601 or MJD): BEGIN,END (half-open; leave a side empty for unbounded) or one TIME.",
            valueName: "timespan"), transform: timespanArgument) var timespan: Timespan?
        @OptionGroup var output: FormatOption

        func validate() throws {
            if timespan != nil && collections.isEmpty { throw ValidationError("--timespan needs --collections (the search path to find the calibration in)") }
        }

        func run() throws {
            let butler = try Butler(repository: repository.repo)
            let ref = try butler.registry.resolveDataset(dataset, collections: collections, timespan: timespan)
            let uri = try butler.fileLocations([ref.id])[ref.id]?.absoluteString
            let table = ResultTable(columns: ["type", "run", "id", "data_id", "uri"],
                                    rows: [[.string(ref.datasetType.name), .string(ref.run), .string(ref.id.lowercasedString),
                                            .dataId(ref.dataId), uri.map(Cell.string) ?? .null]])
            emit(render([table], as: output.format))
        }
    }
}
