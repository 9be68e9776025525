public import Foundation
public import S3
public import ButlerKit

/// A fresh temporary folder, removed when the returned object goes away.
public final class TemporaryDirectory: @unchecked Sendable {
    public let url: URL
    public var path: String { url.path }

    public init(_ label: String = "butler-test") {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString.prefix(8))")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// A path inside the folder.
    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// The root of the package (where Package.swift is).
public let packageRoot: URL = {
    var url = URL(fileURLWithPath: #filePath)
    while url.path != "/" {
        url.deleteLastPathComponent()
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
    }
    fatalError("Package.swift not found above \(#filePath)")
}()

/// The `Fixtures/` folder.
public var fixturesDirectory: URL { packageRoot.appendingPathComponent("Fixtures") }

/// The instruments of the fixtures' raws, as a `--where` list: `'DECam', 'HSC', ...`.
public let fixtureInstruments = ["DECam", "HSC", "LATISS", "LSSTCam", "LSSTComCam", "MegaPrime"].map { "'\($0)'" }.joined(separator: ", ")

/// The built `butler` binary: `$BUTLER_BIN`, or the one beside the test bundle.
public let butlerBinary: String = {
    if let path = ProcessInfo.processInfo.environment["BUTLER_BIN"] { return path }
    let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    var dir = exe.deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = dir.appendingPathComponent("butler").path
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDir), !isDir.boolValue { return candidate }
        dir.deleteLastPathComponent()
    }
    return packageRoot.appendingPathComponent(".build/debug/butler").path
}()

/// A program built beside `butler` (`make-raws`, `demo-step`).
public func toolBinary(_ name: String) -> String {
    URL(fileURLWithPath: butlerBinary).deletingLastPathComponent().appendingPathComponent(name).path
}

/// What a run of the binary printed and returned.
public struct CommandResult: Sendable {
    public let stdout: String
    public let stderr: String
    public let exitCode: Int32
}

/// Runs the built `butler` with `arguments` and waits for it.
@discardableResult
public func runButler(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]) throws -> CommandResult {
    try runProcess(butlerBinary, arguments, stdin: stdin, environment: environment)
}

/// Runs a program and waits for it, capturing both output streams.
public func runProcess(_ executable: String, _ arguments: [String], stdin: String? = nil,
                       environment: [String: String] = [:]) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    process.environment = env
    let out = Pipe(), err = Pipe(), input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try? input.fileHandleForWriting.close()
    // Read both pipes concurrently so neither can fill up and block the child.
    nonisolated(unsafe) var errData = Data()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
        errData = err.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    return CommandResult(stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self),
                         exitCode: process.terminationStatus)
}

/// A new repository in a temporary folder.
public func makeRepository(in dir: TemporaryDirectory, name: String = "repo") throws -> Butler {
    try Butler.create(at: dir.path(name), registry: testRegistryURL(), datastore: testDatastoreURI())
}

/// The backend registry tests run on: `BUTLER_TEST_BACKEND=postgresql` puts every test repository in its own schema
/// of the server at `BUTLER_TEST_POSTGRES` (started by `scripts/with-postgres.sh`); SQLite otherwise.
public let testBackendIsPostgres: Bool = ProcessInfo.processInfo.environment["BUTLER_TEST_BACKEND"] == "postgresql"

/// The PostgreSQL server of the test run (`BUTLER_TEST_POSTGRES`); a test that needs it fails without it.
public func testPostgresBase() throws -> String {
    guard let url = ProcessInfo.processInfo.environment["BUTLER_TEST_POSTGRES"], !url.isEmpty else {
        throw ButlerError(.invalidConfig, "BUTLER_TEST_POSTGRES is not set: run the tests through scripts/with-postgres.sh (make test does)")
    }
    return url
}

/// A registry URL for a new test repository: a fresh schema on the test server in PostgreSQL mode, nil (SQLite) otherwise.
public func testRegistryURL() throws -> String? {
    guard testBackendIsPostgres else { return nil }
    return try testPostgresBase() + "?schema=t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
}

