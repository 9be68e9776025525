import ArgumentParser
import ButlerKit

/// `--derived-from`, `--produced-by`, `--produced-with` and `--config-hash`: select datasets by how they were made.
/// Shared by query-datasets, associate, disassociate, prune-datasets and retrieve-artifacts.
struct ProvenanceSelectionOptions: ParsableArguments {
    @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Only datasets derived, through any number of steps, from this dataset (UUID or TYPE:key=value,...; repeatable: any of them).", valueName: "ref"))
    var derivedFrom: [String] = []
    @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Only datasets made by this task label (repeatable: any of them).", valueName: "task"))
    var producedBy: [String] = []
    @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Only datasets made with this package version, or code=COMMIT for the step's own code (repeatable: any of them).", valueName: "name=version"))
    var producedWith: [String] = []
    @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Only datasets made with this config file (its SHA-256, or at least its first 6 hex digits; repeatable).", valueName: "hash"))
    var configHash: [String] = []

    func validate() throws {
        for text in producedWith {
            do { _ = try ProvenanceSelection.package(text) } catch let error as ButlerError { throw ValidationError(error.message) }
        }
    }

    /// The selection, with `--derived-from` references resolved in `collections`.
    func selection(_ butler: Butler, collections: [String]) throws -> ProvenanceSelection {
        var s = ProvenanceSelection()
        s.derivedFrom = try derivedFrom.map { ref in
            // A raw or calibration is usually not in the collections searched for its products.
            do { return try butler.registry.resolveDataset(ref, collections: collections).id } catch let error as ButlerError where error.code == .notFound && !collections.isEmpty {
                return try butler.registry.resolveDataset(ref, collections: []).id
            }
        }
        s.producedBy = producedBy
        s.producedWith = try producedWith.map(ProvenanceSelection.package)
        s.configHashes = configHash
        return s
    }
}
