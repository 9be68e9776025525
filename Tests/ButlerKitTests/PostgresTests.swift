import Foundation
import Testing
@testable import ButlerKit
import ButlerTestSupport

/// What only the PostgreSQL backend has: URLs and schemas, passwords, connection errors, native UUIDs, the exclusion
/// constraint on validity ranges. Needs the server of `scripts/with-postgres.sh` (fails without it).
@Suite("PostgreSQL registry")
struct PostgresTests {
    func url(_ schema: String) throws -> String {
        try testPostgresBase() + "?schema=\(schema)_" + UUID().uuidString.prefix(8).lowercased()
    }

    @Test("repositories share one database in their own schemas; an existing one is not overwritten; a missing one is not a repository")
    func schemas() throws {
        let dir = TemporaryDirectory()
        let urlA = try url("a"), urlB = try url("b")
        let a = try Butler.create(at: dir.path("a"), registry: urlA)
        let b = try Butler.create(at: dir.path("b"), registry: urlB)
        try a.registry.registerDatasetType(try a.registry.makeDatasetType("onlyInA", storageClass: "ExposureF", dimensions: ["instrument"]))
        #expect(try a.registry.datasetType("onlyInA") != nil)
        #expect(try b.registry.datasetType("onlyInA") == nil)
        #expect(try Butler(repository: dir.path("a")).registry.datasetType("onlyInA") != nil)
        #expect(errorCode { try Butler.create(at: dir.path("c"), registry: urlA) } == .alreadyExists)
        try "registry:\n  db: \(try url("missing"))\n".write(toFile: dir.path("d.yaml"), atomically: true, encoding: .utf8)
        #expect(errorCode { try Butler.create(at: dir.path("e"), registry: "mysql://host/db") } == .invalidValue)
        let columns = try a.registry.database.read { c in
            try c.query("SELECT data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'dataset' AND column_name = 'id'")
        }
        #expect(columns.first?[0].string == "uuid")
    }

    @Test("passwords are masked in config-dump and messages; a server that is down or refuses the login fails fast and clearly")
    func connections() throws {
        let dir = TemporaryDirectory()
        let base = try testPostgresBase()
        let withPassword = base.replacingOccurrences(of: "postgres@", with: "postgres:s3cret@") + "?schema=pw_" + UUID().uuidString.prefix(8).lowercased()
        let butler = try Butler.create(at: dir.path("repo"), registry: withPassword)
        let dump = try butler.configDump()
        #expect(!dump.contains("s3cret"))
        #expect(dump.contains("postgres:***@"))
        let cli = try runButler(["config-dump", dir.path("repo")])
        #expect(!cli.stdout.contains("s3cret") && cli.exitCode == 0)

        let start = Date()
        let down = butlerError { try Butler.create(at: dir.path("down"), registry: "postgresql://postgres:hidden@127.0.0.1:1/butler_test") }
        #expect(down?.code == .database)
        #expect(down?.message.contains("127.0.0.1") == true)
        #expect(down?.message.contains("hidden") == false)
        #expect(Date().timeIntervalSince(start) < 15)
        #expect(!FileManager.default.fileExists(atPath: dir.path("down/butler.yaml")))
        let refused = butlerError { try Butler.create(at: dir.path("refused"), registry: base.replacingOccurrences(of: "postgres@", with: "nosuchuser@")) }
        #expect(refused?.message.contains("nosuchuser") == true)
    }

    @Test("the database refuses overlapping validity ranges even when the registry's own check is bypassed")
    func exclusionConstraint() throws {
        let dir = TemporaryDirectory()
        let butler = try Butler.create(at: dir.path("repo"), registry: try url("calib"))
        let r = butler.registry
        try insertTestInstrument(r)
        try r.registerDatasetType(try r.makeDatasetType("bias", storageClass: "ExposureF", dimensions: ["instrument", "detector"], isCalibration: true))
        _ = try r.registerRun("calib/run")
        let refs = try r.insertDatasets("bias", run: "calib/run", dataIds: [["instrument": "TestCam", "detector": 0], ["instrument": "TestCam", "detector": 1]])
        let t0 = TAITime(year: 2025, month: 1, day: 1, scale: .tai), t1 = TAITime(year: 2025, month: 6, day: 1, scale: .tai)
        try r.certify("calib", [refs[0]], validity: Timespan(begin: t0, end: t1))
        let table = try r.database.read { c in try c.queryOne("SELECT calibration_association_table FROM dataset_type WHERE name = 'bias'")![0].string! }
        let collection = try r.collection("calib")!.id
        let typeId = try r.database.read { c in try c.queryOne("SELECT id FROM dataset_type WHERE name = 'bias'")![0].int64! }
        // Straight SQL, past the registry's check: an overlapping range for the same detector.
        let overlap = butlerError {
            try r.database.write { c in
                try c.execute("INSERT INTO \(q(table)) (dataset_type_id, dataset_id, collection_id, instrument, detector, validity_begin, validity_end) VALUES (?, ?, ?, 'TestCam', 0, ?, NULL)",
                              [.integer(typeId), .text(refs[1].id.lowercasedString), .integer(collection), .integer(t0.adding(seconds: 86_400).nanoseconds)])
            }
        }
        #expect(overlap?.code == .conflict)
        // Another detector, or a range that only touches, is fine.
        try r.certify("calib", [refs[1]], validity: Timespan(begin: t1, end: nil))
    }
}
