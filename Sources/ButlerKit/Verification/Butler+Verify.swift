import Foundation

/// One problem `verify` found in a repository.
public struct VerificationProblem: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// A registry file record whose file is not there.
        case missingFile = "missing-file"
        /// A file whose size differs from the recorded one.
        case sizeMismatch = "size-mismatch"
        /// A file whose SHA-256 differs from the recorded one.
        case checksumMismatch = "checksum-mismatch"
        /// A file in the datastore that no registry row points at.
        case orphanFile = "orphan-file"
        /// A provenance edge (input, output or log) to a dataset with neither a row nor a tombstone.
        case danglingEdge = "dangling-edge"
        /// A successful step that recorded no output.
        case emptyStep = "empty-step"
    }

    public let kind: Kind
    /// The file path or dataset/step id the problem is about.
    public let subject: String
    public let detail: String

    /// `kind subject: detail`, one line.
    public var description: String { "\(kind.rawValue) \(subject): \(detail)" }
}

/// What `verify` checked.
public struct VerificationSummary: Sendable {
    public var filesChecked = 0
    public var checksumsChecked = 0
    public var datastoreFiles = 0
    public var edgesChecked = 0
    public var problems = 0
}

extension Butler {
    /// Checks that registry and datastore agree and that provenance is whole: every recorded file is present with
    /// its recorded size (and checksum, with `checksums`), every file in the datastore has a registry row, and every
    /// provenance edge points at a dataset or a tombstone.
    ///
    /// - Parameters:
    ///   - collections: only check the files of datasets in these collections (all when empty); the datastore walk
    ///     and the provenance check cover the whole repository.
    ///   - checksums: also recompute SHA-256 checksums (reads every file).
    ///   - progress: told of the file records checked as they are.
    ///   - report: called for each problem as it is found.
    public func verify(collections: [String] = [], checksums: Bool = false, progress: ProgressReport? = nil,
                       report: (VerificationProblem) -> Void) throws -> VerificationSummary {
        var summary = VerificationSummary()
        func problem(_ kind: VerificationProblem.Kind, _ subject: String, _ detail: String) {
            summary.problems += 1
            report(VerificationProblem(kind: kind, subject: subject, detail: detail))
        }
        let datastore = self.datastore
        let records = try registry.fileRecords(collections: collections)
        for (i, r) in records.checked.enumerated() {
            summary.filesChecked += 1
            defer { progress?(i + 1, records.checked.count) }
            let shown = Self.shown(datastore.location(of: r.path))
            let recordedChecksum = checksums ? r.checksum : nil
            let measured: (size: Int64, checksum: String?)?
            do {
                measured = try datastore.measure(recordedPath: r.path, checksum: recordedChecksum != nil)
            } catch let error as ButlerError where error.code == .invalidValue {
                // A member of a stored Zip whose bytes fail the Zip's CRC-32 (or cannot be inflated).
                problem(.checksumMismatch, shown, "\(error.message), for \(r.datasetType) \(r.datasetId)")
                continue
            }
            guard let measured else {
                problem(.missingFile, shown, "recorded for \(r.datasetType) \(r.datasetId) but not there")
                continue
            }
            if let size = r.size, measured.size != size {
                problem(.sizeMismatch, shown, "\(measured.size) bytes, recorded \(size) for \(r.datasetType) \(r.datasetId)")
                continue
            }
            if let recorded = recordedChecksum {
                summary.checksumsChecked += 1
                if measured.checksum != recorded {
                    problem(.checksumMismatch, shown, "SHA-256 \(measured.checksum ?? "?"), recorded \(recorded) for \(r.datasetType) \(r.datasetId)")
                }
            }
        }
        // Files in the datastore that no record names (leaving alone what live writers are creating).
        try datastore.forEachStoredFile { recorded, shown in
            summary.datastoreFiles += 1
            guard !records.allPaths.contains(recorded) && !records.allPaths.contains(shown) else { return }
            let name = (recorded as NSString).lastPathComponent
            let detail = !name.hasPrefix(".") ? "no registry row points at this file"
                : name.contains(".butler-orphan-") ? "an unregistered file found at a path given to a new dataset, kept aside"
                : name.contains(".butler-trash-") ? "a file of a removed dataset left by an interrupted removal"
                : name.contains(".tmp-") || name.contains(".butler-tmp-") ? "temporary file left by an interrupted transfer" : "no registry row points at this file"
            problem(.orphanFile, shown, detail)
        }
        var edges = 0
        try registry.checkProvenanceEdges(&edges) { problem($0.kind, $0.subject, $0.detail) }
        summary.edgesChecked = edges
        return summary
    }
}

extension Butler {
    /// A file location as verify names it: the path of a local file, the URI of an object.
    static func shown(_ location: URL) -> String {
        guard location.isFileURL else { return location.absoluteString }
        return location.zipMember.map { location.path + ZipMemberPath.marker + $0 } ?? location.path
    }
}

