import Foundation
import Testing
import ButlerKit
import ButlerTestSupport

/// Rubin's own butler (lsst-daf-butler from PyPI, in `.build/rubin-venv`, made by `make rubin-venv`) is the judge of
/// our interchange: a repository made with Rubin's Python API is exported by Rubin and imported by us, and ours is
/// exported by us and imported by Rubin, as export directories and as Zips. Each side reads back ids, data IDs, runs,
/// collections (chain order, docs), tags, validity ranges and files, and the two readings must agree.
/// The Python side is in scripts/rubin (make_rubin_repo.py, import_into_rubin.py, ingest_zip_into_rubin.py).
@Suite("Rubin's butler imports our exports and we import Rubin's", .serialized)
struct RubinInterchangeCLITests {
    @Test("Rubin's Butler.export → our butler import: same ids, data IDs, runs, collections, tags, validity ranges, files")
    func rubinExportIntoOurs() throws {
        let rubin = try sharedRubinFixture.get()
        let dir = TemporaryDirectory("rubin-import")
        let repo = dir.path("repo")
        #expect(try runButler(try createArguments(repo)).exitCode == 0)
        let imported = try runButler(["import", repo, rubin.export])
        try #require(imported.exitCode == 0, "butler import of Rubin's export failed: \(imported.stderr)")
        let ours = try ourSummary(repo)
        expectSame(ours, rubin.expected, "our import of Rubin's export")
        // Every dimension record of the export arrived (LATISS's instrument and filters may be more than the file's).
        for (element, count) in rubin.expectedRecordCounts {
            let records = try runButler(["query-dimension-records", repo, element, "--format", "json"])
            #expect(records.exitCode == 0, "\(records.stderr)")
            let rows = (try? JSONSerialization.jsonObject(with: Data(records.stdout.utf8)) as? [Any]) ?? []
            if ["instrument", "physical_filter"].contains(element) {
                #expect(rows.count >= count, "\(element): \(rows.count) record(s), Rubin's export has \(count)")
            } else {
                #expect(rows.count == count, "\(element): \(rows.count) record(s), Rubin's export has \(count)")
            }
        }
    }

    @Test("Rubin's retrieve-artifacts --zip → our butler ingest-zip --transfer-dimensions: same datasets and files")
    func rubinZipIntoOurs() throws {
        let rubin = try sharedRubinFixture.get()
        let dir = TemporaryDirectory("rubin-zip")
        let repo = dir.path("repo")
        #expect(try runButler(try createArguments(repo)).exitCode == 0)
        let ingested = try runButler(["ingest-zip", repo, rubin.zip, "--transfer-dimensions"])
        try #require(ingested.exitCode == 0, "butler ingest-zip of Rubin's Zip failed: \(ingested.stderr)")
        let ours = try ourSummary(repo)
        expectSameDatasets(ours.datasets, rubin.expected.datasets, "our ingest of Rubin's Zip")
        // A Zip carries RUNs only: no docs, tags, chains or validity ranges.
        let runs = Set(rubin.expected.datasets.values.map(\.run))
        #expect(Set(ours.collections.keys) == runs)
        #expect(ours.collections.values.allSatisfy { $0.type == "RUN" })
    }

    @Test("our butler export → Rubin's butler import: Rubin reads back the same ids, collections, validity ranges and finds every file")
    func ourExportIntoRubin() throws {
        let dir = TemporaryDirectory("our-export")
        let repo = try makeOurRepository(dir)
        let ours = try ourSummary(repo)
        let export = dir.path("export")
        let exported = try runButler(["export", repo, export, "--collections", ours.collections.keys.sorted().joined(separator: ",")])
        try #require(exported.exitCode == 0, "butler export failed: \(exported.stderr)")
        let rubin = try runRubinScript("import_into_rubin.py", [export, dir.path("rubin-repo")])
        try #require(rubin.exitCode == 0, "Rubin's butler import of our export failed:\n\(rubin.stderr)")
        let theirs = try RepoSummary(rubinJSON: rubin.stdout)
        expectSame(theirs, ours, "Rubin's import of our export")
        expectReadableByRubin(rubin.stdout)
    }

