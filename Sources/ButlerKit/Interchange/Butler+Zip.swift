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
            if location.isFileURL { return location.path }
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
            let local = scratch.appendingPathComponent(FileDatastore.makeToken() + "-" + location.lastPathComponent).path
            try store.download(location, to: local)
            return local
        }, provenance: contents.provenance, into: folder, universe: registry.universe, progress: progress)
    }

    /// Ingests a Zip in Rubin's format (ours or Rubin's `retrieve-artifacts --zip`), keeping dataset ids: its RUNs,
    /// dataset types and (with `transferDimensions`) dimension records from the index, each member extracted into the
    /// datastore and checked against the index's size (and checksum when it has one), and our provenance member when
    /// present. As ``importContents(_:files:options:)``: re-ingesting adds nothing, a bad member fails it all.
    ///
    /// - Parameter options: `skipDimensions` unless the records are to be taken from the index.
    public func ingestZip(_ path: String, options: ImportOptions) throws -> ImportReport {
        let zip = UncheckedZip(try ButlerZip(contentsOf: URL(fileURLWithPath: path), universe: registry.universe))
        var options = options
        options.parallelFiles = 1  // one reader of the archive
        options.provenanceSource = "\(path): \(ProvenanceBundle.zipMemberName)"
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
        }, probe: { file, _ in
            // A dry run reads every member through, with the checks of an ingest, and writes nothing.
            let read = try zip.value.verify(member: file.path)
            return (read.size, read.checksum)
        }, options: options)
    }
}

/// A Zip read by one worker at a time (``ImportOptions/parallelFiles`` is 1 for Zips).
private struct UncheckedZip: @unchecked Sendable {
    let value: ButlerZip
    init(_ value: ButlerZip) { self.value = value }
}
