package import Foundation
internal import Crypto
internal import Glibc

/// The file datastore: a folder under which datasets' files live at their templated paths.
///
/// Every command that creates files (ingest-raws, ingest-files, put, run, record) goes through one write path, and
/// every command that deletes them (prune-datasets, remove-runs) through one removal path, both here. They keep
/// these invariants:
///
/// 1. **A file that a registry row names is never overwritten, moved or deleted**, except by the removal commands.
///    Nothing is ever written at a final path: a new file is created under a unique temporary name in its folder
///    (`.NAME.butler-tmp-TOKEN`, noted first in the process's ``TransferJournal``), with `O_EXCL`.
/// 2. **The registry is the arbiter of final paths.** A file is verified (size, checksum, and provenance header
///    cards stamped) under its temporary name, then registered in the same transaction as a claim on its final
///    path in the `datastore_path` table, whose primary key lets one write hold a path. Only after that
///    transaction commits does the file take its final name, by a hard link that cannot replace anything
///    (``publish(_:)``). Two writes that map to one path (a template that is not unique, two processes ingesting
///    different files with one data ID) therefore cannot both win, whatever the timing: the loser's claim fails.
/// 3. **A refused or losing write removes only what it created** (``discard(_:)``): its temporary files; a file it
///    moved in is moved back.
/// 4. **Removal is two-phase.** Inside the removing transaction each file is renamed aside
///    (`.NAME.butler-trash-TOKEN`, journaled) and its claim deleted; after the commit the renamed file is deleted,
///    and if the transaction fails it is renamed back. A write racing a removal never has its new file deleted.
/// 5. **No name leads out of the datastore, and no link is followed**: paths are ``DatastorePath`` values (checked
///    components, no `..`), folders are opened one at a time with `O_NOFOLLOW`, and every create, rename and
///    delete is relative to an open folder. A symbolic link planted inside the datastore is refused, not followed.
/// 6. **A crash leaves nothing half-done**: journals of dead processes are replayed on the next open (see
///    ``TransferJournal/recover(datastoreRoot:claimToken:)``): a temporary file whose claim committed takes its final
///    name, any other is deleted; a file renamed aside is restored if its removal rolled back, else deleted.
package struct FileDatastore: Datastore {
    package let root: URL

    package var rootURI: URL { root }
    /// Where files about to be created are noted first (nil: not noted, for read-only uses).
    package let journal: TransferJournal?

    package init(root: URL, journal: TransferJournal? = nil) {
        self.root = root
        self.journal = journal
    }

    /// Whether an absolute path lies inside the datastore root.
    package func contains(_ path: String) -> Bool {
        let rootPath = root.path.hasSuffix("/") ? root.path : root.path + "/"
        return path.hasPrefix(rootPath)
    }

    /// The absolute location of a recorded path.
    package func location(of recordedPath: String) -> URL {
        if let member = ZipMemberPath(recordedPath: recordedPath) { return location(of: member.container).addingZipMember(member.member) }
        if recordedPath.hasPrefix("/") { return URL(fileURLWithPath: recordedPath) }
        if recordedPath.hasPrefix("s3://"), let object = URL(string: recordedPath) { return object }
        return root.appendingPathComponent(recordedPath)
    }

    // MARK: Writing

    /// Puts `source` under a temporary name beside `relativePath` with `mode` (nothing is created for `direct`, or for
    /// `auto` on a file already inside the datastore), lets `prepare` change the temporary file (header stamping),
    /// then measures it: size, and SHA-256 when `checksum` is set.
    ///
    /// The file does not have its final name yet: register it with its claim (``Registry/claimPaths(_:in:)``), then
    /// ``publish(_:)`` it; or ``discard(_:)`` it.
    /// - Throws: ``ButlerError/Code/invalidValue`` for a path that could leave the datastore, ``ButlerError/Code/io``
    ///   for a folder that is a link, and for any failed file operation (nothing is left behind then).
    package func stage(_ source: String, at relativePath: String, mode: TransferMode, checksum: Bool,
                       prepare: ((_ temporaryPath: String) throws -> Void)?) throws -> StagedFile {
        let sourcePath = absolutePath(source)
        var mode = mode
        if mode == .auto || mode == .direct, contains(sourcePath) {
            // Already inside: recorded (and claimed) where it is; never moved, never copied.
            let relative = String(sourcePath.dropFirst(root.path.count).drop { $0 == "/" })
            let path = try DatastorePath(relative)
            let folder = try DatastoreFolder.open(holding: path, under: root, create: false)
            let (size, sum) = try Self.measure(folder.pinnedPath(path.name), checksum: checksum)
            return StagedFile(recordedPath: path.description, token: Self.makeToken(), temporaryName: nil, movedFrom: nil, size: size, checksum: sum)
        }
        if mode == .auto { mode = .link }
        if mode == .direct {
            let (size, sum) = try Self.measure(sourcePath, checksum: checksum)
            return StagedFile(recordedPath: sourcePath, token: Self.makeToken(), temporaryName: nil, movedFrom: nil, size: size, checksum: sum)
        }
        let path = try DatastorePath(relativePath)
        let token = Self.makeToken()
        let temporary = StagedFile.temporaryName(of: path.name, token: token)
        try journal?.recordTemporary(path.description, token: token)
        let folder = try DatastoreFolder.open(holding: path, under: root, create: true)
        var movedFrom: String?
        var size: Int64 = 0
        var sum: String?
        let hashWhileCopying = checksum && prepare == nil
        do {
            switch mode {
            case .copy:
                (size, sum) = try Self.copy(sourcePath, into: folder, as: temporary, checksum: hashWhileCopying)
            case .move:
                if renameat(AT_FDCWD, sourcePath, folder.fd, temporary) == 0 {
                    movedFrom = sourcePath
                } else {
                    guard errno == EXDEV else { throw Self.posixError("move", sourcePath, path) }
                    // Across file systems: a copy now, the source deleted only once the file is published.
                    (size, sum) = try Self.copy(sourcePath, into: folder, as: temporary, checksum: hashWhileCopying)
                    return try finish(StagedFile(recordedPath: path.description, token: token, temporaryName: temporary,
                                                 movedFrom: nil, deleteSourceOnPublish: sourcePath, size: size, checksum: sum),
                                      folder: folder, checksum: checksum, measured: hashWhileCopying || !checksum, prepare: prepare)
                }
            case .hardlink:
                guard linkat(AT_FDCWD, sourcePath, folder.fd, temporary, 0) == 0 else { throw Self.posixError("hard link", sourcePath, path) }
            case .link:
                if linkat(AT_FDCWD, sourcePath, folder.fd, temporary, 0) != 0 {
                    guard symlinkat(sourcePath, folder.fd, temporary) == 0 else { throw Self.posixError("link", sourcePath, path) }
                }
            case .symlink:
                guard symlinkat(sourcePath, folder.fd, temporary) == 0 else { throw Self.posixError("symlink", sourcePath, path) }
            case .relsymlink:
                let base = root.path + (path.folders.isEmpty ? "" : "/" + path.folders.joined(separator: "/"))
                guard symlinkat(Self.relativePath(from: base, to: sourcePath), folder.fd, temporary) == 0 else {
                    throw Self.posixError("relative symlink", sourcePath, path)
                }
            case .auto, .direct:
                preconditionFailure("handled above")
            }
        } catch {
            unlinkat(folder.fd, temporary, 0)
            throw error
        }
        let staged = StagedFile(recordedPath: path.description, token: token, temporaryName: temporary, movedFrom: movedFrom, size: size, checksum: sum)
        let measured = mode == .copy && (hashWhileCopying || !checksum)
        return try finish(staged, folder: folder, checksum: checksum, measured: measured, prepare: prepare)
    }

    /// Runs `prepare` on a staged file and measures it; undoes the staging if either fails.
    private func finish(_ staged: StagedFile, folder: DatastoreFolder, checksum: Bool, measured: Bool,
                        prepare: ((String) throws -> Void)?) throws -> StagedFile {
        var staged = staged
        do {
            let pinned = folder.pinnedPath(staged.temporaryName!)
            if let prepare { try prepare(pinned) }
            if !measured || prepare != nil {
                // Links are measured through to their target; copies and moves as they now are.
                (staged.size, staged.checksum) = try Self.measure(pinned, checksum: checksum)
            }
        } catch {
            discard(staged)
            throw error
        }
        return staged
    }

    /// Gives a staged file its final name, after its registration (and claim) committed. Never replaces a file:
    /// a file already at the final path is no dataset's (the claim says so), and is kept aside as
    /// `.NAME.butler-orphan-TOKEN` for `verify` to report.
    package func publish(_ staged: StagedFile) throws {
        guard let temporary = staged.temporaryName else { return }
        let path = try DatastorePath(staged.recordedPath)
        do {
            let folder = try DatastoreFolder.open(holding: path, under: root, create: false)
            try Self.publish(temporary, as: path.name, in: folder, token: staged.token)
        } catch {
            journal?.keepForRecovery()
            throw error
        }
        if let source = staged.deleteSourceOnPublish { unlink(source) }
    }

    package func publishAll(_ staged: [StagedFile]) throws {
        for file in staged { try publish(file) }
    }

    /// Links `temporary` to `name` without replacing anything, then removes the temporary name. Run again after a
    /// crash between the two, it finds the same file under both names and only removes the temporary one.
    static func publish(_ temporary: String, as name: String, in folder: DatastoreFolder, token: String) throws {
        for _ in 0..<2 {
            if linkat(folder.fd, temporary, folder.fd, name, 0) == 0 {
                unlinkat(folder.fd, temporary, 0)
                return
            }
            switch errno {
            case EEXIST:
                // Our own file under both names: a publish killed between its link and its unlink. Finish it.
                var present = stat(), ours = stat()
                if fstatat(folder.fd, name, &present, AT_SYMLINK_NOFOLLOW) == 0, fstatat(folder.fd, temporary, &ours, AT_SYMLINK_NOFOLLOW) == 0,
                   present.st_dev == ours.st_dev, present.st_ino == ours.st_ino, ours.st_nlink >= 2 {
                    unlinkat(folder.fd, temporary, 0)
                    return
                }
                // Not a registered file (the registry's claim is ours): set it aside, never overwrite or delete it.
                let aside = StagedFile.orphanName(of: name, token: token)
                guard renameat(folder.fd, name, folder.fd, aside) == 0 else {
                    throw ButlerError(.io, "cannot set aside the unregistered file \(folder.relative)/\(name): \(String(cString: strerror(errno)))")
                }
            case EPERM, EOPNOTSUPP, EMLINK, EXDEV:
                // A file system without hard links: the claim makes a plain rename safe, as nothing else writes here.
                if folder.contains(name), renameat(folder.fd, name, folder.fd, StagedFile.orphanName(of: name, token: token)) != 0 {
                    throw ButlerError(.io, "cannot set aside the unregistered file \(folder.relative)/\(name): \(String(cString: strerror(errno)))")
                }
                guard renameat(folder.fd, temporary, folder.fd, name) == 0 else {
                    throw ButlerError(.io, "cannot rename \(folder.relative)/\(temporary) to \(name): \(String(cString: strerror(errno)))")
                }
                return
            default:
                throw ButlerError(.io, "cannot give \(folder.relative)/\(temporary) its name \(name): \(String(cString: strerror(errno)))")
            }
        }
        throw ButlerError(.io, "cannot give \(folder.relative)/\(temporary) its name \(name): something keeps creating it")
    }

    /// Undoes a staging whose registration was refused or lost: removes the temporary file (a file moved in goes
    /// back where it came from). Touches nothing else.
    package func discard(_ staged: StagedFile) {
        guard let temporary = staged.temporaryName, let path = try? DatastorePath(staged.recordedPath),
              let folder = try? DatastoreFolder.open(holding: path, under: root, create: false) else { return }
        if let source = staged.movedFrom, renameat(folder.fd, temporary, AT_FDCWD, source) == 0 { return }
        unlinkat(folder.fd, temporary, 0)
    }

    // MARK: Removing

    /// Renames the file at `relativePath` aside (first phase of a removal, inside the removing transaction).
    ///
    /// - Returns: what to ``emptyTrash(_:)`` after the commit or ``restore(_:)`` after a rollback; nil when there is
    ///   no file there (a missing file is not an error for a removal).
    package func trash(_ relativePath: String, claimToken: String) throws -> TrashedFile? {
        let path = try DatastorePath(relativePath)
        let folder: DatastoreFolder
        do { folder = try DatastoreFolder.open(holding: path, under: root, create: false) } catch ButlerError.notFound { return nil }
        guard folder.contains(path.name) else { return nil }
        let token = Self.makeToken()
        let trashed = TrashedFile(path: path.description, token: token, claimToken: claimToken)
        try journal?.recordTrash(path.description, token: token, claimToken: claimToken)
        guard renameat(folder.fd, path.name, folder.fd, trashed.trashName) == 0 else {
            throw ButlerError(.io, "cannot remove \(root.path)/\(path): \(String(cString: strerror(errno)))")
        }
        return trashed
    }

    /// Puts a file renamed aside back (its removal was rolled back).
    package func restore(_ trashed: TrashedFile) {
        guard let path = try? DatastorePath(trashed.path),
              let folder = try? DatastoreFolder.open(holding: path, under: root, create: false) else { return }
        if linkat(folder.fd, trashed.trashName, folder.fd, path.name, 0) == 0 { unlinkat(folder.fd, trashed.trashName, 0) }
    }

    /// Deletes a file renamed aside (its removal committed), then the folders it leaves empty, up to the root.
    package func emptyTrash(_ trashed: TrashedFile) {
        guard let path = try? DatastorePath(trashed.path),
              let folder = try? DatastoreFolder.open(holding: path, under: root, create: false) else { return }
        unlinkat(folder.fd, trashed.trashName, 0)
        var folders = Array(path.folders)
        while let last = folders.popLast() {
            guard let parent = try? DatastoreFolder.open(folders[...], under: root, create: false, for: trashed.path),
                  unlinkat(parent.fd, last, AT_REMOVEDIR) == 0 else { break }
        }
    }

    // MARK: Reading

    package func measure(recordedPath: String, checksum: Bool) throws -> (size: Int64, checksum: String?)? {
        if let member = ZipMemberPath(recordedPath: recordedPath) { return try measure(member, checksum: checksum) }
        let path = location(of: recordedPath).path
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        if !checksum { return (Int64(st.st_size), nil) }
        let (size, sum) = try Self.measure(path, checksum: true)
        return (size, sum)
    }

    /// Files under the root, regular files and links, leaving alone what live writers are creating (their journals
    /// name it) and the journals themselves; `shown` is the absolute path.
    package func forEachStoredFile(_ body: (_ recordedPath: String, _ shown: String) throws -> Void) throws {
        let rootPath = root.standardizedFileURL.path
        let inFlight = TransferJournal.pathsInFlight(datastoreRoot: root)
        func isInFlight(_ relative: String) -> Bool {
            if relative.hasPrefix(TransferJournal.folderName + "/") || inFlight.files.contains(relative) { return true }
            if inFlight.folders.contains(where: { relative.hasPrefix($0 + "/") }) { return true }
            let name = (relative as NSString).lastPathComponent
            return name.hasPrefix(".") && inFlight.pids.contains {
                name.contains(".butler-tmp-\($0)-") || name.contains(".butler-trash-\($0)-") || name.contains(".tmp-\($0)-")
            }
        }
        guard let walker = FileManager.default.enumerator(atPath: rootPath) else { return }
        while let relative = walker.nextObject() as? String {
            let full = rootPath + "/" + relative
            var st = stat()
            guard lstat(full, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG || (st.st_mode & S_IFMT) == S_IFLNK, !isInFlight(relative) else { continue }
            try body(relative, full)
        }
    }

    package func download(_ location: URL, to localPath: String) throws {
        if location.zipMember != nil { return try extractMember(location, to: localPath) }
        do { try FileManager.default.copyItem(atPath: location.path, toPath: localPath) } catch {
            throw ButlerError(.io, "cannot copy \(location.path) to \(localPath): \(error.localizedDescription)")
        }
    }

    package func zipReader(at location: URL) throws -> ZipArchiveReader? {
        var st = stat()
        guard stat(location.path, &st) == 0 else { return nil }
        let version = "\(location.path)|\(st.st_dev)|\(st.st_ino)|\(st.st_size)|\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)"
        return try ZipReaderCache.shared.reader(key: version) { try ZipArchiveReader(url: location) }
    }

    // MARK: File operations

    /// A token that makes temporary names unique across processes and machines: pid and 64 random bits.
    static func makeToken() -> String {
        "\(getpid())-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
    }

    private static func posixError(_ what: String, _ from: String, _ to: DatastorePath) -> ButlerError {
        ButlerError(.io, "cannot \(what) \(from) to \(to): \(String(cString: strerror(errno)))")
    }

    /// Size and SHA-256 of a file (the checksum only when asked).
    package static func measure(_ path: String, checksum: Bool) throws -> (Int64, String?) {
        if !checksum {
            var st = stat()
            guard stat(path, &st) == 0 else {
                throw ButlerError(.io, "cannot read \(path): \(String(cString: strerror(errno)))")
            }
            return (Int64(st.st_size), nil)
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ButlerError(.io, "cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var hasher = SHA256()
        let size = try forEachPiece(fd, path) { hasher.update(bufferPointer: $0) }
        return (size, hexDigest(hasher.finalize()))
    }

    /// Copies a file to a new name in `folder` (which must not exist), hashing it on the way when asked.
    private static func copy(_ source: String, into folder: DatastoreFolder, as name: String, checksum: Bool) throws -> (Int64, String?) {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw ButlerError(.io, "cannot read \(source): \(String(cString: strerror(errno)))") }
        defer { close(input) }
        let output = openat(folder.fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard output >= 0 else { throw ButlerError(.io, "cannot write \(folder.relative)/\(name): \(String(cString: strerror(errno)))") }
        defer { close(output) }
        if !checksum {
            // Let the kernel copy (no trip through user space), as cp does.
            var size: Int64 = 0
            while true {
                let n = sendfile(output, input, nil, 1 << 30)
                if n < 0 {
                    if errno == EINTR { continue }
                    if size == 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP) { break }
                    throw ButlerError(.io, "cannot copy \(source) to \(folder.relative)/\(name): \(String(cString: strerror(errno)))")
                }
                if n == 0 { return (size, nil) }
                size += Int64(n)
            }
        }
        // One pass over the source: hash it and write it out.
        var hasher = SHA256()
        let size = try forEachPiece(input, source) { bytes in
            if checksum { hasher.update(bufferPointer: bytes) }
            var written = 0
            while written < bytes.count {
                let w = write(output, bytes.baseAddress! + written, min(bytes.count - written, 1 << 24))
                if w < 0 {
                    if errno == EINTR { continue }
                    throw ButlerError(.io, "cannot write \(folder.relative)/\(name): \(String(cString: strerror(errno)))")
                }
                written += w
            }
        }
        return (size, checksum ? hexDigest(hasher.finalize()) : nil)
    }

    /// Runs `body` over the contents of an open file, in order, and returns its size: a file up to 64 MiB mapped into
    /// memory as one piece (an empty buffer for an empty file), a larger one read in 8 MiB pieces so that memory stays
    /// flat (a mapping would count it all as resident).
    private static func forEachPiece(_ fd: Int32, _ path: String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Int64 {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ButlerError(.io, "cannot read \(path): \(String(cString: strerror(errno)))") }
        let size = Int(st.st_size)
        if size > 64 << 20 {
            var buffer = [UInt8](repeating: 0, count: 8 << 20)
            var total: Int64 = 0
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                guard n >= 0 else { throw ButlerError(.io, "cannot read \(path): \(String(cString: strerror(errno)))") }
                if n == 0 { return total }
                try buffer.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                total += Int64(n)
            }
        }
        if size == 0 {
            try body(UnsafeRawBufferPointer(start: nil, count: 0))
            return 0
        }
        guard let map = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), map != MAP_FAILED else {
            throw ButlerError(.io, "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { munmap(map, size) }
        madvise(map, size, MADV_SEQUENTIAL)
        try body(UnsafeRawBufferPointer(start: map, count: size))
        return Int64(size)
    }

    /// The path of `target` relative to the folder `base` (both absolute).
    static func relativePath(from base: String, to target: String) -> String {
        let b = base.split(separator: "/")
        let t = target.split(separator: "/")
        var common = 0
        while common < b.count && common < t.count && b[common] == t[common] { common += 1 }
        return (Array(repeating: "..", count: b.count - common) + t[common...].map(String.init)).joined(separator: "/")
    }
}
