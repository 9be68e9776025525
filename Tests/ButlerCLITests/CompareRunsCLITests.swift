import ButlerKit
import ButlerTestSupport
import Foundation
import Testing

/// `butler compare-runs`: QA metrics of two reprocessings, matched by data ID, with the provenance change that goes
/// with a shift (issue 16).
@Suite("Comparing the metrics of two reprocessings")
struct CompareRunsCLITests {
    static let demoStep = toolBinary("demo-step")

    @discardableResult
    func check(_ result: CommandResult, _ expected: Int32 = 0, sourceLocation: SourceLocation = #_sourceLocation) throws -> CommandResult {
        #expect(result.exitCode == expected, "exit \(result.exitCode): \(result.stdout)\(result.stderr)", sourceLocation: sourceLocation)
        return result
    }

    /// The demo pipeline (isr, then pvi writing the seeing) over 8 LSSTCam detectors, twice: drp/v1 with ip_isr 30.0.1
    /// everywhere; drp/v2 with ip_isr 30.0.2 on the even detectors, whose seeing is 12% worse, and 30.0.1 elsewhere.
    func twoReprocessings(_ dir: TemporaryDirectory) throws -> String {
        let raws = dir.path("raws")
        try check(try runProcess(toolBinary("make-raws"),
                                 [fixture("lsst/lsstCam-MC_O_20250609_000578_R01_S01.fits"), raws, "8", "32", "8", "100"]))
        let repo = dir.path("repo")
        try check(try runButler(try createArguments(repo)))
        try check(try runButler(["ingest-raws", repo, raws]))
        for type in ["postISRCCD", "calexp"] {
            try check(try runButler(["register-dataset-type", repo, type, "ExposureF", "instrument", "detector", "exposure"]))
        }
        let listing = try JSONSerialization.jsonObject(with: Data(try runButler(["query-datasets", repo, "raw", "--format", "json"]).stdout.utf8)) as? [[String: Any]] ?? []
        #expect(listing.count == 8)
        for raw in listing {
            let dataId = raw["data_id"] as! [String: Any]
            let detector = dataId["detector"] as! Int
            let id = "instrument=LSSTCam,detector=\(detector),exposure=\(dataId["exposure"] as! Int)"
            for (run, changed) in [("drp/v1", false), ("drp/v2", detector % 2 == 0)] {
                let seeing = (0.80 + 0.01 * Double(detector)) * (changed ? 1.12 : 1)
                try check(try runButler(["run", repo, "--run", run + "/isr", "--task", "isr", "--input", "raw=raw:\(id)", "--collections", "LSSTCam/raw/all",
                                         "--output", "out=postISRCCD:\(id)", "--package", "ip_isr=" + (changed ? "30.0.2" : "30.0.1"),
                                         "--", Self.demoStep, "pvi", "{raw}", "{out}", "{metrics}"]))
                try check(try runButler(["run", repo, "--run", run + "/pvi", "--task", "pvi", "--input", "in=postISRCCD:\(id)", "--collections", run + "/isr",
                                         "--output", "out=calexp:\(id)", "--package", "pipe_tasks=30.0.1",
                                         "--", Self.demoStep, "pvi", "{in}", "{out}", "{metrics}", "--seeing", String(format: "%.6f", seeing)]))
            }
        }
        for run in ["drp/v1", "drp/v2"] {
            try check(try runButler(["collection-chain", repo, run, run + "/pvi", run + "/isr"]))
        }
        return repo
    }

