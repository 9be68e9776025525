import Foundation
import Testing
import ButlerKit
import ButlerTestSupport

/// Issue 28, items 9 and 10: typed bind values (times, timespans, UUIDs, regions) and the common sky pixel dimension
/// (`htm7`) in `query-data-ids`, against Rubin's answers over its `spatial.yaml` (Rubin's butler in
/// `.build/rubin-venv` answers at test time through scripts/rubin/registry_data_queries.py).
@Suite("Typed binds and sky pixel dimensions, as Rubin answers them (issue 28 items 9, 10)", .serialized)
struct RubinBindsSkypixCLITests {
    @Test("htm7 as a query dimension: the pixels overlapping a visit's region; htm7 alone and other levels refused as Rubin does",
          arguments: ["htm7-visit1", "visit+htm7", "visit+detector+htm7", "htm7-alone", "htm7-pixel-alone", "healpix8-visit1", "htm9-tract0"])
    func skypixDimension(_ key: String) throws {
        try expectSameRows(key, rubin: try rubinAnswers(), repo: try ourRepo.get())
    }

    @Test("--bind with a time, a timespan, a UUID and a circle: Rubin's rows for its typed Python values",
          arguments: ["bind-time", "bind-timespan", "bind-open-timespan", "bind-uuid", "bind-uuid-list", "bind-circle", "bind-circle-far"])
    func typedBinds(_ key: String) throws {
        try expectSameRows(key, rubin: try rubinAnswers(), repo: try ourRepo.get())
    }

    @Test("a bound BOX or POLYGON selects what the same region written in --where selects")
    func boundRegionsMatchInlineRegions() throws {
        let repo = try ourRepo.get()
        for region in ["BOX(0, 0, 2, 2)", "POLYGON(359, -1, 1, -1, 1, 1, 359, 1)", "BOX(180, 0, 2, 2)"] {
            let bound = try runButler(["query-data-ids", repo, "visit", "--where", "visit.region OVERLAPS :r", "--bind", "r=\(region)", "--format", "json"])
            let inline = try runButler(["query-data-ids", repo, "visit", "--where", "visit.region OVERLAPS \(region)", "--format", "json"])
            #expect(bound.exitCode == 0 && inline.exitCode == 0, "\(region): \(bound.stderr) \(inline.stderr)")
            #expect(bound.stdout == inline.stdout, "\(region): bound \(bound.stdout), inline \(inline.stdout)")
        }
    }

    @Test("a malformed typed bind is refused with the value and the reason, exit non-zero")
    func malformedTypedBind() throws {
        let repo = try ourRepo.get()
        for (value, reason) in [("T'garbage'", "invalid time literal"), ("UUID('xyz')", "invalid UUID"), ("CIRCLE(0, 0)", "CIRCLE takes three numbers"),
                                ("(T'2021-01-01', 3)", "timespan")] {
            let done = try runButler(["query-data-ids", repo, "visit", "--where", "visit.timespan OVERLAPS :v", "--bind", "v=\(value)"])
            #expect(done.exitCode != 0, "\(value) accepted")
            #expect(done.stderr.contains(value) && done.stderr.contains(reason), "\(value): \(done.stderr)")
        }
    }

    @Test("the library binds typed values: BindValue.time, .timespan, .uuid, .region")
    func libraryTypedBinds() throws {
        let butler = try Butler(repository: try ourRepo.get())
        func visits(_ expression: String, _ value: BindValue) throws -> [String] {
            var query = DimensionQuery()
            query.where = expression
            query.binds = ["v": value]
            return try butler.registry.queryDataIDs(["visit"], query).1.map { "\($0["visit"]!)" }.sorted()
        }
        let t = TAITime(year: 2021, month: 9, day: 9, hour: 3, minute: 2, scale: .tai)
        #expect(try visits("visit.timespan OVERLAPS :v", .time(t)) == visits("visit.timespan OVERLAPS T'2021-09-09T03:02:00'", .integer(0)))
        #expect(try visits("visit.timespan OVERLAPS :v", .timespan(begin: t, end: nil)) == visits("visit.timespan OVERLAPS (T'2021-09-09T03:02:00', NULL)", .integer(0)))
        #expect(try visits("visit.region OVERLAPS :v", .region([try SkyRegion.circle(ra: 0, dec: 0, radius: 1)])) == ["1", "2"])
        #expect(try visits("visit.region OVERLAPS :v", .region([try SkyRegion.circle(ra: 180, dec: 0, radius: 1)])) == [])
        var q = DatasetQuery()
        q.datasetTypes = ["bias"]
        q.collections = ["imported_g"]
        q.where = "dataset_id = :v"
        q.binds = ["v": .uuid(UUID(uuidString: "e15ab039-bc8b-4135-87c5-90902a7c0b22")!)]
        #expect(try butler.registry.queryDatasets(q).datasets.map { $0.ref.id.lowercasedString } == ["e15ab039-bc8b-4135-87c5-90902a7c0b22"])
    }
}

