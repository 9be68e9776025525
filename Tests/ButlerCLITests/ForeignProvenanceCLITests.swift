import ButlerKit
import ButlerTestSupport
import Foundation
import Testing

/// What arrives from another repository is foreign (issue 27): tried as a hostile partner site would, with a real
/// sending repository, an export whose provenance bundle is edited, and a receiving repository.
@Suite("Foreign provenance: an import adds facts about what it brings, and nothing that arrived runs unasked")
struct ForeignProvenanceCLITests {
    static let dataId = "instrument=LATISS,detector=0,exposure=2023032100053"

    @discardableResult
    func check(_ arguments: [String], _ expected: Int32 = 0, in folder: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws -> CommandResult {
        let result: CommandResult
        if let folder {
            let quoted = ([butlerBinary] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
            result = try runProcess("/bin/sh", ["-c", "cd '\(folder)' && " + quoted])
        } else {
            result = try runButler(arguments)
        }
        #expect(result.exitCode == expected, "butler \(arguments.joined(separator: " ")): exit \(result.exitCode): \(result.stdout)\(result.stderr)",
                sourceLocation: sourceLocation)
        return result
    }

    /// A repository with the LATISS raw (its id is the same in every repository that ingests it) and postISRCCD.
    func repository(_ dir: TemporaryDirectory, _ name: String) throws -> String {
        let repo = dir.path(name)
        try check(try createArguments(repo) + ["--name", name])
        try check(["ingest-raws", repo, fixture("lsst/latiss-AT_O_20230321_000053.fits"), "-t", "copy"])
        try check(["register-dataset-type", repo, "postISRCCD", "ExposureF", "instrument", "detector", "exposure"])
        return repo
    }

    /// The sending site: one `run` of /bin/cp into u/s/run1, exported as `base`. Returns the export folder.
    func sentExport(_ dir: TemporaryDirectory) throws -> String {
        let sender = try repository(dir, "sender")
        try check(["run", sender, "--run", "u/s/run1", "--task", "isr", "--input", "raw=raw:\(Self.dataId)", "--collections", "LATISS/raw/all",
                   "--output", "out=postISRCCD:\(Self.dataId)", "--package", "ip_isr=30.0.1", "--", "/bin/cp", "{raw}", "{out}"])
        let export = dir.path("base")
        try check(["export", sender, export, "--collections", "u/s/run1", "postISRCCD"])
        return export
    }

    func bundle(_ export: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: export + "/butler_provenance.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func write(_ bundle: [String: Any], to export: String) throws {
        let data = try JSONSerialization.data(withJSONObject: bundle, options: [.sortedKeys])
        try data.write(to: URL(fileURLWithPath: export + "/butler_provenance.json"))
    }

    /// A copy of the export whose bundle is changed by `edit`.
    func edited(_ export: String, _ dir: TemporaryDirectory, _ name: String, _ edit: (inout [String: Any]) throws -> Void) throws -> String {
        let copy = dir.path(name)
        try FileManager.default.copyItem(atPath: export, toPath: copy)
        var b = try bundle(copy)
        try edit(&b)
        try write(b, to: copy)
        return copy
    }

    func steps(_ b: [String: Any]) -> [[String: Any]] { b["steps"] as? [[String: Any]] ?? [] }

    /// Sets the environment of every step to one without an executable hash, with an id that matches its content (as a
    /// careful attacker would), so that only the trust rule stands between the command and this machine.
    func replaceEnvironment(_ b: inout [String: Any], packages: [String: String]) {
        let id = SoftwareEnvironment(packages: packages).id
        b["environments"] = [["id": id, "packages": packages] as [String: Any]]
        b["steps"] = steps(b).map { var s = $0; s["environment_id"] = id; return s }
    }

    @Test("reproduce refuses a step that came from elsewhere, naming its origin and its exact command; --allow-foreign runs it, in a fresh folder, and its reproduction stays foreign")
    func foreignStepsDoNotRun() throws {
        let dir = TemporaryDirectory()
        let export = try sentExport(dir)
        let marker = dir.path("PWNED")
        let recordedFolder = dir.path("sender-folder")
        try FileManager.default.createDirectory(atPath: recordedFolder, withIntermediateDirectories: true)
        let hostile = try edited(export, dir, "hostile") { b in
            replaceEnvironment(&b, packages: ["ip_isr": "30.0.1"])
            b["steps"] = steps(b).map { s in
                var s = s
                s["command_template"] = ["/bin/sh", "-c", "touch '\(marker)' PWNED; cp \"$0\" \"$1\"", "{raw}", "{out}"]
                s["command_directory"] = recordedFolder
                s["command"] = "/bin/cp raw.fits out.fits"
                return s
            }
        }
        let victim = try repository(dir, "victim")
        try check(["import", victim, hostile])
        let cwd = dir.path("cwd")
        try FileManager.default.createDirectory(atPath: cwd, withIntermediateDirectories: true)

        // What provenance shows as the command is what reproduce would run, not the sender's text; the origin is shown.
        let shown = try check(["provenance", victim, "postISRCCD:\(Self.dataId)", "--collections", "u/s/run1"])
        #expect(shown.stdout.contains("touch"), "\(shown.stdout)")
        #expect(!shown.stdout.contains("/bin/cp raw.fits out.fits"), "\(shown.stdout)")
        #expect(shown.stdout.contains("foreign: made at sender"), "\(shown.stdout)")

        let refused = try check(["reproduce", victim, "--datasets", "postISRCCD", "--collections", "u/s/run1", "--run", "scratch/r1", "--format", "json"], 1,
                                in: cwd)
        #expect(!FileManager.default.fileExists(atPath: marker), "nothing that arrived runs unless the user says so")
        #expect(refused.stdout.contains("not-reproducible") && refused.stdout.contains("refused"), "\(refused.stdout)")
        #expect(refused.stdout.contains("made at sender") && refused.stdout.contains("--allow-foreign"), "\(refused.stdout)")
        #expect(refused.stdout.contains("touch"), "the refusal prints the exact argv: \(refused.stdout)")
        let dry = try check(["reproduce", victim, "--datasets", "postISRCCD", "--collections", "u/s/run1", "--dry-run"], 1, in: cwd)
        #expect(dry.stdout.contains("refused"), "\(dry.stdout)")
        #expect(!FileManager.default.fileExists(atPath: marker))

        // The user says so: it runs, in a fresh scratch folder (not the folder the sender named, nor the current one).
        try check(["reproduce", victim, "--datasets", "postISRCCD", "--collections", "u/s/run1", "--run", "scratch/r2", "--allow-foreign"], in: cwd)
        #expect(FileManager.default.fileExists(atPath: marker), "--allow-foreign runs the foreign step")
        #expect(!FileManager.default.fileExists(atPath: recordedFolder + "/PWNED") && !FileManager.default.fileExists(atPath: cwd + "/PWNED"),
                "the step ran in a fresh folder")
        try FileManager.default.removeItem(atPath: marker)

        // A step that reproduced a foreign step stays foreign: running it once does not make the command this repository's.
        let again = try check(["reproduce", victim, "--datasets", "postISRCCD", "--collections", "scratch/r2", "--run", "scratch/r3", "--format", "json"], 1,
                              in: cwd)
        #expect(again.stdout.contains("refused") && !FileManager.default.fileExists(atPath: marker), "\(again.stdout)")
        // An id that a bundle names is a claim: a butler.yaml list of ids is not read, the refusal stands.
        let senderId = try #require((try bundle(export)["source_repository"] as? [String: Any])?["id"] as? String)
        let config = victim + "/butler.yaml"
        let original = try String(contentsOfFile: config, encoding: .utf8)
        try (original + "\nprovenance:\n  trusted_repositories: [\(senderId)]\n").write(toFile: config, atomically: true, encoding: .utf8)
        try check(["reproduce", victim, "--datasets", "postISRCCD", "--collections", "u/s/run1", "--run", "scratch/r4"], 1, in: cwd)
        #expect(!FileManager.default.fileExists(atPath: marker))
        try original.write(toFile: config, atomically: true, encoding: .utf8)
        #expect(try check(["verify", victim, "--checksums"]).exitCode == 0)
    }