    @Test("our butler retrieve-artifacts --zip → Rubin's butler ingest-zip --transfer-dimensions: same datasets, every file found")
    func ourZipIntoRubin() throws {
        let dir = TemporaryDirectory("our-zip")
        let repo = try makeOurRepository(dir)
        let ours = try ourSummary(repo)
        let destination = dir.path("zip")
        let retrieved = try runButler(["retrieve-artifacts", repo, destination, "--zip"])
        try #require(retrieved.exitCode == 0, "butler retrieve-artifacts --zip failed: \(retrieved.stderr)")
        let zips = try FileManager.default.contentsOfDirectory(atPath: destination).filter { $0.hasSuffix(".zip") }
        try #require(zips.count == 1, "expected one Zip in \(destination), found \(zips)")
        let rubin = try runRubinScript("ingest_zip_into_rubin.py", [destination + "/" + zips[0], dir.path("rubin-repo")])
        try #require(rubin.exitCode == 0, "Rubin's butler ingest-zip of our Zip failed:\n\(rubin.stderr)")
        let theirs = try RepoSummary(rubinJSON: rubin.stdout)
        expectSameDatasets(theirs.datasets, ours.datasets, "Rubin's ingest of our Zip")
        #expect(Set(theirs.collections.keys) == Set(ours.datasets.values.map(\.run)))
        expectReadableByRubin(rubin.stdout)
    }

    @Test("Rubin's butler export-calibs → our butler import: the biases, their RUNs and both validity ranges")
    func rubinExportCalibsIntoOurs() throws {
        let rubin = try sharedRubinFixture.get()
        let dir = TemporaryDirectory("rubin-calibs")
        let repo = dir.path("repo")
        #expect(try runButler(try createArguments(repo)).exitCode == 0)
        let imported = try runButler(["import", repo, rubin.out + "/export-calibs"])
        try #require(imported.exitCode == 0, "butler import of Rubin's export-calibs failed: \(imported.stderr)")
        let ours = try ourSummary(repo)
        let expected = rubin.expected.calibrationsOnly
        expectSame(ours, expected, "our import of Rubin's export-calibs")
    }

    @Test("our butler export-calibs → Rubin's butler import: Rubin reads back the biases, their RUNs and both validity ranges")
    func ourExportCalibsIntoRubin() throws {
        let dir = TemporaryDirectory("our-calibs")
        let repo = try makeOurRepository(dir)
        let ours = try ourSummary(repo).calibrationsOnly
        let export = dir.path("export-calibs")
        let exported = try runButler(["export-calibs", repo, export, "LATISS/calib"])
        try #require(exported.exitCode == 0, "butler export-calibs failed: \(exported.stderr)")
        let rubin = try runRubinScript("import_into_rubin.py", [export, dir.path("rubin-repo")])
        try #require(rubin.exitCode == 0, "Rubin's butler import of our export-calibs failed:\n\(rubin.stderr)")
        expectSame(try RepoSummary(rubinJSON: rubin.stdout), ours, "Rubin's import of our export-calibs")
        expectReadableByRubin(rubin.stdout)
    }

    /// Checks the harness itself (both readers, file sizes, TAI conversion) on what needs no interchange: the two
    /// fixture repositories hold the same raws (our ingest-raws makes Rubin's DATAID_TYPE_RUN ids), the same
    /// collection structure and the same validity ranges.
    @Test("our repository and Rubin's agree on raw ids and files, collection structure and validity ranges")
    func fixturesAgree() throws {
        let rubin = try sharedRubinFixture.get()
        let dir = TemporaryDirectory("fixtures-agree")
        let ours = try ourSummary(try makeOurRepository(dir))
        expectSameDatasets(ours.datasets.filter { $0.value.datasetType == "raw" }, rubin.expected.datasets.filter { $0.value.datasetType == "raw" },
                           "raws of both fixtures")
        #expect(ours.collections.keys.sorted() == rubin.expected.collections.keys.sorted())
        #expect(ours.collections.mapValues(\.type) == rubin.expected.collections.mapValues(\.type))
        #expect(ours.collections.mapValues(\.children) == rubin.expected.collections.mapValues(\.children))
        let ranges = { (s: RepoSummary) in s.calibrations.mapValues { $0.map { [$0.begin, $0.end] } } }
        #expect(ranges(ours) == ranges(rubin.expected))
        #expect(ranges(ours)["LATISS/calib"] == [[1_672_531_200_000_000_000, 1_704_067_200_000_000_000], [1_704_067_200_000_000_000, nil]])
        #expect(ours.tags["u/test/tagged"]?.count == 3)
        #expect(ours.tags["u/test/tagged"]?.contains("f4852260-3f7c-52dc-95b4-21b1a598aa68") == true)
        #expect(rubin.expected.tags["u/test/tagged"]?.contains("f4852260-3f7c-52dc-95b4-21b1a598aa68") == true)
    }
}

