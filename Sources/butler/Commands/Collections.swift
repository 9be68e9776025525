import ArgumentParser
import ButlerKit
import Foundation

/// Parses a collection type argument (RUN, TAGGED, CHAINED, CALIBRATION; any case).
func collectionTypeArgument(_ text: String) throws -> CollectionType {
    guard let t = CollectionType(name: text) else {
        throw ValidationError("unknown collection type '\(text)': expected RUN, TAGGED, CHAINED or CALIBRATION")
    }
    return t
}

/// Parses a chain mode argument.
func chainModeArgument(_ text: String) throws -> ChainMode {
    guard let mode = ChainMode(rawValue: text.lowercased()) else {
        throw ValidationError("unknown chain mode '\(text)': expected redefine, extend, remove, prepend or pop")
    }
    return mode
}

extension ButlerCommand {
    struct RegisterCollection: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "register-collection",
            abstract: "Create a RUN, TAGGED or CALIBRATION collection (CHAINED ones are made by collection-chain).",
            discussion: "Registering an existing collection of the same type does nothing.")

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Argument(help: ArgumentHelp("Name of the collection.", valueName: "collection")) var name: String
        @Option(name: .long, help: "Collection type: RUN, TAGGED or CALIBRATION.", transform: collectionTypeArgument)
        var type: CollectionType = .tagged
        @Option(name: .long, help: "Documentation string for the collection.") var doc: String?

        func validate() throws {
            if type == .chained { throw ValidationError("make CHAINED collections with collection-chain") }
        }

        func run() throws {
            let butler = try Butler(repository: repository.repo)
            let created = try butler.registry.registerCollection(name, type: type, doc: doc)
            emit(created ? "Registered \(type) collection \(name)\n" : "\(type) collection \(name) was already registered\n")
        }
    }

    struct QueryCollections: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "query-collections",
            abstract: "List collections, with the children of chains.")

        enum ChainsMode: String, ExpressibleByArgument, CaseIterable {
            case tree = "TREE", table = "TABLE", inverseTree = "INVERSE-TREE", inverseTable = "INVERSE-TABLE"
            case flatten = "FLATTEN", noChildren = "NO-CHILDREN"
            init?(argument: String) { self.init(rawValue: argument.uppercased()) }
        }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Argument(help: ArgumentHelp("Glob patterns of collection names (all when none).", valueName: "glob")) var globs: [String] = []
        @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Only these types (RUN, TAGGED, CHAINED, CALIBRATION); repeat or comma-separate.", valueName: "type"))
        var collectionType: [String] = []
        @Option(name: .long, help: "How to show chains: TREE, TABLE, INVERSE-TREE, INVERSE-TABLE, FLATTEN or NO-CHILDREN.")
        var chains: ChainsMode = .tree
        @Flag(name: [.customShort("t"), .long], help: "Also show the dataset types that have datasets in each collection (of a chain: in its children, with --chains TABLE or INVERSE-TABLE).")
        var showDatasetTypes = false
        @Option(name: .long, help: ArgumentHelp("Dataset types (comma-separated globs) left out of --show-dataset-types.", valueName: "globs"))
        var excludeDatasetTypes = "*_config,*_log,*_metadata,packages"
        @OptionGroup var output: FormatOption

        /// The dataset types with datasets in a collection (through a chain, in its children), less the excluded ones.
        func datasetTypes(in record: CollectionRecord, _ butler: Butler, cache: inout [String: [String]]) throws -> [String] {
            if let known = cache[record.name] { return known }
            var q = DatasetQuery()
            q.collections = [record.name]
            q.limit = 1  // per dataset type: one dataset tells the type is there
            let excluded = excludeDatasetTypes.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            let names = Set(try butler.registry.queryDatasets(q).datasets.map(\.ref.datasetType.name))
                .filter { name in !excluded.contains { fnmatch($0, name, 0) == 0 } }.sorted()
            cache[record.name] = names
            return names
        }

        func run() throws {
            var types = Set<CollectionType>()
            for value in collectionType.flatMap({ $0.split(separator: ",") }) {
                guard let t = CollectionType(name: String(value)) else {
                    throw ValidationError("unknown collection type '\(value)': expected RUN, TAGGED, CHAINED or CALIBRATION")
                }
                types.insert(t)
            }
            let butler = try Butler(repository: repository.repo)
            let registry = butler.registry
            let selected = try registry.queryCollections(globs, types: types.isEmpty ? Set(CollectionType.allCases) : types)
            // Names as Swift compares them: a registry made before names were normalized to NFC may hold one name in
            // two Unicode forms, which must not stop the listing (the first row wins the lookup; both are listed).
            let all = Dictionary(try registry.queryCollections().map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })

            if output.format == .json {
                // One object per collection; children and parents always present, flattened for chains.
                var table = ResultTable(columns: ["name", "type", "doc", "children", "parents", "flattened"] + (showDatasetTypes ? ["dataset_types"] : []))
                var cache: [String: [String]] = [:]
                for c in selected {
                    let parents = all.values.filter { $0.children.contains(c.name) }.map(\.name).sorted()
                    let flat = c.type == .chained ? try registry.flattenedCollections(c.name) : [c.name]
                    table.rows.append([.string(c.name), .string(c.type.description), c.doc.map(Cell.string) ?? .null,
                                       .list(c.children), .list(parents), .list(flat)]
                                      + (showDatasetTypes ? [.list(try datasetTypes(in: c, butler, cache: &cache))] : []))
                }
                emit(render([table], as: .json))
                return
            }
            var table = ResultTable(columns: ["Name", "Type"])
            switch chains {
            case .noChildren:
                table.rows = selected.map { [.string($0.name), .string($0.type.description)] }
            case .table:
                table.columns = ["Name", "Type", "Children"]
                table.rows = selected.map { [.string($0.name), .string($0.type.description), .list($0.children)] }
            case .inverseTable:
                table.columns = ["Name", "Type", "Parents"]
                table.rows = selected.map { c in
                    [.string(c.name), .string(c.type.description), .list(all.values.filter { $0.children.contains(c.name) }.map(\.name).sorted())]
                }
            case .flatten:
                var seen = Set<String>()
                for c in selected {
                    for name in (c.type == .chained ? try registry.flattenedCollections(c.name) : [c.name]) where seen.insert(name).inserted {
                        table.rows.append([.string(name), .string(all[name]?.type.description ?? "")])
                    }
                }
            case .tree, .inverseTree:
                func walk(_ name: String, depth: Int, path: Set<String>) {
                    guard let c = all[name] else { return }
                    table.rows.append([.string(String(repeating: "  ", count: depth) + name), .string(c.type.description)])
                    let next = chains == .tree ? c.children : all.values.filter { $0.children.contains(name) }.map(\.name).sorted()
                    for child in next where !path.contains(child) { walk(child, depth: depth + 1, path: path.union([child])) }
                }
                for c in selected { walk(c.name, depth: 0, path: [c.name]) }
            }
            if showDatasetTypes {
                // The first column names the collection (indented in trees); a chain's own row shows its children's
                // types only in the table forms, which list the children beside it.
                var cache: [String: [String]] = [:]
                table.columns.append("Dataset Types")
                for i in table.rows.indices {
                    let name = table.rows[i][0].text.trimmingCharacters(in: .whitespaces)
                    guard let c = all[name], c.type != .chained || chains == .table || chains == .inverseTable else {
                        table.rows[i].append(.list([]))
                        continue
                    }
                    table.rows[i].append(.list(try datasetTypes(in: c, butler, cache: &cache)))
                }
            }
            // Nothing matched: a table prints nothing, as Rubin's does (CSV keeps its header).
            if table.rows.isEmpty && output.format == .table { return }
            emit(render([table], as: output.format))
        }
    }

    struct CollectionChain: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "collection-chain",
            abstract: "Create or edit a CHAINED collection and print its children.",
            discussion: """
                Modes: redefine (replace the children; creates the chain), extend (append), remove, prepend, \
                pop (remove by position, 0 by default; negative positions count from the end and need `--` before them). \
                Cycles are refused.
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Argument(help: ArgumentHelp("Name of the chained collection.", valueName: "parent")) var parent: String
        @Argument(help: ArgumentHelp("Child collections (comma-separated values are split), or positions for pop.", valueName: "children"))
        var children: [String] = []
        @Option(name: .long, help: "How to change the chain: redefine, extend, remove, prepend or pop.", transform: chainModeArgument)
        var mode: ChainMode = .redefine
        @Option(name: .long, help: "Documentation string for the chain.") var doc: String?
        @Flag(name: .long, inversion: .prefixedNo, help: "Store the flattened leaves of the children instead of the children.") var flatten = false

        func run() throws {
            let butler = try Butler(repository: repository.repo)
            let names = children.flatMap { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }.filter { !$0.isEmpty }
            let result = try butler.registry.modifyChain(parent, children: names, mode: mode, doc: doc, flatten: flatten)
            emit("[" + result.joined(separator: ", ") + "]\n")
        }
    }

    struct RemoveCollections: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "remove-collections",
            abstract: "Remove TAGGED, CHAINED and CALIBRATION collections matching a glob (RUNs go with remove-runs).",
            discussion: "A collection still in a chain is refused unless --remove-from-parents is given. Datasets are not removed.")

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Argument(help: ArgumentHelp("Glob pattern of collection names.", valueName: "glob")) var glob: String
        @Flag(name: .long, help: "Also unlink the collections from the chains that list them.") var removeFromParents = false
        @Flag(name: .long, inversion: .prefixedNo, help: "Ask before removing, on standard input even when it is not a terminal (as Rubin's); --no-confirm never asks.") var confirm = true

        func run() throws {
            let butler = try Butler(repository: repository.repo)
            let candidates = try butler.registry.queryCollections([glob], types: [.tagged, .chained, .calibration])
            if candidates.isEmpty && NamePattern.isGlob(glob) {
                emit("No collections matched \(glob)\n")
                return
            }
            if confirm && !candidates.isEmpty {
                emit("Will remove:\n" + candidates.map { "  \($0.name) (\($0.type))\n" }.joined())
                guard try confirmOnStandardInput() else { emit("Aborted.\n"); return }
            }
            let removed = try butler.registry.removeCollections([glob], removeFromParents: removeFromParents)
            emit(removed.map { "Removed \($0.type) collection \($0.name)\n" }.joined())
        }
    }

    struct RemoveRuns: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "remove-runs",
            abstract: "Remove RUN collections matching a glob, with their datasets and their files.",
            discussion: "A run that is a child of a chain is refused unless --force is given; it is then unlinked from its chains.")

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Argument(help: ArgumentHelp("Glob pattern of run names.", valueName: "glob")) var glob: String
        @Flag(name: .long, help: "Unlink runs from the chains that list them, and remove datasets others were derived from (keeping tombstones).") var force = false
        @Flag(name: .long, inversion: .prefixedNo, help: "Ask before removing, on standard input even when it is not a terminal (as Rubin's); --no-confirm never asks.") var confirm = true

        func run() throws {
            let butler = try Butler(repository: repository.repo)
            let candidates = try butler.registry.queryCollections([glob], types: [.run])
            if candidates.isEmpty && NamePattern.isGlob(glob) {
                emit("No runs matched \(glob)\n")
                return
            }
            if confirm && !candidates.isEmpty {
                var lines = "Will remove runs and their datasets:\n"
                for run in candidates {
                    let parents = try butler.registry.parentChains(of: run.name)
                    lines += "  \(run.name): \(try butler.registry.datasetCount(inRun: run.name)) dataset(s)"
                        + (parents.isEmpty ? "" : ", unlinked from \(parents.joined(separator: ", "))") + "\n"
                }
                emit(lines)
                guard try confirmOnStandardInput() else { emit("Aborted.\n"); return }
            }
            let bar = ProgressBar(unit: "files")
            let removed = try butler.removeRuns([glob], unlinkFromChains: force, progress: bar.report)
            bar.finish()
            for run in removed.runs {
                let chains = removed.unlinkedFrom[run].map { " (unlinked from \($0.joined(separator: ", ")))" } ?? ""
                emit("Removed run \(run)\(chains)\n")
            }
            emit("Removed \(removed.datasetCount) dataset(s)\n")
        }
    }
}

/// Rubin's `Continue? [y/N]` before a removal, read from standard input whether or not it is a terminal (as Rubin's
/// click prompt): true for y/yes, false for n/no or an empty answer; anything else asks again.
///
/// - Throws: ``CommandFailure`` (exit 1, nothing removed) at the end of standard input, as Rubin aborts.
func confirmOnStandardInput() throws -> Bool {
    while true {
        emit("Continue? [y/N]: ")
        guard let line = readLine() else {
            emit("\n")
            writeStandardError("butler: error: aborted: no answer on standard input; nothing was removed (--no-confirm removes without asking)\n")
            throw CommandFailure(exitCode: 1)
        }
        switch line.trimmingCharacters(in: .whitespaces).lowercased() {
        case "y", "yes": return true
        case "", "n", "no": return false
        default: emit("Error: invalid input\n")
        }
    }
}