// MARK: - The questions

private struct Question: Sendable {
    let key: String
    let rubin: [String: any Sendable]
    let ours: [String]
}

private let visit1 = "instrument = 'Cam1' AND visit = 1"
private let overlapsT = "visit.timespan OVERLAPS :t"
private let uuid1 = "e15ab039-bc8b-4135-87c5-90902a7c0b22", uuid2 = "51352db4-a47a-447c-b12d-a50b206b17cd"

private let questions: [Question] = [
    Question(key: "htm7-visit1", rubin: ["kind": "data_ids", "dimensions": ["htm7"], "where": visit1], ours: ["query-data-ids", "REPO", "htm7", "--where", visit1]),
    Question(key: "visit+htm7", rubin: ["kind": "data_ids", "dimensions": ["visit", "htm7"]], ours: ["query-data-ids", "REPO", "visit", "htm7"]),
    Question(key: "visit+detector+htm7", rubin: ["kind": "data_ids", "dimensions": ["visit", "detector", "htm7"]],
             ours: ["query-data-ids", "REPO", "visit", "detector", "htm7"]),
    Question(key: "htm7-alone", rubin: ["kind": "data_ids", "dimensions": ["htm7"]], ours: ["query-data-ids", "REPO", "htm7"]),
    Question(key: "htm7-pixel-alone", rubin: ["kind": "data_ids", "dimensions": ["htm7"], "where": "htm7 = 253954"],
             ours: ["query-data-ids", "REPO", "htm7", "--where", "htm7 = 253954"]),
    Question(key: "healpix8-visit1", rubin: ["kind": "data_ids", "dimensions": ["healpix8"], "where": visit1], ours: ["query-data-ids", "REPO", "healpix8", "--where", visit1]),
    Question(key: "htm9-tract0", rubin: ["kind": "data_ids", "dimensions": ["htm9"], "where": "skymap = 'SkyMap1' AND tract = 0"],
             ours: ["query-data-ids", "REPO", "htm9", "--where", "skymap = 'SkyMap1' AND tract = 0"]),
    Question(key: "bind-time", rubin: ["kind": "data_ids", "dimensions": ["visit"], "where": overlapsT, "bind": ["t": ["time": "2021-09-09T03:02:00"]]],
             ours: ["query-data-ids", "REPO", "visit", "--where", overlapsT, "--bind", "t=T'2021-09-09T03:02:00'"]),
    Question(key: "bind-timespan", rubin: ["kind": "data_ids", "dimensions": ["visit"], "where": overlapsT,
                                           "bind": ["t": ["timespan": ["2021-09-09T03:00:00", "2021-09-09T03:01:00"]]]],
             ours: ["query-data-ids", "REPO", "visit", "--where", overlapsT, "--bind", "t=(T'2021-09-09T03:00:00', T'2021-09-09T03:01:00')"]),
    Question(key: "bind-open-timespan", rubin: ["kind": "data_ids", "dimensions": ["visit"], "where": overlapsT,
                                                "bind": ["t": ["timespan": ["2021-09-09T03:02:00", NSNull()] as [any Sendable]]]],
             ours: ["query-data-ids", "REPO", "visit", "--where", overlapsT, "--bind", "t=(T'2021-09-09T03:02:00', NULL)"]),
    Question(key: "bind-uuid", rubin: ["kind": "datasets", "dataset_type": "bias", "collections": ["imported_g"], "where": "dataset_id = :u",
                                       "bind": ["u": ["uuid": uuid1]]],
             ours: ["query-datasets", "REPO", "bias", "--collections", "imported_g", "--where", "dataset_id = :u", "--bind", "u=UUID('\(uuid1)')"]),
    Question(key: "bind-uuid-list", rubin: ["kind": "datasets", "dataset_type": "bias", "collections": ["imported_g"], "where": "dataset_id IN (:u, :w)",
                                            "bind": ["u": ["uuid": uuid1], "w": ["uuid": uuid2]]],
             ours: ["query-datasets", "REPO", "bias", "--collections", "imported_g", "--where", "dataset_id IN (:u, :w)",
                    "--bind", "u=UUID('\(uuid1)')", "--bind", "w=UUID('\(uuid2)')"]),
    Question(key: "bind-circle", rubin: ["kind": "data_ids", "dimensions": ["visit"], "where": "visit.region OVERLAPS :c", "bind": ["c": ["circle": [0, 0, 1]]]],
             ours: ["query-data-ids", "REPO", "visit", "--where", "visit.region OVERLAPS :c", "--bind", "c=CIRCLE(0, 0, 1)"]),
    Question(key: "bind-circle-far", rubin: ["kind": "data_ids", "dimensions": ["visit"], "where": "visit.region OVERLAPS :c", "bind": ["c": ["circle": [180, 45, 1]]]],
             ours: ["query-data-ids", "REPO", "visit", "--where", "visit.region OVERLAPS :c", "--bind", "c=CIRCLE(180, 45, 1)"]),
]

