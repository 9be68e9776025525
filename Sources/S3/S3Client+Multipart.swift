internal import Crypto
import Foundation
internal import Glibc

extension S3Client {
    /// Uploads a file, streamed: in one request up to `partSize`, else as a multipart upload of `partSize` parts
    /// sent `parallel` at a time (each part read when it is sent, so memory is `parallel × partSize` whatever the
    /// file's size). A failed multipart upload is aborted, so no parts are left behind.
    ///
    /// - Parameters:
    ///   - metadata: stored with the object (`x-amz-meta-*`); the caller gives the file's `sha256` here.
    ///   - partSize: bytes per part, 8 to 64 MiB (S3 takes 5 MiB to 5 GiB).
    /// - Returns: the object's size.
    @discardableResult
    public func uploadFile(bucket: String, key: String, path: String, metadata: [String: String] = [:],
                           partSize: Int = 16 << 20, parallel: Int = 4) throws -> Int64 {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw S3Error(message: "cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw S3Error(message: "cannot read \(path): \(String(cString: strerror(errno)))") }
        let size = Int64(st.st_size)
        @Sendable func read(_ offset: Int64, _ count: Int) throws -> Data {
            var data = Data(count: count)
            var done = 0
            try data.withUnsafeMutableBytes { (buffer: UnsafeMutableRawBufferPointer) in
                while done < count {
                    let n = pread(fd, buffer.baseAddress! + done, count - done, off_t(offset) + off_t(done))
                    if n < 0 && errno == EINTR { continue }
                    guard n > 0 else { throw S3Error(message: "cannot read \(path) at \(offset + Int64(done)): \(n == 0 ? "end of file" : String(cString: strerror(errno)))") }
                    done += n
                }
            }
            return data
        }
        if size <= Int64(partSize) {
            try putObject(bucket: bucket, key: key, data: try read(0, Int(size)), metadata: metadata)
            return size
        }
        var headers = Dictionary(uniqueKeysWithValues: metadata.map { ("x-amz-meta-" + $0.key.lowercased(), $0.value) })
        headers["content-type"] = "application/octet-stream"
        let count = Int((size + Int64(partSize) - 1) / Int64(partSize))
        try multipart(bucket: bucket, key: key, what: "multipart upload of", headers: headers, parts: count, parallel: parallel) { part, uploadId in
            let offset = Int64(part) * Int64(partSize)
            let data = try read(offset, Int(min(Int64(partSize), size - offset)))
            let (_, answer, _) = try send("PUT", bucket: bucket, key: key, query: ["partNumber": String(part + 1), "uploadId": uploadId],
                                          body: .data(data), expect: [200])
            return answer["etag"]
        }
        return size
    }

    /// Downloads an object into a new file (created with `O_EXCL`), in ranges of `partSize`, so memory does not
    /// grow with the object. A failed download removes the file it created.
    public func downloadFile(bucket: String, key: String, to path: String, partSize: Int = 16 << 20) throws {
        guard let info = try headObject(bucket: bucket, key: key) else {
            throw S3Error(message: "no object \(place(bucket, key))", status: 404, code: "NoSuchKey")
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw S3Error(message: "cannot create \(path): \(String(cString: strerror(errno)))") }
        do {
            defer { close(fd) }
            var offset: Int64 = 0
            while offset < info.size {
                let end = min(info.size, offset + Int64(partSize)) - 1
                let data = try getObject(bucket: bucket, key: key, range: offset...end)
                guard data.count == Int(end - offset + 1) else {
                    throw S3Error(message: "short read of \(place(bucket, key)) at \(offset): \(data.count) bytes")
                }
                try data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
                    var written = 0
                    while written < buffer.count {
                        let n = write(fd, buffer.baseAddress! + written, buffer.count - written)
                        if n < 0 && errno == EINTR { continue }
                        guard n > 0 else { throw S3Error(message: "cannot write \(path): \(String(cString: strerror(errno)))") }
                        written += n
                    }
                }
                offset = end + 1
            }
        } catch {
            unlink(path)
            throw error
        }
    }

