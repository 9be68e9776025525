public import Foundation

extension DatasetCopy {
    /// The copy of a dataset arriving now in `destination`, made by the user running this process (`$USER`).
    ///
    /// - Parameters:
    ///   - method: `import`, `transfer-datasets -t copy`, `ingest-zip`, ...
    ///   - verifiedChecksum: the checksum the arriving file was checked against, nil when none was recorded.
    public static func arriving(_ datasetId: UUID, from source: RepositoryIdentity?, into destination: RepositoryIdentity,
                                method: String, verifiedChecksum: String?) -> DatasetCopy {
        let now = Int64(Date().timeIntervalSince1970 * 1_000_000_000) + 37_000_000_000  // TAI = UTC + 37 s
        return DatasetCopy(datasetId: datasetId, sourceRepository: source, destinationRepository: destination, copiedAt: now,
                           copiedBy: Quantum.userName, method: method, verifiedChecksum: verifiedChecksum)
    }
}
