import Foundation
import Testing
import ButlerKit
import ButlerTestSupport

/// Questions of Rubin's registry tests that our butler answered wrongly (a crash, an SQLite error, a refused bind, an
/// ignored empty ORDER BY, the visit's region used for a detector), over Rubin's own registry test exports. Rubin's
/// answers themselves are compared in RubinRegistryQuestionsTests; these check the shape of ours.
@Suite("Fixes from Rubin's registry test questions", .serialized)
struct RubinQuestionFixesCLITests {
    /// A repository holding base.yaml, datasets.yaml and spatial.yaml, registry-only, as Rubin's tests load them.
    private func repository(_ dir: TemporaryDirectory) throws -> String {
        let repo = dir.path("repo")
        let created = try runButler(try createArguments(repo))
        try #require(created.exitCode == 0, "\(created.stderr)")
        for file in ["base.yaml", "datasets.yaml", "spatial.yaml"] {
            let imported = try runButler(["import", repo, registryData, "--export-file", registryData + "/" + file, "--without-datastore"])
            try #require(imported.exitCode == 0, "import of \(file) failed: \(imported.stderr)")
        }
        return repo
    }

    @Test("data IDs with --datasets of a type with other dimensions: no crash, and only the dimensions asked for")
    func datasetDimensionsJoinedNotShown() throws {
        let dir = TemporaryDirectory("question-fixes-datasets")
        let repo = try repository(dir)
        // flat has physical_filter, which a visit implies: it was unwrapped as a required dimension and crashed.
        let visits = try runButler(["query-data-ids", repo, "visit", "detector", "--datasets", "flat", "--collections", "imported_r",
                                    "--where", "instrument='Cam1'", "--format", "json"])
        #expect(visits.exitCode == 0, "\(visits.stderr)")
        let visitRows = try rows(visits.stdout)
        #expect(!visitRows.isEmpty)
        // The flat's filter is the visit's: every row's physical_filter is one a flat of that detector has.
        let flats = try rows(try runButler(["query-datasets", repo, "flat", "--collections", "imported_r", "--format", "json"]).stdout)
        let flatKeys = Set(flats.compactMap { row -> String? in
            guard let id = row["data_id"] as? [String: Any] else { return nil }
            return "\(id["detector"] ?? "")/\(id["physical_filter"] ?? "")"
        })
        for row in visitRows {
            #expect(flatKeys.contains("\(row["detector"] ?? "")/\(row["physical_filter"] ?? "")"), "\(row) has no flat")
        }
        // tract and detector over flats: the flats' physical_filter and band constrain, but are not in the data IDs.
        let tracts = try runButler(["query-data-ids", repo, "tract", "detector", "--datasets", "flat", "--collections", "imported_r",
                                    "--where", "instrument='Cam1' AND skymap='SkyMap1'", "--order-by", "tract,detector", "--format", "json"])
        #expect(tracts.exitCode == 0, "\(tracts.stderr)")
        let tractRows = try rows(tracts.stdout)
        #expect(!tractRows.isEmpty)
        for row in tractRows {
            #expect(Set(row.keys) == ["instrument", "skymap", "tract", "detector"], "\(row)")
        }
        let pairs = tractRows.map { "\($0["tract"] ?? "")/\($0["detector"] ?? "")" }
        #expect(pairs.count == Set(pairs).count, "each (tract, detector) once: \(pairs)")
    }

    @Test("GLOB with '*' (literal or bound) matches every row, and --bind pattern= binds the empty string")
    func globStarAndEmptyBind() throws {
        let dir = TemporaryDirectory("question-fixes-glob")
        let repo = try repository(dir)
        let all = try rows(try runButler(["query-dimension-records", repo, "detector", "--where", "instrument='Cam1'", "--format", "json"]).stdout)
        #expect(!all.isEmpty)
        for arguments in [["--where", "instrument='Cam1' AND GLOB(full_name, '*')"],
                          ["--where", "instrument='Cam1' AND GLOB(full_name, :pattern)", "--bind", "pattern=*"],
                          ["--where", "GLOB(instrument, '?a*1') AND GLOB(full_name, '*')"]] {
            let result = try runButler(["query-dimension-records", repo, "detector"] + arguments + ["--format", "json"])
            #expect(result.exitCode == 0, "\(arguments): \(result.stderr)")
            #expect(try rows(result.stdout).count == all.count, "\(arguments)")
        }
        let empty = try runButler(["query-dimension-records", repo, "detector", "--where", "instrument='Cam1' AND GLOB(full_name, :pattern)",
                                   "--bind", "pattern=", "--format", "json"])
        #expect(empty.exitCode == 0, "\(empty.stderr)")
        #expect(try rows(empty.stdout).isEmpty)
        // `=value` still has no name.
        let nameless = try runButler(["query-dimension-records", repo, "detector", "--bind", "=x"])
        #expect(nameless.exitCode != 0)
    }

