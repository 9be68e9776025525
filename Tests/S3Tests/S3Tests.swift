import Crypto
import Foundation
import ButlerKit
import ButlerTestSupport
@testable import S3
import Testing

/// The S3 client: Signature Version 4 against AWS's published example, configuration from the environment and the
/// AWS files, and every call against a real server that checks signatures (`rclone serve s3`, started by
/// scripts/with-s3.sh, which `make test` runs).
@Suite("S3 client: SigV4, configuration, a real signature-checking server")
struct S3Tests {
    @Test("SigV4: AWS's GET Object example gives AWS's signature")
    func awsExample() {
        let signer = SignatureV4(credentials: Credentials(accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), region: "us-east-1")
        let date = Date(timeIntervalSince1970: 1_369_353_600)  // 2013-05-24T00:00:00Z
        #expect(SignatureV4.amzDate(date) == "20130524T000000Z")
        let authorization = signer.authorization(method: "GET", path: "/test.txt", query: [:], headers: [
            "Host": "examplebucket.s3.amazonaws.com", "Range": "bytes=0-9", "x-amz-content-sha256": SignatureV4.emptyPayloadHash,
            "x-amz-date": "20130524T000000Z",
        ], payloadHash: SignatureV4.emptyPayloadHash, date: date)
        #expect(authorization == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(SignatureV4.encode("a b/c~d+é", keepSlash: true) == "a%20b/c~d%2B%C3%A9")
        #expect(SignatureV4.encode("a/b", keepSlash: false) == "a%2Fb")
    }

    @Test("configuration: environment first, then the profile's credentials and region; secrets are never printed")
    func configuration() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("s3-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "[default]\naws_access_key_id = DEFAULTKEY\naws_secret_access_key = defaultsecret\n\n[site]\naws_access_key_id=SITEKEY\naws_secret_access_key=sitesecret\n"
            .write(to: dir.appendingPathComponent("credentials"), atomically: true, encoding: .utf8)
        try "[profile site]\nregion = eu-west-3\n".write(to: dir.appendingPathComponent("config"), atomically: true, encoding: .utf8)
        let files = ["AWS_SHARED_CREDENTIALS_FILE": dir.appendingPathComponent("credentials").path, "AWS_CONFIG_FILE": dir.appendingPathComponent("config").path]
        let site = try S3Configuration.fromEnvironment(files.merging(["AWS_PROFILE": "site", "S3_ENDPOINT_URL": "http://127.0.0.1:9000"]) { a, _ in a })
        #expect(site.credentials.accessKey == "SITEKEY" && site.region == "eu-west-3" && site.pathStyle)
        #expect(!"\(site.credentials)".contains("sitesecret"))
        let fromEnv = try S3Configuration.fromEnvironment(files.merging(["AWS_ACCESS_KEY_ID": "ENVKEY", "AWS_SECRET_ACCESS_KEY": "envsecret", "AWS_REGION": "us-west-2"]) { a, _ in a })
        #expect(fromEnv.credentials.accessKey == "ENVKEY" && fromEnv.region == "us-west-2" && !fromEnv.pathStyle)
        #expect(fromEnv.endpoint.absoluteString == "https://s3.us-west-2.amazonaws.com")
        let none = #expect(throws: S3Error.self) { try S3Configuration.fromEnvironment(["HOME": dir.path, "AWS_PROFILE": "nobody"]) }
        #expect(none?.message.contains("profile 'nobody'") == true)
        #expect(throws: S3Error.self) { try S3Configuration.fromEnvironment(files.merging(["S3_ENDPOINT_URL": "ftp://x"]) { a, _ in a }) }
    }

