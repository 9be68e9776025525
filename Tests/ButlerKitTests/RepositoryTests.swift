import Foundation
import Testing
@testable import ButlerKit
import ButlerTestSupport

@Suite("Repository")
struct RepositoryTests {
    @Test("create writes butler.yaml, a WAL-mode SQLite registry and the datastore root; open reads it back")
    func createAndOpen() throws {
        let dir = TemporaryDirectory()
        let butler = try Butler.create(at: dir.path("repo"))
        let fm = FileManager.default
        #expect(fm.fileExists(atPath: dir.path("repo/butler.yaml")))
        #expect(fm.fileExists(atPath: dir.path("repo/gen3.sqlite3")))
        #expect(fm.fileExists(atPath: dir.path("repo/datastore")))
        #expect(butler.registry.universe.version == 8)
        let mode = try butler.registry.database.read { c in try c.queryOne("PRAGMA journal_mode")?[0].string }
        #expect(mode == "wal")
        let reopened = try Butler(repository: dir.path("repo"))
        #expect(try reopened.registry.appliedMigrations() == Migrations.all.map(\.name))
        #expect(reopened.registry.universe.elements.map(\.name) == butler.registry.universe.elements.map(\.name))
    }

    @Test("create refuses an existing repository and leaves it unchanged")
    func createRefusesExisting() throws {
        let dir = TemporaryDirectory()
        _ = try makeRepository(in: dir)
        let before = try Data(contentsOf: URL(fileURLWithPath: dir.path("repo/butler.yaml")))
        #expect(errorCode { try Butler.create(at: dir.path("repo")) } == .alreadyExists)
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.path("repo/butler.yaml"))) == before)
        _ = try Butler(repository: dir.path("repo"))
    }

    @Test("a failed create leaves nothing behind")
    func failedCreateCleansUp() throws {
        let dir = TemporaryDirectory()
        let badUniverse = dir.path("dims.yaml")
        try "version: 1\nelements:\n  a:\n    keys: [{name: id, type: int}]\n    requires: [missing]\n".write(toFile: badUniverse, atomically: true, encoding: .utf8)
        #expect(errorCode { try Butler.create(at: dir.path("repo"), dimensionConfig: badUniverse) } == .invalidConfig)
        #expect(!FileManager.default.fileExists(atPath: dir.path("repo")))
    }

    @Test("opening a path that is not a repository is a clear error")
    func notARepository() throws {
        let dir = TemporaryDirectory()
        let error = butlerError { try Butler(repository: dir.path("nothing")) }
        #expect(error?.code == .notARepository)
        #expect(error?.message.contains(dir.path("nothing")) == true)
        let error2 = butlerError { try Butler(repository: dir.path) }
        #expect(error2?.code == .notARepository)
    }

    @Test("a corrupt butler.yaml is a clear error that names the file")
    func corruptConfig() throws {
        let dir = TemporaryDirectory()
        _ = try makeRepository(in: dir)
        try "registry: [unclosed\n  db: : :\n".write(toFile: dir.path("repo/butler.yaml"), atomically: true, encoding: .utf8)
        let error = butlerError { try Butler(repository: dir.path("repo")) }
        #expect(error?.code == .invalidConfig)
        #expect(error?.message.contains("butler.yaml") == true)
        try "- just\n- a list\n".write(toFile: dir.path("repo/butler.yaml"), atomically: true, encoding: .utf8)
        #expect(errorCode { try Butler(repository: dir.path("repo")) } == .invalidConfig)
    }

    @Test("a registry with a migration this binary does not know is refused as too new")
    func schemaTooNew() throws {
        let dir = TemporaryDirectory()
        let butler = try makeRepository(in: dir)
        try butler.registry.database.write { c in
            try c.execute("INSERT INTO butler_migrations (name, applied_at) VALUES ('v99-from-the-future', '2099-01-01')")
        }
        let error = butlerError { try Butler(repository: dir.path("repo")) }
        #expect(error?.code == .schemaTooNew)
        #expect(error?.message.contains("v99-from-the-future") == true)
    }

    @Test("a seed config is merged; it may set registry.db only with override")
    func seedConfig() throws {
        let dir = TemporaryDirectory()
        let seed = dir.path("seed.yaml")
        try "datastore:\n  checksum: none\n".write(toFile: seed, atomically: true, encoding: .utf8)
        let butler = try Butler.create(at: dir.path("repo"), seedConfig: seed)
        #expect(butler.config.string("datastore.checksum") == "none")
        #expect(butler.config.string("datastore.records.table") == "file_datastore_records")
        let seed2 = dir.path("seed2.yaml")
        try "registry:\n  db: sqlite:///<butlerRoot>/other.sqlite3\n".write(toFile: seed2, atomically: true, encoding: .utf8)
        #expect(errorCode { try Butler.create(at: dir.path("repo2"), seedConfig: seed2) } == .invalidConfig)
        #expect(!FileManager.default.fileExists(atPath: dir.path("repo2/butler.yaml")))
        let b2 = try Butler.create(at: dir.path("repo3"), seedConfig: seed2, override: true)
        #expect(FileManager.default.fileExists(atPath: dir.path("repo3/other.sqlite3")))
        #expect(try b2.config.registryURL.hasSuffix("repo3/other.sqlite3"))
    }

    @Test("a repository can be moved: paths are relative to <butlerRoot>")
    func movable() throws {
        let dir = TemporaryDirectory()
        _ = try makeRepository(in: dir)
        try FileManager.default.moveItem(atPath: dir.path("repo"), toPath: dir.path("moved"))
        let butler = try Butler(repository: dir.path("moved"))
        if testDatastoreIsBucket {
            #expect(butler.datastore.rootURI.scheme == "s3", "a bucket datastore stays where it is")
        } else {
            #expect(butler.datastoreRoot.path == dir.path("moved/datastore"))
        }
    }

    @Test("config dump shows the defaults and the dimension universe")
    func configDump() throws {
        let dir = TemporaryDirectory()
        let butler = try makeRepository(in: dir)
        let dump = try butler.configDump()
        #expect(dump.contains("file_datastore_records"))
        #expect(dump.contains("dimensions:"))
        #expect(dump.contains("visit_detector_region"))
        #expect(try butler.configDump(subset: ".datastore.records.table") == "file_datastore_records\n")
        #expect(errorCode { try butler.configDump(subset: "nope") } == .notFound)
    }
}
