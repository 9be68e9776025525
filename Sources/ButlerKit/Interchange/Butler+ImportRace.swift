import Foundation

/// The attempt an import is on, for ``Butler/retryAfterLostRace(_:planned:contents:files:shared:options:)``.
enum ImportRace {
    /// 0 for the first attempt; an import runs again at most ``maxRetries`` times after losing a race.
    @TaskLocal static var attempt = 0
    static let maxRetries = 2
}

extension Butler {
    /// What an import does when its registry transaction lost a race: another writer (a `transfer-datasets`,
    /// `ingest-zip` or `import` into this repository at the same time) committed some of the same rows between this
    /// import's plan and its commit, so the database refused a unique key (SQLite and PostgreSQL alike).
    ///
    /// The contents are planned again against what is here now:
    /// - a real conflict with what the other writer brought (the same data ID in a RUN under another id, a dataset
    ///   of another type) is thrown as the plan names it;
    /// - nothing changed since the first plan: the refusal was not a race, and the caller throws it as it is;
    /// - otherwise the import runs again (at most ``ImportRace/maxRetries`` times): datasets the other writer brought
    ///   are found present and left alone, so when it brought them all the report says they are already here, with
    ///   nothing added, and the command succeeds.
    ///
    /// The staged files of the lost attempt must have been discarded by the caller.
    /// - Parameters:
    ///   - error: what the write threw.
    ///   - planned: the lost attempt's report (what its plan meant to add).
    /// - Returns: the report of the attempt that settled it, or nil when `error` was not a lost race.
    func retryAfterLostRace(_ error: any Error, planned: ImportReport, contents: ExportContents, files stager: @escaping FileStager,
                            shared: SharedFileStager?, options: ImportOptions) throws -> ImportReport? {
        guard let failure = error as? ButlerError, failure.code == .conflict || failure.code == .alreadyExists,
              !options.dryRun, ImportRace.attempt < ImportRace.maxRetries else { return nil }
        let again = try ImportPlan(contents: contents, butler: self, options: options)
        let changed = Set(again.newFiles.flatMap { $0.file.refs.map(\.id) }) != Set(planned.datasetIds)
            || Set(again.newCollections) != Set(planned.collections)
            || Set(again.newDatasetTypes.map(\.name)) != Set(planned.datasetTypes)
            || again.newRecordCount != planned.dimensionRecords
        guard changed else { return nil }
        logger.info("another writer registered part of this import at the same time; planning it again",
                    metadata: ["attempt": "\(ImportRace.attempt + 1)", "refused": "\(failure.message.prefix(200))"])
        return try ImportRace.$attempt.withValue(ImportRace.attempt + 1) {
            try importContents(contents, files: stager, shared: shared, options: options)
        }
    }
}
