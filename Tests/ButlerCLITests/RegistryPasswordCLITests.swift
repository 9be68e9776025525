import Foundation
import Testing
import ButlerKit
import ButlerTestSupport

/// A PostgreSQL password given to `create` is used but not written to butler.yaml (unless `--store-password`, which
/// writes butler.yaml mode 0600), and printed nowhere. Needs the server of `scripts/with-postgres.sh`, which trusts any
/// password (except `neverPrinted`, which reaches no server).
@Suite("registry passwords are not stored")
struct RegistryPasswordCLITests {
    static let secret = "s3cret-Pw"

    /// The test server's URL with a password, in a fresh schema.
    func url(password: String = secret, asParameter: Bool = false) throws -> String {
        let base = try testPostgresBase()
        let schema = "pw_" + UUID().uuidString.prefix(8).lowercased()
        if asParameter { return base + "?password=\(password)&schema=\(schema)" }
        return base.replacingOccurrences(of: "://postgres@", with: "://postgres:\(password)@") + "?schema=\(schema)"
    }

    func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    @Test("create --registry with a password (in the user info or as ?password=): not in butler.yaml, a note on stderr, the repository opens")
    func notStored() throws {
        let dir = TemporaryDirectory()
        for (i, registry) in [try url(), try url(asParameter: true)].enumerated() {
            let repo = dir.path("repo\(i)")
            let created = try runButler(["create", repo, "--registry", registry])
            #expect(created.exitCode == 0, "\(created.stderr)")
            #expect(created.stderr.contains("password was not stored") && created.stderr.contains("PGPASSWORD"), "\(created.stderr)")
            #expect(!created.stderr.contains(Self.secret) && !created.stdout.contains(Self.secret))
            let text = try String(contentsOfFile: repo + "/butler.yaml", encoding: .utf8)
            #expect(!text.contains(Self.secret), "\(text)")
            #expect(text.contains("postgresql://postgres@"), "\(text)")
            #expect(try runButler(["register-collection", repo, "u/x"]).exitCode == 0)
            #expect(try runButler(["query-collections", repo]).stdout.contains("u/x"))
        }
    }

    @Test("create --store-password keeps it, in a butler.yaml of mode 0600, and says so; config-dump masks it")
    func stored() throws {
        let dir = TemporaryDirectory()
        let repo = dir.path("repo")
        let created = try runButler(["create", repo, "--registry", try url(), "--store-password"])
        #expect(created.exitCode == 0, "\(created.stderr)")
        #expect(created.stderr.contains("0600"), "\(created.stderr)")
        let file = repo + "/butler.yaml"
        #expect(try String(contentsOfFile: file, encoding: .utf8).contains(Self.secret))
        #expect(try mode(file) == 0o600)
        let dump = try runButler(["config-dump", repo])
        #expect(dump.exitCode == 0)
        #expect(!dump.stdout.contains(Self.secret))
        // Without a password nothing changes: no note.
        let plain = dir.path("plain")
        let result = try runButler(["create", plain, "--registry", try testRegistryURL() ?? (try testPostgresBase() + "?schema=pw_plain" + UUID().uuidString.prefix(6).lowercased())])
        #expect(result.exitCode == 0)
        #expect(!result.stderr.contains("password"))
    }

    @Test("a password in a seed config's registry.db is not stored either")
    func seedConfig() throws {
        let dir = TemporaryDirectory()
        let seed = dir.path("seed.yaml")
        try "registry:\n  db: \(try url())\n".write(toFile: seed, atomically: true, encoding: .utf8)
        let repo = dir.path("repo")
        let created = try runButler(["create", repo, "--seed-config", seed, "--override"])
        #expect(created.exitCode == 0, "\(created.stderr)")
        #expect(created.stderr.contains("password was not stored"))
        #expect(!(try String(contentsOfFile: repo + "/butler.yaml", encoding: .utf8)).contains(Self.secret))
        #expect(try runButler(["query-collections", repo]).exitCode == 0)
    }

    @Test("a password is printed nowhere: URLs libpq cannot parse, key=value strings, registry.db, S3 endpoints with user info")
    func neverPrinted() throws {
        let dir = TemporaryDirectory()
        let secret = "pw-S3CRET-9x"
        @discardableResult
        func refused(_ name: String, _ arguments: [String], environment: [String: String] = [:], _ what: String) throws -> String {
            let result = try runButler(["create", dir.path(name)] + arguments, environment: environment)
            #expect(result.exitCode != 0, "\(what): exit \(result.exitCode)")
            #expect(result.stderr.contains("error"), "\(what): \(result.stderr)")
            #expect(!result.stdout.contains(secret) && !result.stderr.contains(secret), "\(what) printed the password: \(result.stderr)")
            return result.stderr
        }
        // libpq quotes a URL it cannot parse whole, password included.
        #expect(try refused("r1", ["--registry", "postgresql://u:\(secret)@[::1:5432/db"], "an unclosed IPv6 bracket").contains("u:***@"))
        try refused("r2", ["--registry", "postgresql://u:ab@\(secret)@[::1:5432/db"], "an '@' in the password")
        try refused("r3", ["--registry", "postgresql://u:\(secret)@localhost:1/db?options=bad%"], "a bad percent encoding")
        try refused("r4", ["--registry", "postgresql://u@localhost:1/db?password=\(secret)&sslmode=bogus"], "a password parameter")
        try refused("r5", ["--registry", "postgresql://u:\(secret)\"@localhost:1/db?sslmode=bogus"], "a quote in the password")
        // libpq's key=value strings, given as --registry and as a seed config's registry.db.
        try refused("r6", ["--registry", "host=localhost password=\(secret) dbname=x"], "a key=value --registry")
        let seed = dir.path("seed.yaml")
        try "registry:\n  db: \"host=localhost password='\(secret)' dbname=x\"\n".write(toFile: seed, atomically: true, encoding: .utf8)
        try refused("r7", ["--seed-config", seed, "--override"], "a key=value registry.db")
        // An S3 endpoint with user info: unreachable, and not http(s); a --datastore URL with user info.
        let credentials = ["AWS_ACCESS_KEY_ID": "test-key", "AWS_SECRET_ACCESS_KEY": "test-secret-key"]
        let unreachable = try refused("r8", ["--datastore", "s3://bucket"], environment: credentials.merging(["S3_ENDPOINT_URL": "http://user:\(secret)@127.0.0.1:1"]) { $1 }, "an unreachable endpoint")
        #expect(unreachable.contains("http://user:***@127.0.0.1:1"), "\(unreachable)")
        try refused("r9", ["--datastore", "s3://bucket"], environment: credentials.merging(["S3_ENDPOINT_URL": "ftp://user:\(secret)@127.0.0.1:1"]) { $1 }, "an ftp endpoint")
        try refused("r10", ["--datastore", "http://user:\(secret)@example.org/x"], "a --datastore URL")
    }

    @Test("--store-password is documented in create --help")
    func help() throws {
        let help = try runButler(["create", "--help"])
        #expect(help.stdout.contains("--store-password") && help.stdout.contains("0600"))
    }
}
