public import Foundation

extension Migrations {
    /// One row per arrival of a dataset from another repository (see ``DatasetCopy``). A copy is keyed by the
    /// dataset, the two repositories and the time, so recording the same copy again changes nothing. Repository ids
    /// are text, empty when not known, so that the key holds no NULL.
    static func datasetCopies(_ c: any SQLConnection) throws {
        let d = c.dialect
        try c.execute("""
            CREATE TABLE dataset_copy (
                dataset_id \(d.uuid) NOT NULL REFERENCES dataset (id) ON DELETE CASCADE,
                copied_at \(d.bigint) NOT NULL,
                source_repository_id VARCHAR(36) NOT NULL,
                source_repository_name VARCHAR(64),
                destination_repository_id VARCHAR(36) NOT NULL,
                destination_repository_name VARCHAR(64),
                copied_by VARCHAR(128),
                method VARCHAR(64) NOT NULL,
                verified_checksum VARCHAR(128),
                PRIMARY KEY (dataset_id, source_repository_id, destination_repository_id, copied_at))
            """)
    }
}

extension Registry {
    private static let copyColumns = [
        "dataset_id", "copied_at", "source_repository_id", "source_repository_name", "destination_repository_id",
        "destination_repository_name", "copied_by", "method", "verified_checksum",
    ]

    /// Records copies of datasets in the caller's write transaction, in bulk. A copy recorded already (same dataset,
    /// repositories and time) is left as it is, so importing the same history twice adds nothing.
    ///
    /// The datasets must be in the registry (a copy is removed with its dataset).
    /// - Throws: ``ButlerError/Code/inUse`` (a foreign key) when a dataset is not in the registry.
    package func insertCopies(_ copies: [DatasetCopy], in c: any SQLConnection) throws {
        guard !copies.isEmpty else { return }
        let rows: [[SQLValue]] = copies.map { copy in
            [
                .text(copy.datasetId.lowercasedString), .integer(copy.copiedAt),
                .text(copy.sourceRepository?.id.lowercasedString ?? ""), copy.sourceRepository.map { .text($0.name) } ?? .null,
                .text(copy.destinationRepository?.id.lowercasedString ?? ""), copy.destinationRepository.map { .text($0.name) } ?? .null,
                copy.copiedBy.map { .text($0) } ?? .null, .text(copy.method), copy.verifiedChecksum.map { .text($0) } ?? .null,
            ]
        }
        let columns = Self.copyColumns.map(q).joined(separator: ", ")
        let row = "(" + placeholders(Self.copyColumns.count) + ")"
        for chunk in rows.chunked(200) {
            try c.execute("""
                \(c.dialect.insertOrIgnore) dataset_copy (\(columns)) VALUES \(Array(repeating: row, count: chunk.count).joined(separator: ", "))\(c.dialect.insertOrIgnoreSuffix)
                """, chunk.flatMap { $0 })
        }
    }

    /// Records copies of datasets in one transaction (see ``insertCopies(_:in:)``).
    public func insertCopies(_ copies: [DatasetCopy]) throws {
        try database.write { c in try insertCopies(copies, in: c) }
    }

    /// The copy records of datasets, oldest first for each dataset (datasets in the order of their ids).
    package func copies(of ids: [UUID], in c: any SQLConnection) throws -> [DatasetCopy] {
        var found: [DatasetCopy] = []
        for chunk in Array(Set(ids)).sorted().chunked(500) {
            for row in try c.query("""
                SELECT \(Self.copyColumns.map(q).joined(separator: ", ")) FROM dataset_copy WHERE dataset_id IN (\(placeholders(chunk.count)))
                """, chunk.map { .text($0.lowercasedString) }) {
                guard let id = row[0].string.flatMap(UUID.init(registryText:)) else { continue }
                func repository(_ i: Int) -> RepositoryIdentity? {
                    guard let text = row[i].string, let uuid = UUID(registryText: text) else { return nil }
                    return RepositoryIdentity(id: uuid, name: row[i + 1].string ?? "")
                }
                found.append(DatasetCopy(datasetId: id, sourceRepository: repository(2), destinationRepository: repository(4),
                                         copiedAt: row[1].int64 ?? 0, copiedBy: row[6].string, method: row[7].string ?? "",
                                         verifiedChecksum: row[8].string))
            }
        }
        return found.sorted { ($0.datasetId, $0.copiedAt) < ($1.datasetId, $1.copiedAt) }
    }

    /// Where a dataset came from: each time it was copied into a repository on its way here, oldest first.
    public func copies(of id: UUID) throws -> [DatasetCopy] {
        try database.read { c in try copies(of: [id], in: c) }
    }
}
