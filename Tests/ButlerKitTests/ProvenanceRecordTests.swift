import Foundation
import Testing
@testable import ButlerKit
import ButlerTestSupport
import FITS

/// Recording provenance with put: the quantum, inputs with roles, environment, configs, parameters and metrics.
@Suite("Provenance recording")
struct ProvenanceRecordTests {
    static func repository(_ dir: TemporaryDirectory) throws -> Butler {
        let butler = try makeRepository(in: dir, raws: [fixture("lsst/latiss-AT_O_20230321_000053.fits"), fixture("lsst/latiss-AT_O_20240624_000106_R00_S00.fits")])
        try butler.registry.registerDatasetType(try butler.registry.makeDatasetType("postISRCCD", storageClass: "ExposureF", dimensions: ["instrument", "detector", "exposure"]))
        return butler
    }

    func request(_ dir: TemporaryDirectory, exposure: String = "2023032100053", config: String = "doBias: true\n") throws -> PutRequest {
        let file = dir.path("out-\(exposure).fits")
        try FileManager.default.copyItem(atPath: fixture("lsst/latiss-AT_O_20230321_000053.fits"), toPath: file)
        try config.write(toFile: dir.path("isr.yaml"), atomically: true, encoding: .utf8)
        var r = PutRequest(file: file, run: "u/me/isr", datasetType: "postISRCCD", dataId: ["instrument": "LATISS", "detector": "0", "exposure": exposure])
        r.inputs = [Butler.parseInput("raw=raw:instrument=LATISS,detector=0,exposure=\(exposure)")]
        r.collections = ["LATISS/raw/all"]
        r.taskLabel = "isr"
        r.configs = [try ConfigFile(contentsOf: dir.path("isr.yaml"))]
        r.parameters = ["doFlat": "false"]
        r.environment = SoftwareEnvironment(packages: ["ip_isr": "1.2.3", "numpy": "2.1.0"], codeCommit: "abc123", codeDirty: false)
        r.metrics = ["background": 1234.5]
        return r
    }

    @Test("put records the output, its quantum, inputs with roles, environment, config, parameters and metrics")
    func put() throws {
        let dir = TemporaryDirectory()
        let butler = try Self.repository(dir)
        let ref = try butler.put(try request(dir))
        #expect(ref.run == "u/me/isr")
        let rows = try butler.registry.database.read { c in
            try c.query("""
                SELECT q.task_label, q.status, q.data_id, i.role, i.dataset_id, o.role, q.environment_id, q.config_digest
                FROM quantum q JOIN quantum_output o ON o.quantum_id = q.id JOIN quantum_input i ON i.quantum_id = q.id
                WHERE o.dataset_id = ?
                """, [.text(ref.id.lowercasedString)])
        }
        #expect(rows.count == 1)
        #expect(rows[0][0].string == "isr")
        #expect(rows[0][1].string == "succeeded")
        #expect(rows[0][2].string == "detector=0,exposure=2023032100053,instrument=LATISS")
        #expect(rows[0][3].string == "raw")
        #expect(rows[0][4].string == "5d46d9db-ef3e-55ee-aac3-4ac15cd4d8a6")
        #expect(try butler.registry.metrics(of: ref.id) == ["background": 1234.5])
        // The environment and config are stored once and shared.
        _ = try butler.put(try request(dir, exposure: "2024062400106"))
        let counts = try butler.registry.database.read { c in
            (try c.queryOne("SELECT COUNT(*) FROM software_environment")![0].int!, try c.queryOne("SELECT COUNT(*) FROM config_blob")![0].int!,
             try c.queryOne("SELECT COUNT(*) FROM quantum")![0].int!)
        }
        #expect(counts == (1, 1, 2))
        // Metrics select datasets in --where.
        var q = DatasetQuery()
        q.datasetTypes = ["postISRCCD"]
        q.where = "metrics.background > 1000"
        #expect(try butler.registry.queryDatasets(q).datasets.count == 2)
        q.where = "metrics.background > 2000 OR metrics.seeing < 1"
        #expect(try butler.registry.queryDatasets(q).datasets.isEmpty)
    }

