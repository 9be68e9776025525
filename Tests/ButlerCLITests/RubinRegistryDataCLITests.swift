import Foundation
import Testing
import ButlerKit
import ButlerTestSupport

/// Rubin's registry test data (`lsst/daf/butler/tests/registry_data/*.yaml` in the test venv) loads here as Rubin's
/// registry test suite loads it (`without_datastore=True`), and holds what Rubin's registry holds after the same
/// imports: Rubin's answer is computed at test time by scripts/rubin/registry_only_counts.py.
@Suite("Rubin's registry_data exports, imported registry-only", .serialized)
struct RubinRegistryDataCLITests {
    /// Each file with the files Rubin's tests load before it.
    static let chains: [[String]] = [
        ["base.yaml"],
        ["base.yaml", "datasets.yaml"],
        ["base.yaml", "spatial.yaml"],
        ["ci_hsc-subset.yaml"],
        ["ci_hsc-subset.yaml", "ci_hsc-subset-skymap.yaml"],
        ["hsc-rc2-subset-v0.yaml"],
        ["lsstcam-subset.yaml"],
        // Rubin's test export kept outside the package (Fixtures/rubin, from lsst/daf_butler's tests/data/registry).
        ["rubin/hsc-rc2-subset.yaml"],
    ]

    /// The folder and file name of an export: registry_data's, or one of Fixtures/ for a name with a folder.
    static func location(_ file: String) -> (folder: String, file: String, rubinPath: String) {
        guard file.contains("/") else { return (registryData, file, file) }
        let path = fixturesDirectory.appendingPathComponent(file)
        return (path.deletingLastPathComponent().path, path.lastPathComponent, path.path)
    }

    @Test("every registry_data export loads with --without-datastore and holds what Rubin's registry holds", arguments: chains)
    func loadsAsRubin(_ files: [String]) throws {
        // Every file of the folder is in some chain.
        let present = try FileManager.default.contentsOfDirectory(atPath: registryData).filter { $0.hasSuffix(".yaml") }
        #expect(Set(present) == Set(Self.chains.flatMap { $0 }.filter { !$0.contains("/") }), "registry_data has \(present.sorted())")

        let dir = TemporaryDirectory("registry-data")
        let repo = dir.path("repo")
        try #require(try runButler(try createArguments(repo)).exitCode == 0)
        for file in files {
            let (folder, name, _) = Self.location(file)
            let imported = try runButler(["import", repo, folder, "--export-file", name, "--without-datastore"])
            try #require(imported.exitCode == 0, "import of \(file) failed: \(imported.stderr)")
            #expect(imported.stdout.contains("in the registry only"), "\(imported.stdout)")
        }
        let rubin = try rubinRegistry(files.map { Self.location($0).rubinPath }, in: dir)

        // Datasets per dataset type (each dataset once, over every collection).
        let datasets = try jsonRows(try runButler(["query-datasets", repo, "--format", "json"]))
        var ours: [String: Set<String>] = [:]
        for row in datasets {
            if let type = row["dataset_type"] as? String, let id = row["id"] as? String { ours[type, default: []].insert(id) }
        }
        #expect(ours.mapValues(\.count) == rubin.datasets, "\(files): datasets per type here \(ours.mapValues(\.count)), Rubin's \(rubin.datasets)")

        // Dataset types, declared ones without datasets too (base.yaml's bias and flat), with their storage classes.
        let types = try jsonRows(try runButler(["query-dataset-types", repo, "--format", "json"]))
        var ourTypes: [String: String] = [:]
        for row in types { if let name = row["name"] as? String { ourTypes[name] = row["storage_class"] as? String ?? "" } }
        #expect(ourTypes == rubin.datasetTypes, "\(files): dataset types here \(ourTypes), Rubin's \(rubin.datasetTypes)")

        // Collections and dimension records.
        let collections = try jsonRows(try runButler(["query-collections", repo, "--format", "json"]))
        let names = Set(collections.compactMap { $0["name"] as? String })
        #expect(names == Set(rubin.collections.keys), "\(files): collections here \(names.sorted()), Rubin's \(rubin.collections.keys.sorted())")
        for (element, count) in rubin.dimensionRecords {
            let rows = try jsonRows(try runButler(["query-dimension-records", repo, element, "--format", "json"]))
            #expect(rows.count == count, "\(files): \(element): \(rows.count) record(s) here, \(count) in Rubin's registry")
        }
    }

