public import Foundation

/// How a reproduced output compares with the recorded one, from best to worst.
public enum ReproductionVerdict: String, Sendable, Comparable, CaseIterable {
    /// The same bytes; for FITS, the same data and headers apart from our `LSST BUTLER` provenance cards (and the
    /// CHECKSUM/DATASUM that cover them), which name the new dataset.
    case identical
    /// FITS files with the same data in every HDU whose headers differ (the differences are listed).
    case sameData = "same-data"
    /// Different data (the first differing HDU and how much differs), or the step failed when run again.
    case differs
    /// The step could not be run again: inputs gone, no command recorded, or the environment differs.
    case notReproducible = "not-reproducible"
    /// A dry run: what would run.
    case wouldRun = "would-run"

    private var rank: Int { Self.allCases.firstIndex(of: self)! }
    public static func < (a: Self, b: Self) -> Bool { a.rank < b.rank }
}

/// What ``Butler/reproduce(_:)`` is asked to do.
public struct ReproduceRequest: Sendable {
    /// The datasets whose making is reproduced.
    public var datasets: [UUID]
    /// The RUN the new outputs go to (`reproduce/<UTC time>` when nil).
    public var run: String?
    /// Also re-run every step upstream, back to stored inputs (raws, calibrations put by hand), in dependency order;
    /// each step then reads the reproduced outputs of the steps before it.
    public var upstream = false
    /// Only say what would run.
    public var dryRun = false
    /// The package versions of the environment reproducing (as `--package` gives them): a step recorded with other
    /// versions is not reproducible, and the difference is named. Nil: only the executable is checked.
    public var packages: [String: String]?
    /// Also run steps that arrived from another repository (`--allow-foreign`). Without it such a step is refused, and
    /// the refusal names its origin and its command. (No repository id makes a step runnable: the ids a bundle names
    /// are claims that nothing authenticates.)
    public var allowForeign = false

    public init(datasets: [UUID]) { self.datasets = datasets }
}

/// One recorded output and how its reproduction went.
public struct Reproduction: Sendable {
    /// The recorded dataset.
    public let dataset: Lineage.Dataset
    /// The task label of the step that made it (empty when no step did).
    public let step: String
    /// The recorded step (nil when no step made the dataset).
    public let originalStep: UUID?
    /// The step that ran it again (nil when it did not run).
    public let newStep: UUID?
    /// The new dataset (nil when the step did not run).
    public let newDataset: UUID?
    public let verdict: ReproductionVerdict
    /// The reason or the differences, one line.
    public let detail: String
    /// How long the step took to run again (0 when it did not run).
    public let seconds: Double
}
