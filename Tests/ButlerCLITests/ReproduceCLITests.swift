import ButlerKit
import ButlerTestSupport
import Foundation
import Testing

/// `butler reproduce`: recorded steps run again into a scratch RUN and compared with what they made (issue 16).
@Suite("Reproducing products from their recorded steps")
struct ReproduceCLITests {
    static let dataId = "instrument=LATISS,detector=0,exposure=2023032100053"
    static let demoStep = toolBinary("demo-step")

    @discardableResult
    func check(_ result: CommandResult, _ expected: Int32 = 0, sourceLocation: SourceLocation = #_sourceLocation) throws -> CommandResult {
        #expect(result.exitCode == expected, "exit \(result.exitCode): \(result.stdout)\(result.stderr)", sourceLocation: sourceLocation)
        return result
    }

    /// A repository with the LATISS raw and the types of a two-step pipeline (isr, then pvi).
    func repository(_ dir: TemporaryDirectory) throws -> String {
        let repo = dir.path("repo")
        try check(try runButler(try createArguments(repo)))
        try check(try runButler(["ingest-raws", repo, fixture("lsst/latiss-AT_O_20230321_000053.fits"), "-t", "copy"]))
        for type in ["postISRCCD", "calexp"] {
            try check(try runButler(["register-dataset-type", repo, type, "ExposureF", "instrument", "detector", "exposure"]))
        }
        return repo
    }

    /// Runs one step of the demo pipeline, returning its output's id.
    @discardableResult
    func step(_ repo: String, run: String, task: String, input: String, output: String, collections: String, options: [String] = [],
              executable: String = demoStep, config: String? = nil) throws -> String {
        let result = try check(try runButler(["run", repo, "--run", run, "--task", task, "--input", input, "--collections", collections,
                                              "--output", "out=\(output):\(Self.dataId)", "--package", "ip_isr=30.0.1", "--format", "json"]
                                             + (config.map { ["--config", $0] } ?? [])
                                             + ["--", executable, "pvi", "{\(input.split(separator: "=")[0])}", "{out}", "{metrics}"] + options))
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        return try #require((object?["outputs"] as? [String])?.first)
    }

