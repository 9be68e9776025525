import Foundation
import Testing
import ButlerKit
import ButlerTestSupport

/// End-to-end tests: they run the built `butler` binary and check its output and exit code.
@Suite("butler command line")
struct CLITests {
    @Test("help lists every subcommand and exits 0; unknown commands and missing arguments exit 2")
    func helpAndUsage() throws {
        let help = try runButler(["--help"])
        #expect(help.exitCode == 0)
        for command in ["create", "config-dump", "register-dataset-type", "remove-dataset-type", "query-dataset-types",
                        "query-collections", "collection-chain", "remove-collections", "remove-runs"] {
            #expect(help.stdout.contains(command), "help does not list \(command)")
            let sub = try runButler([command, "--help"])
            #expect(sub.exitCode == 0, "\(command) --help")
            #expect(sub.stdout.contains("USAGE"), "\(command) --help")
        }
        #expect(try runButler(["no-such-command"]).exitCode == 2)
        #expect(try runButler(["create"]).exitCode == 2)
        #expect(try runButler(["query-collections", "x", "--chains", "SIDEWAYS"]).exitCode == 2)
    }

    @Test("create, register dataset types, build chains, print them as a tree, table and JSON")
    func workflow() throws {
        let dir = TemporaryDirectory()
        let repo = dir.path("repo")
        #expect(try runButler(try createArguments(repo)).exitCode == 0)
        let raw = try runButler(["register-dataset-type", repo, "raw", "Exposure", "instrument", "detector", "exposure"])
        #expect(raw.exitCode == 0)
        #expect(raw.stdout == "Registered DatasetType('raw', {instrument, detector, exposure}, Exposure)\n")
        #expect(try runButler(["register-dataset-type", repo, "raw", "Exposure", "instrument", "detector", "exposure"]).exitCode == 0)
        #expect(try runButler(["register-dataset-type", repo, "bias", "ExposureF", "instrument", "detector", "--is-calibration"]).exitCode == 0)
        for run in ["LATISS/raw/all", "LATISS/runs/a"] {
            #expect(try runButler(["register-collection", repo, run, "--type", "RUN"]).exitCode == 0)
        }
        #expect(try runButler(["register-collection", repo, "LATISS/calib", "--type", "CALIBRATION"]).exitCode == 0)
        let chain = try runButler(["collection-chain", repo, "LATISS/defaults", "LATISS/raw/all,LATISS/calib"])
        #expect(chain.stdout == "[LATISS/raw/all, LATISS/calib]\n")
        #expect(try runButler(["collection-chain", repo, "LATISS/all", "LATISS/runs/a", "LATISS/defaults"]).exitCode == 0)

        let tree = try runButler(["query-collections", repo, "LATISS/all"])
        #expect(tree.stdout == """
            Name               Type
            ------------------ -----------
            LATISS/all         CHAINED
              LATISS/runs/a    RUN
              LATISS/defaults  CHAINED
                LATISS/raw/all RUN
                LATISS/calib   CALIBRATION

            """)
        let json = try runButler(["query-collections", repo, "--format", "json"])
        let parsed = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [[String: Any]]
        let all = parsed.first { $0["name"] as? String == "LATISS/all" }!
        #expect(all["type"] as? String == "CHAINED")
        #expect(all["children"] as? [String] == ["LATISS/runs/a", "LATISS/defaults"])
        #expect(all["flattened"] as? [String] == ["LATISS/runs/a", "LATISS/raw/all", "LATISS/calib"])
        let flat = try runButler(["query-collections", repo, "LATISS/all", "--chains", "flatten", "--format", "csv"])
        #expect(flat.stdout == "Name,Type\nLATISS/runs/a,RUN\nLATISS/raw/all,RUN\nLATISS/calib,CALIBRATION\n")
        let runsOnly = try runButler(["query-collections", repo, "--collection-type", "RUN", "--chains", "NO-CHILDREN", "--format", "csv"])
        #expect(runsOnly.stdout == "Name,Type\nLATISS/raw/all,RUN\nLATISS/runs/a,RUN\n")

        let types = try runButler(["query-dataset-types", repo, "--format", "json"])
        let typeList = try JSONSerialization.jsonObject(with: Data(types.stdout.utf8)) as! [[String: Any]]
        #expect(typeList.map { $0["name"] as! String } == ["bias", "raw"])
        #expect(typeList[0]["is_calibration"] as? Bool == true)
        #expect(typeList[1]["dimensions"] as? [String] == ["instrument", "detector", "exposure"])
        #expect(try runButler(["query-dataset-types", repo, "b*"]).stdout == "name\n----\nbias\n")

        // Removals ask on standard input, terminal or not, as Rubin's: no answer removes nothing (exit 1), "n" aborts.
        let unanswered = try runButler(["remove-collections", repo, "LATISS/all"])
        #expect(unanswered.exitCode == 1 && unanswered.stderr.contains("nothing was removed"), "\(unanswered.stderr)")
        #expect(try runButler(["remove-runs", repo, "LATISS/runs/*"], stdin: "n\n").stdout.contains("Aborted."))
        #expect(try runButler(["query-collections", repo, "LATISS/*", "--format", "csv"]).stdout.contains("LATISS/runs/a"))
        #expect(try runButler(["remove-collections", repo, "LATISS/all"], stdin: "y\n").exitCode == 0)
        #expect(try runButler(["remove-runs", repo, "LATISS/runs/*", "--no-confirm"]).stdout.contains("Removed run LATISS/runs/a"))
        #expect(try runButler(["remove-dataset-type", repo, "bias"]).exitCode == 0)
        #expect(try runButler(["query-dataset-types", repo, "--format", "csv"]).stdout == "name\nraw\n")
    }

    @Test("bad input: one line naming the thing and the reason, exit 1, registry unchanged", arguments: [
        (["register-dataset-type", "REPO", "raw", "Exposure", "instrument", "bogus"], "bogus"),
        (["register-dataset-type", "REPO", "raw", "NoSuchStorage", "instrument"], "NoSuchStorage"),
        (["register-dataset-type", "REPO", "bad.name", "Exposure", "instrument"], "bad.name"),
        (["register-dataset-type", "REPO", "calexp", "ExposureF", "instrument"], "different definition"),
        (["register-collection", "REPO", "bad name", "--type", "RUN"], "bad name"),
        (["collection-chain", "REPO", "inner", "outer", "--mode", "extend"], "cycle"),
        (["collection-chain", "REPO", "inner", "missing", "--mode", "extend"], "missing"),
        (["remove-collections", "REPO", "inner", "--no-confirm"], "outer"),
        (["remove-collections", "REPO", "run1", "--no-confirm"], "RUN"),
        (["remove-runs", "REPO", "run1", "--no-confirm"], "inner"),
        (["remove-runs", "REPO", "inner", "--no-confirm"], "not a RUN"),
        (["remove-dataset-type", "REPO", "nothing"], "nothing"),
        (["config-dump", "REPO", "--subset", "nope"], "nope"),
    ])
    func badInput(_ arguments: [String], _ expected: String) throws {
        let dir = TemporaryDirectory()
        let repo = dir.path("repo")
        #expect(try runButler(try createArguments(repo)).exitCode == 0)
        #expect(try runButler(["register-dataset-type", repo, "calexp", "ExposureF", "visit", "detector"]).exitCode == 0)
        #expect(try runButler(["register-collection", repo, "run1", "--type", "RUN"]).exitCode == 0)
        #expect(try runButler(["collection-chain", repo, "inner", "run1"]).exitCode == 0)
        #expect(try runButler(["collection-chain", repo, "outer", "inner"]).exitCode == 0)
        let before = try registrySnapshot(repo)
        let result = try runButler(arguments.map { $0 == "REPO" ? repo : $0 })
        #expect(result.exitCode == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.hasPrefix("butler: error: "))
        #expect(result.stderr.split(separator: "\n").count == 1, "one line: \(result.stderr)")
        #expect(result.stderr.contains(expected), "\(result.stderr)")
        #expect(try registrySnapshot(repo) == before)
    }

    @Test("bad repositories: missing, not a repository, corrupt butler.yaml, existing repository")
    func badRepositories() throws {
        let dir = TemporaryDirectory()
        let missing = try runButler(["query-collections", dir.path("missing")])
        #expect(missing.exitCode == 1)
        #expect(missing.stderr.contains(dir.path("missing")))
        let notRepo = try runButler(["query-dataset-types", dir.path])
        #expect(notRepo.exitCode == 1)
        #expect(notRepo.stderr.contains("not a butler repository"))
        let repo = dir.path("repo")
        #expect(try runButler(try createArguments(repo)).exitCode == 0)
        let again = try runButler(try createArguments(repo))
        #expect(again.exitCode == 1)
        #expect(again.stderr.contains("exists already"))
        try "registry: {db: [oops\n".write(toFile: repo + "/butler.yaml", atomically: true, encoding: .utf8)
        let corrupt = try runButler(["query-collections", repo])
        #expect(corrupt.exitCode == 1)
        #expect(corrupt.stderr.contains("butler.yaml"))
        #expect(corrupt.stderr.split(separator: "\n").count == 1)
    }

    @Test("--log-level works before or after the subcommand; logs go to stderr only")
    func logLevel() throws {
        let dir = TemporaryDirectory()
        let result = try runButler(["--log-level", "INFO", "create", dir.path("repo")])
        #expect(result.exitCode == 0)
        #expect(result.stdout == "Created repository \(dir.path("repo"))\n")
        #expect(result.stderr.contains("created repository"))
        let quiet = try runButler(["query-collections", dir.path("repo"), "--log-level=ERROR", "--format", "json"])
        #expect(quiet.stderr.isEmpty)
        #expect(quiet.stdout == "[]\n")
    }

    @Test("config-dump prints the full configuration and a subset")
    func configDump() throws {
        let dir = TemporaryDirectory()
        let repo = dir.path("repo")
        #expect(try runButler(try createArguments(repo)).exitCode == 0)
        let dump = try runButler(["config-dump", repo])
        #expect(dump.exitCode == 0)
        #expect(dump.stdout.contains("registry:"))
        #expect(dump.stdout.contains("dimensions:"))
        let root = try runButler(["config-dump", repo, "--subset", ".datastore.root"])
        if testDatastoreIsBucket {
            #expect(root.stdout.hasPrefix("s3://"), "\(root.stdout)")
        } else {
            #expect(root.stdout == "\(repo)/datastore\n")
        }
    }
}
