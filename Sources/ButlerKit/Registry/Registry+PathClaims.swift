extension Migrations {
    /// One row per datastore path that a dataset's file holds, keyed by the path: the arbiter that lets one write
    /// hold a path (see ``FileDatastore``). Paths already recorded are claimed with an empty token.
    static func datastorePaths(_ c: any SQLConnection) throws {
        try c.execute("CREATE TABLE datastore_path (path VARCHAR(4096) PRIMARY KEY, token VARCHAR(64) NOT NULL)")
        try c.execute("""
            INSERT INTO datastore_path (path, token)
            SELECT DISTINCT path, '' FROM file_datastore_records WHERE path NOT LIKE '/%' AND path NOT LIKE '%://%'
            """)
    }
}

extension Registry {
    /// Claims the final paths of staged files for the write whose transaction this is: one claim per distinct path
    /// inside the datastore (several datasets may share one file of the same write, as a multi-detector raw does).
    ///
    /// The claim table's primary key is the arbiter: two writes for one path cannot both commit, whatever the timing.
    /// - Throws: ``ButlerError/Code/conflict`` naming the path and the dataset that holds it.
    package func claimPaths(_ files: [StagedFile], in c: any SQLConnection) throws {
        var seen = Set<String>()
        let claims = files.filter { $0.claimsPath && seen.insert($0.recordedPath).inserted }
        guard !claims.isEmpty else { return }
        // A path held already gets a message naming its holder; the insert below is what decides, in bulk.
        for chunk in claims.chunked(500) {
            if let held = try c.queryOne("SELECT path FROM datastore_path WHERE path IN (\(placeholders(chunk.count))) LIMIT 1",
                                         chunk.map { .text($0.recordedPath) })?[0].string {
                throw try pathConflict(held, in: c)
            }
        }
        do {
            try c.insertRows(into: "datastore_path", columns: ["path", "token"], rows: claims.map { [.text($0.recordedPath), .text($0.token)] })
        } catch ButlerError.conflict {
            throw ButlerError(.conflict, "datastore path\(claims.count == 1 ? " " + claims[0].recordedPath : "s of this write were") was just taken by another write; nothing was stored")
        }
    }

    private func pathConflict(_ path: String, in c: any SQLConnection) throws -> ButlerError {
        let holder = try c.queryOne("""
            SELECT f.dataset_id, dt.name, run.name FROM file_datastore_records AS f JOIN dataset AS d ON d.id = f.dataset_id
            JOIN dataset_type AS dt ON dt.id = d.dataset_type_id JOIN collection AS run ON run.collection_id = d.run_id
            WHERE f.path = ? LIMIT 1
            """, [.text(path)])
        let who = holder.map { "\($0[1].string ?? "") dataset \($0[0].string ?? "") of run '\($0[2].string ?? "")'" } ?? "another write"
        return ButlerError(.conflict, "datastore path \(path) is already held by \(who); the file template does not give this dataset a path of its own, so nothing was stored")
    }

    /// Text matched literally by `LIKE ... ESCAPE '\'`.
    static func escapedForLike(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
    }

    /// The token of the claim on a datastore path, nil when no claim holds it.
    package func claimToken(of path: String) throws -> String? {
        try database.read { c in try c.queryOne("SELECT token FROM datastore_path WHERE path = ?", [.text(path)])?[0].string }
    }

    /// Releases the claims on those of `paths` that no file record names any more, in the removing transaction.
    ///
    /// - Returns: the released paths with their claims' tokens (for the removal to rename the files aside).
    package func releaseUnreferencedPaths(_ paths: [String], in c: any SQLConnection) throws -> [(path: String, token: String)] {
        var released: [(path: String, token: String)] = []
        // A stored Zip is released with the last record of a member of it.
        let zips = Set(paths.compactMap { ZipMemberPath(recordedPath: $0)?.container })
        for path in Set(paths.map(ZipMemberPath.file(of:))).sorted() where StoredFileInfo(path: path, storageClass: "").isInsideDatastore {
            guard try c.queryOne("SELECT 1 FROM file_datastore_records WHERE path = ? LIMIT 1", [.text(path)]) == nil else { continue }
            if zips.contains(path) {
                // LIKE finds the candidates (SQLite's ignores case), substr says which are this Zip's.
                let prefix = path + ZipMemberPath.marker
                guard try c.queryOne("SELECT 1 FROM file_datastore_records WHERE path LIKE ? ESCAPE '\\' AND substr(path, 1, ?) = ? LIMIT 1",
                                     [.text(Self.escapedForLike(prefix) + "%"), .integer(Int64(prefix.unicodeScalars.count)), .text(prefix)]) == nil else { continue }
            }
            let token = try c.queryOne("SELECT token FROM datastore_path WHERE path = ?", [.text(path)])?[0].string ?? ""
            try c.execute("DELETE FROM datastore_path WHERE path = ?", [.text(path)])
            released.append((path, token))
        }
        return released
    }
}
