public import Foundation
internal import Crypto
internal import ZIPFoundation

/// A Zip of datasets in Rubin's format (`butler retrieve-artifacts --zip`, `butler ingest-zip`): the index
/// `_butler_zip_index.json` (``ZipIndex``) first, then the files flat at the top level, each named
/// `<first 8 hex digits of its first dataset id>-<basename>`, and, when provenance travels with them, the member
/// `_butler_provenance.json` (``ProvenanceBundle``), which Rubin ignores.
///
/// Open one with ``init(contentsOf:universe:)``, which reads and checks the index, then copy its files out with
/// ``extract(member:to:)``. Write one with ``write(_:sourcePath:provenance:into:universe:progress:)``.
public final class ButlerZip {
    /// The Zip file.
    public let url: URL
    /// Its index, as read.
    public let index: ZipIndex
    /// What it holds: each file's `path` is its member name, its size the index's `file_size`; `provenance` is set
    /// when the Zip has the provenance member.
    public let contents: ExportContents
    /// The provenance member, when present.
    public var provenance: ProvenanceBundle? { contents.provenance }

    private let reader: ZipArchiveReader

    /// Opens a Zip and reads its index and provenance.
    ///
    /// - Throws: ``ButlerError/Code/io`` when the file cannot be opened, ``ButlerError/Code/invalidValue`` when it
    ///   is not a Zip or is corrupted, holds two members of one name, has an index or provenance member larger than
    ///   ``memberReadLimit``, has no index, an index that is not JSON, lacks keys or is of another version,
    ///   another universe namespace, a member listed in the index but absent, a dataset id in `artifact_map` without
    ///   its `compact_refs` entry, or a dataset of a dataset type the index does not define; each error names the Zip.
    public init(contentsOf url: URL, universe: DimensionUniverse) throws {
        let source = url.path
        let reader = try ZipArchiveReader(url: url)
        guard reader.declaredSize(of: ZipIndex.memberName) != nil else {
            throw ButlerError(.invalidValue, "\(source) has no \(ZipIndex.memberName): not a butler Zip")
        }
        let index = try ZipIndex.decode(reader.readWhole(member: ZipIndex.memberName, limit: Self.memberReadLimit), source: source)
        for member in index.artifactMap.keys.sorted() {
            guard !member.hasPrefix("/"), !member.split(separator: "/").contains(".."), member != ZipIndex.memberName else {
                throw ButlerError(.invalidValue, "\(source): index names the member '\(member)', which is not a file name inside the Zip")
            }
            guard reader.holdsFile(member) else {
                throw ButlerError(.invalidValue, "\(source): index lists the member \(member), which the Zip does not hold")
            }
        }
        var contents = try index.exportContents(universe: universe, source: source)
        if reader.declaredSize(of: ProvenanceBundle.zipMemberName) != nil {
            contents.provenance = try ProvenanceBundle.decode(reader.readWhole(member: ProvenanceBundle.zipMemberName, limit: Self.memberReadLimit),
                                                              source: "\(source) (\(ProvenanceBundle.zipMemberName))")
        }
        self.url = url
        self.index = index
        self.contents = contents
        self.reader = reader
    }

    /// Copies one member to a new file at `path` (never replacing one), streamed, checking its size against the
    /// index's `file_size` and, when the index has one of ours, its `sha256:` checksum. Nothing is left at `path`
    /// when it fails.
    ///
    /// - Returns: the size written and the SHA-256 of the bytes, `sha256:<hex>`.
    /// - Throws: ``ButlerError/Code/notFound`` for a member the Zip does not hold, ``ButlerError/Code/alreadyExists``
    ///   when `path` exists, ``ButlerError/Code/invalidValue`` when the bytes do not match the index (size,
    ///   checksum) or the Zip (CRC), ``ButlerError/Code/io`` when writing fails.
    @discardableResult
    public func extract(member: String, to path: String) throws -> (size: Int64, checksum: String) {
        let info = index.artifactMap[member]?.info
        do {
            return try checked(member, info, try reader.extract(member: member, to: path, limit: info?.fileSize, limitName: "the index's file_size"))
        } catch {
            unlink(path)
            throw error
        }
    }

    /// Reads one member through, with every check of ``extract(member:to:)`` (size and checksum against the index,
    /// CRC-32), writing nothing: what a dry run of `ingest-zip`, and an ingest keeping the Zip whole, read.
    ///
    /// - Returns: the size and the SHA-256 of the bytes, `sha256:<hex>`.
    @discardableResult
    public func verify(member: String) throws -> (size: Int64, checksum: String) {
        let info = index.artifactMap[member]?.info
        return try checked(member, info, try reader.stream(member: member, limit: info?.fileSize, limitName: "the index's file_size") { _ in })
    }

    /// Compares what was read of a member with the index: its `file_size`, and its checksum when it is one of ours.
    private func checked(_ member: String, _ info: ZipIndex.FileInfo?, _ read: (size: Int64, sha256: String)) throws -> (size: Int64, checksum: String) {
        let source = url.path
        if let expected = info?.fileSize, read.size != expected {
            throw ButlerError(.invalidValue, "\(source): member \(member) has \(read.size) bytes, but the index says \(expected)")
        }
        let checksum = "sha256:" + read.sha256
        if let recorded = info?.checksum, recorded.hasPrefix("sha256:"), recorded.lowercased() != checksum {
            throw ButlerError(.invalidValue, "\(source): member \(member) has checksum \(checksum), but the index says \(recorded)")
        }
        return (read.size, checksum)
    }

    /// The most bytes the index and the provenance member may hold each (256 MiB): they are read whole into memory,
    /// and a member of whitespace compresses a thousandfold, so a small Zip could otherwise claim gigabytes.
    public static let memberReadLimit: Int64 = 256 << 20
}

