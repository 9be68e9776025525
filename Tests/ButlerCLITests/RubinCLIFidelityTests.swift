import Foundation
import Testing
import ButlerKit
import ButlerTestSupport

/// Rubin's command line as Rubin's users type it (issue 28, items 13 and 15-18): Rubin's own CLI
/// (`.build/rubin-venv/bin/butler`) is asked at test time, for its options, its selections and its rows.
@Suite("Rubin's command line as Rubin's users type it", .serialized)
struct RubinCLIFidelityTests {
    // MARK: Item 13: short options

    @Test("every short option of every command shared with Rubin's CLI is accepted here, with its long form")
    func rubinShortOptions() throws {
        let rubinTop = try runRubinCLI(["--help"])
        try #require(rubinTop.exitCode == 0, "Rubin's butler --help failed: \(rubinTop.stderr)")
        let ourTop = try runButler(["--help"])
        let rubinCommands = Self.commandNames(inRubinHelp: rubinTop.stdout)
        let shared = rubinCommands.filter { ourTop.stdout.contains("  \($0) ") || ourTop.stdout.contains("  \($0)\n") }
        // Most of Rubin's commands are ours too; a parse of the help that found none would test nothing.
        #expect(shared.count >= 15, "shared commands found: \(shared)")
        var checked = 0
        for command in shared {
            let rubin = try runRubinCLI([command, "--help"])
            try #require(rubin.exitCode == 0, "Rubin's butler \(command) --help failed: \(rubin.stderr)")
            let ours = try runButler([command, "--help"])
            #expect(ours.exitCode == 0, "butler \(command) --help: \(ours.stderr)")
            for (short, long) in Self.shortOptions(inRubinHelp: rubin.stdout) where short != "-h" {
                checked += 1
                #expect(Self.lists(ours.stdout, short), "butler \(command) does not list Rubin's \(short) (\(long))")
                #expect(Self.lists(ours.stdout, long), "butler \(command) does not list Rubin's \(long)")
                // And it parses: no unknown-option error (a missing value or repository is another matter).
                let parsed = try runButler([command, short])
                #expect(!parsed.stderr.contains("Unknown option"), "butler \(command) \(short): \(parsed.stderr)")
            }
        }
        #expect(checked > 20, "short options checked: \(checked)")
    }

    /// The names under "Commands:" in Rubin's top-level help.
    static func commandNames(inRubinHelp text: String) -> [String] {
        guard let range = text.range(of: "Commands:") else { return [] }
        return text[range.upperBound...].split(separator: "\n").compactMap { line in
            let trimmed = line.drop { $0 == " " }
            guard line.hasPrefix("  "), let name = trimmed.split(separator: " ").first else { return nil }
            return String(name)
        }
    }

    /// `(-x, --long)` pairs from Rubin's click help (`  -d, --dataset-type TEXT ...`).
    static func shortOptions(inRubinHelp text: String) -> [(String, String)] {
        text.split(separator: "\n").compactMap { line in
            let trimmed = String(line.drop { $0 == " " })
            guard line.hasPrefix("  "), trimmed.count > 4, trimmed.hasPrefix("-"), !trimmed.hasPrefix("--") else { return nil }
            let short = String(trimmed.prefix(2))
            let rest = trimmed.dropFirst(2)
            guard rest.hasPrefix(", --") else { return nil }
            let long = rest.dropFirst(2).prefix { $0 != " " && $0 != "/" }
            return (short, String(long))
        }
    }

    /// Whether ArgumentParser's help lists an option name (`-d, --dataset-type <type>`, `--x/--no-x`).
    static func lists(_ help: String, _ name: String) -> Bool {
        var search = help.startIndex..<help.endIndex
        while let found = help.range(of: name, range: search) {
            let before = found.lowerBound == help.startIndex ? " " : help[help.index(before: found.lowerBound)]
            let after = found.upperBound == help.endIndex ? " " : help[found.upperBound]
            if " ,/\n".contains(before) && " ,/<=\n".contains(after) { return true }
            search = found.upperBound..<help.endIndex
        }
        return false
    }

