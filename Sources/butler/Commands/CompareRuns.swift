import ArgumentParser
import ButlerKit
import Foundation

extension ButlerCommand {
    struct CompareRuns: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "compare-runs",
            abstract: "Compare the QA metrics of two reprocessings, dataset by dataset, and say which provenance change goes with each shift.",
            discussion: """
                Datasets of RUN_A and RUN_B (RUNs or any collections) are matched by dataset type and data ID. For each \
                metric: count, median and spread (1.4826 x MAD) of A, of B and of the differences B - A; the data IDs that \
                moved most; and the pairs grouped by what differs in how they were made (package versions, code commits, \
                config keys, parameters, inputs), e.g. "seeing +12.0% on the 180 calexp whose isr ran with ip_isr 30.0.2 \
                instead of 30.0.1; unchanged elsewhere". --plot draws the distributions of A and B and of the differences. \
                Example:
                  butler compare-runs REPO drp/v1 drp/v2 calexp --metric seeing --plot seeing.svg
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Argument(help: ArgumentHelp("The first reprocessing (RUN or collection).", valueName: "run_a")) var runA: String
        @Argument(help: ArgumentHelp("The second reprocessing (RUN or collection).", valueName: "run_b")) var runB: String
        @Argument(help: ArgumentHelp("Dataset types compared (every type with metrics when none).", valueName: "dataset_type")) var datasetTypes: [String] = []
        @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("A metric to compare (repeatable; every metric when none).", valueName: "name"))
        var metric: [String] = []
        @OptionGroup var query: WhereOptions
        @Option(name: .long, help: ArgumentHelp("How many of the data IDs that moved most are listed per metric.", valueName: "n")) var movers = 5
        @Option(name: .long, help: ArgumentHelp("Draw the distributions to FILE.svg or FILE.png.", valueName: "file")) var plot: String?
        @OptionGroup var format: FormatOption

        func run() throws {
            let butler = try Butler(repository: repository.repo)
            var request = RunComparisonRequest(runA: runA, runB: runB)
            request.datasetTypes = datasetTypes
            request.metrics = metric
            request.where = query.where
            request.binds = try query.binds()
            request.movers = movers
            let comparison = try butler.compareRuns(request)
            if let plot { try comparison.writePlot(to: plot) }
            switch format.format {
            case .json: emit(json(comparison))
            default: emit(render(tables(comparison), as: format.format))
            }
            if format.format == .table {
                for m in comparison.metrics { emit("\n" + m.attribution + "\n") }
                if comparison.onlyInA + comparison.onlyInB > 0 {
                    emit("\n\(comparison.onlyInA) dataset(s) only in \(runA), \(comparison.onlyInB) only in \(runB)\n")
                }
                if let plot { emit("\nPicture written to \(plot)\n") }
            }
        }

        func tables(_ c: RunComparison) -> [ResultTable] {
            func d(_ v: Double) -> Cell { v.isFinite ? .double((v * 1e6).rounded() / 1e6) : .null }
            var summary = ResultTable(title: format.format == .table ? "Metrics, \(c.runA) (A) vs \(c.runB) (B)" : nil,
                                      columns: ["dataset_type", "metric", "count", "median_a", "spread_a", "median_b", "spread_b", "median_diff", "spread_diff",
                                                "missing_in_a", "missing_in_b"])
            var moved = ResultTable(title: format.format == .table ? "Moved most" : nil, columns: ["dataset_type", "metric", "data_id", "a", "b", "diff"])
            var groups = ResultTable(title: format.format == .table ? "By provenance difference" : nil,
                                     columns: ["dataset_type", "metric", "count", "median_diff", "median_relative", "provenance_differences"])
            for m in c.metrics {
                summary.rows.append([.string(m.datasetType), .string(m.name), .int(m.a.count), d(m.a.median), d(m.a.spread), d(m.b.median), d(m.b.spread),
                                     d(m.difference.median), d(m.difference.spread), .int(m.missingInA.count), .int(m.missingInB.count)])
                for p in m.movers { moved.rows.append([.string(m.datasetType), .string(m.name), .dataId(text: p.dataId), d(p.valueA), d(p.valueB), d(p.difference)]) }
                for g in m.groups {
                    groups.rows.append([.string(m.datasetType), .string(m.name), .int(g.count), d(g.difference.median), g.relativeMedian.map(d) ?? .null,
                                        .string(g.changes.isEmpty ? "(none)" : g.changes.joined(separator: "; "))])
                }
            }
            return [summary, moved, groups]
        }

        func json(_ c: RunComparison) -> String {
            func n(_ v: Double?) -> String { v.map { $0.isFinite ? String($0) : "null" } ?? "null" }
            func summary(_ s: RunComparison.Summary) -> String { "{\"count\": \(s.count), \"median\": \(n(s.median)), \"spread\": \(n(s.spread))}" }
            func mover(_ p: RunComparison.Pair) -> String {
                let values: String = "\"a\": \(n(p.valueA)), \"b\": \(n(p.valueB)), \"difference\": \(n(p.difference))"
                return "{\"data_id\": \(Cell.dataId(text: p.dataId).json), " + values + "}"
            }
            func group(_ g: RunComparison.Group) -> String {
                let changes: String = g.changes.map(jsonString).joined(separator: ", ")
                let ids: String = g.dataIds.map { Cell.dataId(text: $0).json }.joined(separator: ", ")
                let head: String = "{\"changes\": [" + changes + "], \"count\": \(g.count), \"difference\": " + summary(g.difference)
                return head + ", \"relative_median\": \(n(g.relativeMedian)), \"data_ids\": [" + ids + "]}"
            }
            func metric(_ m: RunComparison.Metric) -> String {
                var out: String = "  {\"dataset_type\": \(jsonString(m.datasetType)), \"metric\": \(jsonString(m.name)), "
                out += "\"a\": " + summary(m.a) + ", \"b\": " + summary(m.b) + ", \"difference\": " + summary(m.difference) + ",\n"
                out += "   \"movers\": [" + m.movers.map(mover).joined(separator: ", ") + "],\n"
                out += "   \"groups\": [" + m.groups.map(group).joined(separator: ", ") + "],\n"
                out += "   \"missing_in_a\": [" + m.missingInA.map(jsonString).joined(separator: ", ") + "], "
                out += "\"missing_in_b\": [" + m.missingInB.map(jsonString).joined(separator: ", ") + "],\n"
                out += "   \"attribution\": " + jsonString(m.attribution) + "}"
                return out
            }
            var out: String = "{\"run_a\": \(jsonString(c.runA)), \"run_b\": \(jsonString(c.runB)), "
            out += "\"only_in_a\": \(c.onlyInA), \"only_in_b\": \(c.onlyInB), \"metrics\": [\n"
            return out + c.metrics.map(metric).joined(separator: ",\n") + "\n]}\n"
        }
    }
}
