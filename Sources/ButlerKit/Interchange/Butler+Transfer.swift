public import Foundation

extension Butler {
    /// Copies datasets from another repository into this one, with their provenance, in one step (no intermediate
    /// directory): what ``exportContents(_:)`` gathers at the source is imported here as
    /// ``importContents(_:files:options:)`` does, files copied in parallel straight from the source datastore and
    /// checked on arrival. Any pair of registry backends works.
    ///
    /// - Parameters:
    ///   - source: the repository to read (only read).
    ///   - options: `skipDimensions` for `--no-transfer-dimensions`; `registerDatasetTypes` for `--register-dataset-types`.
    public func transferDatasets(from source: Butler, _ request: ExportRequest, options: ImportOptions) throws -> ImportReport {
        guard options.transfer != .move else {
            throw ButlerError(.invalidValue, "transfer-datasets -t move: a transfer never takes files away from the source; use copy")
        }
        var options = options
        if options.source == nil { options.source = source.identity }
        if options.provenanceSource == nil { options.provenanceSource = "the provenance of \(source.root.path) (\(source.identity.name))" }
        let started = Date()
        let contents = try source.exportContents(request)
        logger.debug("transfer gathered its contents", metadata: ["seconds": "\(Date().timeIntervalSince(started))"])
        let sourceStore = source.datastore
        let mode = options.transfer
        let datastore = self.datastore
        let scratch = localWorkRoot.appendingPathComponent(".butler-scratch")
        return try importContents(contents, files: { file, destination, checksum in
            let location = sourceStore.location(of: file.path)
            if location.isPlainLocalFile { return try datastore.stage(location.path, at: destination, mode: mode, checksum: checksum) }
            // From a bucket: into a bucket by a copy on the service; into a folder by way of a local download (a member
            // of a stored Zip is taken out of it, wherever the Zip is).
            if datastore is BucketDatastore, location.zipMember == nil { return try datastore.stage(location.absoluteString, at: destination, mode: .copy, checksum: checksum) }
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
            let local = scratch.appendingPathComponent(FileDatastore.makeToken() + "-" + location.fileName).path
            defer { unlink(local) }
            try sourceStore.download(location, to: local)
            return try datastore.stage(local, at: destination, mode: .copy, checksum: checksum)
        }, options: options)
    }