    // MARK: Item 15: prune-datasets

    @Test("prune-datasets selects as Rubin's (first found per data ID, --find-all), asks before removing, --quiet")
    func pruneDatasetsAsRubin() throws {
        let f = try fixture()
        let searched = ["LATISS/calib/bias/20240101", "LATISS/calib/bias/20230101"]
        for extra in [[], ["--find-all"]] {
            let rubin = try runRubinCLI(["prune-datasets", f.rubinRepo] + searched + ["--unstore", "--dry-run"] + extra)
            try #require(rubin.exitCode == 0, "Rubin's prune-datasets --dry-run \(extra): \(rubin.stderr)")
            let ours = try runButler(["prune-datasets", f.repo] + searched + ["--dry-run", "--format", "json"] + extra)
            try #require(ours.exitCode == 0, "\(ours.stderr)")
            #expect(Set(try Self.ids(json: ours.stdout)) == Self.ids(text: rubin.stdout), "prune-datasets --dry-run \(extra)")
        }
        // The confirmation: nothing removed at the end of standard input (exit 1, as Rubin's "Aborted!"), nor on "n".
        let run = "LATISS/calib/bias/20240101"
        let before = try Self.ids(json: try runButler(["query-datasets", f.repo, "bias", "--collections", run, "--format", "json"]).stdout)
        #expect(before.count == 1)
        let eof = try runButler(["prune-datasets", f.repo, run, "--purge", run])
        #expect(eof.exitCode == 1 && eof.stdout.contains("Continue? [y/N]"), "\(eof.stdout)\(eof.stderr)")
        let no = try runButler(["prune-datasets", f.repo, run, "--purge", run], stdin: "n\n")
        #expect(no.exitCode == 0 && no.stdout.contains("Did not remove the datasets."), "\(no.stdout)")
        #expect(try Self.ids(json: try runButler(["query-datasets", f.repo, "bias", "--collections", run, "--format", "json"]).stdout) == before)
        let yes = try runButler(["prune-datasets", f.repo, run, "--purge", run], stdin: "y\n")
        #expect(yes.exitCode == 0 && yes.stdout.contains("The datasets were removed."), "\(yes.stdout)\(yes.stderr)")
        #expect(try Self.ids(json: try runButler(["query-datasets", f.repo, "bias", "--collections", run, "--format", "json"]).stdout).isEmpty)
        // --quiet: no question, nothing printed; not with --dry-run.
        let other = "LATISS/calib/bias/20230101"
        let quiet = try runButler(["prune-datasets", f.repo, other, "--purge", other, "--quiet"])
        #expect(quiet.exitCode == 0 && quiet.stdout.isEmpty, "\(quiet.stdout)\(quiet.stderr)")
        #expect(try Self.ids(json: try runButler(["query-datasets", f.repo, "bias", "--collections", other, "--format", "json"]).stdout).isEmpty)
        #expect(try runButler(["prune-datasets", f.repo, other, "--quiet", "--dry-run"]).exitCode == 2)
        #expect(try runButler(["prune-datasets", f.repo, "u/test/run1", "--no-confirm", "--find-all", "--dry-run"]).exitCode == 0)
    }

    // MARK: Item 16: query-datasets lists each dataset once

