import ArgumentParser
import ButlerKit
import Foundation

extension ButlerCommand {
    struct QueryDatasets: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "query-datasets",
            abstract: "List datasets, one table per dataset type: type, run, id and data ID.",
            discussion: """
                Collections are searched in the order given, chains expanded; without --collections every collection is searched. \
                A dataset certified into a CALIBRATION collection is listed once per validity range; when a CALIBRATION \
                collection is searched, valid_from and valid_to columns (JSON: validity {begin, end}, TAI; null outside \
                CALIBRATION collections) show the ranges, and --where can test them: "bias.timespan OVERLAPS (T'2024-01-01', T'2024-02-01')".
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Argument(help: ArgumentHelp("Glob patterns of dataset type names (all when none).", valueName: "glob")) var globs: [String] = []
        @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Collections to search (names or globs; comma-separated or repeated).", valueName: "collections"))
        var collections: [String] = []
        @OptionGroup var query: WhereOptions
        @OptionGroup(title: "Selection by provenance") var provenance: ProvenanceSelectionOptions
        @Flag(name: .long, inversion: .prefixedNo, help: "For each data ID, only the dataset from the first collection in search order.") var findFirst = false
        @Flag(name: .long, help: "Also show the location of each dataset's file.") var showUri = false
        @Flag(name: .long, help: "Also show each dataset's QA metrics (name=value; a JSON object with --format json).") var showMetrics = false
        @OptionGroup var output: FormatOption

        func run() throws {
            let butler = try Butler(repository: repository.repo)
            var q = DatasetQuery()
            q.datasetTypes = globs
            q.collections = collections
            q.findFirst = findFirst
            q.unknownTypesMatchNothing = true
            try query.apply(to: &q, warns: true)
            q.provenance = try provenance.selection(butler, collections: collections)
            let validity = try butler.registry.searchesCalibrationCollection(collections)
            if output.format != .table {
                try stream(butler, q, validity: validity)
                return
            }
            let found = try butler.registry.queryDatasets(q)
            var listed = ListedOnce()
            let results = found.datasets.filter { listed.isNew($0) }
            for reason in found.reasons { writeStandardError("butler: no results: \(reason)\n") }
            let uris = showUri ? try butler.fileLocations(results.map(\.ref.id)) : [:]
            let metrics = showMetrics ? try butler.registry.metrics(of: results.map(\.ref.id)) : [:]
            var tables: [ResultTable] = []
            for (typeName, all) in Dictionary(grouping: results, by: { $0.ref.datasetType.name }).sorted(by: { $0.key < $1.key }) {
                let group = query.capped(all, what: "\(typeName) datasets")
                let dims = group[0].ref.datasetType.dimensions.required
                var table = ResultTable(columns: ["type", "run", "id"] + dims + (validity ? ["valid_from", "valid_to"] : []) + (showUri ? ["URI"] : []) + (showMetrics ? ["metrics"] : []))
                for r in group {
                    var row: [Cell] = [.string(typeName), .string(r.ref.run), .string(r.ref.id.lowercasedString)]
                    row += dims.map { d in
                        switch r.ref.dataId[d] {
                        case .int(let i)?: return .int(i)
                        case .string(let s)?: return .string(s)
                        case nil: return .null
                        }
                    }
                    if validity { row += Self.validityTexts(r.validity).map { $0.map(Cell.string) ?? .null } }
                    if showUri { row.append(.string(uris[r.ref.id]?.absoluteString ?? "")) }
                    if showMetrics { row.append(.string(Self.metricsText(metrics[r.ref.id]))) }
                    table.rows.append(row)
                }
                tables.append(table)
            }
            if tables.isEmpty {
                if found.reasons.isEmpty { writeStandardError("No datasets found.\n") }
                return
            }
            emit(render(tables, as: output.format))
        }

        /// Each dataset once, as Rubin lists it, however many of the searched collections hold it (a RUN, a TAGGED
        /// collection and a chain of both): the first collection in search order is the one shown. A dataset
        /// certified into a CALIBRATION collection is still listed once per validity range.
        struct ListedOnce {
            private var seen = Set<UUID>()
            private var ranges = Set<String>()

            mutating func isNew(_ result: DatasetResult) -> Bool {
                guard let validity = result.validity else { return seen.insert(result.ref.id).inserted }
                return ranges.insert(result.ref.id.lowercasedString + " " + (validity.begin?.isoTAI ?? "-inf") + " " + (validity.end?.isoTAI ?? "+inf")).inserted
            }
        }

        /// JSON and CSV stream: rows are written as the registry returns them (file locations in chunks).
        /// The bounds of a validity range as shown in tables and CSV (`-inf`/`+inf` when unbounded; nil without a range).
        static func validityTexts(_ validity: Timespan?) -> [String?] {
            guard let validity else { return [nil, nil] }
            return [validity.begin?.isoTAI ?? "-inf", validity.end?.isoTAI ?? "+inf"]
        }

        /// A dataset's metrics as `name=value, ...`, sorted by name.
        static func metricsText(_ metrics: [String: Double]?) -> String {
            (metrics ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
        }

        func stream(_ butler: Butler, _ query: DatasetQuery, validity: Bool) throws {
            let out = StreamWriter()
            var pending: [DatasetResult] = []
            var count = 0
            var currentType: String?
            func write(_ chunk: [DatasetResult]) throws {
                let uris = showUri ? try butler.fileLocations(chunk.map(\.ref.id)) : [:]
                let metrics = showMetrics ? try butler.registry.metrics(of: chunk.map(\.ref.id)) : [:]
                for r in chunk {
                    let dims = r.ref.datasetType.dimensions.required
                    if output.format == .json {
                        let dataId = r.ref.dataId.required.map { k, v -> String in
                            switch v {
                            case .int(let i): return "\(jsonString(k)): \(i)"
                            case .string(let s): return "\(jsonString(k)): \(jsonString(s))"
                            }
                        }.joined(separator: ", ")
                        var fields = ["\"dataset_type\": \(jsonString(r.ref.datasetType.name))", "\"run\": \(jsonString(r.ref.run))",
                                      "\"collection\": \(jsonString(r.collection))", "\"id\": \(jsonString(r.ref.id.lowercasedString))",
                                      "\"data_id\": {\(dataId)}"]
                        if validity {
                            // Unbounded ends are null; a dataset found outside a CALIBRATION collection has no range.
                            fields.append("\"validity\": " + (r.validity.map { v in
                                "{\"begin\": \(v.begin.map { jsonString($0.isoTAI) } ?? "null"), \"end\": \(v.end.map { jsonString($0.isoTAI) } ?? "null")}"
                            } ?? "null"))
                        }
                        if showUri { fields.append("\"uri\": \(uris[r.ref.id].map { jsonString($0.absoluteString) } ?? "null")") }
                        if showMetrics {
                            let values = (metrics[r.ref.id] ?? [:]).sorted { $0.key < $1.key }.map { "\(jsonString($0.key)): \($0.value)" }
                            fields.append("\"metrics\": {" + values.joined(separator: ", ") + "}")
                        }
                        out.write((count == 0 ? "[\n  " : ",\n  ") + "{" + fields.joined(separator: ", ") + "}")
                    } else {
                        if currentType != r.ref.datasetType.name {
                            if currentType != nil { out.write("\n") }
                            currentType = r.ref.datasetType.name
                            out.write((["type", "run", "id"] + dims + (validity ? ["valid_from", "valid_to"] : []) + (showUri ? ["URI"] : []) + (showMetrics ? ["metrics"] : [])).map(csvField).joined(separator: ",") + "\n")
                        }
                        var row = [r.ref.datasetType.name, r.ref.run, r.ref.id.lowercasedString] + dims.map { r.ref.dataId[$0]?.description ?? "" }
                        if validity { row += Self.validityTexts(r.validity).map { $0 ?? "" } }
                        if showUri { row.append(uris[r.ref.id]?.absoluteString ?? "") }
                        if showMetrics { row.append(Self.metricsText(metrics[r.ref.id])) }
                        out.write(row.map(csvField).joined(separator: ",") + "\n")
                    }
                    count += 1
                }
            }
            // A negative limit fetched one more per dataset type than it shows: that one is dropped with the warning.
            var perType: [String: Int] = [:]
            var listed = ListedOnce()
            let reasons = try butler.registry.forEachDataset(query) { result in
                guard listed.isNew(result) else { return }
                if self.query.limit < 0 {
                    let name = result.ref.datasetType.name
                    perType[name, default: 0] += 1
                    if perType[name]! > -self.query.limit {
                        self.query.warnCapped("\(name) datasets")
                        return
                    }
                }
                if showUri || showMetrics {
                    pending.append(result)
                    if pending.count >= 1000 { try write(pending); pending.removeAll(keepingCapacity: true) }
                } else {
                    try write([result])
                }
            }
            try write(pending)
            if output.format == .json { out.write(count == 0 ? "[]\n" : "\n]\n") }
            out.flush()
            for reason in reasons { writeStandardError("butler: no results: \(reason)\n") }
        }
    }
}
