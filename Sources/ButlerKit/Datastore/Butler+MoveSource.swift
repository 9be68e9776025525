import Foundation

extension Butler {
    /// Refuses a file that a move (`-t move` of `import`, `ingest-files`, `ingest-raws`, `put`, `record`) must not
    /// take: one inside this repository or its datastore, one inside any other repository's folder (a folder above
    /// it holds a `butler.yaml`), or one that a registry row here names (a file ingested in place, `-t direct`).
    ///
    /// Invariant 1 of the write path holds whatever path a command is given: a file that a registry row names is
    /// never moved, and a move never takes the registry database or another repository's files out from under it.
    /// This repository's own staging folders (`.staging/`, `.butler-scratch/`), where `run` and Zip ingests put the
    /// files they move in, are the exception.
    ///
    /// - Throws: ``ButlerError/Code/invalidValue`` naming the file and why it is not moved.
    package func checkMoveSource(_ path: String) throws {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL
        let name = absolute.lastPathComponent
        // Folders resolved (a link to a folder leads where it leads); the file itself is what moves.
        let folder = Self.resolvedFolder(absolute.deletingLastPathComponent().path)
        let canonical = (folder == "/" ? "" : folder) + "/" + name
        func inside(_ root: String) -> Bool { canonical.hasPrefix(root == "/" ? "/" : root + "/") }
        let work = Self.resolvedFolder(localWorkRoot.path)
        if inside(work + "/.staging") || inside(work + "/.butler-scratch") { return }
        func refuse(_ why: String) -> ButlerError {
            ButlerError(.invalidValue, "\(path): not moved: \(why); use -t copy (a move never takes a file that a repository holds)")
        }
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
        for candidate in Set([canonical, absolute.path]) where try registry.namesFile(atAbsolutePath: candidate) {
            throw refuse("a dataset of this repository is stored there (ingested in place)")
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
    /// Whether a dataset's file is recorded at this absolute path (a file ingested in place).
    package func namesFile(atAbsolutePath path: String) throws -> Bool {
        try database.read { c in
            try c.queryOne("SELECT 1 FROM file_datastore_records WHERE path = ? LIMIT 1", [.text(path)]) != nil
        }
    }
}