/// `butler create REPO`, with `--registry` in PostgreSQL mode and `--datastore` in bucket mode (unless `inFolder`: a
/// repository that must keep its files in its own folder).
public func createArguments(_ repo: String, inFolder: Bool = false) throws -> [String] {
    ["create", repo] + (try testRegistryURL().map { ["--registry", $0] } ?? [])
        + (inFolder ? [] : try testDatastoreURI().map { ["--datastore", $0] } ?? [])
}

/// The datastore tests put files in: `BUTLER_TEST_DATASTORE=bucket` puts each test repository's files under its own
/// prefix of the bucket `BUTLER_TEST_S3_BUCKET` of the server `scripts/with-s3.sh` starts; a folder otherwise.
public let testDatastoreIsBucket: Bool = ProcessInfo.processInfo.environment["BUTLER_TEST_DATASTORE"] == "bucket"

/// A new prefix of the test bucket, or nil for the repository's own folder.
public func testDatastoreURI() throws -> String? {
    guard testDatastoreIsBucket else { return nil }
    guard let bucket = ProcessInfo.processInfo.environment["BUTLER_TEST_S3_BUCKET"] else {
        throw ButlerError(.notFound, "BUTLER_TEST_S3_BUCKET is not set: run the tests through scripts/with-s3.sh (make test does)")
    }
    return "s3://\(bucket)/t-" + UUID().uuidString.lowercased().prefix(16)
}

/// Inserts the dimension records of a small made-up instrument: two detectors, two filters, one exposure.
public func insertTestInstrument(_ registry: Registry, name: String = "TestCam") throws {
    try registry.insertDimensionRecords("instrument", [DimensionRecord(element: "instrument", fields: ["name": .string(name), "detector_max": 10])])
    try registry.insertDimensionRecords("physical_filter", [
        DimensionRecord(element: "physical_filter", fields: ["instrument": .string(name), "name": "g-1", "band": "g"]),
        DimensionRecord(element: "physical_filter", fields: ["instrument": .string(name), "name": "r-1", "band": "r"]),
    ])
    try registry.insertDimensionRecords("detector", [
        DimensionRecord(element: "detector", fields: ["instrument": .string(name), "id": 0, "full_name": "R00_S00"]),
        DimensionRecord(element: "detector", fields: ["instrument": .string(name), "id": 1, "full_name": "R00_S01"]),
    ])
    try registry.insertDimensionRecords("day_obs", [DimensionRecord(element: "day_obs", fields: ["instrument": .string(name), "id": 20240101])])
    try registry.insertDimensionRecords("group", [DimensionRecord(element: "group", fields: ["instrument": .string(name), "name": "g1"])])
    try registry.insertDimensionRecords("exposure", [
        DimensionRecord(element: "exposure", fields: ["instrument": .string(name), "id": 100, "obs_id": "TC_100",
                                                      "physical_filter": "g-1", "group": "g1", "day_obs": 20240101,
                                                      "exposure_time": 30.0, "observation_type": "science"]),
    ])
}

/// The code of the ButlerError that `body` throws, or `nil` when it throws nothing (or something else).
public func errorCode<T>(_ body: () throws -> T) -> ButlerError.Code? {
    butlerError(body)?.code
}

/// The ButlerError that `body` throws, or `nil`.
public func butlerError<T>(_ body: () throws -> T) -> ButlerError? {
    do {
        _ = try body()
        return nil
    } catch let error as ButlerError {
        return error
    } catch {
        return nil
    }
}

/// Every row of every table of a repository's registry, as text: equal snapshots mean an unchanged registry.
public func registrySnapshot(_ repo: String) throws -> [String] {
    let butler = try Butler(repository: repo)
    return try butler.registry.database.read { c in
        var lines: [String] = []
        for table in try c.tableNames() {
            for row in try c.query("SELECT * FROM \(q(table))") {
                lines.append(table + ": " + row.values.map { "\($0)" }.joined(separator: "|"))
            }
        }
        return lines.sorted()
    }
}