    func rows(_ result: CommandResult) throws -> [[String: Any]] {
        try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]] ?? []
    }

    @Test("a deterministic step is identical; one that writes the time has the same data with its header differences; a noisy one differs")
    func verdicts() throws {
        let dir = TemporaryDirectory()
        let repo = try repository(dir)
        try "doBias: true\n".write(toFile: dir.path("isr.yaml"), atomically: true, encoding: .utf8)
        let same = try step(repo, run: "u/a", task: "isr", input: "raw=raw:\(Self.dataId)", output: "postISRCCD", collections: "LATISS/raw/all",
                            config: dir.path("isr.yaml"))
        let timed = try step(repo, run: "u/b", task: "pvi", input: "in=\(same)", output: "calexp", collections: "u/a", options: ["--stamp-time"])
        let noisy = try step(repo, run: "u/c", task: "pvi", input: "in=\(same)", output: "calexp", collections: "u/a", options: ["--noise"])
        let before = try registrySnapshot(repo)
        let plan = try check(try runButler(["reproduce", repo, same, timed, noisy, "--dry-run", "--format", "json"]))
        #expect(try rows(plan).map { $0["verdict"] as? String } == ["would-run", "would-run", "would-run"], "\(plan.stdout)")
        #expect(try registrySnapshot(repo) == before, "a dry run writes nothing")

        Thread.sleep(forTimeInterval: 1.1)  // the time written into the header changes
        let result = try check(try runButler(["reproduce", repo, same, timed, noisy, "--run", "u/repro", "--format", "json"]), 1)
        #expect(result.stderr == "butler: error: 1 of 3 output(s) not reproduced identically or with the same data\n")
        let byId = Dictionary(uniqueKeysWithValues: try rows(result).map { ($0["id"] as? String ?? "", $0) })
        #expect(byId[same]?["verdict"] as? String == "identical", "\(result.stdout)")
        #expect(byId[timed]?["verdict"] as? String == "same-data")
        let timedDetail = byId[timed]?["detail"] as? String ?? ""
        #expect(timedDetail.contains("HISTORY") && timedDetail.contains("processed at") && timedDetail.contains("date card"), "\(timedDetail)")
        #expect(byId[noisy]?["verdict"] as? String == "differs")
        let noisyDetail = byId[noisy]?["detail"] as? String ?? ""
        #expect(noisyDetail.hasPrefix("HDU 1: ") && noisyDetail.contains("data bytes differ"), "\(noisyDetail)")
        #expect(noisyDetail.contains("; metrics differ: seeing "), "the QA metrics the step wrote are compared too: \(noisyDetail)")
        // The reproduction is recorded: the new outputs are in the scratch RUN (the second calexp of one data ID in a
        // RUN of its own under it, named after the recorded RUN), and the lineage shows the verdicts.
        let listed = try rows(try runButler(["query-datasets", repo, "postISRCCD", "calexp", "--collections", "u/repro", "--format", "json"]))
        #expect(listed.count == 2)
        let second = try rows(try runButler(["query-datasets", repo, "calexp", "--collections", "u/repro/u/c", "--format", "json"]))
        #expect(second.count == 1)
        let tree = try check(try runButler(["provenance", repo, timed]))
        #expect(tree.stdout.contains("reproduced ") && tree.stdout.contains(": same-data ("), "\(tree.stdout)")
        let json = try check(try runButler(["provenance", repo, same, "--format", "json"]))
        #expect(json.stdout.contains("\"reproductions\": [{\"step\": ") && json.stdout.contains("\"verdict\": \"identical\""))
        // In W3C PROV: the reproduction is an activity informed by the step it ran again; Python's prov loads it.
        let provFile = dir.path("timed.prov.json")
        try check(try runButler(["provenance", repo, timed, "--format", "prov-json", "--output", provFile]))
        let prov = try String(contentsOfFile: provFile, encoding: .utf8)
        #expect(prov.contains("butler:Reproduction") && prov.contains("\"wasInformedBy\"") && prov.contains("same-data"), "\(prov)")
        let python = packageRoot.appendingPathComponent(".build/prov-venv/bin/python").path
        let loaded = try runProcess(python, [packageRoot.appendingPathComponent("scripts/check_prov.py").path, provFile])
        #expect(loaded.exitCode == 0, "prov rejected the document: \(loaded.stderr)")
        try check(try runButler(["verify", repo, "--checksums"]))
    }

    @Test("--upstream runs the chain again in order, each step reading the reproduced outputs before it")
    func upstream() throws {
        let dir = TemporaryDirectory()
        let repo = try repository(dir)
        let post = try step(repo, run: "u/a", task: "isr", input: "raw=raw:\(Self.dataId)", output: "postISRCCD", collections: "LATISS/raw/all")
        let calexp = try step(repo, run: "u/b", task: "pvi", input: "in=\(post)", output: "calexp", collections: "u/a")
        let result = try check(try runButler(["reproduce", repo, "calexp:\(Self.dataId)", "--collections", "u/b", "--upstream", "--run", "u/chain", "--format", "json"]))
        let found = try rows(result)
        #expect(found.map { $0["step"] as? String } == ["isr", "pvi"])
        #expect(found.allSatisfy { $0["verdict"] as? String == "identical" }, "\(result.stdout)")
        let newPost = try #require(found[0]["new_id"] as? String), newCalexp = try #require(found[1]["new_id"] as? String)
        let lineage = try check(try runButler(["provenance", repo, newCalexp, "--format", "json"]))
        #expect(lineage.stdout.contains(newPost) && !lineage.stdout.contains(post), "the reproduced pvi read the reproduced isr output")
        #expect(found[1]["id"] as? String == calexp)
    }

    @Test("not reproducible: inputs removed (tombstones), a step recorded without a command, another executable; each says why")
    func notReproducible() throws {
        let dir = TemporaryDirectory()
        let repo = try repository(dir)
        // Another executable: the recorded program changed since.
        let program = dir.path("my-step")
        try FileManager.default.copyItem(atPath: Self.demoStep, toPath: program)
        let changed = try step(repo, run: "u/a", task: "isr", input: "raw=raw:\(Self.dataId)", output: "postISRCCD", collections: "LATISS/raw/all",
                               executable: program)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: program))
        handle.seekToEndOfFile()
        handle.write(Data("changed".utf8))
        try handle.close()
        // A step recorded by put, without a command.
        try check(try runButler(["put", repo, fixture("lsst/latiss-AT_O_20230321_000053.fits"), "--run", "u/put", "--dataset-type", "calexp",
                                 "--data-id", Self.dataId, "--task", "calibrate", "--input", "raw=raw:\(Self.dataId)", "--collections", "LATISS/raw/all"]))
        let put = try check(try runButler(["reproduce", repo, "calexp:\(Self.dataId)", "--collections", "u/put", "--format", "json"]), 1)
        #expect(try rows(put).first?["detail"] as? String == "the step was recorded without a command to run again (by put or record)", "\(put.stdout)")
        let exe = try check(try runButler(["reproduce", repo, changed, "--format", "json"]), 1)
        #expect((try rows(exe).first?["detail"] as? String ?? "").hasPrefix("the environment differs: \(program) is another program"), "\(exe.stdout)")
        let packages = try check(try runButler(["reproduce", repo, changed, "--package", "ip_isr=30.0.2", "--dry-run", "--format", "json"]), 1)
        #expect((try rows(packages).first?["detail"] as? String ?? "").contains("is another program"))
        // A raw: no step made it.
        let raw = try check(try runButler(["reproduce", repo, "raw:\(Self.dataId)", "--collections", "LATISS/raw/all", "--format", "json"]), 1)
        #expect((try rows(raw).first?["detail"] as? String ?? "").hasPrefix("no recorded step made it"))
        // Inputs removed: the raw purged (its tombstone stays).
        let good = try step(repo, run: "u/b", task: "isr", input: "raw=raw:\(Self.dataId)", output: "postISRCCD", collections: "LATISS/raw/all")
        let versions = try check(try runButler(["reproduce", repo, good, "--package", "ip_isr=30.0.2", "--dry-run", "--format", "json"]), 1)
        #expect(try rows(versions).first?["detail"] as? String == "the environment differs: ip_isr 30.0.1 recorded, 30.0.2 here", "\(versions.stdout)")
        try check(try runButler(["prune-datasets", repo, "LATISS/raw/all", "--purge", "LATISS/raw/all", "--datasets", "raw", "--force", "--no-confirm"]))
        let gone = try check(try runButler(["reproduce", repo, good, "--format", "json"]), 1)
        #expect((try rows(gone).first?["detail"] as? String ?? "").contains("was removed; only its tombstone is left"), "\(gone.stdout)")
        #expect(try rows(gone).first?["verdict"] as? String == "not-reproducible")
        try check(try runButler(["verify", repo, "--checksums"]))
        // Bad input: one line, exit 1.
        let unknown = try check(try runButler(["reproduce", repo, UUID().uuidString.lowercased()]), 1)
        #expect(unknown.stderr.hasPrefix("butler: error: ") && unknown.stderr.split(separator: "\n").count == 1)
    }

    @Test("two outputs: the metrics stay on the output that had them; a step runs again in a fresh folder, never the one it was recorded in; an empty selection is an error")
    func outputsAndFolders() throws {
        let dir = TemporaryDirectory()
        let repo = try repository(dir)
        // The step leaves a file in the folder it runs in, and writes two outputs and a metric.
        let folder = dir.path("work")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let script = "touch ./ran-here && cp \"$1\" \"$2\" && cp \"$1\" \"$3\" && echo '{\"seeing\": 0.8}' > \"$4\""
        let command = ["run", repo, "--run", "u/two", "--task", "isr", "--input", "raw=raw:\(Self.dataId)", "--collections", "LATISS/raw/all",
                       "--output", "zeta=calexp:\(Self.dataId)", "--output", "alpha=postISRCCD:\(Self.dataId)",
                       "--", "/bin/sh", "-c", script, "sh", "{raw}", "{zeta}", "{alpha}", "{metrics}"]
        let quoted = ([butlerBinary] + command).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        try check(try runProcess("/bin/sh", ["-c", "cd '\(folder)' && " + quoted]))
        let shown = try check(try runButler(["query-datasets", repo, "calexp", "--collections", "u/two", "--show-metrics"]))
        #expect(shown.stdout.contains("seeing=0.8"))
        #expect(FileManager.default.fileExists(atPath: folder + "/ran-here"))
        try FileManager.default.removeItem(atPath: folder + "/ran-here")
        // Reproduced: in a fresh folder of its own (nothing is written where it was recorded), the metric on calexp again.
        let result = try check(try runButler(["reproduce", repo, "calexp:\(Self.dataId)", "--collections", "u/two", "--run", "u/two-again", "--format", "json"]))
        #expect(!FileManager.default.fileExists(atPath: folder + "/ran-here"), "a step runs again in a fresh folder")
        let found = try rows(result)
        #expect(found.count == 2 && found.allSatisfy { $0["verdict"] as? String == "identical" }, "\(result.stdout)")
        #expect(!result.stdout.contains("metrics differ"), "\(result.stdout)")
        let again = try check(try runButler(["query-datasets", repo, "calexp", "--collections", "u/two-again", "--show-metrics"]))
        #expect(again.stdout.contains("seeing=0.8"), "\(again.stdout)")
        // A selection that matches nothing.
        let none = try check(try runButler(["reproduce", repo, "--datasets", "calexp", "--collections", "u/two", "--where", "instrument = 'LATISS' AND exposure = 1"]), 1)
        #expect(none.stderr == "butler: error: no dataset matched the selection\n")
    }
}