    @Test("one config per task label in a run: a different one is refused, showing what differs, and nothing is written")
    func configConsistency() throws {
        let dir = TemporaryDirectory()
        let butler = try Self.repository(dir)
        _ = try butler.put(try request(dir))
        var other = try request(dir, exposure: "2024062400106", config: "doBias: false\n")
        other.parameters = ["doFlat": "true"]
        let before = try registrySnapshot(dir.path("repo"))
        let error = butlerError { try butler.put(other) }
        #expect(error?.code == .conflict)
        #expect(error?.message.contains("isr.yaml") == true)
        #expect(error?.message.contains("doFlat: false -> true") == true)
        #expect(try registrySnapshot(dir.path("repo")) == before)
        other.run = "u/me/isr-v2"
        #expect(try butler.put(other).run == "u/me/isr-v2")
    }

    @Test("inputs must exist; bad metric names and files are refused")
    func badInput() throws {
        let dir = TemporaryDirectory()
        let butler = try Self.repository(dir)
        var r = try request(dir)
        r.inputs = [Butler.parseInput("raw=00000000-0000-0000-0000-000000000000")]
        #expect(errorCode { try butler.put(r) } == .notFound)
        r = try request(dir, exposure: "2024062400106")
        r.metrics = ["bad name": 1]
        #expect(errorCode { try butler.put(r) } == .invalidName)
        r.metrics = [:]
        r.file = dir.path("missing.fits")
        #expect(errorCode { try butler.put(r) } == .notFound)
        #expect(try butler.registry.queryDatasets(["postISRCCD"]).isEmpty)
    }

    @Test("package listings: pip freeze, conda environment.yml, plain lists")
    func packages() throws {
        let pip = try SoftwareEnvironment.parsePackages("numpy==2.1.0\n# comment\nastropy==6.0\n-e git+https://x#egg=y\nmylib @ file:///src/mylib\n", source: "pip")
        #expect(pip == ["numpy": "2.1.0", "astropy": "6.0", "mylib": "file:///src/mylib"])
        let conda = try SoftwareEnvironment.parsePackages("name: env\ndependencies:\n  - python=3.11.7=h1234\n  - numpy=1.26\n  - pip:\n    - lsst-daf-butler==30.0\n", source: "env.yml")
        #expect(conda == ["python": "3.11.7", "numpy": "1.26", "lsst-daf-butler": "30.0"])
        #expect(try SoftwareEnvironment.parsePackages("ip_isr 1.2\nmeas_base 3.4\n", source: "plain") == ["ip_isr": "1.2", "meas_base": "3.4"])
        #expect(errorCode { try SoftwareEnvironment.parsePackages("what is this line\n", source: "bad") } == .invalidValue)
        #expect(Butler.parseInput("bias=bias:instrument=LATISS,detector=0").role == "bias")
        #expect(Butler.parseInput("raw:instrument=LATISS,detector=0").role == nil)
    }
}

@Suite("butler run")
struct RunStepTests {
    func request(_ run: String, _ command: [String]) -> RunRequest {
        var r = RunRequest(run: run, taskLabel: "isr", command: command)
        r.inputs = [Butler.parseInput("raw=raw:instrument=LATISS,detector=0,exposure=2023032100053")]
        r.collections = ["LATISS/raw/all"]
        r.outputs = [("out", "postISRCCD:instrument=LATISS,detector=0,exposure=2023032100053")]
        return r
    }

    @Test("success: outputs stored with provenance and the log; {ROLE} substitution; executable hash recorded")
    func success() throws {
        let dir = TemporaryDirectory()
        let butler = try ProvenanceRecordTests.repository(dir)
        let result = try butler.run(request("u/me/run1", ["/bin/sh", "-c", "echo processing {raw}; cp {raw} {out}"]))
        #expect(result.status == .succeeded)
        #expect(result.exitCode == 0)
        #expect(result.outputs.count == 1)
        #expect(result.log.contains("processing /"))
        let row = try butler.registry.database.read { c in
            try c.queryOne("SELECT q.status, q.log_dataset_id, e.executable_hash, q.command FROM quantum q JOIN software_environment e ON e.id = q.environment_id WHERE q.id = ?",
                           [.text(result.quantumId.lowercasedString)])
        }
        #expect(row?[0].string == "succeeded")
        #expect(row?[1].string != nil)
        #expect(row?[2].string?.count == 64)
        #expect(row?[3].string?.contains("cp /") == true)
        let file = try butler.registry.storedFiles(of: result.outputs[0].id).first
        #expect(try file.map { try storedFileExists(butler.storedLocation($0.path)) } == true)
    }