    @Test("put, head, get (ranges too), copy, list in pages, delete against rclone serve s3")
    func objects() throws {
        let (client, bucket) = try makeTestBucket()
        let data = Data("hello, butler".utf8)
        try client.putObject(bucket: bucket, key: "a dir/b+c.txt", data: data, metadata: ["sha256": "abc"])
        let info = try #require(try client.headObject(bucket: bucket, key: "a dir/b+c.txt"))
        #expect(info.size == Int64(data.count) && info.metadata["sha256"] == "abc")
        #expect(try client.getObject(bucket: bucket, key: "a dir/b+c.txt") == data)
        #expect(try client.getObject(bucket: bucket, key: "a dir/b+c.txt", range: 0...4) == Data("hello".utf8))
        #expect(try client.headObject(bucket: bucket, key: "missing") == nil)
        try client.copyObject(bucket: bucket, from: "a dir/b+c.txt", to: "copy/d.txt")
        #expect(try client.getObject(bucket: bucket, key: "copy/d.txt") == data)
        for i in 0..<15 { try client.putObject(bucket: bucket, key: String(format: "many/%03d", i), data: Data([UInt8(i)])) }
        let listed = try client.listObjects(bucket: bucket, prefix: "many/")
        #expect(listed.map(\.key) == (0..<15).map { String(format: "many/%03d", $0) } && listed.allSatisfy { $0.size == 1 })
        try client.deleteObject(bucket: bucket, key: "copy/d.txt")
        try client.deleteObject(bucket: bucket, key: "copy/d.txt")
        #expect(try client.headObject(bucket: bucket, key: "copy/d.txt") == nil)
        let missing = #expect(throws: S3Error.self) { try client.getObject(bucket: bucket, key: "nope") }
        #expect(missing?.status == 404 && missing?.message.contains("s3://\(bucket)/nope at http://127.0.0.1") == true)
    }

