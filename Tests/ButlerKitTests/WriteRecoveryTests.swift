import Foundation
import Testing
@testable import ButlerKit
import ButlerTestSupport

/// The journal replay of the write path, at the exact moments a SIGKILL can hit (the crash script hits them at
/// random): registered but not yet published, staged but not registered, renamed aside by a removal that rolled back
/// or committed.
@Suite("Write path recovery")
struct WriteRecoveryTests {
    /// A repository with a `calexp` type over the TestCam records, and a file to store.
    func setUp(_ dir: TemporaryDirectory) throws -> (Butler, String) {
        let butler = try makeRepository(in: dir)
        try insertTestInstrument(butler.registry)
        try butler.registry.registerDatasetType(butler.registry.makeDatasetType("calexp", storageClass: "ExposureF",
                                                                                dimensions: ["instrument", "detector", "exposure"]))
        try butler.registry.registerRun("u/r")
        let file = dir.path("in.fits")
        try Data(repeating: 7, count: 2880).write(to: URL(fileURLWithPath: file))
        return (butler, file)
    }

    /// Registers a staged file as a calexp (with its claim) without publishing it.
    func register(_ staged: StagedFile, detector: Int, in butler: Butler) throws {
        try butler.registry.database.write { c in
            _ = try butler.registry.insertDatasets("calexp", run: "u/r", dataIds: [["instrument": "TestCam", "detector": .int(detector), "exposure": 100]],
                                                   idGenerationMode: .unique,
                                                   files: [StoredFileInfo(path: staged.recordedPath, storageClass: "ExposureF", checksum: staged.checksum,
                                                                          fileSize: staged.size)], in: c)
            try butler.registry.claimPaths([staged], in: c)
        }
    }

    /// Leaves this process's journal behind as if its writer had died: an unlocked copy under another pid.
    func die(_ butler: Butler) throws {
        let folder = butler.localWorkRoot.appendingPathComponent(".butler-journal")
        let live = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".journal") }
        let text = try live.map { try String(contentsOf: folder.appendingPathComponent($0), encoding: .utf8) }.joined()
        butler.journal.close()
        try text.write(to: folder.appendingPathComponent("999999-dead.journal"), atomically: true, encoding: .utf8)
    }

    /// The names of the stored files in a folder of the datastore (temporary and set-aside ones included).
    func names(in folder: String, of butler: Butler) throws -> [String] {
        var names: [String] = []
        try butler.datastore.forEachStoredFile { recorded, _ in
            if recorded.hasPrefix(folder + "/") { names.append(String(recorded.dropFirst(folder.count + 1))) }
        }
        return names.sorted()
    }

    func exists(_ path: String, in butler: Butler) throws -> Bool { try storedFileExists(butler.storedLocation(path)) }

    func verified(_ repo: String) throws -> [String] {
        var problems: [String] = []
        _ = try Butler(repository: repo).verify(checksums: true) { problems.append($0.description) }
        return problems
    }

    @Test("a file registered before the crash takes its final name on the next open; one not registered is removed")
    func rollForwardAndBack() throws {
        let dir = TemporaryDirectory()
        let (butler, file) = try setUp(dir)
        let registered = try butler.datastore.stage(file, at: "u/r/calexp/a.fits", mode: .copy, checksum: true)
        try register(registered, detector: 0, in: butler)
        let lost = try butler.datastore.stage(file, at: "u/r/calexp/b.fits", mode: .copy, checksum: true)
        try die(butler)
        #expect(try !exists("u/r/calexp/a.fits", in: butler))
        _ = try Butler(repository: dir.path("repo"))  // recovery on open
        #expect(try exists("u/r/calexp/a.fits", in: butler), "published by recovery")
        #expect(try !exists("u/r/calexp/" + lost.temporaryName!, in: butler), "the unregistered one removed")
        #expect(try names(in: "u/r/calexp", of: butler) == ["a.fits"])
        #expect(try verified(dir.path("repo")) == [])
    }

    @Test("a publish killed between making the final name and removing the temporary one is finished on the next open, with no orphan")
    func publishKilledHalfway() throws {
        let dir = TemporaryDirectory()
        let (butler, file) = try setUp(dir)
        let staged = try butler.datastore.stage(file, at: "u/r/calexp/h.fits", mode: .copy, checksum: true)
        try register(staged, detector: 0, in: butler)
        try linkStored(butler.storedLocation("u/r/calexp/" + staged.temporaryName!), to: butler.storedLocation("u/r/calexp/h.fits"))
        try die(butler)
        _ = try Butler(repository: dir.path("repo"))
        #expect(try names(in: "u/r/calexp", of: butler) == ["h.fits"])
        #expect(try butler.datastore.measure(recordedPath: "u/r/calexp/h.fits", checksum: true)?.checksum == staged.checksum)
        #expect(try verified(dir.path("repo")) == [])
    }

    @Test("a file renamed aside by a removal comes back if the removal rolled back, and goes if it committed")
    func trashReplay() throws {
        let dir = TemporaryDirectory()
        let (butler, file) = try setUp(dir)
        for (name, detector) in [("kept.fits", 0), ("gone.fits", 1)] {
            let staged = try butler.datastore.stage(file, at: "u/r/calexp/\(name)", mode: .copy, checksum: true)
            try register(staged, detector: detector, in: butler)
            try butler.datastore.publish(staged)
        }
        // Rolled back: the claim is still there.
        let token = try #require(try butler.registry.claimToken(of: "u/r/calexp/kept.fits"))
        _ = try #require(try butler.datastore.trash("u/r/calexp/kept.fits", claimToken: token))
        // Committed: the dataset and its claim are gone.
        let goneRef = try #require(try butler.registry.findDataset("calexp", dataId: ["instrument": "TestCam", "detector": "1", "exposure": "100"],
                                                                   collections: ["u/r"]))
        try butler.registry.purgeDatasets([goneRef.id]) { released in
            for (path, token) in released { _ = try butler.datastore.trash(path, claimToken: token) }
        }
        try die(butler)
        #expect(try !exists("u/r/calexp/kept.fits", in: butler))
        _ = try Butler(repository: dir.path("repo"))
        #expect(try names(in: "u/r/calexp", of: butler) == ["kept.fits"])
        #expect(try verified(dir.path("repo")) == [])
    }

    @Test("a file found at a claimed path is set aside, never overwritten; verify reports it")
    func unregisteredFileAtAClaimedPath() throws {
        let dir = TemporaryDirectory()
        let (butler, file) = try setUp(dir)
        let staged = try butler.datastore.stage(file, at: "u/r/calexp/x.fits", mode: .copy, checksum: true)
        let stray = butler.storedLocation("u/r/calexp/x.fits")
        try plant(Data("not a dataset".utf8), at: stray)
        try register(staged, detector: 0, in: butler)
        try butler.datastore.publish(staged)
        #expect(try butler.datastore.measure(recordedPath: "u/r/calexp/x.fits", checksum: true)?.checksum == staged.checksum)
        let problems = try verified(dir.path("repo"))
        #expect(problems.count == 1 && problems[0].hasPrefix("orphan-file") && problems[0].contains("butler-orphan"), "\(problems)")
    }
}