/// A fixture raw file (`lsst/latiss-AT_O_20230321_000053.fits`, ...).
public func fixture(_ relative: String) -> String {
    fixturesDirectory.appendingPathComponent("raw/" + relative).path
}

/// Every fixture raw, sorted.
public var allFixtureRaws: [String] {
    ["lsst", "other"].flatMap { folder -> [String] in
        let dir = fixturesDirectory.appendingPathComponent("raw/\(folder)")
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasSuffix(".fits") }.sorted()
            .map { dir.appendingPathComponent($0).path }
    }
}

/// Copies a FITS file, replacing whole 80-column header cards: each key is the start of the card to replace
/// (`"DAYOBS  ="`), each value the new card text (padded to 80 columns; empty removes the card's content by
/// turning it into a blank COMMENT).
public func derivedFITS(from source: String, to destination: String, replacing cards: [String: String]) throws {
    var bytes = try Data(contentsOf: URL(fileURLWithPath: source))
    for (prefix, replacement) in cards {
        var found = false
        var offset = 0
        while offset + 80 <= bytes.count {
            let card = bytes.subdata(in: offset..<(offset + 80))
            if card.starts(with: Data(prefix.utf8)) {
                let text = replacement.isEmpty ? "COMMENT" : replacement
                let padded = Data(text.utf8) + Data(repeating: 0x20, count: max(0, 80 - text.utf8.count))
                bytes.replaceSubrange(offset..<(offset + 80), with: padded.prefix(80))
                found = true
                break
            }
            if card.starts(with: Data("END     ".utf8)) { break }
            offset += 80
        }
        if !found { throw ButlerError(.notFound, "no card starting with '\(prefix)' in \(source)") }
    }
    try bytes.write(to: URL(fileURLWithPath: destination))
}

/// A new repository holding the given raws (every fixture raw by default), ingested with `transfer`,
/// and one visit per LSSTCam science exposure (when LSSTCam raws are among them).
public func makeRepository(in dir: TemporaryDirectory, raws: [String]? = nil, transfer: TransferMode = .direct) throws -> Butler {
    let butler = try makeRepository(in: dir)
    var options = RawIngestOptions()
    options.transfer = transfer
    options.processes = 2
    let report = try butler.ingestRaws(raws ?? [fixturesDirectory.appendingPathComponent("raw").path], options: options)
    guard report.failures.isEmpty else { throw ButlerError(.invalidValue, "fixture ingest failed: \(report.failures)") }
    if try butler.registry.fetchDimensionRecords("instrument", dataId: ["name": "LSSTCam"]).count == 1 {
        try butler.registry.defineVisits(instrument: "LSSTCam")
    }
    return butler
}

/// The size of an object at an `s3://BUCKET/KEY` URI of the test server, nil when there is none.
public func objectSize(_ uri: String) throws -> Int64? {
    guard let url = URL(string: uri), url.scheme == "s3", let bucket = url.host else { return nil }
    let key = String(uri.dropFirst("s3://".count + bucket.count + 1))
    return try S3Client(configuration: S3Configuration.fromEnvironment()).headObject(bucket: bucket, key: key)?.size
}

/// A client of the test S3 server (scripts/with-s3.sh) and a new bucket on it; an error when no server is running.
public func makeTestBucket() throws -> (client: S3Client, bucket: String) {
    guard ProcessInfo.processInfo.environment["S3_ENDPOINT_URL"] != nil else {
        throw ButlerError(.notFound, "S3_ENDPOINT_URL is not set: run the tests through scripts/with-s3.sh (make test does)")
    }
    let client = S3Client(configuration: try S3Configuration.fromEnvironment())
    let name = "test-\(UUID().uuidString.lowercased().prefix(12))"
    try client.createBucket(name)
    return (client, name)
}
