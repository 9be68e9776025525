import ButlerKit
import ButlerTestSupport
import Foundation
import Testing

/// Export and transfer of datasets with visits of several instruments (issue 27, item 8): a join record
/// (visit_detector_region) goes along only when its instrument's visit and detector do, not when some instrument has
/// a visit or a detector of that number.
@Suite("Visits of several instruments")
struct MultiInstrumentVisitsCLITests {
    static let lsstCam = (instrument: "LSSTCam", visit: "2025060900578", detector: "1",
                          file: "lsst/lsstCam-MC_O_20250609_000578_R01_S01.fits")
    static let comCam = (instrument: "LSSTComCam", visit: "2024110800266", detector: "0",
                         file: "lsst/comCam-CC_O_20241108_000266_R22_S00.fits")

    @discardableResult
    func check(_ result: CommandResult, _ expected: Int32 = 0, sourceLocation: SourceLocation = #_sourceLocation) -> CommandResult {
        #expect(result.exitCode == expected, "exit \(result.exitCode): \(result.stdout)\(result.stderr)", sourceLocation: sourceLocation)
        return result
    }

    /// The visit_detector_region records of a repository, as `instrument/visit/detector`, sorted.
    func regions(_ repo: String) throws -> [String] {
        let result = check(try runButler(["query-dimension-records", repo, "visit_detector_region", "--format", "json"]), 0)
        let rows = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]] ?? []
        return rows.map { "\($0["instrument"] ?? "")/\($0["visit"] ?? "")/\($0["detector"] ?? "")" }.sorted()
    }

    @Test("a pvi of an LSSTCam visit and one of an LSSTComCam visit export, import and transfer with their own regions only")
    func twoInstruments() throws {
        let dir = TemporaryDirectory()
        let source = dir.path("source")
        check(try runButler(try createArguments(source)))
        check(try runButler(["ingest-raws", source, fixture(Self.lsstCam.file), fixture(Self.comCam.file), "-t", "copy"]))
        for instrument in [Self.lsstCam.instrument, Self.comCam.instrument] {
            #expect(check(try runButler(["define-visits", source, instrument])).stdout == "Defined 1 visit(s) for \(instrument)\n")
        }
        check(try runButler(["register-dataset-type", source, "pvi", "ExposureF", "instrument", "visit", "detector"]))
        for step in [Self.lsstCam, Self.comCam] {
            check(try runButler(["put", source, fixture(step.file), "--run", "u/pvi", "--dataset-type", "pvi",
                                 "--data-id", "instrument=\(step.instrument),visit=\(step.visit),detector=\(step.detector)"]))
        }
        // Each instrument has regions for every detector of its visit, so detector 0 and 1 exist for both.
        let all = try regions(source)
        #expect(all.contains("LSSTCam/\(Self.lsstCam.visit)/0") && all.contains("LSSTComCam/\(Self.comCam.visit)/1"), "\(all)")
        let wanted = ["LSSTCam/\(Self.lsstCam.visit)/\(Self.lsstCam.detector)", "LSSTComCam/\(Self.comCam.visit)/\(Self.comCam.detector)"]

        let export = dir.path("export")
        check(try runButler(["export", source, export, "--collections", "u/pvi", "pvi"]))
        let imported = dir.path("imported")
        check(try runButler(try createArguments(imported)))
        check(try runButler(["import", imported, export, "-t", "copy"]))
        #expect(try regions(imported) == wanted)

        let transferred = dir.path("transferred")
        check(try runButler(try createArguments(transferred)))
        check(try runButler(["transfer-datasets", source, transferred, "--collections", "u/pvi", "--register-dataset-types", "-t", "copy"]))
        #expect(try regions(transferred) == wanted)
        let pvis = check(try runButler(["query-datasets", transferred, "pvi", "--format", "json"]))
        #expect((try JSONSerialization.jsonObject(with: Data(pvis.stdout.utf8)) as? [Any])?.count == 2)

        // The whole repository (raws, visits of both instruments, pvis) transfers too.
        let whole = dir.path("whole")
        check(try runButler(try createArguments(whole)))
        check(try runButler(["transfer-datasets", source, whole, "--register-dataset-types", "-t", "copy"]))
        #expect(try regions(whole) == wanted)
    }
}
