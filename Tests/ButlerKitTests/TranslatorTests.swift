import Foundation
import Testing
@testable import ButlerKit
import FITS
import ButlerTestSupport

/// Every built-in translator against real headers. Expected values follow Rubin's translators
/// (astro_metadata_translator and obs_lsst) on the same headers.
@Suite("Metadata translators")
struct TranslatorTests {
    struct Expected: Sendable, CustomStringConvertible {
        let file: String, instrument: String, detector: Int, detectorName: String, exposure: Int, obsId: String
        let dayObs: Int, group: String, filter: String, band: String, beginTAI: String, exposureTime: Double, type: String
        var description: String { file }
    }

    static let cases: [Expected] = [
        Expected(file: "lsst/latiss-AT_O_20230321_000053.fits", instrument: "LATISS", detector: 0, detectorName: "RXX_S00",
                 exposure: 2023032100053, obsId: "AT_O_20230321_000053", dayObs: 20230321, group: "2023-03-21T16:11:07.633",
                 filter: "empty~empty", band: "white", beginTAI: "2023-03-21T16:11:07.706", exposureTime: 30, type: "dark"),
        Expected(file: "lsst/latiss-AT_O_20240624_000106_R00_S00.fits", instrument: "LATISS", detector: 0, detectorName: "RXX_S00",
                 exposure: 2024062400106, obsId: "AT_O_20240624_000106", dayObs: 20240624, group: "2024-06-25T01:26:31.895#1",
                 filter: "SDSSr_65mm~empty", band: "r", beginTAI: "2024-06-25T01:27:55.160", exposureTime: 30, type: "cwfs"),
        Expected(file: "lsst/comCam-CC_O_20241108_000266_R22_S00.fits", instrument: "LSSTComCam", detector: 0, detectorName: "R22_S00",
                 exposure: 2024110800266, obsId: "CC_O_20241108_000266", dayObs: 20241108, group: "2024-11-09T06:33:55.311",
                 filter: "g_01", band: "g", beginTAI: "2024-11-09T06:34:41.323", exposureTime: 30, type: "science"),
        Expected(file: "lsst/lsstCam-MC_C_20250425_000031_R01_S01.fits", instrument: "LSSTCam", detector: 1, detectorName: "R01_S01",
                 exposure: 2025042500031, obsId: "MC_C_20250425_000031", dayObs: 20250425, group: "2025042500031",
                 filter: "unknown", band: "unknown", beginTAI: "2025-04-25T18:37:50.107", exposureTime: 2.767, type: "unknown"),
        Expected(file: "lsst/lsstCam-MC_O_20250415_000060_R01_S01.fits", instrument: "LSSTCam", detector: 1, detectorName: "R01_S01",
                 exposure: 2025041500060, obsId: "MC_O_20250415_000060", dayObs: 20250415, group: "2025-04-16T00:53:10.143",
                 filter: "i_39", band: "i", beginTAI: "2025-04-16T00:53:13.573", exposureTime: 15.000998497009277, type: "acq"),
        Expected(file: "lsst/lsstCam-MC_O_20250609_000578_R01_S01.fits", instrument: "LSSTCam", detector: 1, detectorName: "R01_S01",
                 exposure: 2025060900578, obsId: "MC_O_20250609_000578", dayObs: 20250609, group: "2025-06-10T07:31:26.692",
                 filter: "y_10", band: "y", beginTAI: "2025-06-10T07:31:55.280", exposureTime: 30.000904321670532, type: "science"),
        Expected(file: "other/fitsheader-decam.fits", instrument: "DECam", detector: 25, detectorName: "S1",
                 exposure: 229388, obsId: "ct4m20130901t060255", dayObs: 20130831, group: "229388",
                 filter: "z DECam SDSS c0004 9260.0 1520.0", band: "z", beginTAI: "2013-09-01T06:03:30.753", exposureTime: 200, type: "science"),
        Expected(file: "other/fitsheader-decam-0160496.fits", instrument: "DECam", detector: 25, detectorName: "S1",
                 exposure: 160496, obsId: "ct4m20121211t220632", dayObs: 20121211, group: "160496",
                 filter: "solid plate 0.0 0.0", band: "opaque", beginTAI: "2012-12-11T22:07:07.859", exposureTime: 0, type: "zero"),
        Expected(file: "other/fitsheader-hsc.fits", instrument: "HSC", detector: 50, detectorName: "1_12",
                 exposure: 904024, obsId: "HSCA90402400", dayObs: 20131102, group: "904024",
                 filter: "HSC-I", band: "i", beginTAI: "2013-11-02T06:16:30.908", exposureTime: 30, type: "science"),
        Expected(file: "other/fitsheader-megaprime.fits", instrument: "MegaPrime", detector: 2, detectorName: "ccd02",
                 exposure: 1038843, obsId: "1038843", dayObs: 20081101, group: "1038843",
                 filter: "i.MP9702", band: "i", beginTAI: "2008-11-01T14:34:05.400", exposureTime: 615.037, type: "science"),
    ]

