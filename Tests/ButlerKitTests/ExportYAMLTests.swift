import Foundation
import Testing
@testable import ButlerKit
import ButlerTestSupport

/// Rubin's `export.yaml` (format 1.0.2): our writer, our reader, and files as Rubin writes them.
@Suite("Export YAML")
struct ExportYAMLTests {
    static let universe = try! DimensionUniverse.makeDefault()
    static let rubinFixture = fixturesDirectory.appendingPathComponent("interchange/rubin-export.yaml")

    static func tai(_ text: String) -> TAITime { ExportYAML.parseISO(text)! }
    static let rawId = UUID(uuidString: "f4852260-3f7c-52dc-95b4-21b1a598aa68")!
    static let biasId = UUID(uuidString: "2f77f8fe-8d7b-5867-86a7-76b6d6cbd342")!
    static let calexpId = UUID(uuidString: "0a2e7d0c-54b1-5f0e-9d0b-7b1c2d3e4f50")!

    /// Contents with every kind of entry: records (temporal, spatial, implied values, floats, bools, nulls),
    /// collections of every type (a chain inside a chain), calibrations with bounded, unbounded and empty ranges.
    static func sampleContents() -> ExportContents {
        var c = ExportContents()
        let begin = tai("2024-06-25 01:27:08.895000000"), end = tai("2024-06-25 01:27:39.100000001")
        c.dimensionRecords = [
            ExportedElementRecords(element: "instrument", records: [DimensionRecord(element: "instrument", fields: [
                "name": "LATISS", "visit_max": 999_999_999, "detector_max": 1, "class_name": "lsst.obs.lsst.Latiss"])]),
            ExportedElementRecords(element: "physical_filter", records: [DimensionRecord(element: "physical_filter", fields: [
                "instrument": "LATISS", "name": "SDSSr_65mm~empty_1", "band": "r"])]),
            ExportedElementRecords(element: "detector", records: [DimensionRecord(element: "detector", fields: [
                "instrument": "LATISS", "id": 0, "full_name": "RXX_S00", "raft": "RXX"])]),
            ExportedElementRecords(element: "day_obs", records: [DimensionRecord(element: "day_obs", fields: [
                "instrument": "LATISS", "id": 20_240_624,
                "timespan_begin": .int(Int(tai("2024-06-24 12:00:00").nanoseconds)),
                "timespan_end": .int(Int(tai("2024-06-25 12:00:00").nanoseconds))])]),
            ExportedElementRecords(element: "group", records: [
                DimensionRecord(element: "group", fields: ["instrument": "LATISS", "name": "2024-06-25T00:59:45.004"]),
                DimensionRecord(element: "group", fields: ["instrument": "LATISS", "name": "2024-06-25T01:26:31.895#1"]),
            ]),
            ExportedElementRecords(element: "exposure", records: [DimensionRecord(element: "exposure", fields: [
                "instrument": "LATISS", "id": 2_024_062_400_106, "obs_id": "AT_O_20240624_000106",
                "physical_filter": "SDSSr_65mm~empty_1", "group": "2024-06-25T01:26:31.895#1", "day_obs": 20_240_624,
                "exposure_time": 30.0, "sky_angle": 1e-05, "tracking_dec": -30.25, "science_program": "0012",
                "target_name": "yes", "can_see_sky": true, "has_simulated": false,
                "timespan_begin": .int(Int(begin.nanoseconds)), "timespan_end": .int(Int(end.nanoseconds))])]),
            ExportedElementRecords(element: "skymap", records: [DimensionRecord(element: "skymap", fields: [
                "name": "hsc_rings_v1", "hash": .string(String(repeating: "0123456789abcdef", count: 5)), "tract_max": 18938])]),
            ExportedElementRecords(element: "visit", records: [DimensionRecord(element: "visit", fields: [
                "instrument": "LATISS", "id": 2_024_062_400_106, "name": "AT_O_20240624_000106",
                "physical_filter": "SDSSr_65mm~empty_1", "day_obs": 20_240_624,
                "region": .string("70" + String(repeating: "0123456789abcdef", count: 12)),
                "timespan_begin": .int(Int(begin.nanoseconds))])]),
        ]
        c.collections = [
            ExportedCollection(name: "u/test", type: .chained, children: ["LATISS/defaults", "tagged/best"]),
            ExportedCollection(name: "LATISS/defaults", type: .chained, doc: "defaults: raw then calib", children: ["LATISS/raw/all", "LATISS/calib"]),
            ExportedCollection(name: "LATISS/raw/all", type: .run, doc: "Raw data"),
            ExportedCollection(name: "u/test/run1", type: .run, host: "node01.example.org",
                               timespan: Timespan(begin: tai("2024-06-26 10:00:00.5"), end: tai("2024-06-26 11:00:00"))),
            ExportedCollection(name: "LATISS/calib", type: .calibration),
            ExportedCollection(name: "LATISS/calib/run1", type: .run),
            ExportedCollection(name: "tagged/best", type: .tagged, doc: "true"),
        ]
        c.datasetTypes = [
            ExportedDatasetType(name: "raw", storageClass: "Exposure", dimensions: ["instrument", "detector", "exposure"], isCalibration: false),
            ExportedDatasetType(name: "bias", storageClass: "ExposureF", dimensions: ["instrument", "detector"], isCalibration: true),
            ExportedDatasetType(name: "calexp", storageClass: "ExposureF", dimensions: ["instrument", "visit", "detector"], isCalibration: false),
        ]
        c.datasets = [
            ExportedDatasets(datasetType: "raw", run: "LATISS/raw/all", files: [ExportedFile(
                refs: [ExportedRef(id: rawId, dataId: ["instrument": "LATISS", "detector": 0, "exposure": 2_024_062_400_106])],
                path: "LATISS/raw/all/raw/20240624/raw_LATISS.fits", formatter: "lsst.obs.lsst.rawFormatter.LatissRawFormatter",
                size: 8640, checksum: "sha256:00ff")]),
            ExportedDatasets(datasetType: "calexp", run: "u/test/run1", files: [ExportedFile(
                refs: [ExportedRef(id: calexpId, dataId: ["instrument": "LATISS", "visit": 2_024_062_400_106, "detector": 0])],
                path: "u/test/run1/calexp: final #1.fits", hdu: 1)]),
            ExportedDatasets(datasetType: "bias", run: "LATISS/calib/run1", files: [ExportedFile(
                refs: [ExportedRef(id: biasId, dataId: ["instrument": "LATISS", "detector": 0])],
                path: "LATISS/calib/run1/bias.fits", formatter: "lsst.obs.base.formatters.fitsExposure.FitsExposureFormatter")]),
        ]
        c.tags = [ExportedTags(collection: "tagged/best", ids: [rawId, calexpId])]
        c.certifications = [ExportedCertifications(collection: "LATISS/calib", ranges: [
            .init(timespan: Timespan(begin: tai("2024-06-01 00:00:00"), end: tai("2024-06-25 00:00:00")), ids: [biasId]),
            .init(timespan: Timespan(begin: tai("2024-06-25 00:00:00"), end: nil), ids: [biasId]),
            .init(timespan: Timespan(begin: nil, end: tai("2024-05-01 00:00:00")), ids: []),
            .init(timespan: .empty, ids: [biasId]),
        ])]
        return c
    }

