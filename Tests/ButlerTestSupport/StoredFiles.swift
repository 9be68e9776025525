public import Foundation
internal import S3
public import ButlerKit

// Reading and tampering with a repository's stored files behind the butler's back, the same way on a folder and on a
// bucket, so that one test checks both datastores. A location is what `Butler.fileLocations` gives: a file URL
// or an `s3://BUCKET/KEY` URL.

/// The bucket and key of an `s3://` location, nil for a file URL.
private func object(_ location: URL) -> (bucket: String, key: String)? {
    guard location.scheme == "s3", let bucket = location.host else { return nil }
    return (bucket, String(location.absoluteString.dropFirst("s3://".count + bucket.count + 1)))
}

private func client() throws -> S3Client { S3Client(configuration: try S3Configuration.fromEnvironment()) }

/// How commands name a location: a file's path, an object's `s3://` URI.
public func shown(_ location: URL) -> String { location.isFileURL ? location.path : location.absoluteString }

/// Whether a file or an object is at the location.
public func storedFileExists(_ location: URL) throws -> Bool {
    guard let (bucket, key) = object(location) else { return FileManager.default.fileExists(atPath: location.path) }
    return try client().headObject(bucket: bucket, key: key) != nil
}

/// The bytes at a location.
public func storedData(_ location: URL) throws -> Data {
    guard let (bucket, key) = object(location) else { return try Data(contentsOf: location) }
    return try client().getObject(bucket: bucket, key: key)
}

/// Writes bytes at a location, replacing what is there (a disk fault, a stray process).
public func plant(_ data: Data, at location: URL) throws {
    guard let (bucket, key) = object(location) else {
        try FileManager.default.createDirectory(at: location.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: location)
        return
    }
    try client().putObject(bucket: bucket, key: key, data: data)
}

/// Gives the file or object at `source` a second name, as the first half of a publish does: a hard link in a folder,
/// a copy on the service (metadata kept) in a bucket.
public func linkStored(_ source: URL, to target: URL) throws {
    guard let (bucket, key) = object(source), let (_, targetKey) = object(target) else {
        guard link(source.path, target.path) == 0 else { throw ButlerError(.io, "cannot link \(source.path) to \(target.path): \(String(cString: strerror(errno)))") }
        return
    }
    try client().copyObject(bucket: bucket, from: key, to: targetKey)
}

/// Removes the file or object at a location.
public func removeStoredFile(_ location: URL) throws {
    guard let (bucket, key) = object(location) else { return try FileManager.default.removeItem(at: location) }
    try client().deleteObject(bucket: bucket, key: key)
}

/// A local path holding the bytes at a location: the file itself, or a download into `dir` for an object.
public func localPath(of location: URL, in dir: TemporaryDirectory) throws -> String {
    guard object(location) != nil else { return location.path }
    let path = dir.path("download-\(UUID().uuidString.prefix(8))-" + location.lastPathComponent)
    try Butler.downloadObject(location.absoluteString, to: path)
    return path
}

/// The SHA-256 of the bytes at a location (an object is downloaded into `dir` and hashed, its metadata not trusted).
public func storedChecksum(_ location: URL, in dir: TemporaryDirectory) throws -> String? {
    guard try storedFileExists(location) else { return nil }
    let path = try localPath(of: location, in: dir)
    defer { if !location.isFileURL { try? FileManager.default.removeItem(atPath: path) } }
    return try FileDatastore.measure(path, checksum: true).1
}

/// A local path holding the bytes a URI printed by a command names (a path, a `file://` URI or an `s3://` URI).
public func localPath(ofURI uri: String, in dir: TemporaryDirectory) throws -> String {
    if uri.hasPrefix("s3://"), let url = URL(string: uri) { return try localPath(of: url, in: dir) }
    if uri.hasPrefix("file://"), let url = URL(string: uri) { return url.path }
    return uri
}

extension Butler {
    /// The location of a path inside the repository's datastore (which need not hold anything yet).
    public func storedLocation(_ relativePath: String) -> URL { datastore.location(of: relativePath) }
}
