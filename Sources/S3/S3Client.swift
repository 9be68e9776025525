internal import Crypto
public import Foundation
#if canImport(FoundationNetworking)
internal import FoundationNetworking
#endif

/// A small S3 client: the calls a datastore needs (put, multipart upload, get, head, list, delete, copy), signed
/// with ``SignatureV4``, over Foundation's URLSession, retried with exponential backoff on 5xx, 429 and connection
/// errors. Calls block the calling thread (they are made from synchronous datastore code, never from an async
/// context).
///
/// Every error is one line naming the endpoint, the bucket and the key (``S3Error``); no secret ever appears.
public final class S3Client: Sendable {
    public let configuration: S3Configuration
    let signer: SignatureV4
    let session: URLSession
    /// Attempts per request (the first and the retries).
    public let attempts: Int

    public init(configuration: S3Configuration, attempts: Int = 5) {
        self.configuration = configuration
        self.signer = SignatureV4(credentials: configuration.credentials, region: configuration.region)
        let config = URLSessionConfiguration.ephemeral
        config.timeoutIntervalForRequest = 300
        config.httpMaximumConnectionsPerHost = 16
        self.session = URLSession(configuration: config)
        self.attempts = max(1, attempts)
    }

    /// What `headObject` tells of an object.
    public struct ObjectInfo: Sendable, Equatable {
        public var size: Int64
        public var etag: String?
        /// Our own metadata (`x-amz-meta-*`, names lower case without the prefix): `sha256` for what we uploaded.
        public var metadata: [String: String]
    }

    /// A body to send.
    enum Body {
        case none
        case data(Data)
    }

    /// The URL and signed path of a bucket or key.
    func location(bucket: String, key: String?) -> (url: URL, path: String, host: String) {
        let base = configuration.endpoint
        let port = base.port.map { ":\($0)" } ?? ""
        let encodedKey = key.map { "/" + SignatureV4.encode($0, keepSlash: true) } ?? ""
        if configuration.pathStyle {
            let prefix = base.path.hasSuffix("/") ? String(base.path.dropLast()) : base.path
            let path = prefix + "/" + SignatureV4.encode(bucket, keepSlash: false) + encodedKey
            return (URL(string: "\(base.scheme!)://\(base.host!)\(port)\(path)")!, path, base.host! + port)
        }
        let host = "\(bucket).\(base.host!)"
        let path = encodedKey.isEmpty ? "/" : encodedKey
        return (URL(string: "\(base.scheme!)://\(host)\(port)\(path)")!, path, host + port)
    }

    /// Where a request went, for messages: `s3://bucket/key at http://127.0.0.1:9000`.
    func place(_ bucket: String, _ key: String?) -> String {
        "s3://\(bucket)\(key.map { "/" + $0 } ?? "") at \(configuration.displayEndpoint)"
    }

    /// Sends one signed request, retrying transient failures; returns the status, headers and body.
    @discardableResult
    func send(_ method: String, bucket: String, key: String? = nil, query: [String: String] = [:], headers extra: [String: String] = [:],
              body: Body = .none, expect: Set<Int> = [200, 204]) throws -> (status: Int, headers: [String: String], body: Data) {
        let (baseURL, path, host) = location(bucket: bucket, key: key)
        var components = URLComponents(url: baseURL, resolvingAgainstBaseURL: false)!
        let encodedQuery = query.map { "\(SignatureV4.encode($0.key, keepSlash: false))=\(SignatureV4.encode($0.value, keepSlash: false))" }.sorted().joined(separator: "&")
        components.percentEncodedQuery = encodedQuery.isEmpty ? nil : encodedQuery
        let url = components.url!
        let payload: Data
        switch body {
        case .none: payload = Data()
        case .data(let d): payload = d
        }
        let payloadHash = SignatureV4.hex(SHA256.hash(data: payload))
        var lastError: S3Error?
        for attempt in 0..<attempts {
            if attempt > 0 {
                // 0.1 s, 0.2 s, 0.4 s, ... with jitter, at most 5 s.
                let delay = min(5.0, 0.1 * pow(2.0, Double(attempt - 1))) * Double.random(in: 0.5...1.5)
                Thread.sleep(forTimeInterval: delay)
            }
            let now = Date()
            var headers = extra
            headers["host"] = host
            headers["x-amz-date"] = SignatureV4.amzDate(now)
            headers["x-amz-content-sha256"] = payloadHash
            if let token = configuration.credentials.sessionToken { headers["x-amz-security-token"] = token }
            headers["authorization"] = signer.authorization(method: method, path: path, query: query, headers: headers.filter { $0.key != "authorization" },
                                                            payloadHash: payloadHash, date: now)
            var request = URLRequest(url: url)
            request.httpMethod = method
            for (name, value) in headers where name != "host" { request.setValue(value, forHTTPHeaderField: name) }
            if !payload.isEmpty || method == "PUT" || method == "POST" { request.httpBody = payload }
            let result = perform(request)
            switch result {
            case .failure(let error):
                lastError = S3Error(message: "cannot reach \(place(bucket, key)): \(error.localizedDescription)")
                continue
            case .success(let (response, data)):
                let status = response.statusCode
                var responseHeaders: [String: String] = [:]
                for (name, value) in response.allHeaderFields {
                    if let n = name as? String, let v = value as? String { responseHeaders[n.lowercased()] = v }
                }
                if expect.contains(status) { return (status, responseHeaders, data) }
                let code = Self.xmlValue("Code", in: data)
                let detail = Self.xmlValue("Message", in: data).map { ": \($0)" } ?? ""
                let error = S3Error(message: "\(method) \(place(bucket, key)) failed with HTTP \(status)\(code.map { " (\($0))" } ?? "")\(detail)",
                                    status: status, code: code)
                if status >= 500 || status == 429 {
                    lastError = error
                    continue
                }
                throw error
            }
        }
        throw lastError ?? S3Error(message: "\(method) \(place(bucket, key)) failed")
    }

