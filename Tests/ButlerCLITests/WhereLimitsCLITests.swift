import Foundation
import Testing
import ButlerKit
import ButlerTestSupport

/// Very long and very deep `--where` expressions, through the built binary (so that a crash shows as a signal), on
/// the test backend: long flat lists compile to flat SQL and work, deep nesting is refused in a few short lines, and
/// no error prints a whole SQL statement.
@Suite("butler --where limits")
struct WhereLimitsCLITests {
    static let exposures = ["160496", "229388", "904024", "2023032100053", "2024062400106", "2025041500060", "2025042500031",
                            "2025060900578", "2024110800266", "1038843"]

    func repository(_ dir: TemporaryDirectory) throws -> String {
        let repo = dir.path("repo")
        #expect(try runButler(try createArguments(repo)).exitCode == 0)
        #expect(try runButler(["ingest-raws", repo, fixturesDirectory.appendingPathComponent("raw").path, "-t", "direct"]).exitCode == 0)
        return repo
    }

    /// The exposure column of `query-data-ids exposure --where expression` as CSV, sorted; nil when it failed.
    /// Rubin refuses `exposure = 5` without the instrument named: an expression that names none is asked with
    /// `AND instrument IN (every fixture instrument)` appended, true of every row, so the answer is the expression's.
    func exposures(_ repo: String, _ expression: String) throws -> [String]? {
        let asked = expression.contains("instrument") ? expression : expression + " AND instrument IN (\(fixtureInstruments))"
        let result = try runButler(["query-data-ids", repo, "exposure", "--where", asked, "--format", "csv"])
        #expect(result.exitCode == 0 || result.exitCode == 1, "exit \(result.exitCode): \(result.stderr.prefix(300))")
        guard result.exitCode == 0 else { return nil }
        return result.stdout.split(separator: "\n").dropFirst().map { String($0.split(separator: ",")[1]) }.sorted()
    }

    /// A failed run's error: a few lines, none of them long, and no SQL statement in full.
    func expectShortError(_ result: CommandResult, _ what: String) {
        #expect(result.exitCode == 1, "\(what): exit \(result.exitCode)")
        let lines = result.stderr.split(separator: "\n")
        #expect(!lines.isEmpty && lines.count <= 3, "\(what): \(lines.count) lines")
        #expect(lines.allSatisfy { $0.count <= 400 }, "\(what): a line of \(lines.map(\.count).max() ?? 0) characters")
        #expect(!result.stderr.contains("Signal") && !result.stderr.contains("crashed"), "\(what)")
    }

    @Test("1,000 ORs of exposure = N, 1,000 ANDs, mixed OR lists and a 20,000-term sum all run")
    func longFlatLists() throws {
        let dir = TemporaryDirectory()
        let repo = try repository(dir)
        let all = Self.exposures.sorted()

        let ors = (["exposure = 2023032100053", "exposure = 904024"] + (0..<1000).map { "exposure = \($0)" }).joined(separator: " OR ")
        #expect(try exposures(repo, ors) == ["2023032100053", "904024"])

        let ands = (0..<1000).map { "exposure != \($0)" }.joined(separator: " AND ")
        #expect(try exposures(repo, ands) == all)

        // Equalities on one name grouped into IN, among other conditions, keep their meaning.
        let mixed = (0..<500).map { "exposure = \($0) OR instrument = 'X\($0)'" }.joined(separator: " OR ")
            + " OR instrument = 'HSC' OR exposure = 1038843 OR (exposure > 2025050000000 AND band = 'y')"
        #expect(try exposures(repo, mixed) == ["1038843", "2025060900578", "904024"])
        let ands2 = (0..<1000).map { "(exposure != \($0) OR instrument = 'HSC')" }.joined(separator: " AND ") + " AND NOT instrument IN ('LSSTCam', 'DECam')"
        #expect(try exposures(repo, ands2) == all.filter { !["2025041500060", "2025042500031", "2025060900578", "160496", "229388"].contains($0) })

        // (One argument may hold at most 128 KiB.)
        let sum = "exposure = 904023+" + Array(repeating: "1", count: 20_000).joined(separator: "+") + "-" + Array(repeating: "1", count: 19_999).joined(separator: "-")
        #expect(try exposures(repo, sum) == ["904024"])
        // Signs of a mixed sum survive the balanced SQL.
        #expect(try exposures(repo, "exposure = 1038843 - 2 + 3 - 4 - 5 + 8 - 1 + 1") == ["1038843"])
        #expect(try exposures(repo, "exposure = -5 - 3 + 1038851") == ["1038843"])
        #expect(try exposures(repo, "exposure - 1 - 1038841 = 1") == ["1038843"])
    }

