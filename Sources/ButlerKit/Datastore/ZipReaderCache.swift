internal import Foundation

/// The Zips a process has open for reading members, by location and version (so that reading 20,000 members of one
/// stored Zip opens it, and reads its central directory, once). A few are kept; the oldest is closed first.
///
/// The version is what says the file is still the one opened (inode, size and modification time of a local file; the
/// size and ETag of an object): a datastore file is never overwritten, but a removed Zip may be followed by a new one
/// at the same path.
final class ZipReaderCache: @unchecked Sendable {
    static let shared = ZipReaderCache()
    private static let capacity = 4

    private let lock = NSLock()
    private var readers: [(key: String, reader: ZipArchiveReader)] = []

    /// The reader for `key`, opened by `open` when not held (outside the lock: opening may download).
    func reader(key: String, open: () throws -> ZipArchiveReader) throws -> ZipArchiveReader {
        lock.lock()
        if let found = readers.first(where: { $0.key == key }) {
            lock.unlock()
            return found.reader
        }
        lock.unlock()
        let reader = try open()
        lock.lock()
        defer { lock.unlock() }
        if let found = readers.first(where: { $0.key == key }) { return found.reader }
        readers.append((key, reader))
        if readers.count > Self.capacity { readers.removeFirst() }
        return reader
    }
}

extension ZipReaderCache {
    /// Copies a member of a Zip at a `file://` or `s3://` location with `#zip-path=MEMBER` to a new local file, with
    /// no repository open (a batch job's input; an object is downloaded with the environment's configuration).
    static func extract(_ location: URL, to localPath: String) throws {
        guard let member = location.zipMember else { throw ButlerError(.invalidValue, "\(location) names no Zip member") }
        let zip = location.withoutZipMember
        if zip.isFileURL {
            try ZipArchiveReader(url: zip).extract(member: member, to: localPath)
            return
        }
        let local = localPath + ".zip-\(FileDatastore.makeToken())"
        defer { unlink(local) }
        try BucketDatastore.download(uri: zip.absoluteString, to: local)
        try ZipArchiveReader(url: URL(fileURLWithPath: local), shownName: zip.absoluteString).extract(member: member, to: localPath)
    }
}

extension Datastore {
    /// Size and, with `checksum`, SHA-256 (hex) of a member of a stored Zip; nil when the Zip or the member is not there.
    func measure(_ member: ZipMemberPath, checksum: Bool) throws -> (size: Int64, checksum: String?)? {
        guard let reader = try zipReader(at: location(of: member.container)), reader.holdsFile(member.member) else { return nil }
        guard checksum else { return (reader.declaredSize(of: member.member) ?? 0, nil) }
        let read = try reader.stream(member: member.member) { _ in }
        return (read.size, read.sha256)
    }

    /// Copies a member of a stored Zip (a location with `#zip-path=`) to a new local file.
    func extractMember(_ location: URL, to localPath: String) throws {
        guard let member = location.zipMember else { throw ButlerError(.invalidValue, "\(location) names no Zip member") }
        guard let reader = try zipReader(at: location.withoutZipMember) else {
            throw ButlerError(.notFound, "the Zip \(Butler.shown(location.withoutZipMember)) is missing")
        }
        try reader.extract(member: member, to: localPath)
    }
}
