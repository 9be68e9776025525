package import Foundation
internal import Crypto
internal import Glibc
internal import Synchronization

/// The file datastore: a folder under which datasets' files live at their templated paths.
///
/// Every transfer writes to a temporary name beside the target and renames it into place, so a crash never leaves
/// a half-written file at a path the registry might record.
package struct FileDatastore: Sendable {
    package let root: URL
    /// Where files about to be created are noted first (nil: not noted, for read-only uses).
    package let journal: TransferJournal?

    package init(root: URL, journal: TransferJournal? = nil) {
        self.root = root
        self.journal = journal
    }

    /// What a transfer put where.
    package struct Placed: Sendable {
        /// The path to record: relative to the root, or absolute for `direct`.
        package let recordedPath: String
        /// The file now inside the datastore that the transfer created, if any (to remove on failure).
        package let created: URL?
        package let size: Int64
        package let checksum: String?
    }

    /// Whether an absolute path lies inside the datastore root.
    package func contains(_ path: String) -> Bool {
        let rootPath = root.path.hasSuffix("/") ? root.path : root.path + "/"
        return path.hasPrefix(rootPath)
    }

    /// The absolute location of a recorded path.
    package func location(of recordedPath: String) -> URL {
        recordedPath.hasPrefix("/") ? URL(fileURLWithPath: recordedPath) : root.appendingPathComponent(recordedPath)
    }

    /// Puts `source` at `relativePath` under the root with `mode`, computing the size and (optionally) a SHA-256.
    package func transfer(_ source: String, to relativePath: String, mode: TransferMode, checksum: Bool) throws -> Placed {
        let sourcePath = absolutePath(source)
        var mode = mode
        if mode == .auto {
            if contains(sourcePath) {
                let relative = String(sourcePath.dropFirst(root.path.count).drop { $0 == "/" })
                let (size, sum) = try Self.measure(sourcePath, checksum: checksum)
                return Placed(recordedPath: relative, created: nil, size: size, checksum: sum)
            }
            mode = .link
        }
        if mode == .direct {
            let (size, sum) = try Self.measure(sourcePath, checksum: checksum)
            return Placed(recordedPath: sourcePath, created: nil, size: size, checksum: sum)
        }
        let target = root.appendingPathComponent(relativePath)
        let directory = target.deletingLastPathComponent()
        try journal?.recordFile(relativePath)
        try Self.makeDirectory(directory)
        // Links are made in one atomic step at their place; copies and moves go through a temporary name.
        let atomic = mode == .hardlink || mode == .symlink || mode == .relsymlink || mode == .link
        if atomic { unlink(target.path) }
        let temporary = atomic ? target : directory.appendingPathComponent(".\(target.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        var size: Int64 = 0
        var sum: String?
        do {
            switch mode {
            case .copy:
                (size, sum) = try Self.copy(sourcePath, to: temporary.path, checksum: checksum)
            case .move:
                if rename(sourcePath, temporary.path) != 0 {
                    guard errno == EXDEV else { throw Self.posixError("move", sourcePath, temporary.path) }
                    (size, sum) = try Self.copy(sourcePath, to: temporary.path, checksum: checksum)
                    unlink(sourcePath)
                } else {
                    (size, sum) = try Self.measure(temporary.path, checksum: checksum)
                }
            case .hardlink:
                guard link(sourcePath, temporary.path) == 0 else { throw Self.posixError("hard link", sourcePath, temporary.path) }
                (size, sum) = try Self.measure(sourcePath, checksum: checksum)
            case .link:
                if link(sourcePath, temporary.path) != 0 {
                    guard symlink(sourcePath, temporary.path) == 0 else { throw Self.posixError("link", sourcePath, temporary.path) }
                }
                (size, sum) = try Self.measure(sourcePath, checksum: checksum)
            case .symlink:
                guard symlink(sourcePath, temporary.path) == 0 else { throw Self.posixError("symlink", sourcePath, temporary.path) }
                (size, sum) = try Self.measure(sourcePath, checksum: checksum)
            case .relsymlink:
                let relative = Self.relativePath(from: directory.path, to: sourcePath)
                guard symlink(relative, temporary.path) == 0 else { throw Self.posixError("relative symlink", sourcePath, temporary.path) }
                (size, sum) = try Self.measure(sourcePath, checksum: checksum)
            case .auto, .direct:
                preconditionFailure("handled above")
            }
            if !atomic {
                guard rename(temporary.path, target.path) == 0 else { throw Self.posixError("rename", temporary.path, target.path) }
            }
        } catch {
            unlink(temporary.path)
            throw error
        }
        return Placed(recordedPath: relativePath, created: target, size: size, checksum: sum)
    }

    /// Removes a file the datastore created (used to undo a failed ingest).
    package func remove(_ url: URL) {
        unlink(url.path)
    }

    // MARK: File operations

    /// Folders this process has made already (an ingest puts many files in each).
    private static let madeDirectories = Mutex(Set<String>())

    private static func makeDirectory(_ directory: URL) throws {
        if madeDirectories.withLock({ $0.contains(directory.path) }) { return }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw ButlerError(.io, "cannot create datastore folder \(directory.path): \(error.localizedDescription)")
        }
        madeDirectories.withLock {
            if $0.count > 4096 { $0.removeAll(keepingCapacity: true) }  // bounded: a cache, not a record
            $0.insert(directory.path)
        }
    }

    private static func posixError(_ what: String, _ from: String, _ to: String) -> ButlerError {
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
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw ButlerError(.io, "cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var hasher = SHA256()
        let size = try withMappedFile(fd, path) { bytes in
            hasher.update(bufferPointer: bytes)
            return Int64(bytes.count)
        }
        return (size, hexDigest(hasher.finalize()))
    }

    /// Copies a file, hashing it on the way when asked (one read of the source).
    private static func copy(_ source: String, to destination: String, checksum: Bool) throws -> (Int64, String?) {
        let input = open(source, O_RDONLY)
        guard input >= 0 else { throw ButlerError(.io, "cannot read \(source): \(String(cString: strerror(errno)))") }
        defer { close(input) }
        let output = open(destination, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard output >= 0 else { throw ButlerError(.io, "cannot write \(destination): \(String(cString: strerror(errno)))") }
        defer { close(output) }
        if !checksum {
            // Let the kernel copy (no trip through user space), as cp does.
            var size: Int64 = 0
            while true {
                let n = sendfile(output, input, nil, 1 << 30)
                if n < 0 {
                    if errno == EINTR { continue }
                    if size == 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP) { break }
                    throw ButlerError(.io, "cannot copy \(source) to \(destination): \(String(cString: strerror(errno)))")
                }
                if n == 0 { return (size, nil) }
                size += Int64(n)
            }
        }
        // One pass over the mapped source: hash it and write it out.
        var hasher = SHA256()
        let size = try withMappedFile(input, source) { bytes -> Int64 in
            hasher.update(bufferPointer: bytes)
            var written = 0
            while written < bytes.count {
                let w = write(output, bytes.baseAddress! + written, min(bytes.count - written, 1 << 24))
                if w < 0 {
                    if errno == EINTR { continue }
                    throw ButlerError(.io, "cannot write \(destination): \(String(cString: strerror(errno)))")
                }
                written += w
            }
            return Int64(bytes.count)
        }
        return (size, checksum ? hexDigest(hasher.finalize()) : nil)
    }

    /// Runs `body` over the whole contents of an open file, mapped into memory (an empty buffer for an empty file).
    private static func withMappedFile<T>(_ fd: Int32, _ path: String, _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ButlerError(.io, "cannot read \(path): \(String(cString: strerror(errno)))") }
        let size = Int(st.st_size)
        if size == 0 { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        guard let map = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), map != MAP_FAILED else {
            throw ButlerError(.io, "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { munmap(map, size) }
        madvise(map, size, MADV_SEQUENTIAL)
        return try body(UnsafeRawBufferPointer(start: map, count: size))
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
