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
        @Argument(help: ArgumentHelp("Dimensions of the data IDs.", valueName: "dimensions")) var dimensions: [String] = []
        @Option(name: .long, help: "Only data IDs that have a dataset of this type (needs --collections).") var datasets: String?
        @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Collections searched for --datasets.", valueName: "collections")) var collections: [String] = []
        @OptionGroup var query: WhereOptions
        @OptionGroup var output: FormatOption

        func run() throws {
            let butler = try Butler(repository: repository.repo)
            let (group, found) = try butler.registry.queryDataIDs(dimensions, try DimensionQuery(query, datasets: datasets, collections: collections))
            let ids = query.capped(found, what: "data IDs")
            if group.names.isEmpty && output.format == .table {
                // Rubin's words for a query without dimensions.
                print(ids.isEmpty ? "No results." : "Result has one logical row but no columns because no dimensions were requested.")
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
                A table describes a region (vertices, centre); JSON and CSV give sphgeom's encoding in hexadecimal.
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
