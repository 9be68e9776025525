import Foundation
import Testing
@testable import ButlerKit
import FITS
import ButlerTestSupport

/// LATISS physical filters as obs_lsst names them: `LatissTranslator.to_physical_filter` (FILTER~GRATING, `empty_N`
/// in either slot read as `empty`, a missing or undefined card read as `unknown`) and the records of
/// `LATISS_FILTER_DEFINITIONS` (obs_lsst `filters.py`), so that the physical_filter record of an exposure we ingest is
/// the record Rubin's `register-instrument lsst.obs.lsst.Latiss` holds and exports.
@Suite("LATISS physical filters")
struct LatissFilterTests {
    struct Case: Sendable, CustomStringConvertible {
        let filter: HeaderValue?, grating: HeaderValue?, physicalFilter: String, band: String
        var description: String { physicalFilter }
    }

    /// Header variants of the 2024 LATISS fixture and the name and band obs_lsst's rules give them.
    static let cases: [Case] = [
        Case(filter: .string("SDSSr_65mm"), grating: .string("empty_1"), physicalFilter: "SDSSr_65mm~empty", band: "r"),
        Case(filter: .string("empty_1"), grating: .string("empty_1"), physicalFilter: "empty~empty", band: "white"),
        Case(filter: .string("EMPTY_3"), grating: .string("Empty_2"), physicalFilter: "empty~empty", band: "white"),
        Case(filter: .string("empty_2"), grating: .string("SDSSg_65mm"), physicalFilter: "empty~SDSSg_65mm", band: "g"),
        Case(filter: .string("BG40"), grating: .string("pinhole_1_0500"), physicalFilter: "BG40~pinhole_1_0500", band: "g"),
        Case(filter: .string("quadnotch1"), grating: .string("holo4_003"), physicalFilter: "quadnotch1~holo4_003", band: "notch"),
        Case(filter: .string("diffuser"), grating: .string("empty_1"), physicalFilter: "diffuser~empty", band: "diffuser"),
        Case(filter: .string("SDSSr_65mm"), grating: .undefined, physicalFilter: "SDSSr_65mm~unknown", band: "r"),
        Case(filter: .string("SDSSr_65mm"), grating: nil, physicalFilter: "SDSSr_65mm~unknown", band: "r"),
        Case(filter: nil, grating: .string("ronchi90lpmm"), physicalFilter: "unknown~ronchi90lpmm", band: "unknown"),
    ]

    @Test("FILTER~GRATING with obs_lsst's rules and bands", arguments: cases)
    func translate(_ c: Case) throws {
        let scan = try FITSScan.read(fixturesDirectory.appendingPathComponent("raw/lsst/latiss-AT_O_20240624_000106_R00_S00.fits").path)
        let original = scan.detectorHeaders[0].header
        var cards = original.cards.filter { $0.keyword != "FILTER" && $0.keyword != "GRATING" }
        if let filter = c.filter { cards.append(HeaderCard(keyword: "FILTER", value: filter)) }
        if let grating = c.grating { cards.append(HeaderCard(keyword: "GRATING", value: grating)) }
        let info = try TranslatorSet(custom: []).translate(Header(cards: cards))
        #expect(info.physicalFilter == c.physicalFilter)
        #expect(info.band == c.band)
    }

    @Test("the two LATISS fixtures get obs_lsst's names")
    func fixtures() throws {
        let translators = try TranslatorSet(custom: [])
        var names: [String] = []
        for file in ["latiss-AT_O_20230321_000053.fits", "latiss-AT_O_20240624_000106_R00_S00.fits"] {
            let scan = try FITSScan.read(fixturesDirectory.appendingPathComponent("raw/lsst/" + file).path)
            names.append(try translators.translate(scan.detectorHeaders[0].header).physicalFilter)
        }
        #expect(names == ["empty~empty", "SDSSr_65mm~empty"])
        let definition = try #require(try InstrumentDefinition.builtIn("LATISS"))
        for name in names { #expect(definition.band(of: name) != nil, "\(name) is not a registered LATISS filter") }
    }

    @Test("the built-in LATISS filters are obs_lsst's LATISS_FILTER_DEFINITIONS")
    func definitions() throws {
        let definition = try #require(try InstrumentDefinition.builtIn("LATISS"))
        let bands = Dictionary(definition.filters.map { ($0.name, $0.band) }, uniquingKeysWith: { a, _ in a })
        #expect(bands.count == definition.filters.count, "a filter is listed twice")
        // 26 filters alone; 25 (all but the diffuser) x 27 gratings; empty with each of the 6 SDSS 65 mm filters.
        #expect(bands.count == 26 + 25 * 27 + 6)
        // Each filter alone is a physical filter too (Rubin registers them).
        for (name, band) in [("empty", "white"), ("SDSSr_65mm", "r"), ("BG40", "g"), ("diffuser", "diffuser"), ("unknown", "unknown"),
                             ("quadnotch1", "notch"), ("cyl_lens", "white")] {
            #expect(bands[name] == band, "\(name)")
        }
        #expect(bands["SDSSr_65mm~pinhole_2_4_0100"] == "r")
        #expect(bands["empty~SDSSy_65mm"] == "y")
        #expect(bands["collimator~empty"] == "white")
        // The diffuser was never used with a grating, and SDSS grating-wheel filters pair with the empty filter only.
        #expect(bands["diffuser~empty"] == nil)
        #expect(bands["BG40~SDSSr_65mm"] == nil)
    }
}