// MARK: - Rubin's side

/// The Python of the virtual environment with Rubin's butler.
private let rubinPython = packageRoot.appendingPathComponent(".build/rubin-venv/bin/python").path

/// Runs one of the scripts in scripts/rubin with Rubin's Python.
private func runRubinScript(_ name: String, _ arguments: [String]) throws -> CommandResult {
    guard FileManager.default.isExecutableFile(atPath: rubinPython) else {
        throw ButlerError(.notFound, "\(rubinPython) is missing: run make rubin-venv (Rubin's butler for these tests)")
    }
    return try runProcess(rubinPython, [packageRoot.appendingPathComponent("scripts/rubin/" + name).path] + arguments)
}

/// A repository made by Rubin's Python API (make_rubin_repo.py), its export, its Zip, and Rubin's summary of it.
private struct RubinFixture: Sendable {
    /// Keeps the folder alive.
    let directory: TemporaryDirectory
    /// make_rubin_repo.py's OUT: repo/, export/, zip/, expected.json.
    let out: String
    var export: String { out + "/export" }
    let zip: String
    let expected: RepoSummary
    /// Records per element in Rubin's repository.
    let expectedRecordCounts: [String: Int]
}

/// Where the shared fixture lives (a global is never deinitialised: the folder is removed when the process exits).
private let rubinFixtureRoot = TemporaryDirectory("rubin-fixture")

/// Made once for the suite: Rubin takes a few seconds to make it.
private let sharedRubinFixture: Result<RubinFixture, any Error> = Result {
    let directory = rubinFixtureRoot
    atexit { try? FileManager.default.removeItem(at: rubinFixtureRoot.url) }
    let out = directory.path("out")
    let made = try runRubinScript("make_rubin_repo.py", [out, "--fixtures", fixturesDirectory.appendingPathComponent("raw/lsst").path])
    guard made.exitCode == 0 else { throw ButlerError(.invalidValue, "make_rubin_repo.py failed:\n\(made.stderr)") }
    let zips = try FileManager.default.contentsOfDirectory(atPath: out + "/zip").filter { $0.hasSuffix(".zip") }
    guard zips.count == 1 else { throw ButlerError(.notFound, "expected one Zip in \(out)/zip, found \(zips)") }
    let json = try String(contentsOfFile: out + "/expected.json", encoding: .utf8)
    let top = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] ?? [:]
    let counts = (top["dimension_records"] as? [String: Any] ?? [:]).compactMapValues { ($0 as? NSNumber)?.intValue }
    return RubinFixture(directory: directory, out: out, zip: out + "/zip/" + zips[0],
                        expected: try RepoSummary(rubinJSON: json), expectedRecordCounts: counts)
}

/// Rubin's summary says every file is a FITS file whose recorded formatter Rubin can import.
private func expectReadableByRubin(_ json: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let top = (try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]) ?? [:]
    for (id, value) in top["datasets"] as? [String: [String: Any]] ?? [:] {
        #expect(value["fits_magic"] as? Bool == true, "\(id): Rubin does not see a FITS file", sourceLocation: sourceLocation)
        #expect(value["formatter_importable"] as? Bool == true,
                "\(id): Rubin cannot import formatter \(value["formatter"] ?? "none")", sourceLocation: sourceLocation)
    }
}

// MARK: - The comparison