    @Test("an import cannot give this repository's own raw a producer, nor its datasets metrics, nor its RUNs config digests")
    func importAddsOnlyFactsAboutWhatItBrings() throws {
        let dir = TemporaryDirectory()
        let export = try sentExport(dir)
        let victim = try repository(dir, "victim")
        let raw = try #require(try check(["query-datasets", victim, "raw", "--format", "json"]).stdout
            .split(separator: "\"").map(String.init).first { UUID(uuidString: $0) != nil })
        // The victim's own step and RUN.
        try check(["run", victim, "--run", "u/v/run", "--task", "early", "--input", "raw=raw:\(Self.dataId)", "--collections", "LATISS/raw/all",
                   "--output", "out=postISRCCD:\(Self.dataId)", "--", "/bin/cp", "{raw}", "{out}"])
        let own = try check(["provenance", victim, "postISRCCD:\(Self.dataId)", "--collections", "u/v/run", "--format", "json"]).stdout

        // A producer for the victim's raw: refused, nothing written.
        let producer = try edited(export, dir, "producer") { b in
            var forged = steps(b)[0]
            forged["id"] = UUID().uuidString.lowercased()
            forged["inputs"] = [] as [Any]
            forged["outputs"] = [["dataset_id": raw, "role": "out"]]
            forged["log_dataset_id"] = nil
            b["steps"] = steps(b) + [forged]
        }
        let before = try registrySnapshot(victim)
        let refused = try check(["import", victim, producer], 1)
        #expect(refused.stderr.contains(raw) && refused.stderr.contains("claims to have made"), "\(refused.stderr)")
        #expect(try registrySnapshot(victim) == before, "nothing written")