// MARK: - Writing

extension ButlerZip {
    /// Writes `contents`' files into a new Zip `<uuid5>.zip` in `folder` (made when missing), named as Rubin names
    /// it, and returns its URL.
    ///
    /// The index comes first (deflated), then each file once, stored uncompressed and streamed from its source,
    /// then the provenance member (deflated) when there is provenance (`provenance`, or else `contents.provenance`).
    /// The Zip is written under a temporary name in `folder` and renamed when complete, so that no half-written
    /// Zip is ever left; the temporary is removed on any error. Sizes missing from `contents` are taken from the
    /// source files; a size given there must match.
    ///
    /// - Parameters:
    ///   - sourcePath: the absolute path of each file's bytes (files are followed through symbolic links).
    ///   - universe: the universe the contents' dimension names and records belong to.
    /// - Throws: ``ButlerError/Code/invalidValue`` for contents without datasets or that the index cannot describe,
    ///   ``ButlerError/Code/alreadyExists`` when the Zip exists already, ``ButlerError/Code/io`` when a source
    ///   cannot be read, has another size than recorded, or the Zip cannot be written.
    ///   - progress: told of the members written as they are.
    @discardableResult
    public static func write(_ contents: ExportContents, sourcePath: (ExportedFile) throws -> String, provenance: ProvenanceBundle? = nil,
                             into folder: URL, universe: DimensionUniverse, progress: ProgressReport? = nil) throws -> URL {
        guard contents.datasets.contains(where: { !$0.files.isEmpty }) else {
            throw ButlerError(.invalidValue, "nothing to put in a Zip: the export holds no dataset")
        }
        // Each member's source, measured now: the index, written first, carries every size.
        var sized = contents
        var members: [(name: String, source: String, size: Int64)] = []
        var seen: [String: String] = [:]
        for i in sized.datasets.indices {
            for j in sized.datasets[i].files.indices {
                let file = sized.datasets[i].files[j]
                let source = try sourcePath(file)
                var st = stat()
                guard stat(source, &st) == 0 else {
                    throw ButlerError(.io, "cannot read \(source): \(String(cString: strerror(errno)))")
                }
                guard (st.st_mode & S_IFMT) == S_IFREG else { throw ButlerError(.io, "\(source) is not a regular file") }
                let size = Int64(st.st_size)
                if let recorded = file.size, recorded != size {
                    throw ButlerError(.io, "\(source) has \(size) bytes, but \(recorded) were recorded for \(file.path)")
                }
                sized.datasets[i].files[j].size = size
                let name = ZipIndex.memberName(for: file)
                guard name != ZipIndex.memberName, name != ProvenanceBundle.zipMemberName else {
                    throw ButlerError(.invalidValue, "\(file.path) would be named \(name) in the Zip, a name the Zip format reserves")
                }
                if let other = seen[name] {
                    guard other == file.path else {
                        throw ButlerError(.invalidValue, "two files have the Zip member name \(name): \(other) and \(file.path)")
                    }
                    continue
                }
                seen[name] = file.path
                members.append((name, source, size))
            }
        }
        let index = try ZipIndex(sized, universe: universe)
        let indexData = try index.encoded()
        let provenanceData = try (provenance ?? contents.provenance)?.encoded()

        let fm = FileManager.default
        do {
            try fm.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw ButlerError(.io, "cannot create \(folder.path): \(error.localizedDescription)")
        }
        let final = folder.appendingPathComponent(index.zipFileName)
        guard !fm.fileExists(atPath: final.path) else {
            throw ButlerError(.alreadyExists, "\(final.path) exists already")
        }
        let temporary = folder.appendingPathComponent(".\(index.zipFileName).tmp-\(UUID().lowercasedString.prefix(8))")
        do {
            try writeArchive(at: temporary, index: indexData, members: members, provenance: provenanceData, progress: progress)
            let fd = open(temporary.path, O_RDONLY | O_CLOEXEC)
            if fd >= 0 { fsync(fd); close(fd) }
            // A hard link never replaces an existing file: a Zip of the same name made meanwhile is kept.
            guard link(temporary.path, final.path) == 0 else {
                let code: ButlerError.Code = errno == EEXIST ? .alreadyExists : .io
                throw ButlerError(code, "cannot create \(final.path): \(String(cString: strerror(errno)))")
            }
            unlink(temporary.path)
        } catch {
            unlink(temporary.path)
            throw error
        }
        return final
    }

    /// Writes the members into a new archive (see ``ZipArchiveWriter``); the archive is closed when this returns.
    private static func writeArchive(at url: URL, index: Data, members: [(name: String, source: String, size: Int64)], provenance: Data?,
                                     progress: ProgressReport?) throws {
        let archive = try ZipArchiveWriter(creating: url.path)
        try archive.addDeflated(ZipIndex.memberName, index)
        var written = 0
        for member in members {
            let fd = open(member.source, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw ButlerError(.io, "cannot read \(member.source): \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            var modified = Date()
            var st = stat()
            if fstat(fd, &st) == 0 {
                guard Int64(st.st_size) == member.size else {
                    throw ButlerError(.io, "\(member.source) changed size while the Zip was written")
                }
                modified = Date(timeIntervalSince1970: TimeInterval(st.st_mtim.tv_sec))
            }
            try archive.addStored(member.name, from: fd, size: member.size, shownAs: member.source, modified: modified)
            written += 1
            progress?(written, members.count)
        }
        if let provenance { try archive.addDeflated(ProvenanceBundle.zipMemberName, provenance) }
        try archive.finish()
    }
}
