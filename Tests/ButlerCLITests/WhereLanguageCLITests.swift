import Foundation
import Testing
import ButlerKit
import ButlerTestSupport

/// The where language from the command line, and the corpus of `Fixtures/where/corpus.tsv` judged again by Rubin's own
/// query system (lsst-daf-butler in `.build/rubin-venv`), so that the verdicts the kit tests compare against are
/// Rubin's, not ours.
@Suite("butler --where, Rubin's grammar")
struct WhereLanguageCLITests {
    @Test("Rubin's query system gives every corpus expression the verdict recorded in the corpus")
    func rubinJudgesTheCorpus() throws {
        let python = packageRoot.appendingPathComponent(".build/rubin-venv/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            Issue.record("\(python) is missing: run make rubin-venv (Rubin's butler judges the corpus)")
            return
        }
        let corpus = try String(contentsOf: fixturesDirectory.appendingPathComponent("where/corpus.tsv"), encoding: .utf8)
        let lines = corpus.split(separator: "\n").filter { !$0.hasPrefix("#") }
        let result = try runProcess(python, [packageRoot.appendingPathComponent("scripts/rubin/check_where.py").path], stdin: corpus)
        #expect(result.exitCode == 0, "\(result.stderr.suffix(500))")
        let verdicts = result.stdout.split(separator: "\n")
        #expect(verdicts.count == lines.count)
        for (line, verdict) in zip(lines, verdicts) {
            let recorded = line.split(separator: "\t", maxSplits: 1)
            #expect(String(recorded[0]) == String(verdict.split(separator: " ")[0]), "Rubin now says \(verdict) for: \(recorded[1])")
        }
    }

    @Test("a --where expression that begins with '-' is an expression, not an option")
    func leadingMinus() throws {
        let dir = TemporaryDirectory()
        let repo = dir.path("repo")
        #expect(try runButler(try createArguments(repo)).exitCode == 0)
        #expect(try runButler(["ingest-raws", repo, fixturesDirectory.appendingPathComponent("raw").path, "-t", "direct"]).exitCode == 0)
        let result = try runButler(["query-data-ids", repo, "exposure", "--where", "-exposure > -200000 AND instrument = 'DECam'", "--format", "csv"])
        #expect(result.exitCode == 0, "\(result.stderr)")
        #expect(result.stdout.split(separator: "\n").dropFirst().map { String($0.split(separator: ",")[1]) } == ["160496"])
        let datasets = try runButler(["query-datasets", repo, "raw", "--where", "-exposure > -200000 AND instrument = 'DECam'", "--format", "csv"])
        #expect(datasets.exitCode == 0, "\(datasets.stderr)")
        #expect(datasets.stdout.contains("160496"))
    }
}