    @Test("failure: a failed quantum with its log and exit code, no outputs; a missing output is a failure too")
    func failure() throws {
        let dir = TemporaryDirectory()
        let butler = try ProvenanceRecordTests.repository(dir)
        let failed = try butler.run(request("u/me/run2", ["/bin/sh", "-c", "echo broken >&2; exit 7"]))
        #expect(failed.status == .failed)
        #expect(failed.exitCode == 7)
        #expect(failed.outputs.isEmpty)
        #expect(failed.log.contains("broken"))
        #expect(try butler.registry.queryDatasets(["postISRCCD"]).isEmpty)
        // The log stays in the failed step's row: no log dataset takes the slot the re-run's log needs.
        #expect(try butler.registry.datasetType("isr_log") == nil)
        let logText = try butler.registry.database.read { c in try c.queryOne("SELECT log_text FROM quantum WHERE id = ?", [.text(failed.quantumId.lowercasedString)])?[0].string }
        #expect(logText?.contains("broken") == true)
        let missing = try butler.run(request("u/me/run3", ["/bin/true"]))
        #expect(missing.status == .failed)
        #expect(missing.exitCode == 1)
        #expect(missing.failure?.contains("did not write output(s) out") == true)
        let statuses = try butler.registry.database.read { c in try c.query("SELECT status, exit_code FROM quantum ORDER BY start_time").map { "\($0[0].string!):\($0[1].int!)" } }
        #expect(statuses == ["failed:7", "failed:1"])
        // The re-run of the failed step succeeds in the same RUN, log and all.
        let rerun = try butler.run(request("u/me/run2", ["/bin/sh", "-c", "cp {raw} {out}"]))
        #expect(rerun.status == .succeeded)
        #expect(try butler.registry.queryDatasets(["isr_log"], collections: ["u/me/run2"]).count == 1)
        #expect(errorCode { try butler.run(request("u/me/run4", [])) } == .invalidValue)
    }
}

@Suite("Provenance integrity")
struct ProvenanceIntegrityTests {
    @Test("removing a dataset others were derived from is refused unless forced, which keeps a tombstone")
    func tombstones() throws {
        let dir = TemporaryDirectory()
        let butler = try ProvenanceRecordTests.repository(dir)
        var r = RunRequest(run: "u/me/isr", taskLabel: "isr", command: ["/bin/sh", "-c", "cp {raw} {out}"])
        r.inputs = [Butler.parseInput("raw=raw:instrument=LATISS,detector=0,exposure=2023032100053")]
        r.collections = ["LATISS/raw/all"]
        r.outputs = [("out", "postISRCCD:instrument=LATISS,detector=0,exposure=2023032100053")]
        let result = try butler.run(r)
        #expect(result.status == .succeeded)
        let raw = try butler.registry.resolveDataset("5d46d9db-ef3e-55ee-aac3-4ac15cd4d8a6")
        let refused = butlerError { try butler.pruneDatasets([raw], mode: .purge(run: "LATISS/raw/all")) }
        #expect(refused?.code == .inUse)
        #expect(refused?.message.contains(result.outputs[0].id.lowercasedString) == true)
        #expect(errorCode { try butler.removeRuns(["LATISS/raw/all"]) } == .inUse)
        #expect(try butler.registry.dataset(raw.id) != nil)
        // Removing the output and its input together is fine; forcing the input alone keeps a tombstone.
        try butler.pruneDatasets([raw], mode: .purge(run: "LATISS/raw/all"), force: true)
        #expect(try butler.registry.dataset(raw.id) == nil)
        let stone = try #require(try butler.registry.tombstone(raw.id))
        #expect(stone.datasetType == "raw")
        #expect(stone.run == "LATISS/raw/all")
        #expect(stone.dataId == "instrument=LATISS,detector=0,exposure=2023032100053")
        #expect(stone.checksum?.count == 64)
    }
}