    @Test("query-datasets lists a dataset once, however many collections hold it (a RUN and a TAGGED collection)")
    func queryDatasetsOncePerDataset() throws {
        let f = try fixture()
        for args in [["calexp"], ["calexp", "--collections", "u/test/tagged", "--collections", "u/test/run1"], ["raw"]] {
            let rubin = try runRubinCLI(["query-datasets", f.rubinRepo] + args)
            try #require(rubin.exitCode == 0, "\(rubin.stderr)")
            let rubinRows = rubin.stdout.split(separator: "\n").filter { $0.range(of: Self.uuidPattern, options: .regularExpression) != nil }
            for format in ["json", "csv", "table"] {
                let ours = try runButler(["query-datasets", f.repo] + args + ["--format", format])
                try #require(ours.exitCode == 0, "\(ours.stderr)")
                let rows = ours.stdout.split(separator: "\n").filter { $0.range(of: Self.uuidPattern, options: .regularExpression) != nil }
                #expect(rows.count == rubinRows.count, "query-datasets \(args) --format \(format): \(rows.count) rows, Rubin \(rubinRows.count)")
                #expect(Self.ids(text: ours.stdout) == Self.ids(text: rubin.stdout))
            }
        }
    }

    // MARK: Item 17: Rubin's options, options files, global options, repository labels

    @Test("-d on transfer-datasets, associate and export-calibs; -@ options files in Rubin's format")
    func rubinOptionsAccepted() throws {
        let f = try fixture()
        let dest = f.dir.path("dest")
        try check(try runButler(try createArguments(dest)))
        let transferred = try runButler(["transfer-datasets", f.repo, dest, "-d", "calexp", "--collections", "u/test/run1", "--register-dataset-types"])
        #expect(transferred.exitCode == 0, "\(transferred.stderr)")
        #expect(try Self.ids(json: try runButler(["query-datasets", dest, "--format", "json"]).stdout).count == 2)
        let tagged = try runButler(["associate", f.repo, "u/fidelity/tag", "-d", "calexp", "--collections", "u/test/run1"])
        #expect(tagged.exitCode == 0 && tagged.stdout.contains("Tagged 2"), "\(tagged.stdout)\(tagged.stderr)")
        let calibs = try runButler(["export-calibs", f.repo, f.dir.path("calibs"), "LATISS/calib", "-d", "bias"])
        #expect(calibs.exitCode == 0, "\(calibs.stderr)")

        // An options file as Rubin reads it: Rubin's butler takes it too.
        let options = f.dir.path("options.yaml")
        try "query-datasets:\n  collections: [u/test/run1]\n  where: \"instrument = 'LATISS' AND visit = 2024062400106\"\n"
            .write(toFile: options, atomically: true, encoding: .utf8)
        let rubin = try runRubinCLI(["query-datasets", f.rubinRepo, "-@", options, "calexp"])
        try #require(rubin.exitCode == 0, "Rubin's butler refuses the options file: \(rubin.stderr)")
        let ours = try runButler(["query-datasets", f.repo, "-@", options, "calexp", "--format", "json"])
        #expect(ours.exitCode == 0, "\(ours.stderr)")
        #expect(Set(try Self.ids(json: ours.stdout)) == Self.ids(text: rubin.stdout))
        #expect(Self.ids(text: rubin.stdout).count == 1)
        // The command line wins over the file.
        let wins = try runButler(["query-datasets", f.repo, "--options-file", options, "calexp", "--where", "instrument = 'LATISS'", "--format", "json"])
        #expect(try Self.ids(json: wins.stdout).count == 2, "\(wins.stderr)")
        // A name the command does not have, or no section for the command: usage errors, as Rubin's.
        let bad = f.dir.path("bad.yaml")
        try "query-datasets:\n  nosuch: 1\n".write(toFile: bad, atomically: true, encoding: .utf8)
        #expect(try runRubinCLI(["query-datasets", f.rubinRepo, "-@", bad]).exitCode == 2)
        let refused = try runButler(["query-datasets", f.repo, "-@", bad])
        #expect(refused.exitCode == 2 && refused.stderr.contains("'nosuch'"), "\(refused.stderr)")
        #expect(try runButler(["query-collections", f.repo, "-@", options]).exitCode == 2)
        // A flag set false in the file is its --no- form.
        let flags = f.dir.path("flags.yaml")
        try "query-collections:\n  chains: no-children\n  t: true\n".write(toFile: flags, atomically: true, encoding: .utf8)
        let listed = try runButler(["query-collections", f.repo, "-@", flags])
        #expect(listed.exitCode == 0 && listed.stdout.contains("Dataset Types"), "\(listed.stdout)\(listed.stderr)")
    }

