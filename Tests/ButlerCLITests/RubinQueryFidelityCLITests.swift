import Foundation
import Testing
import ButlerKit
import ButlerTestSupport

/// Rubin's butler (lsst-daf-butler in `.build/rubin-venv`) answers query questions over its own registry test data
/// (`registry_data/base.yaml`, `spatial.yaml`, `datasets.yaml`, loaded registry-only), at test time, through
/// scripts/rubin/registry_data_queries.py; our butler imports the same files and must give the same answers (as sets
/// of rows, lists where ordered).
@Suite("Rubin's answers to queries over its registry test data (issue 28)", .serialized)
struct RubinQueryFidelityCLITests {
    // MARK: Item 1: spatial joins

    @Test("visit x tract, visit x detector x patch, tract x visit: Rubin's rows, no region left out at import",
          arguments: ["visit+tract", "visit+detector+patch", "tract0+visit"])
    func spatialJoins(_ key: String) throws {
        let rubin = try sharedRubinAnswers.get()
        try expectSameRows(key, rubin: rubin, repo: try sharedOurRepos.get().full)
    }

    @Test("importing spatial.yaml indexes every region (vertices 1.5e-15 apart are one vertex, as in sphgeom)")
    func spatialImportIndexesEveryRegion() throws {
        let dir = TemporaryDirectory("rubin-spatial")
        let repo = dir.path("repo")
        try #require(try runButler(try createArguments(repo)).exitCode == 0)
        for file in ["base.yaml", "spatial.yaml"] {
            let imported = try runButler(["import", repo, registryData, "--export-file", registryData + "/" + file])
            try #require(imported.exitCode == 0, "\(imported.stderr)")
            #expect(!imported.stderr.contains("region not indexed"), "\(file): \(imported.stderr)")
        }
    }

    @Test("a spatial query over an element with a region this butler cannot read is refused, naming the record")
    func unreadRegionRefusesSpatialQueries() throws {
        let dir = TemporaryDirectory("rubin-unread")
        let repo = dir.path("repo")
        try #require(try runButler(try createArguments(repo)).exitCode == 0)
        for file in ["base.yaml", "spatial.yaml"] {
            try #require(try runButler(["import", repo, registryData, "--export-file", registryData + "/" + file]).exitCode == 0)
        }
        // Visit 3: visit 1's region with its vertices in clockwise order, which is not a convex polygon here.
        let spatial = try String(contentsOfFile: registryData + "/spatial.yaml", encoding: .utf8)
        let encodings = spatial.split(separator: "\n").compactMap { line -> String? in
            let t = line.trimmingCharacters(in: .whitespaces)
            return t.hasPrefix("encoded: ") ? String(t.dropFirst("encoded: ".count)) : nil
        }
        let hex = Array(encodings[0].utf8)
        var vertices: [String] = []
        var i = 2
        while i + 48 <= hex.count { vertices.append(String(decoding: hex[i..<(i + 48)], as: UTF8.self)); i += 48 }
        let reversed = "70" + vertices.reversed().joined()
        let export = """
            description: Butler Data Repository Export
            version: 1.0.2
            universe_version: 7
            universe_namespace: daf_butler
            data:
            - type: dimension
              element: visit
              records:
              - physical_filter: Cam1-G
                day_obs: 20210909
                instrument: Cam1
                id: 3
                name: '3'
                region: !<lsst.sphgeom.ConvexPolygon>
                  encoded: \(reversed)

            """
        try export.write(toFile: dir.path("visit3.yaml"), atomically: true, encoding: .utf8)
        let imported = try runButler(["import", repo, dir.path(""), "--export-file", dir.path("visit3.yaml")])
        try #require(imported.exitCode == 0, "\(imported.stderr)")
        let joined = try runButler(["query-data-ids", repo, "visit", "tract"])
        #expect(joined.exitCode == 1)
        #expect(joined.stderr.contains("cannot answer this spatial query") && joined.stderr.contains("visit instrument=Cam1, visit=3"), "\(joined.stderr)")
        let circle = try runButler(["query-data-ids", repo, "visit", "--where", "visit.region OVERLAPS CIRCLE(0, 0, 1)"])
        #expect(circle.exitCode == 1, "\(circle.stdout)")
        // A query that tests no region is answered.
        #expect(try runButler(["query-data-ids", repo, "visit"]).exitCode == 0)
    }