@Suite("FITS provenance cards")
struct HeaderProvenanceTests {
    @Test("a FITS output carries Rubin's LSST BUTLER cards, read back by CFITSIO; old cards are replaced; checksums match")
    func stamping() throws {
        let dir = TemporaryDirectory()
        let butler = try ProvenanceRecordTests.repository(dir)
        var first = RunRequest(run: "u/me/isr", taskLabel: "isr", command: ["/bin/cp", "{raw}", "{out}"])
        first.inputs = [Butler.parseInput("raw=raw:instrument=LATISS,detector=0,exposure=2023032100053")]
        first.collections = ["LATISS/raw/all"]
        first.outputs = [("out", "postISRCCD:instrument=LATISS,detector=0,exposure=2023032100053")]
        let step1 = try butler.run(first)
        let out1 = step1.outputs[0]
        let path1 = try localPath(of: #require(butler.fileLocations([out1.id])[out1.id]), in: dir)
        let scan = try FITSScan.read(path1)
        #expect(scan.warnings.isEmpty, "CHECKSUM and DATASUM are updated")
        let header = scan.hdus[0].header
        #expect(header.string("LSST BUTLER ID") == out1.id.lowercasedString)
        #expect(header.string("LSST BUTLER RUN") == "u/me/isr")
        #expect(header.string("LSST BUTLER DATASETTYPE") == "postISRCCD")
        #expect(header.int("LSST BUTLER DATAID EXPOSURE") == 2023032100053)
        #expect(header.string("LSST BUTLER DATAID INSTRUMENT") == "LATISS")
        #expect(header.string("LSST BUTLER QUANTUM") == step1.quantumId.lowercasedString)
        #expect(header.int("LSST BUTLER N_INPUTS") == 1)
        #expect(header.string("LSST BUTLER INPUT 0 ID") == "5d46d9db-ef3e-55ee-aac3-4ac15cd4d8a6")
        #expect(header.string("LSST BUTLER INPUT 0 DATASETTYPE") == "raw")
        #expect(header.string("OBSID") == "AT_O_20230321_000053", "the rest of the header is kept")
        let (_, sum) = try FileDatastore.measure(path1, checksum: true)
        #expect(try butler.registry.storedFiles(of: out1.id).first?.checksum == sum, "the recorded checksum is that of the stamped file")

        // A second step from the stamped file: its cards are replaced, not added to.
        try butler.registry.registerDatasetType(try butler.registry.makeDatasetType("calexp", storageClass: "ExposureF", dimensions: ["instrument", "detector", "exposure"]))
        var second = RunRequest(run: "u/me/calib", taskLabel: "calibrate", command: ["/bin/cp", "{in}", "{out}"])
        second.inputs = [("in", out1.id.lowercasedString)]
        second.outputs = [("out", "calexp:instrument=LATISS,detector=0,exposure=2023032100053")]
        let step2 = try butler.run(second)
        let path2 = try localPath(of: #require(butler.fileLocations(step2.outputs.map(\.id)).values.first), in: dir)
        let cards = try HeaderProvenance.read(path2)
        #expect(cards.filter { $0.keyword == "LSST BUTLER ID" }.count == 1)
        #expect(cards.first { $0.keyword == "LSST BUTLER ID" }?.value == .string(step2.outputs[0].id.lowercasedString))
        #expect(cards.first { $0.keyword == "LSST BUTLER INPUT 0 ID" }?.value == .string(out1.id.lowercasedString))
        #expect(try FITSScan.read(path2).warnings.isEmpty)
    }
}

@Suite("butler record")
struct RecordSpecTests {
    @Test("many quanta in one transaction, chained through named outputs; a bad document writes nothing")
    func record() throws {
        let dir = TemporaryDirectory()
        let butler = try ProvenanceRecordTests.repository(dir)
        try butler.registry.registerDatasetType(try butler.registry.makeDatasetType("calexp", storageClass: "ExposureF", dimensions: ["instrument", "detector", "exposure"]))
        try FileManager.default.copyItem(atPath: fixture("lsst/latiss-AT_O_20230321_000053.fits"), toPath: dir.path("isr.fits"))
        try FileManager.default.copyItem(atPath: fixture("lsst/latiss-AT_O_20230321_000053.fits"), toPath: dir.path("calexp.fits"))
        let json = """
            {"run": "u/wf/run1", "collections": ["LATISS/raw/all"],
             "environments": {"stack": {"packages": {"ip_isr": "1.2", "pipe_tasks": "3.4"}, "code_commit": "abc123", "code_dirty": false}},
             "configs": {"isr.yaml": {"content": "doBias: true\\n"}},
             "quanta": [
               {"task": "isr", "data_id": {"instrument": "LATISS", "detector": 0, "exposure": 2023032100053}, "environment": "stack",
                "configs": ["isr.yaml"], "parameters": {"doFlat": "false"}, "start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:00:10Z",
                "inputs": [{"role": "raw", "dataset": "raw:instrument=LATISS,detector=0,exposure=2023032100053"}],
                "outputs": [{"name": "isr-0", "role": "exposure", "dataset_type": "postISRCCD",
                             "data_id": {"instrument": "LATISS", "detector": 0, "exposure": 2023032100053}, "file": "isr.fits",
                             "metrics": {"background": 3.5}}]},
               {"task": "calibrate", "data_id": {"instrument": "LATISS", "detector": 0, "exposure": 2023032100053}, "environment": "stack",
                "inputs": [{"role": "exposure", "output": "isr-0"}],
                "outputs": [{"role": "calexp", "dataset_type": "calexp",
                             "data_id": {"instrument": "LATISS", "detector": 0, "exposure": 2023032100053}, "file": "calexp.fits",
                             "metrics": {"seeing": 0.8}}]},
               {"task": "calibrate", "status": "failed", "exit_code": 2, "environment": "stack",
                "data_id": {"instrument": "LATISS", "detector": 0, "exposure": 2024062400106},
                "inputs": [{"dataset": "raw:instrument=LATISS,detector=0,exposure=2024062400106"}]}
             ]}
            """
        let ids = try butler.record(try RecordSpec(json: Data(json.utf8), source: "spec.json", baseDirectory: dir.url))
        #expect(ids.count == 3)
        let calexp = try #require(try butler.registry.queryDatasets(["calexp"]).first?.ref)
        let record = try butler.registry.provenanceRecord(of: calexp)
        #expect(record.taskLabel == "calibrate")
        #expect(record.inputs.map(\.datasetType) == ["postISRCCD"])
        #expect(record.packages == ["ip_isr": "1.2", "pipe_tasks": "3.4"])
        #expect(record.codeCommit == "abc123")
        #expect(record.metrics == ["seeing": 0.8])
        let isr = try butler.registry.provenanceRecord(of: try butler.registry.resolveDataset(record.inputs[0].id.lowercasedString))
        #expect(isr.configs.keys.sorted() == ["isr.yaml"])
        #expect(isr.parameters == ["doFlat": "false"])
        #expect(isr.inputs.first?.id.lowercasedString == "5d46d9db-ef3e-55ee-aac3-4ac15cd4d8a6")

        let before = try registrySnapshot(dir.path("repo"))
        for bad in [
            #"{"quanta": []}"#,
            #"{"run": "u/x", "quanta": [{"data_id": {}}]}"#,
            #"{"run": "u/x", "quanta": [{"task": "t", "inputs": [{"output": "nothing"}]}]}"#,
            #"{"run": "u/x", "quanta": [{"task": "t", "outputs": [{"dataset_type": "calexp", "data_id": {"instrument": "LATISS", "detector": 0, "exposure": 2024062400106}, "file": "missing.fits"}]}]}"#,
            #"{"run": "u/x", "quanta": [{"task": "t", "status": "maybe"}]}"#,
            "not json",
        ] {
            let error = butlerError { try butler.record(try RecordSpec(json: Data(bad.utf8), source: "bad.json", baseDirectory: dir.url)) }
            #expect(error?.message.hasPrefix("bad.json") == true, "\(bad): \(error?.message ?? "no error")")
        }
        #expect(try registrySnapshot(dir.path("repo")) == before)
    }
}