    @Test("global --long-log, --log-file, --progress; REPO as a file:// URI or a repository index label")
    func globalOptionsAndRepositoryLabels() throws {
        let f = try fixture()
        let log = f.dir.path("butler.log")
        let logged = try runButler(["--long-log", "--log-file", log, "--progress", "--log-level", "DEBUG", "query-collections", f.repo])
        #expect(logged.exitCode == 0, "\(logged.stderr)")
        #expect(FileManager.default.fileExists(atPath: log))
        #expect(try runButler(["--no-progress", "--no-log-tty", "query-collections", f.repo]).exitCode == 0)
        let reference = try runButler(["query-collections", f.repo, "--format", "json"])
        let uri = try runButler(["query-collections", URL(fileURLWithPath: f.repo).absoluteString, "--format", "json"])
        #expect(uri.exitCode == 0 && uri.stdout == reference.stdout, "\(uri.stderr)")
        for (name, text) in [("index.yaml", "fidelity: \(f.repo)\n"), ("index.json", "{\"fidelity\": \"\(URL(fileURLWithPath: f.repo).absoluteString)\"}")] {
            let index = f.dir.path(name)
            try text.write(toFile: index, atomically: true, encoding: .utf8)
            let labelled = try runButler(["query-collections", "fidelity", "--format", "json"], environment: ["DAF_BUTLER_REPOSITORY_INDEX": index])
            #expect(labelled.exitCode == 0 && labelled.stdout == reference.stdout, "\(name): \(labelled.stderr)")
        }
        let direct = try runButler(["query-collections", "fidelity", "--format", "json"], environment: ["DAF_BUTLER_REPOSITORIES": "fidelity: \(f.repo)\n"])
        #expect(direct.exitCode == 0 && direct.stdout == reference.stdout, "\(direct.stderr)")
        let unknown = try runButler(["query-collections", "nosuch-label"], environment: ["DAF_BUTLER_REPOSITORIES": "fidelity: \(f.repo)\n"])
        #expect(unknown.exitCode == 1 && unknown.stderr.contains("nosuch-label"), "\(unknown.stderr)")
        let remote = try runButler(["query-collections", "s3://bucket/repo"])
        #expect(remote.exitCode == 1 && remote.stderr.contains("s3://"), "\(remote.stderr)")
    }

    // MARK: Item 18: one shape for the same thing