    @Test("6,000 nested parentheses, NOTs or signs and a 20,000-factor product: a short error, no crash")
    func deepNesting() throws {
        let dir = TemporaryDirectory()
        let repo = try repository(dir)
        let parens = String(repeating: "(", count: 6000) + "exposure = 1" + String(repeating: ")", count: 6000)
        let result = try runButler(["query-data-ids", repo, "exposure", "--where", parens])
        expectShortError(result, "parentheses")
        #expect(result.stderr.contains("nests more than 200 levels"))
        #expect(result.stderr.contains("at column 201"))
        for (what, expression) in [
            ("NOT", String(repeating: "NOT ", count: 6000) + "exposure = 1"),
            ("signs", "exposure = " + String(repeating: "-", count: 6000) + "1"),
            ("function", String(repeating: "GLOB(", count: 6000) + "x"),
            ("product", "exposure = " + Array(repeating: "1", count: 20_000).joined(separator: "*")),
            ("comparisons", "exposure" + String(repeating: " < 1", count: 6000)),
        ] {
            let result = try runButler(["query-data-ids", repo, "exposure", "--where", expression])
            expectShortError(result, what)
            #expect(result.stderr.contains("nests more than 200 levels"), "\(what)")
        }
        // Within the limit, nesting works (or, where the engine's own parser gives up first, fails in one short line).
        #expect(try exposures(repo, String(repeating: "(", count: 200) + "exposure = 904024" + String(repeating: ")", count: 200)) == ["904024"])
        let nots = try runButler(["query-data-ids", repo, "exposure", "--where", String(repeating: "NOT ", count: 150) + "exposure = 904024 AND instrument = 'HSC'"])
        if nots.exitCode != 0 { expectShortError(nots, "150 NOTs") }
    }

    @Test("ranges reaching the ends of 64-bit integers neither overflow nor enumerate: an answer or one short error")
    func extremeRanges() throws {
        let dir = TemporaryDirectory()
        let repo = try repository(dir)
        let max = Int.max, min = Int.min
        for range in ["\(max - 7)..\(max)", "\(-max)..\(max):3", "\(min)..\(min)", "0..\(max)", "\(max)..\(max - 1)"] {
            let result = try runButler(["query-data-ids", repo, "exposure", "--where", "instrument = 'HSC' AND exposure IN (\(range))", "--format", "csv"])
            #expect(result.exitCode == 0, "\(range): \(result.stderr)")
        }
        #expect(try exposures(repo, "instrument = 'HSC' AND exposure IN (\(-max)..\(max))") == ["904024"])
        // A sky pixel range is enumerated (pixels become regions): more than a million values is one short error.
        for range in ["0..\(max)", "\(-max)..\(max)"] {
            let result = try runButler(["query-data-ids", repo, "exposure", "--where", "instrument = 'HSC' AND htm7 IN (\(range))"])
            expectShortError(result, "htm7 \(range)")
            #expect(result.stderr.contains("lists more than 1000000 htm7 pixels"), "\(result.stderr)")
        }
    }

    @Test("an error of a long expression shows a short window around the place")
    func longExpressionError() throws {
        let dir = TemporaryDirectory()
        let repo = try repository(dir)
        let expression = (0..<2000).map { "exposure = \($0)" }.joined(separator: " OR ") + " OR nosuchname = 3"
        let result = try runButler(["query-data-ids", repo, "exposure", "--where", expression])
        expectShortError(result, "unknown name")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines[0].contains("unknown name 'nosuchname'"))
        #expect(lines.count == 3 && lines[1].contains("nosuchname") && lines[2].hasSuffix("^"))
        if lines.count == 3, let caret = lines[2].firstIndex(of: "^") {
            let offset = lines[2].distance(from: lines[2].startIndex, to: caret)
            #expect(lines[1].dropFirst(offset).hasPrefix("nosuchname"))
        }
    }
}