    @Test("a 40 MB file goes up in 8 MiB parts, in parallel, comes back the same and is copied in parts (through this machine where the service does not copy parts); no upload is left unfinished")
    func multipart() throws {
        let (client, bucket) = try makeTestBucket()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("s3-multipart-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var bytes = [UInt8](repeating: 0, count: 40_000_000)
        for i in stride(from: 0, to: bytes.count, by: 4096) { bytes[i] = UInt8(truncatingIfNeeded: i / 4096) }
        let source = dir.appendingPathComponent("big.bin")
        try Data(bytes).write(to: source)
        let sum = SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
        let size = try client.uploadFile(bucket: bucket, key: "big/big.bin", path: source.path, metadata: ["sha256": sum], partSize: 8 << 20, parallel: 3)
        #expect(size == 40_000_000)
        #expect(try client.headObject(bucket: bucket, key: "big/big.bin")?.metadata["sha256"] == sum)
        let back = dir.appendingPathComponent("back.bin")
        try client.downloadFile(bucket: bucket, key: "big/big.bin", to: back.path, partSize: 7 << 20)
        #expect(SHA256.hash(data: try Data(contentsOf: back)).map { String(format: "%02x", $0) }.joined() == sum)
        #expect(throws: S3Error.self) { try client.downloadFile(bucket: bucket, key: "big/big.bin", to: back.path) }
        // The copy of an object above the single-copy limit goes in parts: UploadPartCopy, which rclone answers without
        // copying (its empty parts are recognised and aborted), so through this machine; metadata kept, bytes the same.
        try client.copyObject(bucket: bucket, from: "big/big.bin", to: "big/copy.bin", size: 40_000_000, partSize: 8 << 20, parallel: 3, singleCopyLimit: 1 << 20)
        #expect(try client.headObject(bucket: bucket, key: "big/copy.bin")?.metadata["sha256"] == sum)
        let copied = try client.headObject(bucket: bucket, key: "big/copy.bin")
        #expect(try client.hashObject(bucket: bucket, key: "big/copy.bin")?.sha256 == sum, "\(copied?.size ?? -1)")
        #expect(try client.unfinishedUploads(bucket: bucket, prefix: "").isEmpty)
        #expect(try client.unfinishedUploads(bucket: bucket, prefix: "").isEmpty)
    }

    @Test("a wrong secret is one error naming the endpoint and the bucket, without the secret")
    func wrongSecret() throws {
        let (good, bucket) = try makeTestBucket()
        var configuration = good.configuration
        configuration.credentials.secretKey = "not-the-secret-\(UUID().uuidString)"
        let client = S3Client(configuration: configuration, attempts: 1)
        let error = #expect(throws: S3Error.self) { try client.putObject(bucket: bucket, key: "x", data: Data("x".utf8)) }
        #expect(error?.status == 403, "\(error?.message ?? "")")
        #expect(error?.message.contains("s3://\(bucket)/x at \(configuration.endpoint.absoluteString)") == true)
        #expect(error?.message.contains(configuration.credentials.secretKey) == false && error?.message.contains("\n") == false)
    }

    @Test("virtual-host addressing (bucket.localhost) against a second server that starts late: the first requests are refused and retried until it listens")
    func virtualHostAndRetries() throws {
        let environment = ProcessInfo.processInfo.environment
        guard let rclone = environment["BUTLER_TEST_RCLONE"] else {
            throw ButlerError(.notFound, "BUTLER_TEST_RCLONE is not set: run the tests through scripts/with-s3.sh (make test does)")
        }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("s3-vhost-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("vhost-bucket"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let port = try freeLoopbackPort()
        let shared = try S3Configuration.fromEnvironment()
        let configuration = S3Configuration(endpoint: URL(string: "http://localhost:\(port)")!, region: shared.region,
                                            credentials: shared.credentials, pathStyle: false)
        let client = S3Client(configuration: configuration, attempts: 10)
        #expect(client.location(bucket: "vhost-bucket", key: "a b.txt").url.absoluteString == "http://vhost-bucket.localhost:\(port)/a%20b.txt")

        // The server starts half a second after the first request, which meets a closed port.
        let server = Process()
        server.executableURL = URL(fileURLWithPath: rclone)
        server.arguments = ["serve", "s3", "--auth-key", "\(shared.credentials.accessKey),\(shared.credentials.secretKey)",
                            "--addr", "127.0.0.1:\(port)", "--force-path-style=false", "--vfs-cache-mode", "off", root.path]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        defer { if server.isRunning { server.terminate(); server.waitUntilExit() } }
        let starter = Thread {
            Thread.sleep(forTimeInterval: 0.5)
            try? server.run()
        }
        let started = Date()
        starter.start()
        let data = Data("addressed by host".utf8)
        try client.putObject(bucket: "vhost-bucket", key: "a b.txt", data: data)
        #expect(Date().timeIntervalSince(started) >= 0.5, "the put cannot have succeeded before the server started")
        #expect(try Data(contentsOf: root.appendingPathComponent("vhost-bucket/a b.txt")) == data)
        #expect(try client.getObject(bucket: "vhost-bucket", key: "a b.txt") == data)
        #expect(try client.listObjects(bucket: "vhost-bucket", prefix: "").map(\.key) == ["a b.txt"])

        // A server that stays away: the attempts are used up, then one error naming the place.
        server.terminate()
        server.waitUntilExit()
        let away = S3Client(configuration: configuration, attempts: 2)
        let error = #expect(throws: S3Error.self) { try away.getObject(bucket: "vhost-bucket", key: "a b.txt") }
        #expect(error?.message.contains("cannot reach s3://vhost-bucket/a b.txt at http://localhost:\(port)") == true, "\(error?.message ?? "")")
    }

    @Test("a multipart upload the server fails with HTTP 500 (its key is under an object) is retried, then aborted: no parts are left")
    func failedMultipartIsAborted() throws {
        let (shared, bucket) = try makeTestBucket()
        let client = S3Client(configuration: shared.configuration, attempts: 2)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("s3-abort-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = dir.appendingPathComponent("parts.bin")
        try Data(repeating: 7, count: 3 << 20).write(to: source)
        // The server does list an upload that was started and neither completed nor aborted.
        let (_, _, started) = try client.send("POST", bucket: bucket, key: "left.bin", query: ["uploads": ""], expect: [200])
        let uploadId = try #require(S3Client.xmlValue("UploadId", in: started))
        #expect(try client.unfinishedUploads(bucket: bucket, prefix: "").count == 1)
        try client.abortUpload(bucket: bucket, key: "left.bin", uploadId: uploadId)
        #expect(try client.unfinishedUploads(bucket: bucket, prefix: "").isEmpty)
        // rclone keeps objects as files: an object `blocked` leaves no folder for `blocked/refused.bin`.
        try client.putObject(bucket: bucket, key: "blocked", data: Data("a file".utf8))
        let error = #expect(throws: S3Error.self) { try client.uploadFile(bucket: bucket, key: "blocked/refused.bin", path: source.path, partSize: 1 << 20, parallel: 2) }
        #expect(error?.status == 500 && error?.message.contains("s3://\(bucket)/blocked/refused.bin") == true, "\(error?.message ?? "")")
        #expect(try client.headObject(bucket: bucket, key: "blocked/refused.bin") == nil)
        #expect(try client.unfinishedUploads(bucket: bucket, prefix: "").isEmpty)
    }

    /// A port of 127.0.0.1 that nothing listens on now.
    func freeLoopbackPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ButlerError(.io, "cannot make a socket") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw ButlerError(.io, "cannot bind a loopback port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
