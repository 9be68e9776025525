public import Foundation

/// Repositories this process may only read: a read-only mount, or another user's files.
///
/// Reading works there: the SQLite registry is opened read-only (see ``SQLiteDatabase``), recovery after interrupted
/// transfers is skipped, and nothing is written. Writing is refused up front, in one line.
extension Butler {
    /// Why this process may not change the repository (`nil` when it may): its SQLite registry file or the folder
    /// holding it, or its datastore root, is not writable.
    public var readOnlyReason: String? {
        registry.database.readOnlyReason ?? Self.datastoreReadOnlyReason(datastoreRoot)
    }

    /// Whether this process may only read the repository.
    public var isReadOnly: Bool { readOnlyReason != nil }

    /// - Throws: ``ButlerError/Code/readOnly`` when the repository cannot be changed by this process.
    public func requireWritable() throws {
        if let readOnlyReason { throw ButlerError(.readOnly, "repository \(root.path) is read-only: \(readOnlyReason)") }
    }

    /// Checks, without opening the registry, that this process may change the repository at `repository`.
    ///
    /// - Throws: ``ButlerError/Code/readOnly`` when it may not; errors of reading `butler.yaml`.
    public static func requireWritable(repository: String) throws {
        let config = try ButlerConfig(repository: URL(fileURLWithPath: try RepositoryIndex.resolve(repository)))
        let url = try config.registryURL
        var reason: String?
        if url.hasPrefix("sqlite://") {
            let path = String(url.dropFirst("sqlite://".count))
            if FileManager.default.fileExists(atPath: path) { reason = SQLiteDatabase.readOnlyReason(path) }
        }
        if reason == nil { reason = datastoreReadOnlyReason(try config.datastoreRoot) }
        if let reason { throw ButlerError(.readOnly, "repository \(config.root.path) is read-only: \(reason)") }
    }

    static func datastoreReadOnlyReason(_ root: URL) -> String? {
        guard root.isFileURL, access(root.path, F_OK) == 0 else { return nil }  // a bucket's permissions show on use  // a missing datastore is another problem
        return SQLiteDatabase.isWritable(root.path) ? nil : "the datastore \(root.path) is not writable (\(String(cString: strerror(errno))))"
    }
}
