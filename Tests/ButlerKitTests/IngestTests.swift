import Foundation
import Testing
@testable import ButlerKit
import FITS
import ButlerTestSupport

@Suite("Raw ingest")
struct IngestTests {
    func options(_ transfer: TransferMode = .copy, run: String? = nil) -> RawIngestOptions {
        var o = RawIngestOptions()
        o.transfer = transfer
        o.run = run
        o.processes = 2
        return o
    }

    @Test("every fixture raw is ingested with its exposure, day_obs and group records, size and SHA-256")
    func ingestAllFixtures() throws {
        let dir = TemporaryDirectory()
        let butler = try makeRepository(in: dir)
        let report = try butler.ingestRaws([fixturesDirectory.appendingPathComponent("raw").path], options: options())
        #expect(report.failures.isEmpty, "\(report.failures)")
        #expect(report.ingested == 10)
        #expect(report.runs == ["LATISS/raw/all", "LSSTCam/raw/all", "LSSTComCam/raw/all", "DECam/raw/all", "HSC/raw/all", "MegaPrime/raw/all"])
        let registry = butler.registry
        let exposure = try #require(registry.fetchDimensionRecords("exposure", dataId: ["instrument": "LATISS", "id": .int(2023032100053)]).first)
        #expect(exposure["obs_id"] == .string("AT_O_20230321_000053"))
        #expect(exposure["physical_filter"] == .string("empty~empty"))
        #expect(exposure["day_obs"] == .int(20230321))
        #expect(exposure["group"] == .string("2023-03-21T16:11:07.633"))
        #expect(exposure["observation_type"] == .string("dark"))
        #expect(exposure["exposure_time"] == .float(30))
        #expect(exposure["timespan_begin"] != nil)
        #expect(try registry.fetchDimensionRecords("day_obs", dataId: ["instrument": "LATISS"]).map { $0["id"] } == [.int(20230321), .int(20240624)])
        #expect(try registry.fetchDimensionRecords("group", dataId: ["instrument": "HSC"]).map { $0["name"] } == [.string("904024")])
        #expect(try registry.fetchDimensionRecords("detector", dataId: ["instrument": "LSSTCam"]).count == 205, "built-in instruments are registered on first use")

        // The LATISS raw has the id Rubin's butler gives it.
        let latiss = try #require(registry.queryDatasets(["raw"], collections: ["LATISS/raw/all"]).first { $0.ref.dataId["exposure"] == .int(2023032100053) })
        #expect(latiss.ref.id.uuidString.lowercased() == "5d46d9db-ef3e-55ee-aac3-4ac15cd4d8a6")
        let file = try #require(registry.storedFiles(of: latiss.ref.id).first)
        #expect(file.path.hasPrefix("LATISS/raw/all/raw/20230321/AT_O_20230321_000053/raw_LATISS_empty~empty_AT_O_20230321_000053_RXX_S00_LATISS_raw_all"))
        #expect(file.path.hasSuffix(".fits"))
        let (size, sum) = try FileDatastore.measure(fixture("lsst/latiss-AT_O_20230321_000053.fits"), checksum: true)
        #expect(file.fileSize == size)
        #expect(file.checksum == sum)
        #expect(file.sourcePath == fixture("lsst/latiss-AT_O_20230321_000053.fits"))
        #expect(try storedFileExists(butler.storedLocation(file.path)))
    }