        // A producer for a dataset not here yet whose id is derived from its data ID (as the raw a victim will ingest),
        // and a step filed under the victim's own RUN: refused, nothing written.
        let future = try edited(export, dir, "future") { b in
            var forged = steps(b)[0]
            forged["id"] = UUID().uuidString.lowercased()
            forged["inputs"] = [] as [Any]
            forged["outputs"] = [["dataset_id": "6f0b2a8e-1234-5abc-8def-0123456789ab", "role": "out"]]
            forged["log_dataset_id"] = nil
            b["steps"] = steps(b).map { var s = $0; s["inputs"] = [["dataset_id": "6f0b2a8e-1234-5abc-8def-0123456789ab", "role": "raw"]]; return s } + [forged]
        }
        let futureRefused = try check(["import", victim, future], 1)
        #expect(futureRefused.stderr.contains("derived from its data ID"), "\(futureRefused.stderr)")
        let squat = try edited(export, dir, "squat") { b in
            b["steps"] = steps(b).map { var s = $0; s["run"] = "u/v/run"; return s }
        }
        let squatRefused = try check(["import", victim, squat], 1)
        #expect(squatRefused.stderr.contains("u/v/run") && squatRefused.stderr.contains("own"), "\(squatRefused.stderr)")
        #expect(try registrySnapshot(victim) == before, "nothing written")