/// What both butlers are asked about a repository, in one shape.
private struct RepoSummary: Sendable, Equatable {
    struct Dataset: Sendable, Equatable, CustomStringConvertible {
        var datasetType: String
        var run: String
        /// Required dimensions only, values as text.
        var dataId: [String: String]
        var fileExists: Bool
        var fileSize: Int64?
        var description: String {
            "\(datasetType) in \(run) \(dataId.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")) "
                + (fileExists ? "file of \(fileSize.map(String.init) ?? "?") bytes" : "no file")
        }
    }
    struct Collection: Sendable, Equatable {
        var type: String
        var children: [String]
        var doc: String?
    }
    struct Certification: Sendable, Hashable, CustomStringConvertible {
        var datasetType: String
        var id: String
        /// TAI nanoseconds; nil when unbounded.
        var begin: Int64?
        var end: Int64?
        var description: String {
            "\(datasetType) \(id) [\(begin.map { TAITime(nanoseconds: $0).isoTAI } ?? "-inf"), \(end.map { TAITime(nanoseconds: $0).isoTAI } ?? "+inf"))"
        }
    }
    var datasets: [String: Dataset] = [:]
    var collections: [String: Collection] = [:]
    var tags: [String: [String]] = [:]
    var calibrations: [String: [Certification]] = [:]

    init() {}

    /// What an export-calibs carries: the CALIBRATION collections, the RUNs of their datasets, those datasets, and
    /// the validity ranges (no tags, no chains).
    var calibrationsOnly: RepoSummary {
        var result = RepoSummary()
        result.calibrations = calibrations
        let ids = Set(calibrations.values.flatMap { $0.map(\.id) })
        result.datasets = datasets.filter { ids.contains($0.key) }
        let runs = Set(result.datasets.values.map(\.run))
        result.collections = collections.filter { $0.value.type == "CALIBRATION" || runs.contains($0.key) }
        return result
    }

    /// Reads the JSON printed by scripts/rubin/summarize.py (and the import scripts).
    init(rubinJSON text: String) throws {
        guard let top = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw ButlerError(.invalidValue, "Rubin's summary is not a JSON object: \(text.prefix(200))")
        }
        for (id, value) in top["datasets"] as? [String: [String: Any]] ?? [:] {
            datasets[id.lowercased()] = Dataset(
                datasetType: value["dataset_type"] as? String ?? "", run: value["run"] as? String ?? "",
                dataId: textValues(value["data_id"]), fileExists: value["file_exists"] as? Bool ?? false,
                fileSize: (value["file_size"] as? NSNumber)?.int64Value)
        }
        for (name, value) in top["collections"] as? [String: [String: Any]] ?? [:] {
            collections[name] = Collection(type: value["type"] as? String ?? "", children: value["children"] as? [String] ?? [],
                                           doc: value["doc"] as? String)
        }
        for (name, ids) in top["tags"] as? [String: [String]] ?? [:] {
            tags[name] = ids.map { $0.lowercased() }.sorted()
        }
        for (name, entries) in top["calibrations"] as? [String: [[String: Any]]] ?? [:] {
            calibrations[name] = entries.map {
                Certification(datasetType: $0["dataset_type"] as? String ?? "", id: ($0["id"] as? String ?? "").lowercased(),
                              begin: ($0["begin"] as? NSNumber)?.int64Value, end: ($0["end"] as? NSNumber)?.int64Value)
            }.sorted(by: certificationOrder)
        }
    }
}

private func certificationOrder(_ a: RepoSummary.Certification, _ b: RepoSummary.Certification) -> Bool {
    (a.datasetType, a.begin ?? Int64.min, a.id) < (b.datasetType, b.begin ?? Int64.min, b.id)
}

/// A JSON data ID with its values as text (`0`, `LATISS`).
private func textValues(_ value: Any?) -> [String: String] {
    (value as? [String: Any] ?? [:]).mapValues { v in (v as? String) ?? "\(v)" }
}

/// Reads a repository with our CLI into the summary shape.
private func ourSummary(_ repo: String) throws -> RepoSummary {
    func json(_ arguments: [String]) throws -> Any {
        let result = try runButler(arguments)
        guard result.exitCode == 0 else { throw ButlerError(.invalidValue, "butler \(arguments.joined(separator: " ")): \(result.stderr)") }
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
    }
    var summary = RepoSummary()
    for row in try json(["query-collections", repo, "--format", "json"]) as? [[String: Any]] ?? [] {
        guard let name = row["name"] as? String else { continue }
        summary.collections[name] = RepoSummary.Collection(type: row["type"] as? String ?? "", children: row["children"] as? [String] ?? [],
                                                           doc: row["doc"] as? String)
    }
    let runs = summary.collections.filter { $0.value.type == "RUN" }.keys.sorted()
    if !runs.isEmpty {
        let rows = try json(["query-datasets", repo, "--collections", runs.joined(separator: ","), "--show-uri", "--format", "json"]) as? [[String: Any]] ?? []
        for row in rows {
            guard let id = (row["id"] as? String)?.lowercased() else { continue }
            let file = try fileFacts(row["uri"] as? String)
            summary.datasets[id] = RepoSummary.Dataset(datasetType: row["dataset_type"] as? String ?? "", run: row["run"] as? String ?? "",
                                                       dataId: textValues(row["data_id"]), fileExists: file.exists, fileSize: file.size)
        }
    }
    for (name, collection) in summary.collections where collection.type == "TAGGED" {
        let rows = try json(["query-datasets", repo, "--collections", name, "--format", "json"]) as? [[String: Any]] ?? []
        summary.tags[name] = Set(rows.compactMap { ($0["id"] as? String)?.lowercased() }).sorted()
    }
    for (name, collection) in summary.collections where collection.type == "CALIBRATION" {
        let rows = try json(["query-datasets", repo, "--collections", name, "--format", "json"]) as? [[String: Any]] ?? []
        summary.calibrations[name] = try rows.map { row in
            let validity = row["validity"] as? [String: Any]
            func bound(_ key: String) throws -> Int64? {
                guard let text = validity?[key] as? String else { return nil }
                guard let time = TAITime(iso: text, scale: .tai) else { throw ButlerError(.invalidValue, "validity \(key) '\(text)' is not a TAI time") }
                return time.nanoseconds
            }
            return RepoSummary.Certification(datasetType: row["dataset_type"] as? String ?? "", id: (row["id"] as? String ?? "").lowercased(),
                                             begin: try bound("begin"), end: try bound("end"))
        }.sorted(by: certificationOrder)
    }
    return summary
}