    @Test("the seeing shift is attributed to the package that changed, unchanged elsewhere; table, JSON, CSV and a picture")
    func attribution() throws {
        let dir = TemporaryDirectory()
        let repo = try twoReprocessings(dir)
        let table = try check(try runButler(["compare-runs", repo, "drp/v1", "drp/v2", "calexp", "--metric", "seeing", "--plot", dir.path("seeing.svg")]))
        #expect(table.stdout.contains("seeing +12.0% on the 4 calexp whose isr ran with ip_isr 30.0.2 instead of 30.0.1; unchanged elsewhere"), "\(table.stdout)")

        let json = try check(try runButler(["compare-runs", repo, "drp/v1", "drp/v2", "--format", "json"]))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let metrics = try #require(object["metrics"] as? [[String: Any]])
        #expect(Set(metrics.compactMap { $0["metric"] as? String }) == ["seeing", "zero_point"], "every metric when none is named")
        let seeing = try #require(metrics.first { $0["metric"] as? String == "seeing" })
        #expect((seeing["a"] as? [String: Any])?["count"] as? Int == 8)
        let groups = try #require(seeing["groups"] as? [[String: Any]])
        #expect(groups.count == 2)
        #expect(groups[0]["changes"] as? [String] == ["isr ran with ip_isr 30.0.2 instead of 30.0.1"])
        #expect((groups[0]["data_ids"] as? [[String: Any]])?.allSatisfy { [0, 2, 4, 6].contains($0["detector"] as? Int ?? -1) } == true)
        #expect(abs((groups[0]["relative_median"] as? Double ?? 0) - 0.12) < 1e-4)
        #expect(groups[1]["changes"] as? [String] == [] && (groups[1]["difference"] as? [String: Any])?["median"] as? Double == 0)
        let movers = try #require(seeing["movers"] as? [[String: Any]])
        #expect(movers.count == 5 && (movers[0]["data_id"] as? [String: Any])?["detector"] as? Int == 6, "the largest shift first: \(movers)")

        let csv = try check(try runButler(["compare-runs", repo, "drp/v1", "drp/v2", "calexp", "--metric", "seeing", "--format", "csv"]))
        #expect(csv.stdout.hasPrefix("dataset_type,metric,count,median_a,spread_a,median_b,spread_b,median_diff,spread_diff,missing_in_a,missing_in_b\ncalexp,seeing,8,"))
        #expect(csv.stdout.components(separatedBy: "\n")[1].hasSuffix(",0,0"), "\(csv.stdout)")

        // A third reprocessing of four detectors, whose pvi did not measure anything on two of them (a plain copy):
        // those are counted as not measured in B, the four not reprocessed as only in A.
        let listing = try JSONSerialization.jsonObject(with: Data(try runButler(["query-datasets", repo, "postISRCCD", "--collections", "drp/v1/isr", "--format", "json"]).stdout.utf8)) as? [[String: Any]] ?? []
        for row in listing {
            let dataId = row["data_id"] as! [String: Any]
            let detector = dataId["detector"] as! Int
            guard detector < 4 else { continue }
            let id = "instrument=LSSTCam,detector=\(detector),exposure=\(dataId["exposure"] as! Int)"
            let command = detector < 2 ? ["/bin/cp", "{in}", "{out}"] : [Self.demoStep, "pvi", "{in}", "{out}", "{metrics}", "--seeing", String(format: "%.6f", 0.80 + 0.01 * Double(detector))]
            try check(try runButler(["run", repo, "--run", "drp/v3/pvi", "--task", "pvi", "--input", "in=postISRCCD:\(id)", "--collections", "drp/v1/isr",
                                     "--output", "out=calexp:\(id)", "--package", "pipe_tasks=30.0.1", "--"] + command))
        }
        let partial = try check(try runButler(["compare-runs", repo, "drp/v1", "drp/v3/pvi", "calexp", "--metric", "seeing", "--format", "json"]))
        let partialObject = try #require(try JSONSerialization.jsonObject(with: Data(partial.stdout.utf8)) as? [String: Any])
        let partialSeeing = try #require((partialObject["metrics"] as? [[String: Any]])?.first)
        #expect((partialSeeing["a"] as? [String: Any])?["count"] as? Int == 2)
        #expect((partialSeeing["missing_in_b"] as? [String])?.count == 2 && (partialSeeing["missing_in_a"] as? [String]) == [], "\(partial.stdout)")
        #expect((partialSeeing["missing_in_b"] as? [String])?.allSatisfy { $0.contains("detector=0") || $0.contains("detector=1") } == true)
        #expect(partialObject["only_in_a"] as? Int == 4 && partialObject["only_in_b"] as? Int == 0)
        let partialTable = try check(try runButler(["compare-runs", repo, "drp/v1", "drp/v3/pvi", "calexp", "--metric", "seeing"]))
        #expect(partialTable.stdout.contains("seeing unchanged on all 2 calexp; not measured in B on 2"), "\(partialTable.stdout)")

        // The picture: an SVG that a renderer draws (rsvg-convert, Debian's librsvg2-bin), and a PNG directly.
        let svg = try String(contentsOfFile: dir.path("seeing.svg"), encoding: .utf8)
        #expect(svg.hasPrefix("<?xml") && svg.contains("<svg") && svg.contains("class=\"bar\""))
        let rendered = try runProcess("/usr/bin/rsvg-convert", ["-f", "png", "-o", dir.path("rendered.png"), dir.path("seeing.svg")])
        #expect(rendered.exitCode == 0, "\(rendered.stderr)")
        try check(try runButler(["compare-runs", repo, "drp/v1", "drp/v2", "--plot", dir.path("all.png"), "--format", "json"]))
        for png in ["rendered.png", "all.png"] {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: dir.path(png)))
            #expect(bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]), "\(png) is a PNG")
            let width = bytes[16..<20].reduce(0) { $0 << 8 | Int($1) }, height = bytes[20..<24].reduce(0) { $0 << 8 | Int($1) }
            #expect(width >= 800 && height >= 300, "\(png): \(width)x\(height)")
        }

        // The metrics are shown by query-datasets on request, and selectable in --where.
        let shown = try check(try runButler(["query-datasets", repo, "calexp", "--collections", "drp/v2", "--show-metrics", "--format", "json",
                                             "--where", "metrics.seeing > 0.9"]))
        let rows = try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(rows.count == 3 && rows.allSatisfy { (($0["metrics"] as? [String: Any])?["seeing"] as? Double ?? 0) > 0.9 }, "\(shown.stdout)")
        let text = try check(try runButler(["query-datasets", repo, "calexp", "--collections", "drp/v1", "--show-metrics", "--where", "instrument = 'LSSTCam' AND detector = 1"]))
        #expect(text.stdout.contains("seeing=0.81, zero_point=27.1"), "\(text.stdout)")

        // Bad input: one line each.
        let unknown = try check(try runButler(["compare-runs", repo, "drp/v1", "drp/v2", "--metric", "nope"]), 1)
        #expect(unknown.stderr == "butler: error: no dataset found in both drp/v1 and drp/v2 has the metric 'nope'\n")
        let gif = try check(try runButler(["compare-runs", repo, "drp/v1", "drp/v2", "--plot", dir.path("x.gif")]), 1)
        #expect(gif.stderr.contains("x.gif") && gif.stderr.contains(".svg or .png"))
        #expect(try runButler(["compare-runs", repo, "drp/v1", "nowhere"]).exitCode == 1)
    }
}