    @Test("--order-by '' is refused on one line naming --order-by, as Rubin refuses an empty ORDER BY name")
    func emptyOrderByRefused() throws {
        let dir = TemporaryDirectory("question-fixes-order")
        let repo = try repository(dir)
        for arguments in [["query-dimension-records", repo, "detector", "--where", "instrument='Cam1'", "--order-by", ""],
                          ["query-data-ids", repo, "visit", "tract", "--where", "instrument='Cam1' AND skymap='SkyMap1'", "--order-by", ""],
                          ["query-data-ids", repo, "visit", "--where", "instrument='Cam1'", "--order-by", "visit,"]] {
            let result = try runButler(arguments)
            #expect(result.exitCode == 1, "\(arguments): \(result.stdout)")
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].contains("--order-by") && lines[0].contains("empty"), "\(result.stderr)")
            #expect(result.stdout.isEmpty)
        }
    }

    @Test("the patches of a visit and a detector are those the detector's region overlaps, not all of the visit's")
    func patchesOfVisitDetector() throws {
        let dir = TemporaryDirectory("question-fixes-spatial")
        let repo = try repository(dir)
        for (visit, detector) in [(1, 1), (2, 4)] {
            let ofVisit = try patchSet(repo, "instrument='Cam1' AND visit=\(visit)")
            let ofDetector = try patchSet(repo, "instrument='Cam1' AND visit=\(visit) AND detector=\(detector)")
            let reversed = try patchSet(repo, "detector=\(detector) AND instrument='Cam1' AND visit=\(visit)")
            // The same as asking with the visit, detector and patch dimensions (related through visit_detector_region).
            let joined = try rows(try runButler(["query-data-ids", repo, "visit", "detector", "patch", "--where",
                                                 "instrument='Cam1' AND visit=\(visit) AND detector=\(detector)", "--format", "json"]).stdout)
            let expected = Set(joined.map { "\($0["tract"] ?? "")/\($0["patch"] ?? "")" })
            #expect(!ofDetector.isEmpty)
            #expect(ofDetector == expected, "visit \(visit) detector \(detector): \(ofDetector.sorted()) vs \(expected.sorted())")
            #expect(reversed == ofDetector)
            #expect(ofDetector.isSubset(of: ofVisit) && ofDetector.count < ofVisit.count, "\(ofDetector.sorted()) of \(ofVisit.sorted())")
        }
    }

    private func patchSet(_ repo: String, _ whereText: String) throws -> Set<String> {
        let result = try runButler(["query-data-ids", repo, "patch", "--where", whereText, "--format", "json"])
        try #require(result.exitCode == 0, "\(whereText): \(result.stderr)")
        return Set(try rows(result.stdout).map { "\($0["tract"] ?? "")/\($0["patch"] ?? "")" })
    }

    @Test("find-dataset that finds nothing exits 1 with the one line the Rubin comparison reads as Rubin's None")
    func findDatasetNotFound() throws {
        let dir = TemporaryDirectory("question-fixes-find")
        let repo = try repository(dir)
        let result = try runButler(["find-dataset", repo, "bias:detector=4,instrument=Cam1", "--collections", "imported_g", "--format", "json"])
        #expect(result.exitCode == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.hasPrefix("butler: error: no 'bias' dataset with "), "\(result.stderr)")
        // The normalization of scripts/rubin/registry_questions.py turns exactly that into None, and nothing else.
        let raw: [String: Any] = [
            "q-missing": ["exit": 1, "stdout": "", "stderr": result.stderr],
            "q-other": ["exit": 1, "stdout": "", "stderr": "butler: error: no dataset type named 'bias'\n"],
        ]
        let questions: [String: Any] = ["export_sets": ["base": ["base.yaml"]], "questions": [
            ["id": "q-missing", "exports": "base", "kind": "find-dataset", "dataset_type": "bias", "collections": ["imported_g"],
             "data_id": ["instrument": "Cam1", "detector": 4]],
            ["id": "q-other", "exports": "base", "kind": "find-dataset", "dataset_type": "bias", "collections": ["imported_g"],
             "data_id": ["instrument": "Cam1", "detector": 4]],
        ]]
        let questionsPath = dir.path("questions.json"), rawPath = dir.path("raw.json"), outPath = dir.path("out.json")
        try JSONSerialization.data(withJSONObject: questions).write(to: URL(fileURLWithPath: questionsPath))
        try JSONSerialization.data(withJSONObject: raw).write(to: URL(fileURLWithPath: rawPath))
        let python = packageRoot.appendingPathComponent(".build/rubin-venv/bin/python").path
        let script = packageRoot.appendingPathComponent("scripts/rubin/registry_questions.py").path
        let normalized = try runProcess(python, [script, "ours", questionsPath, rawPath, outPath])
        try #require(normalized.exitCode == 0, "\(normalized.stderr)")
        let answers = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: outPath))) as? [String: [String: Any]]
        #expect(answers?["q-missing"]?["answer"] as? String == "null")
        #expect(answers?["q-missing"]?["refused"] as? Bool == false)
        #expect(answers?["q-other"]?["refused"] as? Bool == true)
    }
}

private let registryData = packageRoot.appendingPathComponent(
    ".build/rubin-venv/lib/python3.11/site-packages/lsst/daf/butler/tests/registry_data").path

private func rows(_ text: String) throws -> [[String: Any]] {
    let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
    guard !trimmed.isEmpty else { return [] }
    return try JSONSerialization.jsonObject(with: Data(trimmed.utf8)) as? [[String: Any]] ?? []
}
