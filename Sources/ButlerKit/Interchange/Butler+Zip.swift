public import Foundation

extension Butler {
    /// Writes the contents (datasets of this repository) as one Zip in Rubin's format into `directory` (created when
    /// missing), with the provenance as the member `_butler_provenance.json` when the contents carry it.
    ///
    /// - Parameter progress: told of the members written as they are.
    /// - Returns: the Zip's location (named as Rubin names it).
    public func writeZip(_ contents: ExportContents, into directory: String, progress: ProgressReport? = nil) throws -> URL {
        let folder = URL(fileURLWithPath: directory).standardizedFileURL
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let store = datastore
        // Objects of a bucket are downloaded, one at a time, into a scratch folder the Zip writer reads from.
        let scratch = localWorkRoot.appendingPathComponent(".butler-scratch/zip-\(FileDatastore.makeToken())")
        defer { try? FileManager.default.removeItem(at: scratch) }
        return try ButlerZip.write(contents, sourcePath: { file in
            let location = store.location(of: file.path)
            if location.isPlainLocalFile { return location.path }
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
            let local = scratch.appendingPathComponent(FileDatastore.makeToken() + "-" + location.fileName).path
            try store.download(location, to: local)
            return local
        }, provenance: contents.provenance, into: folder, universe: registry.universe, progress: progress)
    }

    /// Ingests a Zip in Rubin's format (ours or Rubin's `retrieve-artifacts --zip`), keeping dataset ids: its RUNs,
    /// dataset types and (with `transferDimensions`) dimension records from the index, and our provenance member when
    /// present. As ``importContents(_:files:probe:shared:options:)``: re-ingesting adds nothing, a bad member fails it all.
    ///
    /// By default the Zip is stored whole, as Rubin stores it: one file `zips/<first 4>/<name>.zip` of the datastore
    /// (put there as `options.transfer` says; `direct` leaves it where it is), each dataset recorded as
    /// `…zip#zip-path=<member>` and read from inside it. Every member is read through first and checked against the
    /// index's size (and checksum when it has one) and the Zip's CRC-32; the SHA-256 recorded is the one computed.
    /// With `extract`, each member is copied out into a file of its own at the file template's path instead.
    ///
    /// - Parameter options: `skipDimensions` unless the records are to be taken from the index.
    public func ingestZip(_ path: String, options: ImportOptions, extract: Bool = false) throws -> ImportReport {
        let zip = UncheckedZip(try ButlerZip(contentsOf: URL(fileURLWithPath: path), universe: registry.universe))
        var options = options
        options.parallelFiles = 1  // one reader of the archive
        options.provenanceSource = "\(path): \(ProvenanceBundle.zipMemberName)"
        let probe: FileProbe = { file, _ in
            // A dry run reads every member through, with the checks of an ingest, and writes nothing.
            let read = try zip.value.verify(member: file.path)
            return (read.size, read.checksum)
        }
        if extract { return try ingestZipExtracting(zip, probe: probe, options: options) }
        let mode = options.transfer
        if mode == .move && !options.dryRun { try checkMoveSource(path) }
        if mode == .direct || mode == .auto, path.contains(ZipMemberPath.marker) {
            // Recorded where it is, its path would read as a member of another Zip.
            throw ButlerError(.invalidValue, "\(path): a Zip kept where it is cannot have '\(ZipMemberPath.marker)' in its path; copy it in (-t copy) or rename it")
        }
        let datastore = self.datastore
        let storedPath = ZipMemberPath.storedZipPath(named: zip.value.index.zipFileName)
        let stored = StagedZip()
        return try importContents(zip.value.contents, files: { file, _, checksum in
            // Read through as a dry run reads it; the member stays in the Zip.
            let read = try probe(file, checksum)
            return StagedFile(member: file.path, of: try stored.get(), size: read.size, checksum: read.checksum.flatMap(Checksum.sha256Hex))
        }, probe: probe, shared: {
            // The Zip's file is still open for reading: a move renames it under the reader, which goes on reading it.
            let staged = try datastore.stage(path, at: storedPath, mode: mode, checksum: false)
            stored.set(staged)
            return [staged]
        }, options: options)
    }

    /// `ingest-zip --extract`: each member extracted into the datastore at the template's path, as a file of its own.
    private func ingestZipExtracting(_ zip: UncheckedZip, probe: @escaping FileProbe, options: ImportOptions) throws -> ImportReport {
        // Members are extracted into a staging folder inside the datastore (so that staging them is a rename),
        // journaled first so that a crash leaves nothing behind.
        let stagingPath = try DatastorePath(".staging/zip-\(FileDatastore.makeToken())")
        if !options.dryRun {
            try journal.recordFolder(stagingPath.description)
            _ = try DatastoreFolder.open(stagingPath.components[...], under: localWorkRoot, create: true, for: stagingPath.description)
        }
        let staging = localWorkRoot.appendingPathComponent(stagingPath.description)
        defer { if !options.dryRun { try? FileManager.default.removeItem(at: staging) } }
        let datastore = self.datastore
        return try importContents(zip.value.contents, files: { file, destination, checksum in
            let extracted = staging.appendingPathComponent(FileDatastore.makeToken() + "-" + (file.path as NSString).lastPathComponent).path
            try zip.value.extract(member: file.path, to: extracted)
            return try datastore.stage(extracted, at: destination, mode: .move, checksum: checksum)
        }, probe: probe, options: options)
    }
}

/// The Zip of an ingest keeping it whole, once staged (its members' records name it).
private final class StagedZip: @unchecked Sendable {
    private let lock = NSLock()
    private var staged: StagedFile?

    func set(_ file: StagedFile) {
        lock.lock()
        defer { lock.unlock() }
        staged = file
    }

    func get() throws -> StagedFile {
        lock.lock()
        defer { lock.unlock() }
        guard let staged else { throw ButlerError(.io, "a member was staged before its Zip") }
        return staged
    }
}

/// A Zip read by one worker at a time (``ImportOptions/parallelFiles`` is 1 for Zips).
private struct UncheckedZip: @unchecked Sendable {
    let value: ButlerZip
    init(_ value: ButlerZip) { self.value = value }
}
