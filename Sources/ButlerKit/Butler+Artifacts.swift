public import Foundation

/// How ``Butler/pruneDatasets(_:mode:)`` removes datasets (Rubin's `prune-datasets` modes).
public enum PruneMode: Sendable, Equatable {
    /// Delete the files only; the registry keeps the datasets.
    case unstore
    /// Remove the datasets completely, with their files; they must belong to this RUN.
    case purge(run: String)
    /// Remove the datasets from a TAGGED collection only.
    case disassociate(tag: String)
}

extension Butler {
    /// Removes datasets as `mode` says: registry rows and the files that no remaining dataset uses, in two phases
    /// (see ``FileDatastore``); files outside the datastore, ingested with `direct`, are never deleted.
    ///
    /// - Parameters:
    ///   - force: remove datasets that others were derived from, keeping tombstones in their provenance.
    ///   - progress: told of the files set aside as the removal goes.
    /// - Returns: the number of datasets affected.
    @discardableResult
    public func pruneDatasets(_ refs: [DatasetRef], mode: PruneMode, force: Bool = false, progress: ProgressReport? = nil) throws -> Int {
        switch mode {
        case .disassociate(let tag):
            return try registry.disassociate(tag, refs)
        case .purge(let run):
            if let other = refs.first(where: { $0.run != run }) {
                throw ButlerError(.invalidValue, "dataset \(other.id.lowercasedString) belongs to run '\(other.run)', not '\(run)'; --purge removes datasets of the named run only")
            }
            try removingFiles(progress: progress) { release in try registry.purgeDatasets(refs.map(\.id), force: force, releasing: release) }
        case .unstore:
            try removingFiles(progress: progress) { release in try registry.removeFileRecords(refs.map(\.id), releasing: release) }
        }
        return refs.count
    }

    /// Copies the files of datasets out of the repository into `destination`.
    ///
    /// - Parameters:
    ///   - preservePath: keep the datastore layout (`run/type/.../file`); otherwise every file goes directly into
    ///     `destination`.
    ///   - clobber: overwrite existing files; otherwise an existing file is an error and nothing is copied.
    ///   - progress: told of the files copied as they are.
    /// - Returns: the files written.
    @discardableResult
    public func retrieveArtifacts(_ refs: [DatasetRef], to destination: String, preservePath: Bool = true, clobber: Bool = false,
                                  progress: ProgressReport? = nil) throws -> [URL] {
        let locations = try fileLocations(refs.map(\.id))
        let destinationRoot = URL(fileURLWithPath: destination)
        var plan: [(URL, URL)] = []
        var seen = Set<String>()
        let store = datastore
        let rootText = store.rootURI.isFileURL ? datastoreRoot.path + "/" : store.rootURI.absoluteString + "/"
        for ref in refs {
            guard let source = locations[ref.id], seen.insert(source.absoluteString).inserted else { continue }
            // A member of a stored Zip goes to `ZIP-PATH-WITHOUT-.zip/MEMBER` (or its own name).
            let file = source.withoutZipMember
            let shown = file.isFileURL ? file.path : file.absoluteString
            var relative: String
            if preservePath, shown.hasPrefix(rootText) {
                relative = String(shown.dropFirst(rootText.count))
                if let member = source.zipMember { relative = (relative.hasSuffix(".zip") ? String(relative.dropLast(4)) : relative) + "/" + member }
            } else {
                relative = source.fileName
            }
            let target = destinationRoot.appendingPathComponent(relative)
            if !clobber && FileManager.default.fileExists(atPath: target.path) {
                throw ButlerError(.alreadyExists, "\(target.path) exists; pass --clobber to overwrite it")
            }
            if file.isFileURL, !FileManager.default.fileExists(atPath: file.path) {
                throw ButlerError(.notFound, "the file of dataset \(ref.id.lowercasedString) is missing: \(source.path)")
            }
            plan.append((source, target))
        }
        if Set(plan.map(\.1.path)).count != plan.count {
            throw ButlerError(.conflict, "several files would be written to the same name in \(destination); keep the datastore layout (--preserve-path)")
        }
        for (n, (source, target)) in plan.enumerated() {
            defer { progress?(n + 1, plan.count) }
            do {
                try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
                if FileManager.default.fileExists(atPath: target.path) { try FileManager.default.removeItem(at: target) }
            } catch {
                throw ButlerError(.io, "cannot write \(target.path): \(error.localizedDescription)")
            }
            try store.download(source, to: target.path)
        }
        return plan.map(\.1)
    }
}

extension Butler {
    /// Where each dataset's file is (its first file record): a `file://` or `s3://` URL, with `#zip-path=MEMBER` for
    /// a member of a stored Zip (what `query-datasets --show-uri` prints). Datasets without a file are left out.
    public func fileLocations(_ ids: [UUID]) throws -> [UUID: URL] {
        let store = datastore
        return try registry.recordedPaths(ids).mapValues { store.location(of: $0) }
    }

    /// Copies an object at an `s3://BUCKET/KEY` URI to a new local file, with the endpoint and credentials of the
    /// environment (see the README's "Files in an S3 bucket"); for commands given a URI rather than a repository.
    public static func downloadObject(_ uri: String, to localPath: String) throws {
        try BucketDatastore.download(uri: uri, to: localPath)
    }
}
