import Foundation
import Testing
@testable import ButlerKit
import ButlerTestSupport

/// Every repository has a stable identity: a UUID and a name set at create, kept in `butler_attributes`, given to
/// repositories of older butlers the first time they are opened for writing.
@Suite("repository identity")
struct RepositoryIdentityTests {
    @Test("create records a new id and the folder's name (or --name); reopening keeps both; config-dump shows them")
    func atCreate() throws {
        let dir = TemporaryDirectory()
        let first = try makeRepository(in: dir, name: "main-repo")
        #expect(first.identity.name == "main-repo")
        let second = try Butler.create(at: dir.path("other"), registry: testRegistryURL(), name: "Rubin DP1 at SLAC")
        #expect(second.identity.name == "Rubin DP1 at SLAC")
        #expect(first.identity.id != second.identity.id)
        let reopened = try Butler(repository: dir.path("main-repo"))
        #expect(reopened.identity == first.identity)
        let stored = try reopened.registry.database.read { c in
            try c.query("SELECT name, value FROM butler_attributes WHERE name LIKE 'repository_%' ORDER BY name").map { [$0[0].string!, $0[1].string!] }
        }
        #expect(stored == [["repository_id", first.identity.id.lowercasedString], ["repository_name", "main-repo"]])

        let dump = try second.configDump()
        #expect(dump.contains("repository:\n  id: \(second.identity.id.lowercasedString)\n  name: \"Rubin DP1 at SLAC\"\n"))
        #expect(dump.contains("\ndimensions:\n"))
        #expect(try second.configDump(subset: "repository") == "id: \(second.identity.id.lowercasedString)\nname: \"Rubin DP1 at SLAC\"\n")
        #expect(try second.configDump(subset: ".repository.id") == second.identity.id.lowercasedString + "\n")
        #expect(try second.configDump(subset: "repository.name") == "Rubin DP1 at SLAC\n")
    }

    @Test("a bad name is refused before anything is made", arguments: ["", String(repeating: "x", count: 65), "tab\there", "line\nbreak", " padded", "bell\u{07}"])
    func badName(_ name: String) throws {
        let dir = TemporaryDirectory()
        let error = butlerError { try Butler.create(at: dir.path("repo"), registry: testRegistryURL(), name: name) }
        #expect(error?.code == .invalidValue)
        #expect(error?.message.hasPrefix("repository name") == true)
        #expect(!FileManager.default.fileExists(atPath: dir.path("repo")))
    }

    @Test("names of 64 characters and any script are accepted; a default name is made valid")
    func goodNames() throws {
        try RepositoryIdentity.validateName(String(repeating: "é", count: 64))
        try RepositoryIdentity.validateName("観測所 repo/2026")
        #expect(RepositoryIdentity.defaultName(for: URL(fileURLWithPath: "/data/" + String(repeating: "a", count: 80))).count == 64)
        #expect(RepositoryIdentity.defaultName(for: URL(fileURLWithPath: "/data/odd\u{01}name")) == "odd_name")
        #expect(RepositoryIdentity.defaultName(for: URL(fileURLWithPath: "/")) == "repository")
    }

    @Test("a repository of an older butler gets an identity, named after its folder, when next opened for writing")
    func migration() throws {
        let dir = TemporaryDirectory()
        do {
            let butler = try makeRepository(in: dir, name: "legacy")
            _ = try butler.registry.registerRun("u/kept")
            // What a v4 registry looks like: no identity, no copy table, no record of the two migrations.
            try butler.registry.database.write { c in
                try c.execute("DELETE FROM butler_attributes WHERE name IN ('repository_id', 'repository_name')")
                try c.execute("DROP TABLE dataset_copy")
                try c.execute("DELETE FROM butler_migrations WHERE name IN ('v5-repository-identity', 'v6-dataset-copies')")
            }
        }
        let reopened = try Butler(repository: dir.path("legacy"))
        #expect(reopened.identity.name == "legacy")
        #expect(Set(try reopened.registry.appliedMigrations()) == Set(Migrations.all.map(\.name)))
        #expect(try reopened.registry.queryCollections().map(\.name).contains("u/kept"))
        #expect(try reopened.registry.copies(of: UUID()).isEmpty)
        let again = try Butler(repository: dir.path("legacy"))
        #expect(again.identity == reopened.identity)
    }

    @Test("a registry whose identity was lost is a clear error")
    func lostIdentity() throws {
        let dir = TemporaryDirectory()
        let butler = try makeRepository(in: dir)
        try butler.registry.database.write { c in try c.execute("DELETE FROM butler_attributes WHERE name = 'repository_id'") }
        let error = butlerError { try Butler(repository: dir.path("repo")) }
        #expect(error?.code == .invalidConfig)
        #expect(error?.message.contains("repository identity") == true)
    }
}