    /// One URLSession round trip, waited for.
    private func perform(_ request: URLRequest) -> Result<(HTTPURLResponse, Data), any Error> {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: Result<(HTTPURLResponse, Data), any Error> = .failure(S3Error(message: "no answer"))
        let task = session.dataTask(with: request) { data, response, error in
            if let error {
                outcome = .failure(error)
            } else if let http = response as? HTTPURLResponse {
                outcome = .success((http, data ?? Data()))
            } else {
                outcome = .failure(S3Error(message: "not an HTTP answer"))
            }
            done.signal()
        }
        task.resume()
        done.wait()
        return outcome
    }

    /// The text of the first `<name>...</name>` element of an XML body.
    static func xmlValue(_ name: String, in data: Data) -> String? {
        xmlValues(name, in: String(decoding: data, as: UTF8.self)).first
    }

    /// The texts of every `<name>...</name>` element, entities decoded.
    static func xmlValues(_ name: String, in text: String) -> [String] {
        var values: [String] = []
        var rest = text[...]
        while let open = rest.range(of: "<\(name)>") {
            guard let close = rest[open.upperBound...].range(of: "</\(name)>") else { break }
            values.append(String(rest[open.upperBound..<close.lowerBound])
                .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
                .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
                .replacingOccurrences(of: "&amp;", with: "&"))
            rest = rest[close.upperBound...]
        }
        return values
    }

    // MARK: Buckets and objects

    /// Creates a bucket (an existing one of ours is fine).
    public func createBucket(_ bucket: String) throws {
        try send("PUT", bucket: bucket, expect: [200, 409])
    }

    /// Size, ETag and our metadata of an object; nil when there is none.
    public func headObject(bucket: String, key: String) throws -> ObjectInfo? {
        do {
            let (_, headers, _) = try send("HEAD", bucket: bucket, key: key, expect: [200])
            var metadata: [String: String] = [:]
            for (name, value) in headers where name.hasPrefix("x-amz-meta-") { metadata[String(name.dropFirst("x-amz-meta-".count))] = value }
            return ObjectInfo(size: Int64(headers["content-length"] ?? "") ?? 0, etag: headers["etag"], metadata: metadata)
        } catch let error as S3Error where error.status == 404 {
            return nil
        }
    }

    /// Puts bytes at a key in one request, with their SHA-256 as metadata (`x-amz-meta-sha256`).
    public func putObject(bucket: String, key: String, data: Data, metadata: [String: String] = [:], ifNoneMatch: Bool = false) throws {
        var headers = Dictionary(uniqueKeysWithValues: metadata.map { ("x-amz-meta-" + $0.key.lowercased(), $0.value) })
        if ifNoneMatch { headers["if-none-match"] = "*" }
        try send("PUT", bucket: bucket, key: key, headers: headers, body: .data(data), expect: [200])
    }

    /// The bytes of an object (a `range` of them: `0...9`).
    public func getObject(bucket: String, key: String, range: ClosedRange<Int64>? = nil) throws -> Data {
        var headers: [String: String] = [:]
        if let range { headers["range"] = "bytes=\(range.lowerBound)-\(range.upperBound)" }
        return try send("GET", bucket: bucket, key: key, headers: headers, expect: [200, 206]).body
    }

