public import Foundation

/// Where and as whom to reach an S3 service, found the usual ways (as boto3, which Rubin's butler uses, finds them):
///
/// - endpoint: `S3_ENDPOINT_URL` (Rubin's), else `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`, else AWS's
///   regional endpoint;
/// - credentials: `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`), else the profile
///   `AWS_PROFILE` (default `default`) of `AWS_SHARED_CREDENTIALS_FILE` (default `~/.aws/credentials`);
/// - region: `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region` in `AWS_CONFIG_FILE` (default
///   `~/.aws/config`), else `us-east-1`.
///
/// Path-style addressing (`http://host/bucket/key`) is used with an explicit endpoint (what Ceph, Weka, MinIO and
/// rclone serve), virtual-host addressing (`https://bucket.s3.region.amazonaws.com/key`) with AWS's.
public struct S3Configuration: Sendable {
    public var endpoint: URL
    public var region: String
    public var credentials: Credentials
    public var pathStyle: Bool

    /// The endpoint for messages: without the password of any user info (`http://user:***@host:9000`).
    public var displayEndpoint: String { SecretRedaction.redact(endpoint.absoluteString) }

    public init(endpoint: URL, region: String, credentials: Credentials, pathStyle: Bool) {
        self.endpoint = endpoint
        self.region = region
        self.credentials = credentials
        self.pathStyle = pathStyle
    }

    /// The configuration the environment (and the AWS files) describe.
    ///
    /// - Throws: ``S3Error`` when no credentials are found, naming where they were looked for.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> S3Configuration {
        let home = environment["HOME"] ?? NSHomeDirectory()
        let profile = environment["AWS_PROFILE"] ?? "default"
        let credentialsFile = environment["AWS_SHARED_CREDENTIALS_FILE"] ?? home + "/.aws/credentials"
        let configFile = environment["AWS_CONFIG_FILE"] ?? home + "/.aws/config"
        var credentials: Credentials?
        if let key = environment["AWS_ACCESS_KEY_ID"], let secret = environment["AWS_SECRET_ACCESS_KEY"], !key.isEmpty {
            credentials = Credentials(accessKey: key, secretKey: secret, sessionToken: environment["AWS_SESSION_TOKEN"])
        } else if let section = iniSection(credentialsFile, profile), let key = section["aws_access_key_id"], let secret = section["aws_secret_access_key"] {
            credentials = Credentials(accessKey: key, secretKey: secret, sessionToken: section["aws_session_token"])
        }
        guard let credentials else {
            throw S3Error(message: "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give profile '\(profile)' in \(credentialsFile)")
        }
        let profileConfig = iniSection(configFile, profile == "default" ? "default" : "profile " + profile)
        let region = environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] ?? profileConfig?["region"] ?? "us-east-1"
        if let text = environment["S3_ENDPOINT_URL"] ?? environment["AWS_ENDPOINT_URL_S3"] ?? environment["AWS_ENDPOINT_URL"], !text.isEmpty {
            guard let url = URL(string: text), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
                throw S3Error(message: "S3 endpoint '\(SecretRedaction.redact(text))' is not an http(s) URL")
            }
            return S3Configuration(endpoint: url, region: region, credentials: credentials, pathStyle: true)
        }
        return S3Configuration(endpoint: URL(string: "https://s3.\(region).amazonaws.com")!, region: region, credentials: credentials, pathStyle: false)
    }

    /// The `key = value` lines of `[section]` in an INI file, nil when the file or the section is missing.
    static func iniSection(_ path: String, _ section: String) -> [String: String]? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        var current: String?
        var values: [String: String] = [:]
        var found = false
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                current = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                if current == section { found = true }
                continue
            }
            guard current == section, let eq = line.firstIndex(of: "=") else { continue }
            values[line[..<eq].trimmingCharacters(in: .whitespaces).lowercased()] = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
        }
        return found ? values : nil
    }
}

/// A failed S3 request or configuration: one line naming the endpoint, bucket and key where known. Never holds a
/// secret.
public struct S3Error: Error, Sendable, CustomStringConvertible {
    public var message: String
    /// The HTTP status, when the server answered.
    public var status: Int?
    /// S3's error code (`NoSuchKey`, `SignatureDoesNotMatch`), when it gave one.
    public var code: String?

    public init(message: String, status: Int? = nil, code: String? = nil) {
        self.message = message
        self.status = status
        self.code = code
    }

    public var description: String { message }
}