    // MARK: Item 2: band in a query of a calibration type

    @Test("bias with band = 'r' over base.yaml and datasets.yaml: every bias, as Rubin (band relates to nothing in bias)")
    func calibrationBand() throws {
        let rubin = try sharedRubinAnswers.get()
        try expectSameRows("bias-band-r", rubin: rubin, repo: try sharedOurRepos.get().withoutSpatial)
        try expectSameRows("bias-band-r", rubin: rubin, repo: try sharedOurRepos.get().full)
        try expectSameRows("bias-band-x", rubin: rubin, repo: try sharedOurRepos.get().withoutSpatial)
        try expectSameRows("bias-physical-filter", rubin: rubin, repo: try sharedOurRepos.get().withoutSpatial)
    }

    // MARK: Item 3: GLOB

    @Test("GLOB has only * and ? (brackets are plain characters), as Rubin's", arguments: ["glob-brackets", "glob-question", "glob-class", "glob-star", "glob-escaped"])
    func glob(_ key: String) throws {
        try expectSameRows(key, rubin: try sharedRubinAnswers.get(), repo: try sharedOurRepos.get().full)
    }

    // MARK: Item 11: queries Rubin answers

    @Test("no dimensions: one row with no columns")
    func noDimensions() throws {
        try expectSameRows("no-dimensions", rubin: try sharedRubinAnswers.get(), repo: try sharedOurRepos.get().full)
        let table = try runButler(["query-data-ids", try sharedOurRepos.get().full])
        #expect(table.exitCode == 0)
        #expect(table.stdout.contains("Result has one logical row but no columns because no dimensions were requested."))
    }

    @Test("an unknown dataset type: an empty result and Rubin's message, not an error")
    func unknownDatasetType() throws {
        let rubin = try sharedRubinAnswers.get()
        let answer = try #require(rubin["unknown-type"])
        let message = try #require(answer["error"] as? String, "Rubin's API refuses it (its CLI then prints nothing)")
        let ours = try runButler(["query-datasets", try sharedOurRepos.get().full, "nosuch", "--collections", "imported_g"])
        #expect(ours.exitCode == 0, "\(ours.stderr)")
        #expect(ours.stdout.isEmpty)
        #expect(message.contains("Dataset type 'nosuch' does not exist.") && ours.stderr.contains("Dataset type 'nosuch' does not exist."), "\(ours.stderr)")
    }

    @Test("records constrained by a dataset type with more dimensions (detector by flat)")
    func recordsByWiderDatasetType() throws {
        try expectSameRows("detector-by-flat", rubin: try sharedRubinAnswers.get(), repo: try sharedOurRepos.get().full)
    }

    @Test("--order-by an unqualified field (visit by exposure_time), in Rubin's order")
    func unqualifiedOrderBy() throws {
        try expectSameRows("visit-by-exposure-time", rubin: try sharedRubinAnswers.get(), repo: try sharedOurRepos.get().full, ordered: true)
        try expectSameRows("visit-by-minus-exposure-time", rubin: try sharedRubinAnswers.get(), repo: try sharedOurRepos.get().full, ordered: true)
    }
}

// MARK: - The questions

/// One question, asked of both butlers.
private struct Question: Sendable {
    let key: String
    /// For registry_data_queries.py.
    let rubin: [String: any Sendable]
    /// Our command line after `butler`, with REPO where the repository goes.
    let ours: [String]
}

private let cam1 = "instrument = 'Cam1'"
private let calibrations = ["imported_g", "imported_r"]