/// Whether a dataset's file exists and its size: a plain file, or a member of a Zip (`file:///x.zip#zip-path=member`).
private func fileFacts(_ uri: String?) throws -> (exists: Bool, size: Int64?) {
    guard let uri, let url = URL(string: uri) else { return (false, nil) }
    // A member of a stored Zip: its size as Python's zipfile reads it (from a downloaded copy of an object).
    if let fragment = url.fragment(percentEncoded: false), fragment.hasPrefix("zip-path=") {
        let member = String(fragment.dropFirst("zip-path=".count))
        var components = URLComponents(url: url, resolvingAgainstBaseURL: false)
        components?.fragment = nil
        guard let zip = components?.url else { return (false, nil) }
        var local = zip.path
        let scratch = TemporaryDirectory("zip-object")
        if zip.scheme == "s3" {
            local = scratch.path("object.zip")
            guard (try? Butler.downloadObject(zip.absoluteString, to: local)) != nil else { return (false, nil) }
        } else if !zip.isFileURL {
            return (false, nil)
        }
        let probe = try runProcess(rubinPython, ["-c", "import sys, zipfile; print(zipfile.ZipFile(sys.argv[1]).getinfo(sys.argv[2]).file_size)",
                                                 local, member])
        guard probe.exitCode == 0, let size = Int64(probe.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else { return (false, nil) }
        return (true, size)
    }
    if uri.hasPrefix("s3://") {
        // An object of a bucket datastore (BUTLER_TEST_DATASTORE=bucket).
        let size = try objectSize(uri)
        return (size != nil, size)
    }
    guard url.isFileURL, let attributes = try? FileManager.default.attributesOfItem(atPath: url.path) else { return (false, nil) }
    return (true, (attributes[.size] as? NSNumber)?.int64Value)
}

/// One expectation per difference, each naming the dataset or collection.
private func expectSame(_ actual: RepoSummary, _ expected: RepoSummary, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    expectSameDatasets(actual.datasets, expected.datasets, what, sourceLocation: sourceLocation)
    #expect(actual.collections.keys.sorted() == expected.collections.keys.sorted(), "\(what): collection names", sourceLocation: sourceLocation)
    for (name, collection) in expected.collections {
        guard let got = actual.collections[name] else { continue }
        #expect(got.type == collection.type, "\(what): \(name) type", sourceLocation: sourceLocation)
        #expect(got.children == collection.children, "\(what): \(name) children (in order)", sourceLocation: sourceLocation)
        #expect(got.doc == collection.doc, "\(what): \(name) doc", sourceLocation: sourceLocation)
    }
    #expect(actual.tags == expected.tags, "\(what): TAGGED memberships", sourceLocation: sourceLocation)
    #expect(actual.calibrations.keys.sorted() == expected.calibrations.keys.sorted(), "\(what): CALIBRATION collections", sourceLocation: sourceLocation)
    for (name, entries) in expected.calibrations {
        let got = actual.calibrations[name] ?? []
        #expect(got.map(\.description) == entries.map(\.description), "\(what): validity ranges in \(name)", sourceLocation: sourceLocation)
    }
}

private func expectSameDatasets(_ actual: [String: RepoSummary.Dataset], _ expected: [String: RepoSummary.Dataset], _ what: String,
                                sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.keys.sorted() == expected.keys.sorted(), "\(what): dataset ids", sourceLocation: sourceLocation)
    for (id, dataset) in expected {
        guard let got = actual[id] else { continue }
        #expect(got == dataset, "\(what): dataset \(id)", sourceLocation: sourceLocation)
        #expect(got.fileExists, "\(what): dataset \(id) has no file", sourceLocation: sourceLocation)
    }
}