// MARK: - Rubin's side

private let registryData = packageRoot.appendingPathComponent(
    ".build/rubin-venv/lib/python3.11/site-packages/lsst/daf/butler/tests/registry_data").path
private let rubinPython = packageRoot.appendingPathComponent(".build/rubin-venv/bin/python").path
private let rubinRoot = TemporaryDirectory("rubin-binds-skypix")

private func rubinAnswers() throws -> [String: [String: Any]] {
    let text = try rubinAnswersJSON.get()
    let answers = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] ?? []
    return Dictionary(uniqueKeysWithValues: zip(questions.map(\.key), answers))
}

/// Rubin's answers, made once (Rubin takes a few seconds).
private let rubinAnswersJSON: Result<String, any Error> = Result {
    atexit { try? FileManager.default.removeItem(at: rubinRoot.url) }
    guard FileManager.default.isExecutableFile(atPath: rubinPython) else {
        throw ButlerError(.notFound, "\(rubinPython) is missing: run make rubin-venv (Rubin's butler for these tests)")
    }
    let input = try JSONSerialization.data(withJSONObject: questions.map { $0.rubin })
    let done = try runProcess(rubinPython, [packageRoot.appendingPathComponent("scripts/rubin/registry_data_queries.py").path, rubinRoot.path("repo")]
                              + ["base.yaml", "spatial.yaml", "datasets.yaml"].map { registryData + "/" + $0 },
                              stdin: String(decoding: input, as: UTF8.self))
    guard done.exitCode == 0, let answers = try JSONSerialization.jsonObject(with: Data(done.stdout.utf8)) as? [[String: Any]],
          answers.count == questions.count else {
        throw ButlerError(.invalidValue, "registry_data_queries.py failed:\n\(done.stderr)")
    }
    return done.stdout
}

// MARK: - Our side

private let ourDirectory = TemporaryDirectory("binds-skypix-ours")
private let ourRepo: Result<String, any Error> = Result {
    let repo = ourDirectory.path("repo")
    let created = try runButler(try createArguments(repo))
    guard created.exitCode == 0 else { throw ButlerError(.invalidValue, "butler create: \(created.stderr)") }
    for file in ["base.yaml", "spatial.yaml", "datasets.yaml"] {
        let imported = try runButler(["import", repo, registryData, "--export-file", registryData + "/" + file]
                                     + (file == "datasets.yaml" ? ["--without-datastore"] : []))
        guard imported.exitCode == 0 else { throw ButlerError(.invalidValue, "butler import \(file): \(imported.stderr)") }
    }
    return repo
}

/// Asks our butler the question and compares its rows with Rubin's, as sets (see ``expectSameRowsAsRubin``).
private func expectSameRows(_ key: String, rubin: [String: [String: Any]], repo: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let question = try #require(questions.first { $0.key == key }, sourceLocation: sourceLocation)
    try expectSameRowsAsRubin(key, arguments: question.ours, rubin: rubin, repo: repo, sourceLocation: sourceLocation)
}
