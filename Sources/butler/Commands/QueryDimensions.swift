import ArgumentParser
import ButlerKit
import Foundation

extension DimensionQuery {
    init(_ options: WhereOptions, datasets: String?, collections: [String]) throws {
        self.init()
        self.datasets = datasets
        self.collections = collections
        self.where = options.where
        self.binds = try options.binds()
        self.orderBy = options.orderBy
        self.limit = options.registryLimit(warns: true)
        self.offset = options.offset
    }
}

func cell(_ value: DataIDValue?) -> Cell {
    switch value {
    case .int(let i)?: return .int(i)
    case .string(let s)?: return .string(s)
    case nil: return .null
    }
}

func cell(_ value: DimensionValue?) -> Cell {
    switch value {
    case .int(let i)?: return .int(i)
    case .float(let d)?: return .double(d)
    case .string(let s)?: return .string(s)
    case .bool(let b)?: return .bool(b)
    case nil: return .null
    }
}

extension ButlerCommand {
    struct QueryDataIds: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "query-data-ids",
            abstract: "List data IDs over dimensions (with what they require and imply), constrained by --where and datasets.")

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Argument(help: ArgumentHelp("Dimensions of the data IDs (none, with --datasets and --collections: those of the dataset type, as Rubin's).", valueName: "dimensions")) var dimensions: [String] = []
        @Option(name: .long, help: "Only data IDs that have a dataset of this type (needs --collections).") var datasets: String?
        @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Collections searched for --datasets.", valueName: "collections")) var collections: [String] = []
        @OptionGroup var query: WhereOptions
        @OptionGroup var output: FormatOption

        func run() throws {
            let butler = try Butler(repository: repository.repo)
            var dimensions = self.dimensions
            if dimensions.isEmpty, let datasets, !collections.isEmpty {
                // Rubin's rule: with --datasets and --collections and no dimensions, those of the dataset type.
                guard let type = try butler.registry.datasetType(datasets) else {
                    throw ButlerError(.notFound, "dataset type '\(datasets)' is not registered")
                }
                guard !type.dimensions.names.isEmpty else {
                    print("No dimensions in common for specified dataset types (['\(type.name)'])")
                    print("No results. Try --help for more information.")
                    return
                }
                dimensions = type.dimensions.names
                butler.logger.info("Determined dimensions \(type.dimensions) from datasets option \(datasets)")
            }
            let (group, found) = try butler.registry.queryDataIDs(dimensions, try DimensionQuery(query, datasets: datasets, collections: collections))
            let ids = query.capped(found, what: "data IDs")
            if group.names.isEmpty && output.format == .table {
                // Rubin's words for a query without dimensions.
                if !ids.isEmpty { print("Result has one logical row but no columns because no dimensions were requested.") }
                print("No results. Try requesting some dimensions or datasets, see --help for more information.")
                return
            }
            let table = ResultTable(columns: group.names, rows: ids.map { id in group.names.map { cell(id[$0]) } })
            if ids.isEmpty && output.format == .table {
                writeStandardError("butler: no results: no data IDs over \(group) match\n")
                return
            }
            emit(render([table], as: output.format))
        }
    }

    struct QueryDimensionRecords: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "query-dimension-records",
            abstract: "List the records of one dimension element, constrained by --where and datasets.",
            discussion: """
                Timespans are shown as ISO times in TAI (timespan_begin, timespan_end; empty for an open end); JSON \
                gives the same and the nanoseconds since 1970-01-01 TAI that Rubin stores (timespan_begin_ns, timespan_end_ns). \
                A table describes a region (vertices, centre); JSON and CSV give sphgeom's encoding in hexadecimal. \
                A hash (a skymap's) is hexadecimal, with 0x in a table as in Rubin's.
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Argument(help: ArgumentHelp("Dimension element (exposure, detector, visit, ...).", valueName: "element")) var element: String
        @Option(name: .long, help: "Only records that have a dataset of this type (needs --collections).") var datasets: String?
        @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Collections searched for --datasets.", valueName: "collections")) var collections: [String] = []
        @OptionGroup var query: WhereOptions
        @Flag(name: .long, help: "Accepted for Rubin's scripts; does nothing (deprecated in Rubin's butler too).") var noCheck = false
        @OptionGroup var output: FormatOption

        func run() throws {
            let butler = try Butler(repository: repository.repo)
            let records = query.capped(try butler.registry.queryDimensionRecords(element, try DimensionQuery(query, datasets: datasets, collections: collections)),
                                       what: "\(element) records")
            let fields = butler.registry.recordFields(of: element)
            let times: Set<String> = ["timespan_begin", "timespan_end"]
            let elementColumns = butler.registry.universe[element].map { $0.keys + $0.metadata } ?? []
            let hashes = Set(elementColumns.filter { $0.type == .hash }.map(\.name))
            // JSON carries the nanoseconds too, beside the ISO times.
            let columns = fields + (output.format == .json ? fields.filter(times.contains).map { $0 + "_ns" } : [])
            let table = ResultTable(columns: columns, rows: records.map { r in
                columns.map { column -> Cell in
                    if column.hasSuffix("_ns"), times.contains(String(column.dropLast(3))) { return cell(r[String(column.dropLast(3))]) }
                    if column == "region", output.format == .table, case .string(let hex)? = r[column] {
                        // A table shows what the region is; JSON and CSV give its encoding.
                        if case .polygon(let p)? = try? SphgeomEncoding.region(hex: hex) {
                            let c = p.centroid
                            return .string(String(format: "polygon of %d vertices around %.4f, %+.4f", p.vertices.count, c.ra, c.dec))
                        }
                        return .string("region (\(hex.count / 2) bytes)")
                    }
                    if hashes.contains(column), output.format == .table, case .string(let hex)? = r[column] {
                        return .string("0x" + hex)  // as Rubin's table prints bytes
                    }
                    guard times.contains(column) else { return cell(r[column]) }
                    if case .int(let ns)? = r[column] { return .string(TAITime(nanoseconds: Int64(ns)).isoTAI) }
                    return .null
                }
            })
            if records.isEmpty && output.format == .table {
                writeStandardError("butler: no results: no \(element) records match\n")
                return
            }
            emit(render([table], as: output.format))
        }
    }
}