// MARK: - Our side

/// A repository made with our CLI: the two LATISS raws in LATISS/raw/all, a bias in two RUNs certified into
/// LATISS/calib for [2023-01-01, 2024-01-01) and [2024-01-01, unbounded), a postISRCCD per exposure in u/test/run1,
/// TAGGED u/test/tagged, CHAINED LATISS/defaults = [LATISS/raw/all, LATISS/calib] nested in
/// CHAINED u/test = [u/test/tagged, u/test/run1, LATISS/defaults].
private func makeOurRepository(_ dir: TemporaryDirectory) throws -> String {
    let repo = dir.path("repo")
    func butler(_ arguments: [String]) throws {
        let result = try runButler(arguments)
        guard result.exitCode == 0 else { throw ButlerError(.invalidValue, "butler \(arguments.joined(separator: " ")): \(result.stderr)") }
    }
    let lsst = fixturesDirectory.appendingPathComponent("raw/lsst").path
    let raws = ["latiss-AT_O_20230321_000053.fits", "latiss-AT_O_20240624_000106_R00_S00.fits"]
    try butler(try createArguments(repo))
    try butler(["ingest-raws", repo] + raws.map { lsst + "/" + $0 } + ["-t", "copy"])
    try butler(["register-dataset-type", repo, "bias", "ExposureF", "instrument", "detector", "--is-calibration"])
    try "file,detector\n\(raws[0]),0\n".write(toFile: dir.path("bias.csv"), atomically: true, encoding: .utf8)
    for run in ["LATISS/calib/bias/20230101", "LATISS/calib/bias/20240101"] {
        try butler(["ingest-files", repo, "bias", run, dir.path("bias.csv"), "--data-id", "instrument=LATISS", "--prefix", lsst, "-t", "copy"])
    }
    try butler(["register-collection", repo, "LATISS/calib", "--type", "CALIBRATION", "--doc", "Certified LATISS calibrations."])
    try butler(["certify-calibrations", repo, "LATISS/calib/bias/20230101", "LATISS/calib", "bias", "--begin-date", "2023-01-01", "--end-date", "2024-01-01"])
    try butler(["certify-calibrations", repo, "LATISS/calib/bias/20240101", "LATISS/calib", "bias", "--begin-date", "2024-01-01"])
    try butler(["register-dataset-type", repo, "postISRCCD", "ExposureF", "instrument", "exposure", "detector"])
    try "file,exposure,detector\n\(raws[0]),2023032100053,0\n\(raws[1]),2024062400106,0\n".write(toFile: dir.path("post.csv"), atomically: true, encoding: .utf8)
    try butler(["register-collection", repo, "u/test/run1", "--type", "RUN", "--doc", "Processed exposures of the test."])
    try butler(["ingest-files", repo, "postISRCCD", "u/test/run1", dir.path("post.csv"), "--data-id", "instrument=LATISS", "--prefix", lsst, "-t", "copy"])
    try butler(["register-collection", repo, "u/test/tagged", "--type", "TAGGED", "--doc", "Hand-picked datasets."])
    try butler(["associate", repo, "u/test/tagged", "--collections", "LATISS/raw/all", "--dataset-type", "raw", "--where", "instrument = 'LATISS' AND exposure = 2024062400106"])
    try butler(["associate", repo, "u/test/tagged", "--collections", "u/test/run1", "--dataset-type", "postISRCCD", "--where", "instrument = 'LATISS' AND exposure = 2024062400106"])
    try butler(["associate", repo, "u/test/tagged", "--collections", "LATISS/calib/bias/20230101", "--dataset-type", "bias"])
    try butler(["collection-chain", repo, "LATISS/defaults", "LATISS/raw/all,LATISS/calib", "--doc", "Raws and calibrations of LATISS."])
    try butler(["collection-chain", repo, "u/test", "u/test/tagged,u/test/run1,LATISS/defaults"])
    return repo
}