        // Metrics of local datasets and config digests of local RUNs are left out; the import goes on.
        let extras = try edited(export, dir, "extras") { b in
            b["metrics"] = (b["metrics"] as? [Any] ?? []) + [["dataset_id": raw, "name": "seeing", "value": 9.0] as [String: Any]]
            b["run_task_configs"] = (b["run_task_configs"] as? [Any] ?? []) + [["run": "u/v/run", "task_label": "isr", "config_digest": String(repeating: "0", count: 64)]]
        }
        try check(["import", victim, extras])
        let rawShown = try check(["query-datasets", victim, "raw", "--show-metrics"])
        #expect(!rawShown.stdout.contains("seeing"), "\(rawShown.stdout)")
        // The victim's next run of isr in its own RUN is not refused by a planted config digest.
        try check(["register-dataset-type", victim, "calexp", "ExposureF", "instrument", "detector", "exposure"])
        try check(["run", victim, "--run", "u/v/run", "--task", "isr", "--input", "raw=raw:\(Self.dataId)", "--collections", "LATISS/raw/all",
                   "--output", "out=calexp:\(Self.dataId)", "--", "/bin/cp", "{raw}", "{out}"])
        let after = try check(["provenance", victim, "postISRCCD:\(Self.dataId)", "--collections", "u/v/run", "--format", "json"]).stdout
        #expect(after == own, "the provenance of the victim's own product is unchanged")
        #expect(try check(["verify", victim, "--checksums"]).exitCode == 0)
    }

    @Test("environments and configs are checked against their content; every value is checked as record checks it")
    func contentAndValuesChecked() throws {
        let dir = TemporaryDirectory()
        let export = try sentExport(dir)
        let victim = try repository(dir, "victim")
        let cases: [(String, String, (inout [String: Any]) -> Void)] = [
            ("planted-environment", "hashes to", { b in
                var envs = b["environments"] as? [[String: Any]] ?? []
                envs[0]["packages"] = ["ip_isr": "6.6.6-backdoored"]
                b["environments"] = envs
            }),
            ("planted-config", "hashes to", { b in
                let hash = String(repeating: "ab", count: 32)
                b["configs"] = [["hash": hash, "format": "yaml", "content": "doBias: false\n"]]
                b["steps"] = self.steps(b).map { var s = $0; s["configs"] = ["isr.yaml": hash]; s["config_digest"] = nil; return s }
            }),
            ("ambiguous-environment", "control character", { b in
                let packages = ["ip_isr": "30.0.1\nnumpy==1.0"]
                b["environments"] = [["id": SoftwareEnvironment(packages: packages).id, "packages": packages] as [String: Any]]
                b["steps"] = self.steps(b).map { var s = $0; s["environment_id"] = SoftwareEnvironment(packages: packages).id; return s }
            }),
            ("exit-code", "99999999999 is not a 32-bit integer", { b in b["steps"] = self.steps(b).map { var s = $0; s["exit_code"] = 99999999999; return s } }),
            ("times", "before start", { b in
                b["steps"] = self.steps(b).map { var s = $0; s["end_time"] = (s["start_time"] as? Int64 ?? 10) - 5; return s }
            }),
            ("nul-host", "NUL", { b in b["steps"] = self.steps(b).map { var s = $0; s["host"] = "evil\u{0}host"; return s } }),
            ("data-id", "totally", { b in b["steps"] = self.steps(b).map { var s = $0; s["data_id"] = "totally=bogus"; return s } }),
            ("metric-name", "invalid metric name", { b in
                let output = ((self.steps(b)[0]["outputs"] as? [[String: Any]])?.first { $0["role"] as? String == "out" }?["dataset_id"]) ?? ""
                b["metrics"] = [["dataset_id": output, "name": "bad name <x>", "value": 1.0] as [String: Any]]
            }),
        ]
        for (name, expected, edit) in cases {
            let copy = try edited(export, dir, name, edit)
            let before = try registrySnapshot(victim)
            let result = try check(["import", victim, copy], 1)
            let lines = result.stderr.split(separator: "\n").filter { !$0.contains(" warning ") }
            #expect(lines.count == 1 && lines[0].contains(expected) && lines[0].contains("butler_provenance.json"), "\(name): \(result.stderr)")
            #expect(try registrySnapshot(victim) == before, "\(name): nothing written")
        }
        // The untouched export imports.
        try check(["import", victim, export])
    }

    @Test("the lineage that travels is whole: export, transfer and Zip carry the steps upstream whose RUN does not come, down to the raw; none of them runs unasked")
    func wholeLineageTravels() throws {
        let dir = TemporaryDirectory()
        let sender = try repository(dir, "sender")
        try check(["register-dataset-type", sender, "calexp", "ExposureF", "instrument", "detector", "exposure"])
        try check(["run", sender, "--run", "u/s/isr", "--task", "isr", "--input", "raw=raw:\(Self.dataId)", "--collections", "LATISS/raw/all",
                   "--output", "out=postISRCCD:\(Self.dataId)", "--", "/bin/cp", "{raw}", "{out}"])
        try check(["run", sender, "--run", "u/s/pvi", "--task", "pvi", "--input", "in=postISRCCD:\(Self.dataId)", "--collections", "u/s/isr",
                   "--output", "out=calexp:\(Self.dataId)", "--", "/bin/cp", "{in}", "{out}"])
        let export = dir.path("calexp-only")
        try check(["export", sender, export, "--collections", "u/s/pvi", "calexp"])
        let zips = dir.path("zips")
        try check(["retrieve-artifacts", sender, zips, "--collections", "u/s/pvi", "--zip"])
        let zip = try #require(try FileManager.default.contentsOfDirectory(atPath: zips).first { $0.hasSuffix(".zip") })

        let viaExport = try repository(dir, "via-export")
        try check(["import", viaExport, export])
        let viaTransfer = try repository(dir, "via-transfer")
        try check(["transfer-datasets", sender, viaTransfer, "calexp", "--collections", "u/s/pvi", "--register-dataset-types"])
        let viaZip = try repository(dir, "via-zip")
        try check(["ingest-zip", viaZip, zips + "/" + zip])
        for repo in [viaExport, viaTransfer, viaZip] {
            let shown = try check(["provenance", repo, "calexp:\(Self.dataId)", "--collections", "u/s/pvi", "--format", "json"])
            let graph = try #require(try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any])
            let steps = graph["steps"] as? [[String: Any]] ?? []
            #expect(Set(steps.compactMap { $0["task"] as? String }) == ["isr", "pvi"], "\(repo): \(shown.stdout)")
            #expect(steps.allSatisfy { ($0["origin"] as? [String: Any])?["name"] as? String == "sender" }, "\(repo): every step keeps its origin")
            let types = (graph["datasets"] as? [[String: Any]] ?? []).compactMap { $0["dataset_type"] as? String }
            #expect(types.contains("raw"), "\(repo): the lineage reaches the raw: \(shown.stdout)")
            #expect((graph["elsewhere"] as? [String])?.count == 1, "\(repo): the postISRCCD is held elsewhere: \(shown.stdout)")
            #expect(try check(["query-datasets", repo, "postISRCCD", "--collections", "u/s/isr"]).stdout.contains("postISRCCD") == false,
                    "\(repo): no dataset row pretends the postISRCCD is here")
            let refused = try check(["reproduce", repo, "calexp:\(Self.dataId)", "--collections", "u/s/pvi", "--upstream", "--run", "scratch/up", "--format", "json"], 1)
            #expect(refused.stdout.contains("refused: the step came from another repository"), "\(repo): \(refused.stdout)")
            try check(["verify", repo, "--checksums"])
        }
    }

    @Test("a reproduction verdict that arrives about a step of this repository is shown as the sender's claim, never as this repository's own")
    func foreignVerdictsAreAttributed() throws {
        let dir = TemporaryDirectory()
        let export = try sentExport(dir)
        let victim = try repository(dir, "victim")
        try check(["run", victim, "--run", "u/v/run", "--task", "isr", "--input", "raw=raw:\(Self.dataId)", "--collections", "LATISS/raw/all",
                   "--output", "out=postISRCCD:\(Self.dataId)", "--", "/bin/cp", "{raw}", "{out}"])
        let own = try check(["provenance", victim, "postISRCCD:\(Self.dataId)", "--collections", "u/v/run", "--format", "json"])
        let graph = try #require(try JSONSerialization.jsonObject(with: Data(own.stdout.utf8)) as? [String: Any])
        let localStep = try #require((graph["steps"] as? [[String: Any]])?.first?["id"] as? String)
        let claim = try edited(export, dir, "claim") { b in
            b["steps"] = steps(b).map { var s = $0; s["reproduces"] = ["original": localStep, "verdict": "differs", "detail": "forged", "checked_at": 1]; return s }
        }
        try check(["import", victim, claim])
        let tree = try check(["provenance", victim, "postISRCCD:\(Self.dataId)", "--collections", "u/v/run"])
        #expect(tree.stdout.contains("at sender (") && tree.stdout.contains("as it reports: differs"), "\(tree.stdout)")
    }
}