extension Registry {
    struct FileRecordRow {
        let datasetId: String
        let datasetType: String
        let path: String
        let size: Int64?
        let checksum: String?
    }

    /// The file records to check (of datasets in `collections`, or all) and every recorded path (with the path of
    /// each stored Zip whose members are recorded).
    func fileRecords(collections: [String]) throws -> (checked: [FileRecordRow], allPaths: Set<String>) {
        try database.read { c in
            var selected: Set<String>? = nil
            if !collections.isEmpty {
                let ids = try resolveCollections(collections, findFirst: false, in: c).map { String($0.id) }
                var members = Set<String>()
                if !ids.isEmpty {
                    for table in try tagTables(in: c) {
                        try c.forEachRow("SELECT dataset_id FROM \(q(table)) WHERE collection_id IN (\(ids.joined(separator: ", ")))", []) { row in
                            if let id = row[0].string { members.insert(id) }
                        }
                    }
                }
                selected = members
            }
            var checked: [FileRecordRow] = []
            var paths = Set<String>()
            try c.forEachRow("""
                SELECT f.dataset_id, dt.name, f.path, f.file_size, f.checksum FROM file_datastore_records AS f
                JOIN dataset AS d ON d.id = f.dataset_id JOIN dataset_type AS dt ON dt.id = d.dataset_type_id ORDER BY f.path
                """, []) { row in
                guard let id = row[0].string, let path = row[2].string else { return }
                paths.insert(path)
                if let member = ZipMemberPath(recordedPath: path) { paths.insert(member.container) }  // the stored Zip is recorded
                if selected == nil || selected!.contains(id) {
                    checked.append(FileRecordRow(datasetId: id, datasetType: row[1].string ?? "", path: path, size: row[3].int64, checksum: row[4].string))
                }
            }
            return (checked, paths)
        }
    }

    /// Reports every provenance edge whose dataset has neither a row nor a tombstone, and every successful step
    /// without outputs. Edges of steps that ran in another repository (an output of theirs was copied here) are left
    /// out: the datasets they name may be held there.
    func checkProvenanceEdges(_ checked: inout Int, _ report: (VerificationProblem) -> Void) throws {
        let edges = try database.read { c -> (Int, [SQLRow], [SQLRow]) in
            let total = (try c.queryOne("SELECT (SELECT COUNT(*) FROM quantum_input) + (SELECT COUNT(*) FROM quantum_output)")?[0].int) ?? 0
            // A step that ran in another repository (an output of it was copied here) may name datasets held there.
            let ranHere = "q.origin_id IS NULL AND NOT EXISTS (SELECT 1 FROM quantum_output AS o JOIN dataset_copy AS dc ON dc.dataset_id = o.dataset_id WHERE o.quantum_id = q.id)"
            let dangling = try c.query("""
                SELECT 'input', e.quantum_id, q.task_label, e.role, e.dataset_id FROM quantum_input AS e JOIN quantum AS q ON q.id = e.quantum_id
                WHERE NOT EXISTS (SELECT 1 FROM dataset AS d WHERE d.id = e.dataset_id)
                  AND NOT EXISTS (SELECT 1 FROM dataset_tombstone AS t WHERE t.dataset_id = e.dataset_id) AND \(ranHere)
                UNION ALL
                SELECT 'output', e.quantum_id, q.task_label, e.role, e.dataset_id FROM quantum_output AS e JOIN quantum AS q ON q.id = e.quantum_id
                WHERE NOT EXISTS (SELECT 1 FROM dataset AS d WHERE d.id = e.dataset_id)
                  AND NOT EXISTS (SELECT 1 FROM dataset_tombstone AS t WHERE t.dataset_id = e.dataset_id) AND \(ranHere)
                UNION ALL
                SELECT 'log', q.id, q.task_label, 'log', q.log_dataset_id FROM quantum AS q WHERE q.log_dataset_id IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM dataset AS d WHERE d.id = q.log_dataset_id)
                  AND NOT EXISTS (SELECT 1 FROM dataset_tombstone AS t WHERE t.dataset_id = q.log_dataset_id) AND \(ranHere)
                """)
            let empty = try c.query("""
                SELECT q.id, q.task_label FROM quantum AS q WHERE q.status = 'succeeded'
                AND NOT EXISTS (SELECT 1 FROM quantum_output AS o WHERE o.quantum_id = q.id)
                """)
            return (total, dangling, empty)
        }
        checked += edges.0
        for row in edges.1 {
            report(VerificationProblem(kind: .danglingEdge, subject: row[4].string ?? "",
                                       detail: "\(row[0].string ?? "") '\(row[3].string ?? "")' of step \(row[2].string ?? "") \(row[1].string ?? "") points at no dataset and no tombstone"))
        }
        for row in edges.2 {
            report(VerificationProblem(kind: .emptyStep, subject: row[0].string ?? "", detail: "step \(row[1].string ?? "") succeeded but recorded no output"))
        }
    }
}