    @Test("every transfer mode", arguments: TransferMode.allCases)
    func transferModes(_ mode: TransferMode) throws {
        let dir = TemporaryDirectory()
        let butler = try makeRepository(in: dir)
        let source = dir.path("latiss.fits")
        try FileManager.default.copyItem(atPath: fixture("lsst/latiss-AT_O_20230321_000053.fits"), toPath: source)
        let report = try butler.ingestRaws([source], options: options(mode))
        if testDatastoreIsBucket && ![.copy, .move, .auto, .direct].contains(mode) {
            // A bucket holds copies: a link mode is refused in one line, and nothing is made.
            #expect(report.ingested == 0 && report.failures.count == 1 && report.failures[0].contains("cannot \(mode.rawValue)"), "\(report.failures)")
            return
        }
        #expect(report.failures.isEmpty, "\(report.failures)")
        #expect(report.ingested == 1)
        let id = try #require(report.datasetIds.first)
        let file = try #require(butler.registry.storedFiles(of: id).first)
        if testDatastoreIsBucket {
            // In the bucket (or, for direct, where it is), with the source left as the mode says.
            #expect(try butler.datastore.measure(recordedPath: file.path, checksum: true)?.checksum == file.checksum)
            #expect(FileManager.default.fileExists(atPath: source) == (mode != .move))
            return
        }
        let stored = butler.datastoreRoot.appendingPathComponent(file.path).path
        let fm = FileManager.default
        switch mode {
        case .direct:
            #expect(file.path == source)
            #expect(try fm.contentsOfDirectory(atPath: butler.datastoreRoot.path).isEmpty)
        case .copy:
            #expect(fm.fileExists(atPath: stored))
            #expect(try fm.attributesOfItem(atPath: stored)[.type] as? FileAttributeType == .typeRegular)
            #expect(fm.fileExists(atPath: source))
        case .move:
            #expect(fm.fileExists(atPath: stored))
            #expect(!fm.fileExists(atPath: source))
            #expect(file.sourcePath == source)
        case .hardlink, .link, .auto:
            let a = try fm.attributesOfItem(atPath: stored)[.systemFileNumber] as? Int
            let b = try fm.attributesOfItem(atPath: source)[.systemFileNumber] as? Int
            #expect(a == b)
        case .symlink:
            #expect(try fm.destinationOfSymbolicLink(atPath: stored) == source)
        case .relsymlink:
            let target = try fm.destinationOfSymbolicLink(atPath: stored)
            #expect(target.hasPrefix(".."))
            #expect(try Data(contentsOf: URL(fileURLWithPath: stored)) == Data(contentsOf: URL(fileURLWithPath: source)))
        }
        #expect(file.checksum?.count == 64)
        // Direct and symlinked raws are readable where the registry says they are.
        let location = try #require(butler.fileLocations(report.datasetIds)[report.datasetIds[0]])
        #expect(try FITSScan.read(location.path).hdus.count == 1)
    }

    @Test("auto leaves a file that is already inside the datastore (a folder's file, a bucket's object) where it is")
    func autoInPlace() throws {
        let dir = TemporaryDirectory()
        let butler = try makeRepository(in: dir)
        let inside = butler.storedLocation("incoming/raw.fits")
        try plant(Data(contentsOf: URL(fileURLWithPath: fixture("other/fitsheader-hsc.fits"))), at: inside)
        let report = try butler.ingestRaws([shown(inside)], options: options(.auto))
        #expect(try butler.registry.storedFiles(of: report.datasetIds[0]).first?.path == "incoming/raw.fits")
    }

    @Test("re-running an ingest adds nothing and changes nothing; the same data ID from another file is a conflict naming both")
    func reingestAndConflict() throws {
        let dir = TemporaryDirectory()
        let butler = try makeRepository(in: dir)
        let raws = fixturesDirectory.appendingPathComponent("raw").path
        _ = try butler.ingestRaws([raws], options: options())
        let before = try registrySnapshot(dir.path("repo"))
        let again = try butler.ingestRaws([raws], options: options())
        #expect(again.ingested == 0)
        #expect(again.skippedFiles == 10)
        #expect(again.failures.isEmpty)
        #expect(try registrySnapshot(dir.path("repo")) == before)

        let other = dir.path("other-copy.fits")
        try derivedFITS(from: fixture("other/fitsheader-hsc.fits"), to: other, replacing: ["OBJECT  =": "OBJECT  = 'edited'"])
        let conflict = try butler.ingestRaws([other], options: options())
        #expect(conflict.ingested == 0)
        #expect(conflict.failures.count == 1)
        #expect(conflict.failures[0].contains(other))
        #expect(conflict.failures[0].contains(fixture("other/fitsheader-hsc.fits")))
        #expect(try registrySnapshot(dir.path("repo")) == before)

        var strict = options()
        strict.skipExisting = false
        let refused = try butler.ingestRaws([fixture("other/fitsheader-hsc.fits")], options: strict)
        #expect(refused.failures.count == 1)
    }

