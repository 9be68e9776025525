import Foundation
import Testing
@testable import ButlerKit
import ButlerTestSupport

/// Opening a repository this process may only read: a read-only bind mount as root (root ignores permission bits),
/// the write bits removed otherwise. See ReadOnlyRepositoryCLITests for another user's view.
@Suite("Read-only repositories (library)")
struct ReadOnlyRepositoryTests {
    /// A read-only view of `repo`, and how to undo it. Fails (does not skip) when none can be made here.
    static func readOnlyView(of repo: String, in dir: TemporaryDirectory) throws -> (path: String, undo: () -> Void) {
        if geteuid() == 0 {
            let view = dir.path("ro-view")
            try FileManager.default.createDirectory(atPath: view, withIntermediateDirectories: true)
            let bind = try runProcess("/bin/mount", ["--bind", repo, view])
            guard bind.exitCode == 0 else {
                throw ButlerError(.io, "cannot simulate a read-only repository as root: mount --bind failed: \(bind.stderr)")
            }
            let undo = { _ = try? runProcess("/bin/umount", ["-l", view]) }
            let remount = try runProcess("/bin/mount", ["-o", "remount,ro,bind", view])
            guard remount.exitCode == 0, access(view, W_OK) != 0 else {
                undo()
                throw ButlerError(.io, "cannot simulate a read-only repository as root: read-only remount failed: \(remount.stderr)")
            }
            return (view, undo)
        }
        _ = try runProcess("/bin/chmod", ["-R", "a-w", repo])
        return (repo, { _ = try? runProcess("/bin/chmod", ["-R", "u+w", repo]) })
    }

    @Test("a read-only repository opens, answers queries, skips recovery, and refuses writes with one line")
    func opensReadOnly() throws {
        let dir = TemporaryDirectory()
        let repo = dir.path("repo")
        do {
            let butler = try makeRepository(in: dir, transfer: .direct)
            #expect(!butler.isReadOnly)
        }
        let entriesBefore = try FileManager.default.contentsOfDirectory(atPath: repo).sorted()
        #expect(entriesBefore == ((testBackendIsPostgres ? ["butler.yaml"] : ["butler.yaml", "gen3.sqlite3"]) + (testDatastoreIsBucket ? [] : ["datastore"])).sorted())
        let (view, undo) = try Self.readOnlyView(of: repo, in: dir)
        defer { undo() }
        let butler = try Butler(repository: view)
        #expect(butler.isReadOnly)
        #expect(butler.readOnlyReason?.contains("not writable") == true)
        #expect(try butler.registry.queryDatasets(["raw"]).count == 10)
        #expect(try butler.registry.queryCollections().isEmpty == false)
        if !testBackendIsPostgres {  // a PostgreSQL registry has its own permissions; only the datastore is read-only
            let refused = butlerError { try butler.registry.registerRun("u/new") }
            #expect(refused?.code == .readOnly)
            #expect(refused?.message.hasPrefix("repository is read-only: ") == true)
        }
        #expect(butlerError { try butler.requireWritable() }?.message.hasPrefix("repository \(view) is read-only: ") == true)
        #expect(butlerError { try Butler.requireWritable(repository: view) }?.code == .readOnly)
        if view != repo { try Butler.requireWritable(repository: repo) }  // the mounted folder itself stays writable
        // Nothing was written beside the registry and the datastore: no transfer journal folder, no WAL files.
        #expect(try FileManager.default.contentsOfDirectory(atPath: view).sorted() == entriesBefore)
    }

    @Test("a read-only registry that needs migrations is refused as read-only, not written")
    func migrationsNotWritten() throws {
        guard !testBackendIsPostgres else { return }  // SQLite only: PostgreSQL has its own permissions
        let dir = TemporaryDirectory()
        let repo = dir.path("repo")
        do {
            let butler = try makeRepository(in: dir, name: "repo")
            try butler.registry.database.write { c in
                let last = try c.query("SELECT name FROM butler_migrations ORDER BY applied_at DESC, name DESC").first![0]
                try c.execute("DELETE FROM butler_migrations WHERE name = ?", [last])
            }
        }
        let (view, undo) = try Self.readOnlyView(of: repo, in: dir)
        defer { undo() }
        let error = butlerError { try Butler(repository: view) }
        #expect(error?.code == .readOnly)
        #expect(error?.message.contains("migrations") == true)
    }
}