    @Test("without --without-datastore an export whose files are absent fails on one line naming the file; --dry-run says the same")
    func absentFilesFail() throws {
        let dir = TemporaryDirectory("registry-data-files")
        let repo = dir.path("repo")
        try #require(try runButler(try createArguments(repo)).exitCode == 0)
        let before = try registrySnapshot(repo)
        for dryRun in [false, true] {
            let result = try runButler(["import", repo, registryData, "--export-file", "ci_hsc-subset.yaml"] + (dryRun ? ["--dry-run"] : []))
            #expect(result.exitCode != 0, "dry run \(dryRun): \(result.stdout)")
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1, "\(result.stderr)")
            #expect(result.stderr.contains("HSC/runs/ci_hsc/20240806T180642Z/calexp/"), "\(result.stderr)")
            #expect(result.stderr.contains("is not in the export"), "\(result.stderr)")
            #expect(result.stderr.contains("--without-datastore"), "\(result.stderr)")
            #expect(!result.stdout.contains("Would have"), "\(result.stdout)")
        }
        // A registry-only dry run says so, and writes nothing either.
        let dry = try runButler(["import", repo, registryData, "--export-file", "ci_hsc-subset.yaml", "--dry-run", "--without-datastore"])
        #expect(dry.exitCode == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains("Would have imported 33 dataset(s) in the registry only (no files)"), "\(dry.stdout)")
        #expect(try registrySnapshot(repo) == before)
        // --without-datastore reads no file, so it transfers none.
        let moved = try runButler(["import", repo, registryData, "--export-file", "ci_hsc-subset.yaml", "--without-datastore", "-t", "move"])
        #expect(moved.exitCode != 0 && moved.stderr.contains("--without-datastore"), "\(moved.stderr)")
    }

    @Test("--dry-run checks the files as the import does: a file whose size is not the recorded one fails the dry run")
    func dryRunChecksFiles() throws {
        let dir = TemporaryDirectory("dry-run-files")
        let repo = dir.path("repo")
        try #require(try runButler(try createArguments(repo)).exitCode == 0)
        let export = dir.path("export")
        try FileManager.default.createDirectory(atPath: export, withIntermediateDirectories: true)
        try Data("0123456789".utf8).write(to: URL(fileURLWithPath: export + "/bias-1.txt"))
        func write(size: Int) throws {
            try """
            description: Butler Data Repository Export
            version: 1.0.2
            universe_version: 8
            universe_namespace: daf_butler
            data:
            - type: dimension
              element: instrument
              records:
              - {name: Cam1, visit_max: 1024, exposure_max: 512, detector_max: 4, class_name: lsst.pipe.base.Instrument, visit_system: 0}
            - type: dimension
              element: detector
              records:
              - {instrument: Cam1, id: 1, full_name: Aa, name_in_raft: a, raft: A, purpose: SCIENCE}
            - type: collection
              collection_type: RUN
              name: run1
              host: null
              timespan_begin: null
              timespan_end: null
            - type: dataset_type
              name: notes
              dimensions: [instrument, detector]
              storage_class: TextFile
              is_calibration: false
            - type: dataset
              dataset_type: notes
              run: run1
              records:
              - dataset_id: [!uuid 'e15ab039-bc8b-4135-87c5-90902a7c0b22']
                data_id: [{instrument: Cam1, detector: 1}]
                path: bias-1.txt
                file_size: \(size)

            """.write(toFile: export + "/export.yaml", atomically: true, encoding: .utf8)
        }
        let before = try registrySnapshot(repo)
        try write(size: 999)
        let bad = try runButler(["import", repo, export, "--dry-run"])
        #expect(bad.exitCode != 0, "\(bad.stdout)")
        #expect(bad.stderr.contains("bias-1.txt: size 10 bytes, but the source recorded 999"), "\(bad.stderr)")
        try write(size: 10)
        let good = try runButler(["import", repo, export, "--dry-run"])
        #expect(good.exitCode == 0, "\(good.stderr)")
        #expect(good.stdout.contains("Would have imported 1 dataset(s) in 1 file(s) (10 bytes)"), "\(good.stdout)")
        #expect(try registrySnapshot(repo) == before)
    }

    @Test("declared dataset types without datasets are kept (base.yaml's bias and flat)")
    func declaredTypesKept() throws {
        let dir = TemporaryDirectory("declared-types")
        let repo = dir.path("repo")
        try #require(try runButler(try createArguments(repo)).exitCode == 0)
        let imported = try runButler(["import", repo, registryData, "--export-file", "base.yaml"])
        try #require(imported.exitCode == 0, "\(imported.stderr)")
        let types = try jsonRows(try runButler(["query-dataset-types", repo, "--format", "json"]))
        let rubin = try rubinRegistry(["base.yaml"], in: dir)
        var ours: [String: String] = [:]
        for row in types { if let name = row["name"] as? String { ours[name] = row["storage_class"] as? String ?? "" } }
        #expect(ours == rubin.datasetTypes && ours.keys.contains("bias") && ours.keys.contains("flat"), "here \(ours), Rubin's \(rubin.datasetTypes)")
    }

    @Test("storage classes of the repository's config (create --seed-config) are known; an unknown one is kept as a name with a warning")
    func storageClassesFromConfig() throws {
        let dir = TemporaryDirectory("storage-classes")
        // Known from the seed config: no warning.
        let seed = dir.path("seed.yaml")
        try "storageClasses:\n  SkyMap:\n    pytype: lsst.skymap.BaseSkyMap\n  AstropyFits: {pytype: astropy.io.fits.HDUList}\n"
            .write(toFile: seed, atomically: true, encoding: .utf8)
        let configured = dir.path("configured")
        try #require(try runButler(try createArguments(configured) + ["--seed-config", seed]).exitCode == 0)
        for file in ["ci_hsc-subset.yaml", "ci_hsc-subset-skymap.yaml"] {
            let imported = try runButler(["import", configured, registryData, "--export-file", file, "--without-datastore"])
            #expect(imported.exitCode == 0, "\(imported.stderr)")
            #expect(!imported.stderr.contains("warning"), "\(imported.stderr)")
        }
        // Not known: imported all the same (as Rubin's registry does), with one line of warning naming it.
        let plain = dir.path("plain")
        try #require(try runButler(try createArguments(plain)).exitCode == 0)
        _ = try runButler(["import", plain, registryData, "--export-file", "ci_hsc-subset.yaml", "--without-datastore"])
        let imported = try runButler(["import", plain, registryData, "--export-file", "ci_hsc-subset-skymap.yaml", "--without-datastore"])
        #expect(imported.exitCode == 0, "\(imported.stderr)")
        let warnings = imported.stderr.split(separator: "\n")
        #expect(warnings.count == 1 && warnings[0].hasPrefix("butler: warning: ") && warnings[0].contains("'SkyMap'"), "\(imported.stderr)")
        for repo in [configured, plain] {
            let types = try jsonRows(try runButler(["query-dataset-types", repo, "--format", "json"]))
            #expect(types.contains { $0["name"] as? String == "skyMap" && $0["storage_class"] as? String == "SkyMap" }, "\(types)")
        }
        // register-dataset-type knows them too; the repository without them refuses the name in one line.
        let registered = try runButler(["register-dataset-type", configured, "fitsTable", "AstropyFits", "instrument", "visit"])
        #expect(registered.exitCode == 0, "\(registered.stderr)")
        let refused = try runButler(["register-dataset-type", plain, "fitsTable", "AstropyFits", "instrument", "visit"])
        #expect(refused.exitCode != 0 && refused.stderr.contains("AstropyFits") && refused.stderr.split(separator: "\n").count == 1, "\(refused.stderr)")
    }

    @Test("a data ID whose band is not the one its physical_filter implies is refused in Rubin's words (testDataIdRelationships)")
    func inconsistentDataID() throws {
        let dir = TemporaryDirectory("inconsistent")
        let repo = dir.path("repo")
        try #require(try runButler(try createArguments(repo)).exitCode == 0)
        try #require(try runButler(["import", repo, registryData, "--export-file", "base.yaml", "--without-datastore"]).exitCode == 0)
        let given: [String: String] = ["instrument": "Cam1", "physical_filter": "Cam1-R1", "band": "g"]
        let script = """
            import sys; sys.path.insert(0, sys.argv[1])
            from _rubin import use_standins; use_standins()
            from lsst.daf.butler import Butler
            Butler.makeRepo(sys.argv[2]); b = Butler.from_config(sys.argv[2], writeable=True)
            b.import_(filename=sys.argv[3], without_datastore=True)
            try:
                b.registry.expandDataId(instrument="Cam1", physical_filter="Cam1-R1", band="g")
                print("accepted")
            except Exception as e:
                print(str(e))
            """
        let rubin = try runProcess(rubinPython, ["-c", script, packageRoot.appendingPathComponent("scripts/rubin").path,
                                                 dir.path("rubin"), registryData + "/base.yaml"])
        try #require(rubin.exitCode == 0, "\(rubin.stderr)")
        let butler = try Butler(repository: repo)
        do {
            _ = try butler.registry.expandDataID(given)
            Issue.record("accepted here; Rubin: \(rubin.stdout)")
        } catch let error as ButlerError {
            #expect(error.message == rubin.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    @Test("universe version 0 records are converted as Rubin converts them (visit_system_membership, group, day_obs)")
    func universeVersionZero() throws {
        let dir = TemporaryDirectory("universe-v0")
        let repo = dir.path("repo")
        try #require(try runButler(try createArguments(repo)).exitCode == 0)
        let imported = try runButler(["import", repo, registryData, "--export-file", "hsc-rc2-subset-v0.yaml", "--without-datastore"])
        try #require(imported.exitCode == 0, "\(imported.stderr)")
        let rubin = try rubinRegistry(["hsc-rc2-subset-v0.yaml"], in: dir)
        for element in ["visit_system_membership", "group", "day_obs", "visit", "exposure"] {
            let rows = try jsonRows(try runButler(["query-dimension-records", repo, element, "--format", "json"]))
            #expect(rows.count == rubin.dimensionRecords[element] ?? 0, "\(element): \(rows.count) here, Rubin \(rubin.dimensionRecords[element] ?? 0)")
        }
        let visits = try jsonRows(try runButler(["query-dimension-records", repo, "visit", "--format", "json"]))
        #expect(Set(visits.compactMap { $0["day_obs"] as? Int }) == [20141118, 20150318], "\(visits)")
    }

    @Test("Rubin's export → our import → our export → Rubin's import loses nothing: same records (visit_system and its memberships too), datasets, collections")
    func roundTripThroughBothButlers() throws {
        let dir = TemporaryDirectory("round-trip")
        let made = try runRubinScript("make_rubin_repo.py", [dir.path("rubin")])
        try #require(made.exitCode == 0, "make_rubin_repo.py failed: \(made.stderr)")
        let repo = dir.path("repo")
        try #require(try runButler(try createArguments(repo)).exitCode == 0)
        let imported = try runButler(["import", repo, dir.path("rubin/export")])
        try #require(imported.exitCode == 0, "our import of Rubin's export failed: \(imported.stderr)")
        let export = dir.path("ours")
        let exported = try runButler(["export", repo, export])
        try #require(exported.exitCode == 0, "our export failed: \(exported.stderr)")
        let back = try runRubinScript("import_into_rubin.py", [export, dir.path("back")])
        try #require(back.exitCode == 0, "Rubin's import of our export failed: \(back.stderr)")

        // Every record Rubin's repository held is in the repository Rubin made from our export, field for field.
        let before = try runRubinScript("dimension_records.py", [dir.path("rubin/repo")])
        let after = try runRubinScript("dimension_records.py", [dir.path("back")])
        try #require(before.exitCode == 0 && after.exitCode == 0, "\(before.stderr)\(after.stderr)")
        let old = try JSONSerialization.jsonObject(with: Data(before.stdout.utf8)) as? [String: Any] ?? [:]
        let new = try JSONSerialization.jsonObject(with: Data(after.stdout.utf8)) as? [String: Any] ?? [:]
        #expect(old["visit_system"] != nil && old["visit_system_membership"] != nil, "the fixture has visit systems: \(old.keys.sorted())")
        #expect(Set(old.keys) == Set(new.keys), "elements before \(old.keys.sorted()), after \(new.keys.sorted())")
        for element in old.keys.sorted() {
            #expect(NSArray(array: old[element] as? [Any] ?? []) == NSArray(array: new[element] as? [Any] ?? []),
                    "\(element): before \(old[element] ?? "none"), after \(new[element] ?? "none")")
        }
        // And the datasets, collections, tags and validity ranges (Rubin's summaries of both).
        let expected = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir.path("rubin/expected.json")))) as? [String: Any] ?? [:]
        let summary = try JSONSerialization.jsonObject(with: Data(back.stdout.utf8)) as? [String: Any] ?? [:]
        for key in ["datasets", "collections", "tags", "calibrations", "dimension_records"] {
            #expect(NSDictionary(dictionary: expected[key] as? [String: Any] ?? [:]) == NSDictionary(dictionary: summary[key] as? [String: Any] ?? [:]),
                    "\(key): before \(expected[key] ?? "none"), after \(summary[key] ?? "none")")
        }
    }
}