private let questions: [Question] = [
    Question(key: "visit+tract", rubin: ["kind": "data_ids", "dimensions": ["visit", "tract"]], ours: ["query-data-ids", "REPO", "visit", "tract"]),
    Question(key: "visit+detector+patch", rubin: ["kind": "data_ids", "dimensions": ["visit", "detector", "patch"]],
             ours: ["query-data-ids", "REPO", "visit", "detector", "patch"]),
    Question(key: "tract0+visit", rubin: ["kind": "data_ids", "dimensions": ["tract", "visit"], "where": "skymap = 'SkyMap1' AND tract = 0"],
             ours: ["query-data-ids", "REPO", "tract", "visit", "--where", "skymap = 'SkyMap1' AND tract = 0"]),
    Question(key: "bias-band-r", rubin: ["kind": "datasets", "dataset_type": "bias", "collections": calibrations, "where": "band = 'r'"],
             ours: ["query-datasets", "REPO", "bias", "--collections", calibrations.joined(separator: ","), "--where", "band = 'r'"]),
    Question(key: "bias-band-x", rubin: ["kind": "datasets", "dataset_type": "bias", "collections": calibrations, "where": "band = 'x'"],
             ours: ["query-datasets", "REPO", "bias", "--collections", calibrations.joined(separator: ","), "--where", "band = 'x'"]),
    Question(key: "bias-physical-filter", rubin: ["kind": "datasets", "dataset_type": "bias", "collections": calibrations,
                                                  "where": "\(cam1) AND physical_filter = 'Cam1-R2'"],
             ours: ["query-datasets", "REPO", "bias", "--collections", calibrations.joined(separator: ","), "--where", "\(cam1) AND physical_filter = 'Cam1-R2'"]),
    Question(key: "glob-brackets", rubin: ["kind": "records", "element": "detector", "where": "\(cam1) AND GLOB(full_name, 'A[ab]')"],
             ours: ["query-dimension-records", "REPO", "detector", "--where", "\(cam1) AND GLOB(full_name, 'A[ab]')"]),
    Question(key: "glob-question", rubin: ["kind": "records", "element": "detector", "where": "\(cam1) AND GLOB(full_name, 'A?')"],
             ours: ["query-dimension-records", "REPO", "detector", "--where", "\(cam1) AND GLOB(full_name, 'A?')"]),
    Question(key: "glob-class", rubin: ["kind": "records", "element": "detector", "where": "\(cam1) AND GLOB(full_name, '[!A]?')"],
             ours: ["query-dimension-records", "REPO", "detector", "--where", "\(cam1) AND GLOB(full_name, '[!A]?')"]),
    Question(key: "glob-star", rubin: ["kind": "records", "element": "detector", "where": "\(cam1) AND GLOB(full_name, '*b')"],
             ours: ["query-dimension-records", "REPO", "detector", "--where", "\(cam1) AND GLOB(full_name, '*b')"]),
    Question(key: "glob-escaped", rubin: ["kind": "records", "element": "detector", "where": "\(cam1) AND GLOB(full_name, 'A\\\\?')"],
             ours: ["query-dimension-records", "REPO", "detector", "--where", "\(cam1) AND GLOB(full_name, 'A\\\\?')"]),
    Question(key: "no-dimensions", rubin: ["kind": "data_ids", "dimensions": [String]()], ours: ["query-data-ids", "REPO"]),
    Question(key: "unknown-type", rubin: ["kind": "datasets", "dataset_type": "nosuch", "collections": ["imported_g"]], ours: []),
    Question(key: "detector-by-flat", rubin: ["kind": "records", "element": "detector", "datasets": "flat", "collections": ["imported_g"]],
             ours: ["query-dimension-records", "REPO", "detector", "--datasets", "flat", "--collections", "imported_g"]),
    Question(key: "visit-by-exposure-time", rubin: ["kind": "data_ids", "dimensions": ["visit"], "order_by": ["exposure_time"]],
             ours: ["query-data-ids", "REPO", "visit", "--order-by", "exposure_time"]),
    Question(key: "visit-by-minus-exposure-time", rubin: ["kind": "data_ids", "dimensions": ["visit"], "order_by": ["-exposure_time"]],
             ours: ["query-data-ids", "REPO", "visit", "--order-by=-exposure_time"]),
]

