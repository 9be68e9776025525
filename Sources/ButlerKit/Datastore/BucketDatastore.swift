package import Foundation
internal import S3
internal import Glibc

/// The S3 datastore: objects under `s3://BUCKET/PREFIX`, at the same templated paths a folder would hold.
///
/// It keeps ``FileDatastore``'s invariants with object operations:
/// 1. Nothing is written at a final key: a new file is uploaded under a temporary key beside it
///    (`.NAME.butler-tmp-TOKEN`, noted first in the process's ``TransferJournal``, which lives in the repository
///    folder), with its SHA-256 as the object's metadata (`x-amz-meta-sha256`).
/// 2. The registry's claim on the path decides the winner; only after it commits does ``publish(_:)`` copy the
///    temporary object to its final key (an unregistered object already there is first copied aside as
///    `.NAME.butler-orphan-TOKEN`, for `verify` to report) and delete the temporary one.
/// 3. A refused write deletes only its temporary object.
/// 4. Removal copies the object aside (`.NAME.butler-trash-TOKEN`, journaled) and deletes it inside the removing
///    transaction; the copy is deleted after the commit or copied back after a rollback.
/// 5. Keys are ``DatastorePath`` values under the prefix: no name leads out of it.
/// 6. Journals of dead processes are replayed on the next open (``recover(claimToken:)``).
///
/// Files headed for the bucket that must be changed first (FITS provenance cards) are prepared in a local copy,
/// then uploaded. Uploads and downloads are streamed (multipart above 16 MiB), never loaded whole.
package struct BucketDatastore: Datastore {
    package let location: BucketLocation
    let client: S3Client
    let journal: TransferJournal?
    /// A local folder for copies being prepared before upload.
    let scratch: URL

    init(location: BucketLocation, client: S3Client, journal: TransferJournal?, scratch: URL) {
        self.location = location
        self.client = client
        self.journal = journal
        self.scratch = scratch
    }

    package var rootURI: URL { URL(string: location.description)! }

    /// The `s3://` URI of a key of this bucket.
    func uri(_ key: String) -> String { "s3://\(location.bucket)/\(key)" }

    package func contains(_ path: String) -> Bool {
        path.hasPrefix(location.description + "/")
    }

    package func location(of recordedPath: String) -> URL {
        if let member = ZipMemberPath(recordedPath: recordedPath) { return location(of: member.container).addingZipMember(member.member) }
        if recordedPath.hasPrefix("/") { return URL(fileURLWithPath: recordedPath) }
        if recordedPath.hasPrefix("s3://") { return URL(string: recordedPath) ?? rootURI }
        // The key as it is (template paths hold no character a URI refuses; `%XX` in them is part of the key).
        let text = uri(location.key(recordedPath))
        return URL(string: text) ?? URL(string: text.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? "") ?? rootURI
    }

    /// The bucket and key of a location this datastore gave (``location(of:)``).
    func object(at location: URL) -> (bucket: String, key: String)? {
        location.scheme == "s3" ? Self.parse(location.absoluteString) : nil
    }

    package func download(_ location: URL, to localPath: String) throws {
        if location.zipMember != nil { return try extractMember(location, to: localPath) }
        if location.isFileURL {
            try FileDatastore(root: scratch).download(location, to: localPath)
            return
        }
        guard let (bucket, key) = object(at: location) else { throw ButlerError(.invalidValue, "\(location) is not an s3:// location") }
        try s3 { try client.downloadFile(bucket: bucket, key: key, to: localPath) }
    }

    /// An `s3://bucket/key` URI split.
    static func parse(_ uri: String) -> (bucket: String, key: String)? {
        guard let location = BucketLocation(uri), !location.prefix.isEmpty else { return nil }
        return (location.bucket, location.prefix)
    }

    // MARK: Writing

    package func stage(_ source: String, at relativePath: String, mode: TransferMode, checksum: Bool,
                       prepare: ((_ temporaryPath: String) throws -> Void)?) throws -> StagedFile {
        let token = FileDatastore.makeToken()
        if source.hasPrefix("s3://") {
            guard let (bucket, key) = Self.parse(source) else { throw ButlerError(.invalidValue, "'\(source)' is not an s3://BUCKET/KEY URI") }
            guard let info = try s3({ try client.headObject(bucket: bucket, key: key) }) else {
                throw ButlerError(.notFound, "no object \(source)")
            }
            let sum = checksum ? try objectChecksum(bucket: bucket, key: key, info: info) : nil
            if contains(source), mode == .auto || mode == .direct {
                // Already in the datastore: recorded where it is, never copied.
                let relative = String(key.dropFirst(location.prefix.isEmpty ? 0 : location.prefix.count + 1))
                let path = try DatastorePath(relative)
                return StagedFile(recordedPath: path.description, token: token, temporaryName: nil, movedFrom: nil, size: info.size, checksum: sum)
            }
            if mode == .direct {
                return StagedFile(recordedPath: source, token: token, temporaryName: nil, movedFrom: nil, size: info.size, checksum: sum)
            }
            guard [.auto, .copy, .move].contains(mode), prepare == nil else {
                throw ButlerError(.invalidValue, "cannot \(mode.rawValue) \(source) into \(location): objects are copied (copy, move, auto) or recorded where they are (direct)")
            }
            let path = try DatastorePath(relativePath)
            let temporary = StagedFile.temporaryName(of: path.name, token: token)
            try journal?.recordTemporary(path.description, token: token)
            try s3 { try client.copyObject(bucket: location.bucket, from: key, sourceBucket: bucket, to: location.key(temporaryKey(path, temporary)), size: info.size) }
            return StagedFile(recordedPath: path.description, token: token, temporaryName: temporary, movedFrom: nil,
                              deleteSourceOnPublish: mode == .move ? source : nil, size: info.size, checksum: sum)
        }
        let sourcePath = source.hasPrefix("/") ? source : FileManager.default.currentDirectoryPath + "/" + source
        if mode == .direct {
            guard let (size, sum) = try? FileDatastore.measure(sourcePath, checksum: checksum) else {
                throw ButlerError(.io, "cannot read \(sourcePath)")
            }
            return StagedFile(recordedPath: sourcePath, token: token, temporaryName: nil, movedFrom: nil, size: size, checksum: sum)
        }
        guard [.auto, .copy, .move].contains(mode) else {
            throw ButlerError(.invalidValue, "cannot \(mode.rawValue) \(sourcePath) into \(location): a bucket holds copies (copy, move, auto), or give direct")
        }
        let path = try DatastorePath(relativePath)
        let temporary = StagedFile.temporaryName(of: path.name, token: token)
        var upload = sourcePath
        var prepared: String?
        defer { if let prepared { unlink(prepared) } }
        if let prepare {
            // Changed in a local copy, then uploaded.
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
            let copy = scratch.appendingPathComponent(temporary).path
            do { try FileManager.default.copyItem(atPath: sourcePath, toPath: copy) } catch {
                throw ButlerError(.io, "cannot copy \(sourcePath) to \(copy): \(error.localizedDescription)")
            }
            prepared = copy
            try prepare(copy)
            upload = copy
        }
        // The checksum is always computed: it travels with the object and lets verify compare without a download.
        let (size, sum) = try FileDatastore.measure(upload, checksum: true)
        try journal?.recordTemporary(path.description, token: token)
        try s3 {
            try client.uploadFile(bucket: location.bucket, key: location.key(temporaryKey(path, temporary)), path: upload,
                                  metadata: ["sha256": sum ?? ""])
        }
        return StagedFile(recordedPath: path.description, token: token, temporaryName: temporary, movedFrom: nil,
                          deleteSourceOnPublish: mode == .move ? sourcePath : nil, size: size, checksum: checksum ? sum : nil)
    }

    /// The key (under the prefix) of a temporary name beside a path.
    func temporaryKey(_ path: DatastorePath, _ name: String) -> String {
        (path.folders + [name]).joined(separator: "/")
    }

    package func publish(_ staged: StagedFile) throws {
        guard let temporary = staged.temporaryName else { return }
        let path = try DatastorePath(staged.recordedPath)
        do {
            try Self.publish(client: client, location: location, temporary: location.key(temporaryKey(path, temporary)), path: path,
                             token: staged.token, size: staged.size)
        } catch {
            journal?.keepForRecovery()
            throw error
        }
        if let source = staged.deleteSourceOnPublish {
            if let (bucket, key) = Self.parse(source) { try? client.deleteObject(bucket: bucket, key: key) } else { unlink(source) }
        }
    }

    /// Publishes the files of one write in fewer round trips than a ``publish(_:)`` each: every destination folder is
    /// listed once (instead of a HEAD per file), each temporary object copied to its final key eight at a time, then
    /// the temporary objects deleted a thousand per request. A final key found taken goes through ``publish(_:)``'s
    /// careful path (an unregistered object there is kept aside, never overwritten). A crash in between leaves
    /// temporary objects that the journal's recovery finishes, as for ``publish(_:)``.
    package func publishAll(_ staged: [StagedFile]) throws {
        let pending = staged.filter { $0.temporaryName != nil }
        guard pending.count > 1 else {
            for file in pending { try publish(file) }
            return
        }
        var sourcesToDelete: [String] = []
        do {
            var paths: [(file: StagedFile, path: DatastorePath)] = []
            for file in pending { paths.append((file, try DatastorePath(file.recordedPath))) }
            let folders = Array(Set(paths.map { $0.path.folders.joined(separator: "/") }))
            let listed = parallelMap(folders, workers: 8) { folder in
                Result { () throws -> [String] in
                    let prefix = location.key(folder.isEmpty ? "" : folder + "/")
                    return try s3 { try client.listObjects(bucket: location.bucket, prefix: prefix, delimiter: "/") }.map(\.key)
                }
            }
            var taken = Set<String>()
            for result in listed { taken.formUnion(try result.get()) }
            let present = taken
            let copied = parallelMap(paths, workers: 8) { entry in
                Result { () throws -> String? in
                    let temporary = location.key(temporaryKey(entry.path, entry.file.temporaryName!))
                    if present.contains(location.key(entry.path.description)) {
                        try publish(entry.file)
                        return nil
                    }
                    try s3 { try client.copyObject(bucket: location.bucket, from: temporary, to: location.key(entry.path.description), size: entry.file.size) }
                    return temporary
                }
            }
            var temporaries: [String] = []
            var moved: [String] = []  // sources of moves published here (publish(_:) deletes its own)
            for (entry, result) in zip(paths, copied) {
                guard let key = try result.get() else { continue }
                temporaries.append(key)
                if let source = entry.file.deleteSourceOnPublish { moved.append(source) }
            }
            try s3 { try client.deleteObjects(bucket: location.bucket, keys: temporaries) }
            sourcesToDelete = moved
        } catch {
            journal?.keepForRecovery()
            throw error
        }
        for source in sourcesToDelete {
            if let (bucket, key) = Self.parse(source) { try? client.deleteObject(bucket: bucket, key: key) } else { unlink(source) }
        }
    }

    /// Copies a temporary object to its path's key (setting aside an unregistered object found there) and deletes it.
    static func publish(client: S3Client, location: BucketLocation, temporary: String, path: DatastorePath, token: String, size: Int64?) throws {
        let final = location.key(path.description)
        try s3 {
            if let present = try client.headObject(bucket: location.bucket, key: final) {
                let staged = try client.headObject(bucket: location.bucket, key: temporary)
                // (By SHA-256 when the temporary object has one; else by ETag, which a copy of up to 5 GiB keeps.)
                if let staged, staged.size == present.size,
                   staged.metadata["sha256"].map({ present.metadata["sha256"] == $0 }) ?? (staged.etag != nil && staged.etag == present.etag) {
                    // Our own copy, made by a publish killed before it deleted the temporary object: finish that.
                    try client.deleteObject(bucket: location.bucket, key: temporary)
                    return
                }
                // Not a registered object (the registry's claim is ours): kept aside, never overwritten.
                let aside = location.key((path.folders + [StagedFile.orphanName(of: path.name, token: token)]).joined(separator: "/"))
                try client.copyObject(bucket: location.bucket, from: final, to: aside, size: present.size)
            }
            let size = try size ?? client.headObject(bucket: location.bucket, key: temporary)?.size ?? 0
            try client.copyObject(bucket: location.bucket, from: temporary, to: final, size: size)
            try client.deleteObject(bucket: location.bucket, key: temporary)
        }
    }

    package func discard(_ staged: StagedFile) {
        guard let temporary = staged.temporaryName, let path = try? DatastorePath(staged.recordedPath) else { return }
        try? client.deleteObject(bucket: location.bucket, key: location.key(temporaryKey(path, temporary)))
    }

    // MARK: Removing

    package func trash(_ relativePath: String, claimToken: String) throws -> TrashedFile? {
        let path = try DatastorePath(relativePath)
        let key = location.key(path.description)
        guard let info = try s3({ try client.headObject(bucket: location.bucket, key: key) }) else { return nil }
        let trashed = TrashedFile(path: path.description, token: FileDatastore.makeToken(), claimToken: claimToken)
        try journal?.recordTrash(path.description, token: trashed.token, claimToken: claimToken)
        try s3 {
            try client.copyObject(bucket: location.bucket, from: key, to: trashKey(trashed), size: info.size)
            try client.deleteObject(bucket: location.bucket, key: key)
        }
        return trashed
    }

    func trashKey(_ trashed: TrashedFile) -> String {
        let path = try! DatastorePath(trashed.path)
        return location.key((path.folders + [trashed.trashName]).joined(separator: "/"))
    }

    package func restore(_ trashed: TrashedFile) {
        let key = location.key(trashed.path)
        guard (try? client.headObject(bucket: location.bucket, key: key)) == .some(nil),
              let aside = try? client.headObject(bucket: location.bucket, key: trashKey(trashed)) else { return }
        if (try? client.copyObject(bucket: location.bucket, from: trashKey(trashed), to: key, size: aside.size)) != nil {
            try? client.deleteObject(bucket: location.bucket, key: trashKey(trashed))
        }
    }

    package func emptyTrash(_ trashed: TrashedFile) {
        try? client.deleteObject(bucket: location.bucket, key: trashKey(trashed))
    }

    // MARK: Reading

    package func measure(recordedPath: String, checksum: Bool) throws -> (size: Int64, checksum: String?)? {
        if let member = ZipMemberPath(recordedPath: recordedPath) { return try measure(member, checksum: checksum) }
        if recordedPath.hasPrefix("/") {
            var st = stat()
            guard stat(recordedPath, &st) == 0 else { return nil }
            let (size, sum) = try FileDatastore.measure(recordedPath, checksum: checksum)
            return (size, sum)
        }
        let (bucket, key) = Self.parse(recordedPath) ?? (location.bucket, location.key(recordedPath))
        guard let info = try s3({ try client.headObject(bucket: bucket, key: key) }) else { return nil }
        guard checksum else { return (info.size, nil) }
        // Verify reads the bytes: the recorded checksum is compared with what the object holds, not its metadata.
        guard let (size, sum) = try s3({ try client.hashObject(bucket: bucket, key: key) }) else { return nil }
        return (size, sum)
    }

    /// A stored Zip that is an object is downloaded once into the scratch folder, opened, and its local name removed
    /// at once (the open file stays readable until the reader is closed, and nothing is left behind by a crash).
    package func zipReader(at location: URL) throws -> ZipArchiveReader? {
        if location.isFileURL { return try FileDatastore(root: scratch).zipReader(at: location) }
        guard let (bucket, key) = object(at: location) else { throw ButlerError(.invalidValue, "\(location) is not an s3:// location") }
        guard let info = try s3({ try client.headObject(bucket: bucket, key: key) }) else { return nil }
        return try ZipReaderCache.shared.reader(key: "\(location.absoluteString)|\(info.size)|\(info.etag ?? "")") {
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
            let local = scratch.appendingPathComponent(".zip-\(FileDatastore.makeToken())").path
            defer { unlink(local) }
            try s3 { try client.downloadFile(bucket: bucket, key: key, to: local) }
            return try ZipArchiveReader(url: URL(fileURLWithPath: local), shownName: location.absoluteString)
        }
    }

    func objectChecksum(bucket: String, key: String, info: S3Client.ObjectInfo) throws -> String? {
        if let sum = info.metadata["sha256"], sum.count == 64 { return sum }
        return try s3 { try client.hashObject(bucket: bucket, key: key)?.sha256 }
    }

    package func forEachStoredFile(_ body: (_ recordedPath: String, _ shown: String) throws -> Void) throws {
        let inFlight = TransferJournal.pathsInFlight(datastoreRoot: journal?.folderRoot ?? scratch)
        let prefix = location.prefix.isEmpty ? "" : location.prefix + "/"
        for object in try s3({ try client.listObjects(bucket: location.bucket, prefix: prefix) }) {
            let relative = String(object.key.dropFirst(prefix.count))
            let name = (relative as NSString).lastPathComponent
            if inFlight.files.contains(relative) { continue }
            if name.hasPrefix("."), inFlight.pids.contains(where: { name.contains(".butler-tmp-\($0)-") || name.contains(".butler-trash-\($0)-") }) { continue }
            try body(relative, uri(object.key))
        }
    }

    /// Downloads an `s3://BUCKET/KEY` object to a new local file with a client of the environment's configuration
    /// (a batch job's input: no repository is opened).
    static func download(uri: String, to localPath: String) throws {
        guard let (bucket, key) = parse(uri) else { throw ButlerError(.invalidValue, "'\(uri)' is not an s3://BUCKET/KEY URI") }
        let client = S3Client(configuration: try s3 { try S3Configuration.fromEnvironment() })
        try s3 { try client.downloadFile(bucket: bucket, key: key, to: localPath) }
    }

    // MARK: Recovery

    /// Finishes or undoes what writers that died left in the bucket, from their journals in the repository folder:
    /// a temporary object whose claim committed is published, any other deleted; an object set aside by a removal
    /// is copied back if its claim is still there, else deleted.
    static func recover(client: S3Client, location: BucketLocation, journalRoot: URL, claimToken: (String) throws -> String?) throws -> Int {
        try TransferJournal.replayDead(root: journalRoot) { kind, fields, _ in
            guard let path = try? DatastorePath(fields[0]) else { return 0 }
            switch kind {
            case "d":
                // A local staging folder (a step's), in the repository folder.
                return (try? FileManager.default.removeItem(at: journalRoot.appendingPathComponent(path.description))) != nil ? 1 : 0
            case "t" where fields.count == 2:
                let temporary = location.key((path.folders + [StagedFile.temporaryName(of: path.name, token: fields[1])]).joined(separator: "/"))
                guard try s3({ try client.headObject(bucket: location.bucket, key: temporary) }) != nil else { return 0 }
                if try claimToken(path.description) == fields[1] {
                    try publish(client: client, location: location, temporary: temporary, path: path, token: fields[1], size: nil)
                } else {
                    try s3 { try client.deleteObject(bucket: location.bucket, key: temporary) }
                }
                return 1
            case "r" where fields.count == 3:
                let trashed = TrashedFile(path: path.description, token: fields[1], claimToken: fields[2])
                let aside = location.key((path.folders + [trashed.trashName]).joined(separator: "/"))
                guard let asideInfo = try s3({ try client.headObject(bucket: location.bucket, key: aside) }) else { return 0 }
                let key = location.key(path.description)
                if try claimToken(path.description) == fields[2], try s3({ try client.headObject(bucket: location.bucket, key: key) }) == nil {
                    try s3 { try client.copyObject(bucket: location.bucket, from: aside, to: key, size: asideInfo.size) }
                }
                try s3 { try client.deleteObject(bucket: location.bucket, key: aside) }
                return 1
            default:
                return 0
            }
        }
    }
}

/// Runs S3 calls, turning their errors into the butler's (`io`, the message naming endpoint, bucket and key).
func s3<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let error as S3Error {
        throw ButlerError(.io, error.message)
    }
}