    /// Deletes an object (a missing one is not an error, as S3 has it).
    public func deleteObject(bucket: String, key: String) throws {
        try send("DELETE", bucket: bucket, key: key, expect: [200, 204, 404])
    }

    /// Copies an object within the service (one request, up to 5 GB), from this bucket or `sourceBucket`.
    public func copyObject(bucket: String, from source: String, sourceBucket: String? = nil, to key: String) throws {
        let copySource = "/" + (sourceBucket ?? bucket) + "/" + SignatureV4.encode(source, keepSlash: true)
        let (_, _, body) = try send("PUT", bucket: bucket, key: key, headers: ["x-amz-copy-source": copySource, "x-amz-metadata-directive": "COPY"], expect: [200])
        // A copy can fail after its 200 status: the error is in the body.
        if let code = Self.xmlValue("Code", in: body), Self.xmlValue("ETag", in: body) == nil {
            throw S3Error(message: "copy of \(place(bucket, source)) to \(key) failed (\(code))", status: 200, code: code)
        }
    }

    /// The SHA-256 of an object, read in ranges of `partSize` (memory does not grow with the object), and its size.
    public func hashObject(bucket: String, key: String, partSize: Int = 16 << 20) throws -> (size: Int64, sha256: String)? {
        guard let info = try headObject(bucket: bucket, key: key) else { return nil }
        var hasher = SHA256()
        var offset: Int64 = 0
        while offset < info.size {
            let end = min(info.size, offset + Int64(partSize)) - 1
            let data = try getObject(bucket: bucket, key: key, range: offset...end)
            hasher.update(data: data)
            offset = end + 1
        }
        return (info.size, SignatureV4.hex(hasher.finalize()))
    }

    /// Deletes objects, a thousand per request (S3's DeleteObjects); keys that are not there are not an error.
    ///
    /// - Throws: ``S3Error`` naming the first key the server could not delete, and how many it could not.
    public func deleteObjects(bucket: String, keys: [String]) throws {
        func escaped(_ text: String) -> String {
            text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        }
        for start in stride(from: 0, to: keys.count, by: 1000) {
            let chunk = keys[start..<min(start + 1000, keys.count)]
            let xml = "<Delete><Quiet>true</Quiet>" + chunk.map { "<Object><Key>\(escaped($0))</Key></Object>" }.joined() + "</Delete>"
            let body = Data(xml.utf8)
            let md5 = Data(Insecure.MD5.hash(data: body)).base64EncodedString()
            let (_, _, answer) = try send("POST", bucket: bucket, query: ["delete": ""], headers: ["content-md5": md5, "content-type": "application/xml"],
                                          body: .data(body), expect: [200])
            let errors = Self.xmlValues("Error", in: String(decoding: answer, as: UTF8.self))
            if let first = errors.first {
                let key = Self.xmlValues("Key", in: first).first ?? "?"
                let code = Self.xmlValues("Code", in: first).first ?? "?"
                throw S3Error(message: "cannot delete s3://\(bucket)/\(key) at \(configuration.displayEndpoint): \(code)"
                              + (errors.count > 1 ? " (and \(errors.count - 1) more)" : ""))
            }
        }
    }

    /// Every object under a prefix: key and size, in key order, however many pages that takes.
    ///
    /// - Parameter delimiter: `/` lists only the objects directly in the "folder" `prefix` names (none below it).
    public func listObjects(bucket: String, prefix: String, delimiter: String? = nil, limit: Int? = nil) throws -> [(key: String, size: Int64)] {
        var result: [(key: String, size: Int64)] = []
        var token: String?
        repeat {
            var query = ["list-type": "2", "prefix": prefix, "max-keys": String(min(1000, limit ?? 1000))]
            if let delimiter { query["delimiter"] = delimiter }
            if let token { query["continuation-token"] = token }
            let (_, _, body) = try send("GET", bucket: bucket, query: query, expect: [200])
            let text = String(decoding: body, as: UTF8.self)
            for contents in Self.xmlValues("Contents", in: text) {
                guard let key = Self.xmlValues("Key", in: contents).first else { continue }
                result.append((key, Int64(Self.xmlValues("Size", in: contents).first ?? "") ?? 0))
            }
            token = Self.xmlValues("IsTruncated", in: text).first == "true" ? Self.xmlValues("NextContinuationToken", in: text).first : nil
            if let limit, result.count >= limit { break }
        } while token != nil
        return result
    }
}
