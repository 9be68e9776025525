import Foundation

extension Butler {
    /// Refuses a file that a move (`-t move` of `import`, `ingest-files`, `ingest-raws`, `put`, `record`) must not
    /// take: one inside this repository or its datastore, one inside any other repository's folder (a folder above
    /// it holds a `butler.yaml`), or one that a registry row here names (a file ingested in place, `-t direct`).
    ///
    /// Invariant 1 of the write path holds whatever path a command is given: a file that a registry row names is
    /// never moved, and a move never takes the registry database or another repository's files out from under it.
    /// A file with other names (hard links) is not moved either. This repository's own staging folders (`.staging/`,
    /// `.butler-scratch/`), where `run` and Zip ingests put the files they move in, are the exception to the folder
    /// rules, but not to the registry's: a registered file there (a RUN named `.staging`) is never moved.
    ///
    /// - Throws: ``ButlerError/Code/invalidValue`` naming the file and why it is not moved.
    package func checkMoveSource(_ path: String) throws {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL
        let name = absolute.lastPathComponent
        // Folders resolved (a link to a folder leads where it leads); the file itself is what moves.
        let folder = Self.resolvedFolder(absolute.deletingLastPathComponent().path)
        let canonical = (folder == "/" ? "" : folder) + "/" + name
        func inside(_ root: String) -> Bool { canonical.hasPrefix(root == "/" ? "/" : root + "/") }
        func refuse(_ why: String) -> ButlerError {
            ButlerError(.invalidValue, "\(path): not moved: \(why); use -t copy (a move never takes a file that a repository holds)")
        }
        // Named by a registry row here: in place (`-t direct`), as the source of a link, or by its datastore path.
        var named = Set([canonical, absolute.path])
        let store = Self.resolvedFolder(datastoreRoot.path)
        if bucket == nil, inside(store) { named.insert(String(canonical.dropFirst(store.count + 1))) }
        for candidate in named.sorted() where try registry.namesFile(atPath: candidate) {
            throw refuse("a dataset of this repository is stored there or links to it")
        }
        // A file with other names: moving one name leaves the others, and stamping its header would change theirs.
        var status = stat()
        if lstat(canonical, &status) == 0, status.st_mode & S_IFMT == S_IFREG, status.st_nlink > 1 {
            throw refuse("it has \(status.st_nlink) names (hard links), and another may be a repository's file")
        }
        let work = Self.resolvedFolder(localWorkRoot.path)
        if inside(work + "/.staging") || inside(work + "/.butler-scratch") { return }
        let repository = Self.resolvedFolder(root.path)
        if inside(repository) { throw refuse("it is inside the repository \(root.path)") }
        if bucket == nil, inside(Self.resolvedFolder(datastoreRoot.path)) { throw refuse("it is inside the datastore \(datastoreRoot.path)") }
        var above = folder
        while true {
            if FileManager.default.fileExists(atPath: (above == "/" ? "" : above) + "/" + ButlerConfig.fileName) {
                throw refuse("it is inside the repository \(above) (which has a \(ButlerConfig.fileName))")
            }
            if above == "/" || above.isEmpty { break }
            above = (above as NSString).deletingLastPathComponent
        }
    }

    /// A folder's path with every symbolic link on the way resolved (as far as it exists).
    private static func resolvedFolder(_ path: String) -> String {
        guard let real = realpath(path, nil) else { return URL(fileURLWithPath: path).standardizedFileURL.path }
        defer { free(real) }
        return String(cString: real)
    }
}

extension Registry {
    /// Whether a dataset's file is recorded at this path (a datastore path, or an absolute one of a file ingested in
    /// place), is the source a datastore link points at, or is claimed by a write in progress.
    package func namesFile(atPath path: String) throws -> Bool {
        try database.read { c in
            try c.queryOne("""
                SELECT 1 FROM file_datastore_records WHERE path = ? OR source_path = ?
                UNION ALL SELECT 1 FROM datastore_path WHERE path = ? LIMIT 1
                """, [.text(path), .text(path), .text(path)]) != nil
        }
    }
}
