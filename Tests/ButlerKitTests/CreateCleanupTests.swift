import Foundation
import Testing
@testable import ButlerKit
import ButlerTestSupport

/// `Butler.create` leaves nothing behind when a step fails, on the test backend, so that running it again works;
/// and it never removes what it did not make.
@Suite("create cleans up after itself")
struct CreateCleanupTests {
    @Test("a failure after the registry is made removes the registry and the datastore it made; create again works")
    func failureAfterRegistry() throws {
        let dir = TemporaryDirectory()
        let repo = dir.path("repo")
        let registry = try testRegistryURL()
        // Writing butler.yaml fails: its temporary name is taken by a folder.
        let blocker = repo + "/.butler.yaml.tmp-\(ProcessInfo.processInfo.processIdentifier)"
        try FileManager.default.createDirectory(atPath: blocker, withIntermediateDirectories: true)
        #expect(errorCode { try Butler.create(at: repo, registry: registry) } == .io)
        #expect(try FileManager.default.contentsOfDirectory(atPath: repo) == [".butler.yaml.tmp-\(ProcessInfo.processInfo.processIdentifier)"])
        try FileManager.default.removeItem(atPath: blocker)
        let butler = try Butler.create(at: repo, registry: registry)
        #expect(try butler.registry.queryCollections().isEmpty)
    }

    @Test("a registry that holds a repository already is refused and left alone")
    func registryInUse() throws {
        let dir = TemporaryDirectory()
        let registry = try testRegistryURL() ?? "sqlite://" + dir.path("shared.sqlite3")
        let first = try Butler.create(at: dir.path("first"), registry: registry)
        _ = try first.registry.registerRun("u/kept")
        #expect(errorCode { try Butler.create(at: dir.path("second"), registry: registry) } == .alreadyExists)
        #expect(!FileManager.default.fileExists(atPath: dir.path("second")))
        let reopened = try Butler(repository: dir.path("first"))
        #expect(try reopened.registry.queryCollections().map(\.name).contains("u/kept"))
    }

    @Test("a datastore root in missing folders outside the repository: all of them removed on failure")
    func missingParents() throws {
        let dir = TemporaryDirectory()
        let seed = dir.path("seed.yaml")
        try "datastore:\n  root: \(dir.path("a/b/c"))\n".write(toFile: seed, atomically: true, encoding: .utf8)
        let repo = dir.path("repo")
        let blocker = repo + "/.butler.yaml.tmp-\(ProcessInfo.processInfo.processIdentifier)"
        try FileManager.default.createDirectory(atPath: blocker, withIntermediateDirectories: true)
        #expect(errorCode { try Butler.create(at: repo, seedConfig: seed, override: true, registry: try testRegistryURL()) } == .io)
        #expect(!FileManager.default.fileExists(atPath: dir.path("a")))
    }
}