/// Runs one of the scripts in scripts/rubin with Rubin's Python.
private func runRubinScript(_ name: String, _ arguments: [String]) throws -> CommandResult {
    guard FileManager.default.isExecutableFile(atPath: rubinPython) else {
        throw ButlerError(.notFound, "\(rubinPython) is missing: run make rubin-venv (Rubin's butler for these tests)")
    }
    return try runProcess(rubinPython, [packageRoot.appendingPathComponent("scripts/rubin/" + name).path] + arguments)
}

/// Rubin's registry_data folder in the test venv.
private let registryData = packageRoot.appendingPathComponent(".build/rubin-venv/lib/python3.11/site-packages/lsst/daf/butler/tests/registry_data").path
private let rubinPython = packageRoot.appendingPathComponent(".build/rubin-venv/bin/python").path

/// What Rubin's registry holds after importing `files` registry-only (scripts/rubin/registry_only_counts.py).
private struct RubinRegistry {
    var datasets: [String: Int]
    var datasetTypes: [String: String]
    var collections: [String: String]
    var dimensionRecords: [String: Int]
}

private func rubinRegistry(_ files: [String], in dir: TemporaryDirectory) throws -> RubinRegistry {
    guard FileManager.default.isExecutableFile(atPath: rubinPython) else {
        throw ButlerError(.notFound, "\(rubinPython) is missing: run make rubin-venv (Rubin's butler for these tests)")
    }
    let out = dir.path("rubin-\(UUID().uuidString.prefix(8))")
    let result = try runProcess(rubinPython, [packageRoot.appendingPathComponent("scripts/rubin/registry_only_counts.py").path, out] + files)
    guard result.exitCode == 0, let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] else {
        throw ButlerError(.io, "registry_only_counts.py \(files) failed: \(result.stderr)")
    }
    return RubinRegistry(datasets: json["datasets"] as? [String: Int] ?? [:], datasetTypes: json["dataset_types"] as? [String: String] ?? [:],
                         collections: json["collections"] as? [String: String] ?? [:],
                         dimensionRecords: json["dimension_records"] as? [String: Int] ?? [:])
}

/// The rows of a `--format json` answer ([] for "no results").
private func jsonRows(_ result: CommandResult) throws -> [[String: Any]] {
    let text = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    if text.isEmpty { return [] }
    return (try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]]) ?? []
}
