package import Foundation
internal import Crypto
internal import ZIPFoundation

/// A Zip opened for reading its members by name, streamed and checked against the Zip's CRC-32: what
/// ``ButlerZip`` reads an ingested Zip with, and what the datastore reads a dataset stored as a member of a Zip kept
/// whole (``ZipMemberPath``) with.
///
/// One pass over the central directory on opening (looking members up one by one would read it once per member).
/// Two members of one name are refused: readers differ on which one counts (Python's zipfile and Rubin's butler take
/// the last), so the bytes read would depend on the reader. Reads are serialized (the archive has one file handle).
package final class ZipArchiveReader: @unchecked Sendable {
    /// The Zip file, as opened.
    package let url: URL
    /// How the Zip is named in errors (its path, or the location it was downloaded from).
    let shownName: String
    private let archive: Archive
    private let entries: [String: Entry]
    private let lock = NSLock()

    /// Opens a Zip.
    ///
    /// - Parameter shownName: names the Zip in errors (default: its path).
    /// - Throws: ``ButlerError/Code/io`` when the file cannot be opened, ``ButlerError/Code/invalidValue`` when it is not
    ///   a regular file, not a Zip, corrupted, or holds two members of one name.
    package init(url: URL, shownName: String? = nil) throws {
        let source = shownName ?? url.path
        var st = stat()
        guard stat(url.path, &st) == 0 else {
            throw ButlerError(.io, "cannot open \(source): \(String(cString: strerror(errno)))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw ButlerError(.invalidValue, "\(source) is not a file") }
        let archive: Archive
        do {
            archive = try Archive(url: url, accessMode: .read)
        } catch {
            throw ButlerError(.invalidValue, "\(source) is not a Zip file or is corrupted")
        }
        var entries: [String: Entry] = [:]
        for entry in archive {
            guard entries[entry.path] == nil else {
                throw ButlerError(.invalidValue, "\(source) holds two members named '\(entry.path)': refused, as readers differ on which one counts")
            }
            entries[entry.path] = entry
        }
        self.url = url
        self.shownName = source
        self.archive = archive
        self.entries = entries
    }

    /// Whether the Zip holds a file (not a folder) of that name.
    package func holdsFile(_ member: String) -> Bool { entries[member]?.type == .file }

    /// The uncompressed size the Zip declares for a member (nil when it has no such member).
    package func declaredSize(of member: String) -> Int64? { entries[member].map { Int64($0.uncompressedSize) } }

    /// Streams a member's bytes to `consume`, hashing them (SHA-256) and checking the Zip's CRC-32 at the end.
    ///
    /// - Parameters:
    ///   - limit: the most bytes accepted; more fails as soon as they come (a member inflating without end).
    ///   - limitName: what the limit is, for the error (`the index's file_size`).
    /// - Returns: the size and the SHA-256 (hex) of the bytes.
    /// - Throws: ``ButlerError/Code/notFound`` for a member the Zip does not hold, ``ButlerError/Code/invalidValue``
    ///   when the bytes do not match the CRC-32, exceed `limit` or cannot be inflated; what `consume` throws.
    @discardableResult
    package func stream(member: String, limit: Int64? = nil, limitName: String = "the limit of",
                        _ consume: (Data) throws -> Void) throws -> (size: Int64, sha256: String) {
        guard let entry = entries[member], entry.type == .file else {
            throw ButlerError(.notFound, "\(shownName) has no member \(member)")
        }
        lock.lock()
        defer { lock.unlock() }
        var hasher = SHA256()
        var size: Int64 = 0
        do {
            // The consumer form of extract computes the CRC-32 but leaves the comparison to the caller.
            let crc = try archive.extract(entry, bufferSize: 1 << 20, skipCRC32: false) { chunk in
                size += Int64(chunk.count)
                if let limit, size > limit {
                    throw ButlerError(.invalidValue, "\(shownName): member \(member) is larger than \(limitName) \(limit)")
                }
                hasher.update(data: chunk)
                try consume(chunk)
            }
            guard crc == entry.checksum else { throw Archive.ArchiveError.invalidCRC32 }
        } catch let error as ButlerError {
            throw error
        } catch Archive.ArchiveError.invalidCRC32 {
            throw ButlerError(.invalidValue, "\(shownName): member \(member) is corrupted (CRC-32 mismatch)")
        } catch {
            throw ButlerError(.invalidValue, "\(shownName): cannot read member \(member): the Zip is corrupted (\(error))")
        }
        return (size, hexDigest(hasher.finalize()))
    }

    /// Copies a member to a new file at `path` (never replacing one), streamed and checked as ``stream(member:limit:_:)``
    /// checks it; nothing is left at `path` when it fails.
    ///
    /// - Returns: the size written and the SHA-256 (hex) of the bytes.
    /// - Throws: as ``stream(member:limit:_:)``; ``ButlerError/Code/alreadyExists`` when `path` exists,
    ///   ``ButlerError/Code/io`` when writing fails.
    @discardableResult
    package func extract(member: String, to path: String, limit: Int64? = nil, limitName: String = "the limit of") throws -> (size: Int64, sha256: String) {
        guard holdsFile(member) else { throw ButlerError(.notFound, "\(shownName) has no member \(member)") }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            let code: ButlerError.Code = errno == EEXIST ? .alreadyExists : .io
            throw ButlerError(code, "cannot create \(path) for member \(member) of \(shownName): \(String(cString: strerror(errno)))")
        }
        do {
            defer { close(fd) }
            let result = try stream(member: member, limit: limit, limitName: limitName) { chunk in try Self.writeAll(fd, chunk, path: path) }
            guard fsync(fd) == 0 || errno == EINVAL else {
                throw ButlerError(.io, "cannot write \(path): \(String(cString: strerror(errno)))")
            }
            return result
        } catch {
            unlink(path)
            throw error
        }
    }

    /// A small member (an index, a provenance bundle) read whole: refused when its declared size exceeds `limit`, and
    /// as soon as it inflates past its declared size (which the Zip may lie about), so no more than `limit` is held.
    package func readWhole(member: String, limit: Int64) throws -> Data {
        guard let declared = declaredSize(of: member) else { throw ButlerError(.notFound, "\(shownName) has no member \(member)") }
        guard declared <= limit else {
            throw ButlerError(.invalidValue, "\(shownName): member \(member) is \(declared) bytes uncompressed, more than the \(limit >> 20) MiB this butler reads")
        }
        var data = Data()
        var overflowed = false
        do {
            try stream(member: member) { chunk in
                guard Int64(data.count) + Int64(chunk.count) <= declared else {
                    overflowed = true
                    throw ButlerError(.invalidValue, "\(shownName): member \(member) inflates past the \(declared) bytes the Zip declares for it: the Zip is corrupted or hostile")
                }
                data.append(chunk)
            }
        } catch let error as ButlerError where error.code == .invalidValue && !overflowed {
            throw ButlerError(.invalidValue, "\(shownName): cannot read member \(member): the Zip is corrupted")
        }
        guard Int64(data.count) == declared else {
            throw ButlerError(.invalidValue, "\(shownName): member \(member) has \(data.count) bytes, but the Zip declares \(declared): the Zip is corrupted")
        }
        return data
    }

    /// Writes all of `data` to `fd`.
    static func writeAll(_ fd: Int32, _ data: Data, path: String) throws {
        try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) throws in
            var written = 0
            while written < bytes.count {
                let n = write(fd, bytes.baseAddress! + written, bytes.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ButlerError(.io, "cannot write \(path): \(String(cString: strerror(errno)))")
                }
                written += n
            }
        }
    }
}