    @Test("data_id is an object in every JSON output; jobs files write lower-case UUIDs; a bad --order-by names --order-by")
    func oneShape() throws {
        let f = try fixture()
        let found = try runButler(["find-dataset", f.repo, "calexp:instrument=LATISS,detector=0,visit=2024062400106", "--collections", "u/test/run1", "--format", "json"])
        try #require(found.exitCode == 0, "\(found.stderr)")
        let foundRows = try #require(try JSONSerialization.jsonObject(with: Data(found.stdout.utf8)) as? [[String: Any]])
        let foundDataId = try #require(foundRows.first?["data_id"] as? [String: Any], "\(found.stdout)")
        #expect(foundDataId["instrument"] as? String == "LATISS" && foundDataId["visit"] as? Int == 2024062400106)
        let pruned = try runButler(["prune-datasets", f.repo, "u/test/run1", "--dry-run", "--format", "json"])
        let prunedRows = try #require(try JSONSerialization.jsonObject(with: Data(pruned.stdout.utf8)) as? [[String: Any]])
        #expect(!prunedRows.isEmpty && prunedRows.allSatisfy { ($0["data_id"] as? [String: Any])?["detector"] as? Int == 0 }, "\(pruned.stdout)")
        let queried = try runButler(["query-datasets", f.repo, "calexp", "--format", "json"])
        let queriedRows = try #require(try JSONSerialization.jsonObject(with: Data(queried.stdout.utf8)) as? [[String: Any]])
        #expect(queriedRows.allSatisfy { $0["data_id"] is [String: Any] })

        let order = try runButler(["query-data-ids", f.repo, "instrument", "--order-by", "nosuch"])
        #expect(order.exitCode == 1 && order.stderr.contains("--order-by") && !order.stderr.contains("--where"), "\(order.stderr)")

        let batch = try BatchRepository(raws: 1)
        let lines = try String(contentsOfFile: batch.jobs, encoding: .utf8).split(separator: "\n")
        let header = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        let repositoryId = try #require((header["repository"] as? [String: Any])?["id"] as? String)
        #expect(repositoryId == repositoryId.lowercased(), "\(lines[0])")
        let job = try #require(try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any])
        let inputIds = (job["inputs"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        #expect(!inputIds.isEmpty && inputIds.allSatisfy { $0 == $0.lowercased() && UUID(uuidString: $0) != nil }, "\(lines[1])")
        // The same id as query-datasets prints it.
        let raws = try Self.ids(json: try runButler(["query-datasets", batch.repo, "raw", "--format", "json"]).stdout)
        #expect(Set(inputIds).isSubset(of: Set(raws)))
        // And a jobs file still runs.
        #expect(try batch.stagedRun(1).exitCode == 0)
    }

    // MARK: Helpers

    static let uuidPattern = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

    /// The dataset ids in printed text (Rubin's tables, our tables and CSV).
    static func ids(text: String) -> Set<String> {
        let regex = try! NSRegularExpression(pattern: uuidPattern)
        let range = NSRange(text.startIndex..<text.endIndex, in: text)
        return Set(regex.matches(in: text, range: range).map { String(text[Range($0.range, in: text)!]).lowercased() })
    }

    /// The `id` of each object of our JSON array output.
    static func ids(json text: String) throws -> [String] {
        let rows = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] ?? []
        return rows.compactMap { $0["id"] as? String }
    }

    struct Fixture {
        let dir: TemporaryDirectory
        /// Rubin's repository (make_rubin_repo.py): raw, bias in two RUNs certified into LATISS/calib, calexp in
        /// u/test/run1 and tagged into u/test/tagged, chains.
        let rubinRepo: String
        /// Ours, from Rubin's export of it.
        let repo: String
    }

    /// A fresh pair of repositories holding the same datasets (each test changes its own).
    func fixture() throws -> Fixture {
        let dir = TemporaryDirectory("rubin-cli")
        let out = dir.path("rubin")
        let made = try runProcess(packageRoot.appendingPathComponent(".build/rubin-venv/bin/python").path,
                                  [packageRoot.appendingPathComponent("scripts/rubin/make_rubin_repo.py").path, out,
                                   "--fixtures", fixturesDirectory.appendingPathComponent("raw/lsst").path])
        try #require(made.exitCode == 0, "make_rubin_repo.py failed (make rubin-venv?): \(made.stderr)")
        let repo = dir.path("ours")
        try check(try runButler(try createArguments(repo)))
        try check(try runButler(["import", repo, out + "/export"]))
        return Fixture(dir: dir, rubinRepo: out + "/repo", repo: repo)
    }

    func check(_ result: CommandResult, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try #require(result.exitCode == 0, "\(result.stderr)\(result.stdout)", sourceLocation: sourceLocation)
    }
}

/// Runs Rubin's `butler` command line from the test venv.
func runRubinCLI(_ arguments: [String]) throws -> CommandResult {
    let binary = packageRoot.appendingPathComponent(".build/rubin-venv/bin/butler").path
    guard FileManager.default.isExecutableFile(atPath: binary) else {
        throw ButlerError(.notFound, "Rubin's butler is not at \(binary): run make rubin-venv")
    }
    return try runProcess(binary, arguments)
}