    @Test("write then read gives back every entry")
    func roundTrip() throws {
        let dir = TemporaryDirectory()
        let url = dir.url.appendingPathComponent("export.yaml")
        let original = Self.sampleContents()
        try ExportYAML.write(original, universe: Self.universe, to: url)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["export.yaml"], "no temporary file left")
        let read = try ExportYAML.read(url)
        #expect(read.universeNamespace == "daf_butler")
        #expect(read.universeVersion == 8)
        // Records: the same fields, in Rubin's element order.
        #expect(read.dimensionRecords.map(\.element) == ["instrument", "skymap", "day_obs", "detector", "group", "physical_filter", "exposure", "visit"])
        for group in original.dimensionRecords {
            let back = read.dimensionRecords.first { $0.element == group.element }
            #expect(back?.records == group.records, "records of \(group.element)")
        }
        // Collections: non-chained, then chains with the inner chain first.
        #expect(read.collections.map(\.name) == ["LATISS/calib", "LATISS/calib/run1", "LATISS/raw/all", "tagged/best", "u/test/run1", "LATISS/defaults", "u/test"])
        #expect(Set(read.collections) == Set(original.collections))
        // Dataset types: all dimensions written, once each.
        #expect(read.datasetTypes.map(\.name) == ["bias", "calexp", "raw"])
        #expect(read.datasetTypes.first { $0.name == "raw" }?.dimensions == ["band", "instrument", "day_obs", "detector", "group", "physical_filter", "exposure"])
        #expect(read.datasetTypes.first { $0.name == "bias" }?.isCalibration == true)
        // Datasets: by (type, run), files with their extras.
        #expect(read.datasets.map { "\($0.datasetType) \($0.run)" } == ["bias LATISS/calib/run1", "calexp u/test/run1", "raw LATISS/raw/all"])
        for group in original.datasets {
            let back = read.datasets.first { $0.datasetType == group.datasetType }!
            #expect(back.files.count == group.files.count)
            for (a, b) in zip(back.files, group.files) {
                #expect(a.refs == b.refs)
                #expect(a.path == b.path)
                #expect(a.formatter == b.formatter)
                #expect(a.size == b.size)
                #expect(a.checksum == b.checksum)
                #expect(a.hdu == b.hdu)
            }
        }
        #expect(read.tags.map(\.collection) == ["tagged/best"])
        #expect(read.tags.first?.ids == [Self.rawId, Self.calexpId])
        let ranges = try #require(read.certifications.first?.ranges)
        #expect(ranges.map(\.timespan) == original.certifications[0].ranges.map(\.timespan))
        #expect(ranges.map(\.ids) == original.certifications[0].ranges.map(\.ids))
        #expect(ranges[3].timespan.isEmpty)
    }

    @Test("the text is laid out as Rubin's PyYAML dump lays it out")
    func layout() throws {
        let text = ExportYAML.text(Self.sampleContents(), universe: Self.universe)
        if let out = ProcessInfo.processInfo.environment["EXPORT_YAML_SAMPLE"] { try text.write(toFile: out, atomically: true, encoding: .utf8) }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(Array(lines.prefix(5)) == ["description: Butler Data Repository Export", "version: 1.0.2", "universe_version: 8",
                                           "universe_namespace: daf_butler", "data:"])
        // Entry order: dimensions, collections, (dataset_type, dataset) pairs sorted, associations by collection.
        let types = lines.filter { $0.hasPrefix("- type: ") }.map { String($0.dropFirst(8)) }
        #expect(types == Array(repeating: "dimension", count: 8) + Array(repeating: "collection", count: 7)
            + ["dataset_type", "dataset", "dataset_type", "dataset", "dataset_type", "dataset", "associations", "associations"])
        let collections = lines.indices.filter { lines[$0] == "- type: collection" }.map { lines[$0 + 2] }
        #expect(collections == ["  name: LATISS/calib", "  name: LATISS/calib/run1", "  name: LATISS/raw/all", "  name: tagged/best",
                                "  name: u/test/run1", "  name: LATISS/defaults", "  name: u/test"])
        #expect(text.contains("""
            - type: dimension
              element: exposure
              records:
              - instrument: LATISS
                id: 2024062400106
                physical_filter: SDSSr_65mm~empty_1
                group: 2024-06-25T01:26:31.895#1
                day_obs: 20240624
                obs_id: AT_O_20240624_000106
                exposure_time: 30.0
                dark_time: null
            """))
        #expect(text.contains("""
                sky_angle: 1.0e-05
            """))
        #expect(text.contains("""
                has_simulated: false
                can_see_sky: true
                datetime_begin: !butler_time/tai/iso '2024-06-25 01:27:08.895000000'
                datetime_end: !butler_time/tai/iso '2024-06-25 01:27:39.100000001'
            """))
        #expect(text.contains("  - instrument: LATISS\n    name: '2024-06-25T00:59:45.004'\n"))
        #expect(text.contains("""
                region: !<lsst.sphgeom.ConvexPolygon>
                  encoded: 700123456789abcdef
            """))
        #expect(text.contains("    datetime_end: null\n"), "the visit's unbounded end")
        #expect(text.contains("""
            - type: collection
              collection_type: RUN
              name: LATISS/raw/all
              doc: Raw data
              host: null
              timespan_begin: null
              timespan_end: null
            """))
        #expect(text.contains("  host: node01.example.org\n  timespan_begin: !butler_time/tai/iso '2024-06-26 10:00:00.500000000'\n"))
        #expect(text.contains("  doc: 'defaults: raw then calib'\n"))
        #expect(text.contains("  collection_type: TAGGED\n  name: tagged/best\n  doc: 'true'\n"))
        #expect(text.contains("""
            - type: dataset_type
              name: raw
              dimensions:
              - band
              - instrument
              - day_obs
              - detector
              - group
              - physical_filter
              - exposure
              storage_class: Exposure
              is_calibration: false
            - type: dataset
              dataset_type: raw
              run: LATISS/raw/all
              records:
              - dataset_id:
                - !uuid 'f4852260-3f7c-52dc-95b4-21b1a598aa68'
                data_id:
                - instrument: LATISS
                  detector: 0
                  exposure: 2024062400106
                path: LATISS/raw/all/raw/20240624/raw_LATISS.fits
                formatter: lsst.obs.lsst.rawFormatter.LatissRawFormatter
                file_size: 8640
                checksum: sha256:00ff
            """))
        #expect(text.contains("    path: 'u/test/run1/calexp: final #1.fits'\n    hdu: 1\n"), "no formatter key when there is none")
        #expect(text.contains("""
            - type: associations
              collection: LATISS/calib
              collection_type: CALIBRATION
              validity_ranges:
              - timespan: !lsst.daf.butler.Timespan
                  begin: !butler_time/tai/iso '2024-06-01 00:00:00.000000000'
                  end: !butler_time/tai/iso '2024-06-25 00:00:00.000000000'
                dataset_ids:
                - !uuid '2f77f8fe-8d7b-5867-86a7-76b6d6cbd342'
              - timespan: !lsst.daf.butler.Timespan
                  begin: !butler_time/tai/iso '2024-06-25 00:00:00.000000000'
                  end: null
            """))
        #expect(text.contains("      begin: null\n"))
        #expect(text.contains("  - timespan: !lsst.daf.butler.Timespan 'EMPTY'\n    dataset_ids:\n"))
        #expect(text.hasSuffix("""
            - type: associations
              collection: tagged/best
              collection_type: TAGGED
              dataset_ids:
              - !uuid 'f4852260-3f7c-52dc-95b4-21b1a598aa68'
              - !uuid '0a2e7d0c-54b1-5f0e-9d0b-7b1c2d3e4f50'

            """))
        #expect(ExportYAML.text(ExportContents(), universe: Self.universe).hasSuffix("universe_namespace: daf_butler\ndata: []\n"))
    }

    @Test("PyYAML, loading our file and dumping it again as Rubin's exporter dumps, writes the same bytes")
    func sameBytesAsPyYAML() throws {
        let python = try Self.pythonWithYAML()
        let dir = TemporaryDirectory()
        let url = dir.url.appendingPathComponent("export.yaml")
        try ExportYAML.write(Self.sampleContents(), universe: Self.universe, to: url)
        let script = fixturesDirectory.appendingPathComponent("interchange/pyyaml-redump.py").path
        let result = try runProcess(python, [script, url.path])
        #expect(result.exitCode == 0, "\(result.stderr)")
        #expect(result.stdout == (try String(contentsOf: url, encoding: .utf8)))
    }

    @Test("a file as Rubin writes it is read with its tags, times, regions and typed values")
    func rubinFile() throws {
        let c = try ExportYAML.read(Self.rubinFixture)
        #expect(c.universeVersion == 8)
        #expect(c.dimensionRecords.map(\.element) == ["instrument", "day_obs", "detector", "group", "physical_filter", "visit_system", "exposure", "visit"])
        let exposure = try #require(c.dimensionRecords.first { $0.element == "exposure" }?.records.first)
        #expect(exposure["id"] == .int(2_024_062_400_106))
        #expect(exposure["group"] == .string("2024-06-25T01:26:31.895#1"))
        #expect(exposure["science_program"] == .string("0012"))
        #expect(exposure["exposure_time"] == .float(30.0))
        #expect(exposure["sky_angle"] == .float(1e-05))
        #expect(exposure["tracking_dec"] == .float(-30.25))
        #expect(exposure["has_simulated"] == .bool(false))
        #expect(exposure["azimuth"] == nil, "null fields are left out")
        #expect(exposure["target_name"] == .string("HD 123"))
        #expect(exposure["timespan_begin"] == .int(Int(Self.tai("2024-06-25 01:27:08.895").nanoseconds)))
        #expect(exposure["timespan_end"] == .int(Int(Self.tai("2024-06-25 01:27:39.100000000").nanoseconds)), "one fractional digit")
        #expect(exposure["datetime_begin"] == nil)
        let groups = c.dimensionRecords.first { $0.element == "group" }!.records.map { $0["name"] }
        #expect(groups == [.string("2024-06-25T00:59:45.004"), .string("2024-06-25T01:26:31.895#1")])
        let day = c.dimensionRecords.first { $0.element == "day_obs" }!.records[0]
        #expect(day["timespan_begin"] == .int(1_719_230_400_000_000_000), "2024-06-24 12:00 TAI")
        let visit = c.dimensionRecords.first { $0.element == "visit" }!.records[0]
        guard case .string(let hex)? = visit["region"] else { Issue.record("no region"); return }
        #expect(hex.count == 194 && hex.hasPrefix("70"), "a 4-vertex polygon is 97 bytes")
        #expect(c.collections.map(\.name) == ["LATISS/calib", "LATISS/calib/run1", "LATISS/raw/all", "tagged/best", "LATISS/defaults", "u/test"])
        #expect(c.collections.first { $0.name == "LATISS/raw/all" } == ExportedCollection(name: "LATISS/raw/all", type: .run, doc: "Raw data"))
        #expect(c.collections.first { $0.name == "u/test" }?.children == ["LATISS/defaults", "tagged/best"])
        #expect(c.datasetTypes.map(\.name) == ["bias", "raw"])
        #expect(c.datasetTypes[0].dimensions == ["instrument", "detector"] && c.datasetTypes[0].isCalibration)
        let raw = try #require(c.datasets.first { $0.datasetType == "raw" })
        #expect(raw.run == "LATISS/raw/all")
        #expect(raw.files[0].refs == [ExportedRef(id: Self.rawId, dataId: ["instrument": "LATISS", "detector": 0, "exposure": 2_024_062_400_106])])
        #expect(raw.files[0].formatter == "lsst.obs.lsst.rawFormatter.LatissRawFormatter")
        #expect(raw.files[0].size == nil && raw.files[0].checksum == nil)
        let ranges = try #require(c.certifications.first { $0.collection == "LATISS/calib" }?.ranges)
        #expect(ranges.count == 2)
        #expect(ranges[0].timespan == Timespan(begin: TAITime(nanoseconds: 1_717_200_000_000_000_000), end: TAITime(nanoseconds: 1_719_273_600_000_000_000)))
        #expect(ranges[1].timespan == Timespan(begin: TAITime(nanoseconds: 1_719_273_600_000_000_000), end: nil))
        #expect(ranges[1].ids == [Self.biasId], "upper-case inside !uuid")
        #expect(c.tags.first?.ids == [Self.rawId])
    }

    /// The fixture with one part replaced.
    static func edited(_ old: String, _ new: String) -> String {
        let text = try! String(contentsOf: rubinFixture, encoding: .utf8)
        precondition(text.contains(old), "fixture lacks \(old)")
        return text.replacingOccurrences(of: old, with: new)
    }

    @Test("leniencies: old validity ranges, plain UUIDs, required dimensions only, no formatter, unknown keys, any order, old versions")
    func lenient() throws {
        let old = try ExportYAML.parse(Self.edited("""
              - timespan: !lsst.daf.butler.Timespan
                  begin: !butler_time/tai/iso '2024-06-25 00:00:00.000000000'
                  end: null
                dataset_ids:
            """, """
              - begin: !butler_time/tai/iso '2024-06-25 00:00:00'
                end: null
                dataset_ids:
            """), source: "old.yaml")
        #expect(old.certifications[0].ranges[1].timespan == Timespan(begin: TAITime(nanoseconds: 1_719_273_600_000_000_000), end: nil))
        let plain = try ExportYAML.parse(Self.edited("- !uuid 'f4852260-3f7c-52dc-95b4-21b1a598aa68'\n    data_id", "- f4852260-3f7c-52dc-95b4-21b1a598aa68\n    data_id"), source: "x")
        #expect(plain.datasets.first { $0.datasetType == "raw" }?.files[0].refs[0].id == Self.rawId)
        let required = try ExportYAML.parse(Self.edited("  - band\n  - instrument\n  - day_obs\n  - detector\n  - group\n  - physical_filter\n  - exposure\n",
                                                        "  - instrument\n  - detector\n  - exposure\n"), source: "x")
        #expect(required.datasetTypes.first { $0.name == "raw" }?.dimensions == ["instrument", "detector", "exposure"])
        let noFormatter = try ExportYAML.parse(Self.edited("    formatter: lsst.obs.lsst.rawFormatter.LatissRawFormatter\n", "    swift_note: hello\n"), source: "x")
        #expect(noFormatter.datasets.first { $0.datasetType == "raw" }?.files[0].formatter == nil)
        let extra = try ExportYAML.parse(Self.edited("universe_namespace: daf_butler\n", "universe_namespace: daf_butler\nswift_extra: [1, 2]\n")
            .replacingOccurrences(of: "  name: tagged/best\n", with: "  name: tagged/best\n  colour: blue\n"), source: "x")
        #expect(extra.collections.count == 6)
        for version in ["1.0.0", "1.0.9", "0"] {
            #expect(try ExportYAML.parse(Self.edited("version: 1.0.2", "version: \(version)"), source: "x").datasets.count == 2)
        }
        let noUniverse = try ExportYAML.parse(Self.edited("universe_version: 8\n", ""), source: "x")
        #expect(noUniverse.universeVersion == 0)
        // Entries in another order: datasets before everything else, a chain before the chain it holds.
        let text = try String(contentsOf: Self.rubinFixture, encoding: .utf8)
        let head = text.components(separatedBy: "data:\n")[0] + "data:\n"
        var entries = text.components(separatedBy: "data:\n")[1].components(separatedBy: "\n- ").map { $0.hasPrefix("- ") ? String($0.dropFirst(2)) : $0 }
        entries.reverse()
        let shuffled = try ExportYAML.parse(head + entries.map { "- " + $0.trimmingCharacters(in: .newlines) + "\n" }.joined(), source: "x")
        #expect(shuffled.collections.suffix(2).map(\.name) == ["LATISS/defaults", "u/test"])
        #expect(shuffled.datasets.count == 2 && shuffled.dimensionRecords.count == 8)
    }

    @Test("refusals name the file and the reason", arguments: [
        ("version: 1.0.2", "version: 1.1.0", "export format version 1.1.0 is newer than this butler reads (1.0.x)"),
        ("version: 1.0.2", "version: 2.0.0", "export format version 2.0.0 is newer than this butler reads (1.0.x)"),
        ("version: 1.0.2\n", "", "missing 'version'"),
        ("- type: dimension\n  element: instrument", "- type: provenance\n  element: instrument", "unknown entry type 'provenance'"),
        ("      detector: 0\n    path: LATISS/calib", "      detector: 0\n    - instrument: LATISS\n      detector: 1\n    path: LATISS/calib",
         "1 dataset id(s) but 2 data ID(s)"),
        ("!uuid 'f4852260-3f7c-52dc-95b4-21b1a598aa68'\n    data_id", "!uuid 'f4852260-3f7c-52dc'\n    data_id", "dataset id 'f4852260-3f7c-52dc' is not a UUID"),
        ("'2024-06-25 00:00:00.000000000'\n      end: null", "'2024-06-25 24:00:00'\n      end: null", "begin '2024-06-25 24:00:00' is not a time"),
        ("'2024-06-24 12:00:00.000000000'", "'2024-06-24 12:00:00.0000000001'", "datetime_begin '2024-06-24 12:00:00.0000000001' is not a time"),
        ("  collection_type: TAGGED\n  dataset_ids", "  collection_type: RUN\n  dataset_ids", "associations of collection_type 'RUN'"),
    ])
    func refusals(old: String, new: String, reason: String) throws {
        let error = #expect(throws: ButlerError.self) { try ExportYAML.parse(Self.edited(old, new), source: "/tmp/x/export.yaml") }
        #expect(error?.code == .invalidValue)
        #expect(error?.message.hasPrefix("cannot read export file /tmp/x/export.yaml: ") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains(reason) == true, "\(error?.message ?? "") lacks \(reason)")
        #expect(error?.message.contains("\n") == false)
    }

    @Test("a daf_butler universe_version newer than this butler's is refused naming the file and the value; older ones are read")
    func universeVersions() throws {
        let ours = Self.universe.version
        for version in ["99", "\(ours + 1)", "-1"] {
            let error = #expect(throws: ButlerError.self) {
                try ExportYAML.parse(Self.edited("universe_version: 8\n", "universe_version: \(version)\n"), source: "/tmp/x/export.yaml")
            }
            #expect(error?.code == .invalidValue)
            let message = error?.message ?? ""
            #expect(message.hasPrefix("cannot read export file /tmp/x/export.yaml: universe_version \(version) "), "\(message)")
            #expect(!message.contains("\n"))
        }
        // Rubin's older universes (its exports of version 6 and 7) and ours are read, as Rubin reads them.
        for version in [6, 7, ours] {
            let read = try ExportYAML.parse(Self.edited("universe_version: 8\n", "universe_version: \(version)\n"), source: "x")
            #expect(read.universeVersion == version)
            #expect(read.datasets.count == 2)
        }
        // Another namespace is not this butler's universe to judge.
        let lab = try ExportYAML.parse(Self.edited("universe_version: 8\nuniverse_namespace: daf_butler\n", "universe_version: 99\nuniverse_namespace: lab\n"), source: "x")
        #expect(lab.universeVersion == 99 && lab.universeNamespace == "lab")
    }

    @Test("refusals of files that are not exports")
    func notExports() throws {
        for (text, reason) in [("a: [1, 2", "not valid YAML"), ("- 1\n- 2\n", "the top level is not a mapping"), ("", "the file is empty"),
                               ("version: 1.0.2\n", "missing 'data'")] {
            let error = #expect(throws: ButlerError.self) { try ExportYAML.parse(text, source: "e.yaml") }
            #expect(error?.message.contains(reason) == true, "\(error?.message ?? "") lacks \(reason)")
        }
        let missing = #expect(throws: ButlerError.self) { try ExportYAML.read(URL(fileURLWithPath: "/nonexistent/export.yaml")) }
        #expect(missing?.code == .io)
    }

    static let awkward = ["0012", "12", "1.5", "1e5", "1.0e+5", ".5", "0x1F", "0b101", "1:30", "true", "No", "off", "null", "~", "",
                          "2024-06-25", "2024-06-25T00:59:45.004", "2024-06-25 01:02:03", " lead", "trail ", "a: b", "a:b", "x #y",
                          "x#y", "#c", "- x", "-x", "-", "? q", "[a]", "{a}", "&a", "*a", "!t", "|p", ">f", "'q", "\"d", "%p",
                          "@a", "`b", "---x", "...", "tab\there", "line\nbreak", "café", "<<", "=", ",x", "y,", "LATISS/raw/all",
                          "2024-06-25T01:26:31.895#1", "it's", "a\\b", "NaN", ".inf", "-.inf", "+1", "1_000", "1.", "e5"]

    @Test("strings that look like numbers, dates, booleans or YAML syntax stay strings")
    func quoting() throws {
        let dir = TemporaryDirectory()
        var c = ExportContents()
        c.dimensionRecords = [ExportedElementRecords(element: "group", records: Self.awkward.map {
            DimensionRecord(element: "group", fields: ["instrument": "LATISS", "name": .string($0)])
        })]
        c.collections = Self.awkward.enumerated().map { ExportedCollection(name: "c\($0.offset)", type: .tagged, doc: $0.element) }
        c.datasetTypes = [ExportedDatasetType(name: "g", storageClass: "StructuredDataDict", dimensions: ["instrument", "group"], isCalibration: false)]
        c.datasets = [ExportedDatasets(datasetType: "g", run: "r", files: Self.awkward.map {
            ExportedFile(refs: [ExportedRef(id: UUID(), dataId: ["instrument": "LATISS", "group": .string($0)])], path: $0.isEmpty ? "e" : $0)
        })]
        let url = dir.url.appendingPathComponent("export.yaml")
        try ExportYAML.write(c, universe: Self.universe, to: url)
        let back = try ExportYAML.read(url)
        #expect(back.dimensionRecords[0].records.map { $0["name"] } == Self.awkward.map { .string($0) })
        #expect(back.collections.sorted { Int($0.name.dropFirst())! < Int($1.name.dropFirst())! }.map(\.doc) == Self.awkward)
        #expect(back.datasets[0].files.map { $0.refs[0].dataId["group"] } == Self.awkward.map { .string($0) })
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(text.contains("  doc: '0012'\n") && text.contains("  doc: 2024-06-25T01:26:31.895#1\n") && text.contains("  doc: -x\n"))

        // PyYAML (Rubin's loader) reads the same strings.
        let python = try Self.pythonWithYAML()
        let script = """
            import json, sys, yaml
            class L(yaml.SafeLoader): pass
            L.add_multi_constructor('', lambda l, s, n: l.construct_mapping(n) if isinstance(n, yaml.MappingNode) else l.construct_scalar(n))
            d = yaml.load(open(sys.argv[1]), Loader=L)
            out = {'records': [r['name'] for e in d['data'] if e['type'] == 'dimension' for r in e['records']],
                   'docs': [e.get('doc') for e in sorted((e for e in d['data'] if e['type'] == 'collection'), key=lambda e: int(e['name'][1:]))],
                   'ids': [i['group'] for e in d['data'] if e['type'] == 'dataset' for r in e['records'] for i in r['data_id']],
                   'version': d['version']}
            print(json.dumps(out))
            """
        let result = try runProcess(python, ["-c", script, url.path])
        #expect(result.exitCode == 0, "\(result.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect(json?["records"] as? [String] == Self.awkward)
        #expect(json?["docs"] as? [String] == Self.awkward)
        #expect(json?["ids"] as? [String] == Self.awkward)
        #expect(json?["version"] as? String == "1.0.2")

        // And writes them as we do (line breaks aside: PyYAML may fold those into a single-quoted form).
        let single = Self.awkward.filter { !$0.contains("\n") }
        let dump = try runProcess(python, ["-c", "import json, sys, yaml; print(json.dumps([yaml.dump({'k': s}) for s in json.load(sys.stdin)]))"],
                                  stdin: String(decoding: try JSONSerialization.data(withJSONObject: single), as: UTF8.self))
        #expect(dump.exitCode == 0, "\(dump.stderr)")
        let forms = try JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [String] ?? []
        #expect(forms == single.map { "k: \(YAMLPlainScalar.quoted($0))\n" })
        #expect(YAMLPlainScalar.float(-30.25) == "-30.25")
    }

    @Test("PyYAML's resolution of plain scalars")
    func plainScalars() {
        typealias V = YAMLPlainScalar.Value
        let cases: [(String, V)] = [("0", .int(0)), ("012", .int(10)), ("0x1F", .int(31)), ("0b101", .int(5)), ("1_000", .int(1000)),
                                    ("-7", .int(-7)), ("1:30", .int(90)), ("1.5", .float(1.5)), ("1.0e-05", .float(1e-05)), ("-.inf", .float(-.infinity)),
                                    ("1e5", .string("1e5")), ("yes", .bool(true)), ("OFF", .bool(false)), ("y", .string("y")), ("~", .null),
                                    ("2024-06-25", .timestamp("2024-06-25")), ("2024-06-25T01:26:31.895#1", .string("2024-06-25T01:26:31.895#1")),
                                    ("2024-06-25 01:02:03.5Z", .timestamp("2024-06-25 01:02:03.5Z")), ("1.0.2", .string("1.0.2"))]
        for (text, value) in cases { #expect(YAMLPlainScalar.resolve(text) == value, "\(text)") }
        #expect(YAMLPlainScalar.float(30) == "30.0")
        #expect(YAMLPlainScalar.float(1e-05) == "1.0e-05")
        #expect(YAMLPlainScalar.float(1e16) == "1.0e+16")
        #expect(YAMLPlainScalar.float(0.1) == "0.1")
        #expect(YAMLPlainScalar.quoted("café") == "\"caf\\xE9\"")
    }

    @Test("times: nine digits written, 0 to 9 read, TAI")
    func times() {
        let t = ExportYAML.parseISO("2024-06-25 00:00:00")!
        #expect(t.nanoseconds == 1_719_273_600_000_000_000)
        #expect(ExportYAML.parseISO("2024-06-25 00:00:00.123456789")!.nanoseconds == 1_719_273_600_123_456_789)
        #expect(ExportYAML.parseISO("2024-06-25 00:00:00.1")!.nanoseconds == 1_719_273_600_100_000_000)
        #expect(ExportYAML.parseISO("2024-06-25 00:00:00.") == nil)
        #expect(ExportYAML.parseISO("2024-13-25 00:00:00") == nil)
        #expect(ExportYAML.isoText(TAITime(nanoseconds: 1_719_273_600_000_000_001)) == "2024-06-25 00:00:00.000000001")
    }

    /// Rubin's Python (the `make rubin-venv` environment, which has PyYAML); a test that needs it fails without it.
    static func pythonWithYAML() throws -> String {
        let python = packageRoot.appendingPathComponent(".build/rubin-venv/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw ButlerError(.notFound, "\(python) is missing: run make rubin-venv (make test does)")
        }
        return python
    }
}