// MARK: - Rubin's side

private let registryData = packageRoot.appendingPathComponent(
    ".build/rubin-venv/lib/python3.11/site-packages/lsst/daf/butler/tests/registry_data").path
private let rubinPython = packageRoot.appendingPathComponent(".build/rubin-venv/bin/python").path
private let rubinAnswersRoot = TemporaryDirectory("rubin-query-answers")

/// Rubin's answer to each question, by key: {"rows": [...], "messages": [...]} or {"error": "..."}.
private enum SharedRubinAnswers {
    static func get() throws -> [String: [String: Any]] {
        let text = try rubinAnswersJSON.get()
        let answers = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] ?? []
        return Dictionary(uniqueKeysWithValues: zip(questions.map(\.key), answers))
    }
}
private let sharedRubinAnswers = SharedRubinAnswers.self

/// Rubin's answers as the script printed them (made once: Rubin takes a few seconds).
private let rubinAnswersJSON: Result<String, any Error> = Result {
    atexit { try? FileManager.default.removeItem(at: rubinAnswersRoot.url) }
    guard FileManager.default.isExecutableFile(atPath: rubinPython) else {
        throw ButlerError(.notFound, "\(rubinPython) is missing: run make rubin-venv (Rubin's butler for these tests)")
    }
    let input = try JSONSerialization.data(withJSONObject: questions.map { $0.rubin })
    let done = try runProcess(rubinPython, [packageRoot.appendingPathComponent("scripts/rubin/registry_data_queries.py").path,
                                            rubinAnswersRoot.path("repo")] + ["base.yaml", "spatial.yaml", "datasets.yaml"].map { registryData + "/" + $0 },
                              stdin: String(decoding: input, as: UTF8.self))
    guard done.exitCode == 0, let answers = try JSONSerialization.jsonObject(with: Data(done.stdout.utf8)) as? [[String: Any]],
          answers.count == questions.count else {
        throw ButlerError(.invalidValue, "registry_data_queries.py failed:\n\(done.stderr)")
    }
    return done.stdout
}

// MARK: - Our side

/// Our repositories: `full` holds base, spatial and datasets; `withoutSpatial` base and datasets (so that nothing
/// relates a detector to a filter).
private struct OurRepos: Sendable {
    let directory: TemporaryDirectory
    let full: String
    let withoutSpatial: String
}

private let sharedOurRepos: Result<OurRepos, any Error> = Result {
    let dir = TemporaryDirectory("rubin-query-ours")
    func make(_ name: String, _ files: [String]) throws -> String {
        let repo = dir.path(name)
        let created = try runButler(try createArguments(repo))
        guard created.exitCode == 0 else { throw ButlerError(.invalidValue, "butler create: \(created.stderr)") }
        for file in files {
            let imported = try runButler(["import", repo, registryData, "--export-file", registryData + "/" + file]
                                         + (file == "datasets.yaml" ? ["--without-datastore"] : []))
            guard imported.exitCode == 0 else { throw ButlerError(.invalidValue, "butler import \(file): \(imported.stderr)") }
        }
        return repo
    }
    return OurRepos(directory: dir, full: try make("full", ["base.yaml", "spatial.yaml", "datasets.yaml"]),
                    withoutSpatial: try make("plain", ["base.yaml", "datasets.yaml"]))
}

/// Asks our butler the question and compares its rows with Rubin's answer (see ``expectSameRowsAsRubin``).
private func expectSameRows(_ key: String, rubin: [String: [String: Any]], repo: String, ordered: Bool = false,
                            sourceLocation: SourceLocation = #_sourceLocation) throws {
    let question = try #require(questions.first { $0.key == key }, sourceLocation: sourceLocation)
    try expectSameRowsAsRubin(key, arguments: question.ours, rubin: rubin, repo: repo, ordered: ordered, sourceLocation: sourceLocation)
}