    @Test("built-in translators on real headers", arguments: cases)
    func translate(_ e: Expected) throws {
        let translators = try TranslatorSet(custom: [])
        let scan = try FITSScan.read(fixturesDirectory.appendingPathComponent("raw/" + e.file).path)
        var header = scan.detectorHeaders[0].header
        if e.instrument == "MegaPrime" {
            // The fixture lost its structural EXTNAME card (the extension name of a MegaPrime MEF raw).
            header = header.merging(Header(cards: [HeaderCard(keyword: "EXTNAME", value: .string("ccd02"))]))
        }
        let info = try translators.translate(header)
        #expect(info.instrument == e.instrument)
        #expect(info.detectorId == e.detector)
        #expect(info.detectorName == e.detectorName)
        #expect(info.exposureId == e.exposure)
        #expect(info.obsId == e.obsId)
        #expect(info.dayObs == e.dayObs)
        #expect(info.group == e.group)
        #expect(info.physicalFilter == e.filter)
        #expect(info.band == e.band)
        #expect(info.datetimeBegin?.isoTAI.hasPrefix(e.beginTAI) == true, "\(info.datetimeBegin?.isoTAI ?? "nil")")
        #expect(abs((info.exposureTime ?? -1) - e.exposureTime) < 1e-6)
        #expect(info.observationType == e.type)
        #expect(info.datetimeEnd != nil && info.datetimeEnd! >= info.datetimeBegin!)
    }

    @Test("LSST exposure ids add 1000 years per controller, except where counters were unified")
    func controllerOffsets() {
        #expect(LSSTTranslator.controllerOffset("O", dayObs: 20230321) == 0)
        #expect(LSSTTranslator.controllerOffset("C", dayObs: 20190319) == 10_000_000)
        #expect(LSSTTranslator.controllerOffset("C", dayObs: 20250425) == 0)
        #expect(LSSTTranslator.controllerOffset("P", dayObs: 20250101) == 30_000_000)
        #expect(LSSTTranslator.controllerOffset("P", dayObs: 20250501) == 0)
    }

    @Test("HSC exposure ids in both schemes")
    func hscExposureIds() throws {
        #expect(try HSCTranslator.exposureId("HSCE00904010", frameId: nil, "HSC") == 904010)
        #expect(try HSCTranslator.exposureId("HSCA90402400", frameId: nil, "HSC") == 904024)
        #expect(try HSCTranslator.exposureId("HSCB00012300", frameId: nil, "HSC") == 1_000_123)
        #expect(throws: TranslationError.self) { try HSCTranslator.exposureId("XYZ", frameId: nil, "HSC") }
    }

    @Test("TAI times: UTC conversion with leap seconds, MJD, day_obs")
    func times() throws {
        let utc = try #require(TAITime(iso: "2017-01-01T00:00:00", scale: .utc))
        let tai = try #require(TAITime(iso: "2017-01-01T00:00:37", scale: .tai))
        #expect(utc == tai)
        #expect(TAITime(mjd: 60024.67439474538, scale: .tai).isoTAI.hasPrefix("2023-03-21T16:11:07.70"))
        #expect(TAITime(iso: "2023-03-21T06:00:00", scale: .tai)!.dayObs(offsetSeconds: -12 * 3600) == 20230320)
        #expect(TAITime(iso: "not a date", scale: .utc) == nil)
        #expect(TAITime(iso: "2023-13-01", scale: .utc) == nil)
    }

    @Test("a camera described in YAML is translated without Swift code")
    func configTranslator() throws {
        let yaml = """
            name: LabCam
            day_obs_offset_hours: -12
            detectors:
              - {id: 0, full_name: S0}
              - {id: 1, full_name: S1}
            filters:
              - {name: g-lab, band: g}
            translation:
              match: {INSTRUME: LabCam}
              exposure_id: {keyword: FRAMENUM, regex: "([0-9]+)$"}
              obs_id: {format: "LAB_{DATE}_{SEQ:05d}"}
              detector_id: CCDID
              physical_filter: FILTER
              datetime_begin: {date: DATE, time: TIME, scale: utc}
              exposure_time: EXPTIME
              observation_type: {keyword: IMGTYPE, lowercase: true, map: {object: science}}
              tracking_ra: {keyword: RA, unit: hours}
              tracking_dec: DEC
            """
        let definition = try InstrumentDefinition(yaml: yaml, source: "test")
        let set = try TranslatorSet(custom: [definition])
        func card(_ k: String, _ v: HeaderValue) -> HeaderCard { HeaderCard(keyword: k, value: v) }
        let header = Header(cards: [
            card("INSTRUME", .string("LabCam")), card("FRAMENUM", .string("LAB-000123")), card("DATE", .string("2024-05-01")),
            card("SEQ", .integer(7)), card("CCDID", .integer(1)), card("FILTER", .string("g-lab")), card("TIME", .string("03:00:00.5")),
            card("EXPTIME", .float(12.5)), card("IMGTYPE", .string("OBJECT")), card("RA", .string("01:00:00")), card("DEC", .string("-10:30:00")),
        ])
        let info = try set.translate(header)
        #expect(info.instrument == "LabCam")
        #expect(info.exposureId == 123)
        #expect(info.obsId == "LAB_2024-05-01_00007")
        #expect(info.detectorId == 1)
        #expect(info.detectorName == "S1")
        #expect(info.band == "g")
        #expect(info.dayObs == 20240430)
        #expect(info.observationType == "science")
        #expect(abs(info.trackingRA! - 15) < 1e-9)
        #expect(abs(info.trackingDec! + 10.5) < 1e-9)
        let missing = Header(cards: [card("INSTRUME", .string("LabCam"))])
        #expect(throws: TranslationError.self) { try set.translate(missing) }
        #expect(throws: TranslationError.self) { try set.translate(Header(cards: [card("INSTRUME", .string("Nope"))])) }
    }
}