    @Test("two files with the same data ID in one ingest: the first goes in, the second is a conflict")
    func duplicateInOneIngest() throws {
        let dir = TemporaryDirectory()
        let butler = try makeRepository(in: dir)
        try FileManager.default.createDirectory(atPath: dir.path("in"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: fixture("other/fitsheader-hsc.fits"), toPath: dir.path("in/a.fits"))
        try derivedFITS(from: fixture("other/fitsheader-hsc.fits"), to: dir.path("in/b.fits"), replacing: ["OBJECT  =": "OBJECT  = 'edited'"])
        let report = try butler.ingestRaws([dir.path("in")], options: options())
        #expect(report.ingested == 1)
        #expect(report.failures.count == 1)
        #expect(report.failures[0].contains("b.fits") && report.failures[0].contains("a.fits"))
    }

    @Test("bad files: one error line each naming the file and the reason; the good files are ingested")
    func badFiles() throws {
        let dir = TemporaryDirectory()
        let butler = try makeRepository(in: dir)
        let fm = FileManager.default
        let input = dir.path("night")
        try fm.createDirectory(atPath: input, withIntermediateDirectories: true)
        let latiss = fixture("lsst/latiss-AT_O_20230321_000053.fits")
        let good = try Data(contentsOf: URL(fileURLWithPath: latiss))
        try fm.copyItem(atPath: fixture("other/fitsheader-hsc.fits"), toPath: input + "/good-hsc.fits")
        try Data().write(to: URL(fileURLWithPath: input + "/empty.fits"))
        try Data(String(repeating: "not FITS ", count: 400).utf8).write(to: URL(fileURLWithPath: input + "/text.fits"))
        try good.prefix(1000).write(to: URL(fileURLWithPath: input + "/cut-header.fits"))
        try good.prefix(good.count - 2880 + 64).write(to: URL(fileURLWithPath: input + "/cut-data.fits"))
        let end = good.range(of: Data(("END" + String(repeating: " ", count: 77)).utf8))!
        try (good.prefix(end.lowerBound) + Data(repeating: 0x20, count: 2880 * 2)).write(to: URL(fileURLWithPath: input + "/no-end.fits"))
        try fm.createSymbolicLink(atPath: input + "/unreadable.fits", withDestinationPath: dir.path("gone.fits"))
        try derivedFITS(from: latiss, to: input + "/no-dayobs.fits", replacing: ["DAYOBS  =": ""])
        try derivedFITS(from: latiss, to: input + "/unknown-camera.fits", replacing: ["INSTRUME=": "INSTRUME= 'MysteryCam'"])
        var illegal = good
        let object = illegal.range(of: Data("OBJECT  = '".utf8))!
        illegal[object.upperBound] = 0xC3
        try illegal.write(to: URL(fileURLWithPath: input + "/illegal.fits"))
        // A stale checksum is only a warning: the file goes in.
        try FITSWriter.write(input + "/stale.fits", hdus: [FITSWriter.Image(cards: try FITSScan.read(fixture("lsst/lsstCam-MC_O_20250609_000578_R01_S01.fits")).hdus[0].header.cards.filter { !$0.isCommentary }, size: (8, 8))], checksum: true)
        var stale = try Data(contentsOf: URL(fileURLWithPath: input + "/stale.fits"))
        let target = stale.range(of: Data("Rubin_SV_320_-15".utf8))!
        stale.replaceSubrange(target, with: Data("Rubin_SV_320_-16".utf8))
        try stale.write(to: URL(fileURLWithPath: input + "/stale.fits"))

        let report = try butler.ingestRaws([input, dir.path("no-such-folder")], options: options())
        #expect(report.ingested == 2, "\(report.failures)")
        let expected = ["empty.fits": "empty", "text.fits": "", "cut-header.fits": "END", "cut-data.fits": "truncated", "no-end.fits": "END",
                        "unreadable.fits": "", "no-dayobs.fits": "DAYOBS", "unknown-camera.fits": "MysteryCam", "illegal.fits": "0xC3",
                        "no-such-folder": "no such file"]
        #expect(report.failures.count == expected.count, "\(report.failures)")
        for (name, reason) in expected {
            let lines = report.failures.filter { $0.contains(name) }
            #expect(lines.count == 1, "\(name): \(report.failures)")
            if !reason.isEmpty { #expect(lines.first.map { $0.contains(reason) } == true, "\(name): \(lines)") }
            #expect(lines.first.map { !$0.contains("\n") } == true)
        }
        #expect(report.warnings.count == 1)
        #expect(report.warnings.first?.contains("stale.fits") == true)
        #expect(report.warnings.first?.contains("checksum") == true)
    }

    @Test("--fail-fast stops at the first bad file; nothing from it is registered")
    func failFast() throws {
        let dir = TemporaryDirectory()
        let butler = try makeRepository(in: dir)
        let input = dir.path("in")
        try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: fixture("other/fitsheader-hsc.fits"), toPath: input + "/a.fits")
        try Data("junk".utf8).write(to: URL(fileURLWithPath: input + "/b.fits"))
        try FileManager.default.copyItem(atPath: fixture("other/fitsheader-decam.fits"), toPath: input + "/c.fits")
        var o = options()
        o.failFast = true
        let report = try butler.ingestRaws([input], options: o)
        #expect(report.stoppedEarly)
        #expect(report.failures.count == 1)
        #expect(report.ingested == 1)
        #expect(try butler.registry.queryDatasets(["raw"]).map { $0.ref.dataId["instrument"] } == [.string("HSC")])
    }

    @Test("a file with several detectors (one per image HDU) becomes one dataset per detector pointing at the one file")
    func multiDetectorFile() throws {
        let dir = TemporaryDirectory()
        let butler = try makeRepository(in: dir)
        let base = try FITSScan.read(fixture("lsst/lsstCam-MC_O_20250609_000578_R01_S01.fits")).hdus[0].header
        let primaryCards = base.cards.filter { !$0.isCommentary && !["RAFTBAY", "CCDSLOT"].contains($0.keyword) }
        func ext(_ raft: String, _ slot: String) -> FITSWriter.Image {
            FITSWriter.Image(cards: [HeaderCard(keyword: "RAFTBAY", value: .string(raft)), HeaderCard(keyword: "CCDSLOT", value: .string(slot))], size: (16, 16))
        }
        let path = dir.path("mef.fits.fz")
        try FITSWriter.write(path, hdus: [FITSWriter.Image(cards: primaryCards, size: nil), ext("R22", "S11"), ext("R22", "S12")], tileCompress: true)
        let report = try butler.ingestRaws([path], options: options())
        #expect(report.failures.isEmpty, "\(report.failures)")
        #expect(report.ingested == 2)
        let files = try report.datasetIds.map { try #require(butler.registry.storedFiles(of: $0).first) }
        #expect(Set(files.map(\.path)).count == 1)
        #expect(files[0].path.hasSuffix(".fits.fz"))
        #expect(files.map(\.hdu) == [2, 3])
        let detectors = try butler.registry.queryDatasets(["raw"]).map { $0.ref.dataId["detector"] }
        #expect(detectors == [.int(94), .int(95)])
    }

    @Test("gzip-compressed raws are ingested")
    func gzip() throws {
        let dir = TemporaryDirectory()
        let butler = try makeRepository(in: dir)
        let gz = dir.path("hsc.fits.gz")
        #expect(try runProcess("/bin/sh", ["-c", "gzip -c '\(fixture("other/fitsheader-hsc.fits"))' > '\(gz)'"]).exitCode == 0)
        let report = try butler.ingestRaws([gz], options: options())
        #expect(report.ingested == 1, "\(report.failures)")
        #expect(try butler.registry.storedFiles(of: report.datasetIds[0]).first?.path.hasSuffix(".fits.gz") == true)
    }

    @Test("a camera described in YAML is registered and ingested without Swift code")
    func yamlCamera() throws {
        let dir = TemporaryDirectory()
        let butler = try makeRepository(in: dir)
        let yaml = dir.path("labcam.yaml")
        try """
            name: LabCam
            day_obs_offset_hours: 0
            detectors:
              - {id: 0, full_name: S0, purpose: SCIENCE}
            filters:
              - {name: g-lab, band: g}
            translation:
              match: {INSTRUME: LabCam}
              exposure_id: EXPNUM
              obs_id: {format: "LAB_{EXPNUM:06d}"}
              physical_filter: FILTER
              datetime_begin: {date: DATE-OBS, time: UT, scale: utc}
              exposure_time: EXPTIME
              observation_type: {keyword: IMAGETYP, lowercase: true, map: {object: science}}
            """.write(toFile: yaml, atomically: true, encoding: .utf8)
        try butler.registerInstrument(yaml)
        #expect(try butler.registry.fetchDimensionRecords("physical_filter", dataId: ["instrument": "LabCam"]).count == 1)
        func card(_ k: String, _ v: HeaderValue) -> HeaderCard { HeaderCard(keyword: k, value: v) }
        let raw = dir.path("lab.fits")
        try FITSWriter.write(raw, hdus: [FITSWriter.Image(cards: [card("INSTRUME", .string("LabCam")), card("EXPNUM", .integer(42)),
            card("FILTER", .string("g-lab")), card("DATE-OBS", .string("2024-02-03")), card("UT", .string("04:05:06")),
            card("EXPTIME", .float(10)), card("IMAGETYP", .string("OBJECT"))], size: (4, 4))])
        let report = try butler.ingestRaws([raw], options: options())
        #expect(report.failures.isEmpty, "\(report.failures)")
        #expect(report.runs == ["LabCam/raw/all"])
        let exposure = try #require(butler.registry.fetchDimensionRecords("exposure", dataId: ["instrument": "LabCam"]).first)
        #expect(exposure["obs_id"] == .string("LAB_000042"))
        #expect(exposure["observation_type"] == .string("science"))
        #expect(exposure["day_obs"] == .int(20240203))
        // Opening the repository again (a new process) still knows the camera.
        let reopened = try Butler(repository: dir.path("repo"))
        let raw2 = dir.path("lab2.fits")
        try FITSWriter.write(raw2, hdus: [FITSWriter.Image(cards: [card("INSTRUME", .string("LabCam")), card("EXPNUM", .integer(43)),
            card("FILTER", .string("g-lab")), card("DATE-OBS", .string("2024-02-03")), card("UT", .string("04:06:06"))], size: (4, 4))])
        #expect(try reopened.ingestRaws([raw2], options: options()).ingested == 1)
    }

    @Test("--output-run and --regex")
    func runAndRegex() throws {
        let dir = TemporaryDirectory()
        let butler = try makeRepository(in: dir)
        var o = options(.copy, run: "nightly/2024")
        o.pattern = "latiss"
        let report = try butler.ingestRaws([fixturesDirectory.appendingPathComponent("raw").path], options: o)
        #expect(report.ingested == 2)
        #expect(report.runs == ["nightly/2024"])
    }

    @Test("file templates: optional fields, alternatives, and no value can escape the datastore root")
    func templates() throws {
        let t = try FileTemplate("{run:/}/{datasetType}.{component:?}/{day_obs|exposure.day_obs}/{exposure.obs_id}/{datasetType}_{detector.full_name:?}_{run}")
        #expect(try t.format(["run": "a/b", "datasetType": "raw", "exposure.day_obs": "20240101", "exposure.obs_id": "X1", "detector.full_name": "S0"])
                == "a/b/raw/20240101/X1/raw_S0_a_b")
        let evil = try t.format(["run": "../../etc", "datasetType": "raw", "day_obs": "1", "exposure.obs_id": "../../../x", "detector.full_name": "a b<c>"])
        #expect(!evil.split(separator: "/").contains(".."))
        #expect(!evil.hasPrefix("/"))
        #expect(evil.contains("a%20b%3Cc%3E_"))
        #expect(throws: ButlerError.self) { try FileTemplate("{datasetType}") }
        #expect(throws: ButlerError.self) { try t.format(["run": "r"]) }
    }
}