    /// Uploads of a key that were started and neither completed nor aborted (what a killed upload leaves).
    public func unfinishedUploads(bucket: String, prefix: String) throws -> [(key: String, uploadId: String)] {
        let (_, _, body) = try send("GET", bucket: bucket, query: ["uploads": "", "prefix": prefix], expect: [200])
        return Self.xmlValues("Upload", in: String(decoding: body, as: UTF8.self)).compactMap { upload in
            guard let key = Self.xmlValues("Key", in: upload).first, let id = Self.xmlValues("UploadId", in: upload).first else { return nil }
            return (key, id)
        }
    }

    /// Aborts an unfinished multipart upload.
    public func abortUpload(bucket: String, key: String, uploadId: String) throws {
        try send("DELETE", bucket: bucket, key: key, query: ["uploadId": uploadId], expect: [200, 204, 404])
    }
}

/// A counter shared by worker threads: each `take` hands out the next index once.
final class ManagedCounter: @unchecked Sendable {
    // @unchecked: every access holds the lock.
    private let lock = NSLock()
    private var value = 0

    func take(below limit: Int) -> Int? {
        lock.withLock {
            guard value < limit else { return nil }
            defer { value += 1 }
            return value
        }
    }
}

extension S3Client {
    /// The largest object one copy request takes (S3's limit); larger ones are copied in parts.
    public static let singleCopyLimit: Int64 = 5 << 30

    /// Copies an object on the service whatever its size: one request up to 5 GiB, else a multipart copy
    /// (UploadPartCopy of `partSize` ranges, sent `parallel` at a time), aborted on failure.
    ///
    /// A service that answers UploadPartCopy without copying (rclone serve s3 stores the empty body as the part) is
    /// recognised by the answer, which then has no `CopyPartResult`: its upload is aborted and the bytes are copied
    /// through this machine instead, a range at a time (memory `parallel` × one part: 32 MiB, or a ten-thousandth of
    /// objects above 312 GiB). An error in a part's answer is an error, not a reason to copy through this machine.
    /// `size` must be the source's size (checked first); the copy's size is checked at the end, and a copy of another
    /// size is deleted and is an error.
    public func copyObject(bucket: String, from source: String, sourceBucket: String? = nil, to key: String, size: Int64,
                           partSize: Int64 = 512 << 20, parallel: Int = 4, singleCopyLimit: Int64 = S3Client.singleCopyLimit) throws {
        guard size > singleCopyLimit else {
            try copyObject(bucket: bucket, from: source, sourceBucket: sourceBucket, to: key)
            return
        }
        let fromBucket = sourceBucket ?? bucket
        let copySource = "/" + fromBucket + "/" + SignatureV4.encode(source, keepSlash: true)
        guard fromBucket != bucket || source != key else {
            throw S3Error(message: "cannot copy \(place(bucket, key)) onto itself")
        }
        guard let info = try headObject(bucket: fromBucket, key: source) else {
            throw S3Error(message: "no object \(place(fromBucket, source)) to copy", status: 404, code: "NoSuchKey")
        }
        guard info.size == size else {
            throw S3Error(message: "\(place(fromBucket, source)) is \(info.size) bytes, not the \(size) to copy")
        }
        let headers = Dictionary(uniqueKeysWithValues: info.metadata.map { ("x-amz-meta-" + $0.key, $0.value) })
        struct PartCopyNotDone: Error {}
        do {
            let count = Int((size + partSize - 1) / partSize)
            try multipart(bucket: bucket, key: key, what: "multipart copy to", headers: headers, parts: count, parallel: parallel) { part, uploadId in
                let first = Int64(part) * partSize, last = min(size, first + partSize) - 1
                let (_, _, body) = try send("PUT", bucket: bucket, key: key, query: ["partNumber": String(part + 1), "uploadId": uploadId],
                                            headers: ["x-amz-copy-source": copySource, "x-amz-copy-source-range": "bytes=\(first)-\(last)"], expect: [200])
                let answered = String(decoding: body, as: UTF8.self).contains("CopyPartResult")
                if !answered, let code = Self.xmlValue("Code", in: body) {
                    // S3 may answer 200 with the error in the body.
                    throw S3Error(message: "part \(part + 1) of the multipart copy to \(place(bucket, key)) failed (\(code))", status: 200, code: code)
                }
                guard answered, let etag = Self.xmlValue("ETag", in: body) else { throw PartCopyNotDone() }
                return etag
            }
        } catch is PartCopyNotDone {
            // Parts of at least 5 MiB (S3's minimum), at most 10,000 of them.
            let throughSize = max(5 << 20, min(partSize, 32 << 20), (size + 9_999) / 10_000)
            let count = Int((size + throughSize - 1) / throughSize)
            try multipart(bucket: bucket, key: key, what: "copy through this machine to", headers: headers, parts: count, parallel: parallel) { part, uploadId in
                let first = Int64(part) * throughSize, last = min(size, first + throughSize) - 1
                let data = try getObject(bucket: fromBucket, key: source, range: first...last)
                guard Int64(data.count) == last - first + 1 else {
                    throw S3Error(message: "\(place(fromBucket, source)) gave \(data.count) bytes for bytes \(first)-\(last): it is not \(size) bytes long")
                }
                let (_, answer, _) = try send("PUT", bucket: bucket, key: key, query: ["partNumber": String(part + 1), "uploadId": uploadId],
                                              body: .data(data), expect: [200])
                return answer["etag"]
            }
        }
        let copied = try headObject(bucket: bucket, key: key)
        guard copied?.size == size else {
            _ = try? deleteObject(bucket: bucket, key: key)
            throw S3Error(message: "the copy of \(place(fromBucket, source)) to \(key) is \(copied?.size ?? 0) bytes, not \(size): it was deleted")
        }
    }

