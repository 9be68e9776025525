internal import Crypto
public import Foundation

/// AWS Signature Version 4 for S3 requests (header-based), as AWS documents it: a canonical request of method,
/// URI-encoded path, sorted query, sorted lower-case headers and the payload's SHA-256; a string to sign with the
/// request time and scope; and a key derived by HMAC-SHA256 from the secret, date, region and service.
///
/// ```swift
/// let signer = SignatureV4(credentials: Credentials(accessKey: "AKIA...", secretKey: "..."), region: "us-east-1")
/// let authorization = signer.authorization(method: "GET", path: "/bucket/key", query: [:],
///                                          headers: ["host": "127.0.0.1:9000", ...], payloadHash: SignatureV4.emptyPayloadHash, date: Date())
/// ```
public struct SignatureV4: Sendable {
    public var credentials: Credentials
    public var region: String
    public var service = "s3"

    public init(credentials: Credentials, region: String) {
        self.credentials = credentials
        self.region = region
    }

    /// The SHA-256 of an empty body.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// `x-amz-date`'s form: `20130524T000000Z`.
    public static func amzDate(_ date: Date) -> String {
        let c = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: date)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }

    /// The `Authorization` header of a request whose `headers` (names in any case) already hold `host`,
    /// `x-amz-date` and `x-amz-content-sha256`; every header given is signed.
    ///
    /// - Parameters:
    ///   - path: the request's path as sent, URI-encoded once (``encode(_:keepSlash:)``), as S3 wants it.
    ///   - query: the query's names and values, not encoded.
    public func authorization(method: String, path: String, query: [String: String], headers: [String: String],
                              payloadHash: String, date: Date) -> String {
        let stamp = Self.amzDate(date)
        let day = String(stamp.prefix(8))
        let normalized = Dictionary(headers.map { ($0.key.lowercased(), $0.value.trimmingCharacters(in: .whitespaces)) }, uniquingKeysWith: { a, _ in a })
        let names = normalized.keys.sorted()
        let encodedQuery: [(String, String)] = query.map { (Self.encode($0.key, keepSlash: false), Self.encode($0.value, keepSlash: false)) }
        let sortedQuery = encodedQuery.sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
        let canonicalQuery = sortedQuery.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        let canonicalHeaders = names.map { "\($0):\(normalized[$0]!)\n" }.joined()
        let signedHeaders = names.joined(separator: ";")
        let canonicalRequest = [method, path, canonicalQuery, canonicalHeaders, signedHeaders, payloadHash]
            .joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = "AWS4-HMAC-SHA256\n\(stamp)\n\(scope)\n" + Self.hex(SHA256.hash(data: Data(canonicalRequest.utf8)))
        var key = SymmetricKey(data: Data(("AWS4" + credentials.secretKey).utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        let signature = Self.hex(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: key))
        return "AWS4-HMAC-SHA256 Credential=\(credentials.accessKey)/\(scope),SignedHeaders=\(signedHeaders),Signature=\(signature)"
    }

    /// URI encoding as SigV4 wants it: every byte but `A-Za-z0-9-._~` (and `/` in a path) as `%XX`, upper case.
    public static func encode(_ text: String, keepSlash: Bool) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(Character(UnicodeScalar(byte)))
            case UInt8(ascii: "/") where keepSlash:
                out.append("/")
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}

/// An access key and its secret. The secret is never printed: ``description`` masks it.
public struct Credentials: Sendable, CustomStringConvertible {
    public var accessKey: String
    public var secretKey: String
    public var sessionToken: String?

    public init(accessKey: String, secretKey: String, sessionToken: String? = nil) {
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.sessionToken = sessionToken
    }

    public var description: String { "Credentials(accessKey: \(accessKey), secretKey: ***)" }
}
