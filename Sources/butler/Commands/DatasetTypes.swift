import ArgumentParser
import ButlerKit

extension ButlerCommand {
    struct RegisterDatasetType: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "register-dataset-type",
            abstract: "Register a dataset type.",
            discussion: """
                Registering an existing name with the same definition does nothing; with a different one it fails \
                and shows both. Dimensions are expanded with what they require (detector brings instrument).
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Argument(help: ArgumentHelp("Name of the dataset type.", valueName: "dataset-type")) var name: String
        @Argument(help: ArgumentHelp("Storage class (Exposure, ExposureF, SourceCatalog, ...).", valueName: "storage-class")) var storageClass: String
        @Argument(help: ArgumentHelp("Dimensions of its data IDs.", valueName: "dimensions")) var dimensions: [String] = []
        @Flag(name: .long, inversion: .prefixedNo, help: "Whether datasets of this type can be certified into CALIBRATION collections.")
        var isCalibration = false

        func run() throws {
            let butler = try Butler(repository: repository.repo)
            let type = try butler.registry.makeDatasetType(name, storageClass: storageClass, dimensions: dimensions, isCalibration: isCalibration)
            if try butler.registry.registerDatasetType(type) {
                emit("Registered \(type)\n")
            } else {
                emit("\(type) was already registered\n")
            }
        }
    }

    struct RemoveDatasetType: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "remove-dataset-type",
            abstract: "Remove dataset type definitions (names or glob patterns). A type that still has datasets is refused.")

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Argument(help: ArgumentHelp("Names or glob patterns of the dataset types.", valueName: "name")) var names: [String]

        func validate() throws {
            if names.isEmpty { throw ValidationError("give at least one dataset type name") }
        }

        func run() throws {
            let butler = try Butler(repository: repository.repo)
            let removed = try butler.registry.removeDatasetTypes(names)
            emit(removed.isEmpty ? "No dataset type matched\n" : removed.map { "Removed dataset type \($0)\n" }.joined())
        }
    }

    struct QueryDatasetTypes: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "query-dataset-types",
            abstract: "List dataset types, optionally only those matching glob patterns.")

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Argument(help: ArgumentHelp("Glob patterns of dataset type names (all when none).", valueName: "glob")) var globs: [String] = []
        @Flag(name: [.short, .long], help: "Also show dimensions, storage class and whether it is a calibration.") var verbose = false
        @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Only dataset types with datasets in these collections (names or globs; comma-separated or repeated; chains searched through).", valueName: "collections"))
        var collections: [String] = []
        @OptionGroup var output: FormatOption

        func run() throws {
            let butler = try Butler(repository: repository.repo)
            var types = try butler.registry.queryDatasetTypes(globs)
            if !collections.isEmpty {
                var q = DatasetQuery()
                q.datasetTypes = globs
                q.collections = collections
                q.limit = 1  // per dataset type
                let present = Set(try butler.registry.queryDatasets(q).datasets.map(\.ref.datasetType.name))
                types = types.filter { present.contains($0.name) }
            }
            // JSON always carries every field: it is the contract for scripts.
            let full = verbose || output.format == .json
            var table = ResultTable(columns: full ? ["name", "dimensions", "storage_class", "is_calibration"] : ["name"])
            for t in types {
                table.rows.append(full ? [.string(t.name), .list(t.dimensions.required), .string(t.storageClass), .bool(t.isCalibration)]
                                       : [.string(t.name)])
            }
            if output.format == .table, verbose {
                table.rows = table.rows.map { row in row.enumerated().map { $0.offset == 1 ? .string("(\($0.element.text))") : $0.element } }
            }
            emit(render([table], as: output.format))
        }
    }
}
