import Foundation
import Testing
import ButlerKit
import ButlerTestSupport

/// A PostgreSQL password given to `create` is used but not written to butler.yaml (unless `--store-password`, which
/// writes butler.yaml mode 0600). Needs the server of `scripts/with-postgres.sh`, which trusts any password.
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

    @Test("--store-password is documented in create --help")
    func help() throws {
        let help = try runButler(["create", "--help"])
        #expect(help.stdout.contains("--store-password") && help.stdout.contains("0600"))
    }
}