    /// One multipart upload: started, its `parts` sent `parallel` at a time by `sendPart` (given the part's index
    /// and the upload's id, it returns the part's ETag), completed; aborted on any failure, so that no parts are
    /// left behind.
    private func multipart(bucket: String, key: String, what: String, headers: [String: String], parts count: Int, parallel: Int,
                           sendPart: @Sendable (_ part: Int, _ uploadId: String) throws -> String?) throws {
        let (_, _, created) = try send("POST", bucket: bucket, key: key, query: ["uploads": ""], headers: headers, expect: [200])
        guard let uploadId = Self.xmlValue("UploadId", in: created) else {
            throw S3Error(message: "\(what) \(place(bucket, key)) was not started: no UploadId in the answer")
        }
        let lock = NSLock()
        nonisolated(unsafe) var etags = [String?](repeating: nil, count: count)
        nonisolated(unsafe) var failure: (any Error)?
        let next = ManagedCounter()
        DispatchQueue.concurrentPerform(iterations: min(parallel, count)) { _ in
            while let part = next.take(below: count) {
                if lock.withLock({ failure != nil }) { return }
                do {
                    let etag = try sendPart(part, uploadId)
                    lock.withLock { etags[part] = etag }
                } catch {
                    lock.withLock { if failure == nil { failure = error } }
                }
            }
        }
        do {
            if let failure { throw failure }
            let parts = try etags.enumerated().map { i, etag -> String in
                guard let etag else { throw S3Error(message: "part \(i + 1) of the \(what) \(place(bucket, key)) has no ETag") }
                return "<Part><PartNumber>\(i + 1)</PartNumber><ETag>\(etag)</ETag></Part>"
            }
            let xml = "<CompleteMultipartUpload>" + parts.joined() + "</CompleteMultipartUpload>"
            let (_, _, body) = try send("POST", bucket: bucket, key: key, query: ["uploadId": uploadId], body: .data(Data(xml.utf8)), expect: [200])
            if let code = Self.xmlValue("Code", in: body) {
                throw S3Error(message: "\(what) \(place(bucket, key)) failed to complete (\(code))", status: 200, code: code)
            }
        } catch {
            // No orphaned parts: the upload is aborted (its parts are freed by the service).
            _ = try? send("DELETE", bucket: bucket, key: key, query: ["uploadId": uploadId], expect: [200, 204, 404])
            throw error
        }
    }
}