    /// Imports an export directory written by ``export(_:to:transfer:)`` or by Rubin's `Butler.export`: its
    /// `export.yaml` (Rubin's format 1.0.x), the files under it, and `butler_provenance.json` when present.
    ///
    /// - Parameter exportFile: the YAML file, when not `DIRECTORY/export.yaml` (relative names are taken in `directory`).
    /// - Throws: ``ButlerError/Code/notFound`` for a missing directory or export file; see ``importContents(_:files:options:)``.
    public func importDirectory(_ directory: String, exportFile: String? = nil, options: ImportOptions) throws -> ImportReport {
        var options = options
        let root = URL(fileURLWithPath: directory).standardizedFileURL
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw ButlerError(.notFound, "\(directory): no such export directory")
        }
        let yaml = exportFile.map { $0.hasPrefix("/") ? URL(fileURLWithPath: $0) : root.appendingPathComponent($0) } ?? root.appendingPathComponent("export.yaml")
        guard FileManager.default.fileExists(atPath: yaml.path) else {
            throw ButlerError(.notFound, "\(yaml.path): no export file in \(directory) (expected export.yaml)")
        }
        try ExportDirectory.requireRegularFile(yaml.path, what: "export file")
        let started = Date()
        var contents = try ExportYAML.read(yaml)
        logger.debug("export file read", metadata: ["seconds": "\(Date().timeIntervalSince(started))"])
        let provenanceFile = root.appendingPathComponent(ProvenanceBundle.exportFileName)
        if FileManager.default.fileExists(atPath: provenanceFile.path) {
            try ExportDirectory.requireRegularFile(provenanceFile.path, what: "provenance file")
            contents.provenance = try ProvenanceBundle.decode(try Data(contentsOf: provenanceFile), source: provenanceFile.path)
            options.provenanceSource = provenanceFile.path
            logger.debug("provenance file read", metadata: ["seconds": "\(Date().timeIntervalSince(started))"])
        }
        let mode = options.transfer
        let datastore = self.datastore
        let exportDirectory = ExportDirectory(root: root, allowAbsolutePaths: options.allowAbsolutePaths && mode == .direct)
        let butler = self
        return try importContents(contents, files: { file, destination, checksum in
            let path = try exportDirectory.file(file.path, of: file.refs.first?.id)
            if mode == .move { try butler.checkMoveSource(path) }
            return try datastore.stage(path, at: destination, mode: mode, checksum: checksum)
        }, probe: { file, checksum in
            let path = try exportDirectory.file(file.path, of: file.refs.first?.id)
            if mode == .move { try butler.checkMoveSource(path) }
            let (size, sum) = try FileDatastore.measure(path, checksum: checksum)
            return (size, sum)
        }, options: options)
    }

    /// Writes an export directory that Rubin's `butler import` reads: `export.yaml` (Rubin's format 1.0.2), each
    /// dataset's file under its path in this datastore (unless `transfer` is nil), and, when the contents carry it,
    /// the provenance in `butler_provenance.json` beside it.
    ///
    /// The directory must not exist (or be empty); everything is written under a temporary name beside it and
    /// renamed at the end, so a failed export leaves nothing.
    /// - Parameter transfer: how files get there: `copy`, `link` (a hard link, else a copy), `hardlink`, `symlink`,
    ///   `move` is refused (an export never takes a file away from its repository); nil writes no files. A dataset
    ///   stored as a member of a Zip kept whole is always copied out of it, to `ZIP-PATH-WITHOUT-.zip/MEMBER`.
    /// - Parameter progress: told of the files written as they are.
    /// - Returns: the number of files written.
    @discardableResult
    public func export(_ contents: ExportContents, to directory: String, transfer: TransferMode?, progress: ProgressReport? = nil) throws -> Int {
        // A member of a stored Zip is exported as a file of its own (Rubin's import reads no `#zip-path=`).
        var contents = contents
        var recordedPaths: [String: String] = [:]
        for i in contents.datasets.indices {
            for j in contents.datasets[i].files.indices {
                let file = contents.datasets[i].files[j]
                guard let member = ZipMemberPath(recordedPath: file.path), !member.container.hasPrefix("/") else { continue }
                let exported = (member.container.hasSuffix(".zip") ? String(member.container.dropLast(4)) : member.container) + "/" + member.member
                contents.datasets[i].files[j].path = exported
                recordedPaths[exported] = file.path
            }
        }
        let target = URL(fileURLWithPath: directory).standardizedFileURL
        try Self.checkExportDirectory(directory)
        if FileManager.default.fileExists(atPath: target.path) { try FileManager.default.removeItem(at: target) }
        if transfer == .move { throw ButlerError(.invalidValue, "export -t move: an export never takes files away from the repository; use copy") }
        let parent = target.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        let temporary = parent.appendingPathComponent(".\(target.lastPathComponent).butler-tmp-\(FileDatastore.makeToken())")
        try FileManager.default.createDirectory(at: temporary, withIntermediateDirectories: false)
        var written = 0
        do {
            if let transfer {
                let total = contents.datasets.reduce(0) { $0 + $1.files.filter { !$0.path.hasPrefix("/") }.count }
                for group in contents.datasets {
                    for file in group.files where !file.path.hasPrefix("/") {
                        let path = try DatastorePath(file.path)
                        let destination = temporary.appendingPathComponent(path.description)
                        try FileManager.default.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
                        let location = datastore.location(of: recordedPaths[file.path] ?? file.path)
                        if location.zipMember != nil {
                            try datastore.download(location, to: destination.path)
                        } else if location.isFileURL {
                            try Self.place(location.path, at: destination.path, mode: transfer)
                        } else {
                            guard transfer == .copy || transfer == .auto else {
                                throw ButlerError(.invalidValue, "export -t \(transfer.rawValue): the files are objects of \(datastoreRoot.absoluteString), which are copied (-t copy)")
                            }
                            try datastore.download(location, to: destination.path)
                        }
                        written += 1
                        progress?(written, total)
                    }
                }
            }
            try ExportYAML.write(contents, universe: registry.universe, to: temporary.appendingPathComponent("export.yaml"))
            if let bundle = contents.provenance {
                try bundle.encoded().write(to: temporary.appendingPathComponent(ProvenanceBundle.exportFileName), options: .withoutOverwriting)
            }
            guard rename(temporary.path, target.path) == 0 else {
                throw ButlerError(.io, "\(directory): cannot create the export directory (\(String(cString: strerror(errno))))")
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
        return written
    }

    /// Checks that an export may be written to `directory`: it must not exist, or be an empty folder.
    /// - Throws: ``ButlerError/Code/alreadyExists`` otherwise.
    public static func checkExportDirectory(_ directory: String) throws {
        let path = URL(fileURLWithPath: directory).standardizedFileURL.path
        guard FileManager.default.fileExists(atPath: path) else { return }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? ["?"]
        guard entries.isEmpty else { throw ButlerError(.alreadyExists, "\(directory): export directory exists and is not empty") }
    }

    /// Puts a copy of (or a link to) a datastore file outside the datastore; never replaces a file.
    static func place(_ source: String, at destination: String, mode: TransferMode) throws {
        func fail(_ what: String) -> ButlerError {
            ButlerError(.io, "cannot \(what) \(source) to \(destination): \(String(cString: strerror(errno)))")
        }
        switch mode {
        case .hardlink:
            guard link(source, destination) == 0 else { throw fail("hard link") }
        case .link, .auto:
            if link(source, destination) != 0 {
                guard symlink(source, destination) == 0 else { throw fail("link") }
            }
        case .symlink, .relsymlink, .direct:
            guard symlink(source, destination) == 0 else { throw fail("symlink") }
        case .copy, .move:
            guard !FileManager.default.fileExists(atPath: destination) else { throw ButlerError(.alreadyExists, "\(destination) exists") }
            do { try FileManager.default.copyItem(atPath: source, toPath: destination) } catch { throw fail("copy") }
        }
    }
}
