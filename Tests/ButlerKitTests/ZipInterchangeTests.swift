import Foundation
import Testing
@testable import ButlerKit
import ButlerTestSupport

/// Rubin's Zip format: our Zips as Rubin names and lays them out, Rubin's Zips read as Rubin wrote them, and every
/// refusal of a bad Zip. Zips "from Rubin" are built with Python's `zipfile`, as Rubin's butler builds them.
@Suite("Zip interchange")
struct ZipInterchangeTests {
    static let latissRaw = fixture("lsst/latiss-AT_O_20240624_000106_R00_S00.fits")
    static let rubinId = "f4852260-3f7c-52dc-95b4-21b1a598aa68"
    static let rubinMember = "f4852260-raw_LATISS_SDSSr_65mm~empty_1_AT_O_20240624_000106_RXX_S00_LATISS_raw_all.fits"

    // MARK: Helpers

    /// Runs a Python script (arguments after it), failing the test on a non-zero exit.
    static func python(_ script: String, _ arguments: [String] = [], python: String? = nil) throws -> String {
        let result = try python.map { try runProcess($0, ["-c", script] + arguments) } ?? runProcess("/usr/bin/env", ["python3", "-c", script] + arguments)
        guard result.exitCode == 0 else { throw ButlerError(.io, "python3 failed: \(result.stderr)") }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A Zip written as Rubin's butler writes it: the index first and deflated, then each member stored.
    static func makeZip(_ url: URL, index: Data?, members: [(name: String, path: String)]) throws {
        var arguments = [url.path]
        if let index {
            let indexURL = url.deletingLastPathComponent().appendingPathComponent("index-\(UUID().uuidString.prefix(6)).json")
            try index.write(to: indexURL)
            arguments.append(indexURL.path)
        } else {
            arguments.append("-")
        }
        for member in members { arguments += [member.name, member.path] }
        _ = try python("""
            import sys, zipfile
            out, index, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
            with zipfile.ZipFile(out, "w") as z:
                if index != "-":
                    z.write(index, "_butler_zip_index.json", compress_type=zipfile.ZIP_DEFLATED)
                for name, path in zip(rest[0::2], rest[1::2]):
                    z.write(path, name)
            """, arguments)
    }

    /// The index of Rubin's excerpt (reference §4), its FITS member being the fixture raw of the same exposure.
    static func rubinIndex(fileSize: Int64) -> [String: Any] {
        let dataId: [String: Any] = ["instrument": "LATISS", "detector": 0, "exposure": 2024062400106, "band": "r", "day_obs": 20240624,
                                     "group": "2024-06-25T01:26:31.895#1", "physical_filter": "SDSSr_65mm~empty_1"]
        let exposure: [Any] = ["LATISS", 2024062400106, 20240624, "2024-06-25T01:26:31.895#1", "SDSSr_65mm~empty_1",
                               "AT_O_20240624_000106", 30.0, 30.25, "science", "science", 106, 106, 106, "HD 164461", "BLOCK-306",
                               271.5, -29.25, 90.0, 180.0, 30.0, false, true, [1719278791895000000, 1719278822146000000] as [Any]]
        let records: [String: Any] = [
            "instrument": [["LATISS", 2_000_000_000, 0, 2_000_000_000, 1, "lsst.obs.lsst.Latiss"] as [Any]],
            "day_obs": [["LATISS", 20240624, [1719230400000000000, 1719316800000000000]] as [Any]],
            "detector": [["LATISS", 0, "RXX_S00", "S00", "RXX", "SCIENCE"] as [Any]],
            "group": [["LATISS", "2024-06-25T01:26:31.895#1"] as [Any]],
            "physical_filter": [["LATISS", "SDSSr_65mm~empty_1", "r"] as [Any]],
            "exposure": [exposure],
            "visit_definition": [] as [Any],
        ]
        let refs: [String: Any] = [
            "container_version": "V1", "universe_version": 8, "universe_namespace": "daf_butler",
            "dataset_types": ["raw": ["name": "raw", "storageClass": "Exposure", "dimensions": ["instrument", "detector", "exposure"],
                                      "parentStorageClass": NSNull(), "isCalibration": false] as [String: Any]],
            "compact_refs": [rubinId: ["dataset_type_name": "raw", "run": "LATISS/raw/all", "data_id": dataId] as [String: Any]],
            "dimension_records": records,
        ]
        let info: [String: Any] = [
            "formatter": "lsst.obs.lsst.rawFormatter.LatissRawFormatter",
            "path": "LATISS/raw/all/raw/20240624/AT_O_20240624_000106/raw_LATISS_SDSSr_65mm~empty_1_AT_O_20240624_000106_RXX_S00_LATISS_raw_all.fits",
            "storage_class": "Exposure", "component": NSNull(), "checksum": NSNull(), "file_size": fileSize,
        ]
        return ["index_version": "V1", "refs": refs, "artifact_map": [rubinMember: ["info": info, "ids": [rubinId]] as [String: Any]]]
    }

    static func json(_ object: [String: Any]) throws -> Data {
        try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    }

    static func fileSize(_ path: String) throws -> Int64 {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? -1
    }

    /// A Rubin-style Zip from a (possibly edited) excerpt index.
    static func rubinZip(in dir: TemporaryDirectory, name: String = "rubin.zip", edit: (inout [String: Any]) -> Void = { _ in }) throws -> URL {
        var index = rubinIndex(fileSize: try fileSize(latissRaw))
        edit(&index)
        let url = dir.url.appendingPathComponent(name)
        try makeZip(url, index: try json(index), members: [(rubinMember, latissRaw)])
        return url
    }

    /// Edits a nested dictionary of the index.
    static func edit(_ index: inout [String: Any], _ path: [String], _ change: (inout [String: Any]) -> Void) {
        guard let key = path.first else { change(&index); return }
        var inner = index[key] as! [String: Any]
        edit(&inner, Array(path.dropFirst()), change)
        index[key] = inner
    }

    static func message<T>(_ body: () throws -> T) -> String {
        do {
            _ = try body()
            return "no error"
        } catch {
            return String(describing: error)
        }
    }

    // MARK: Our Zips

    /// Every dimension record and raw of a repository, as an export would give them, with each raw's file.
    static func rawExport(_ butler: Butler, root: String) throws -> (contents: ExportContents, results: [DatasetResult], locations: [UUID: URL], runs: [String]) {
        let registry = butler.registry
        var contents = ExportContents()
        for element in registry.universe.elements where element.hasTable {
            let records = try registry.fetchDimensionRecords(element.name)
            if !records.isEmpty { contents.dimensionRecords.append(ExportedElementRecords(element: element.name, records: records)) }
        }
        let runs = try registry.fetchDimensionRecords("instrument").map { "\($0["name"]!)/raw/all" }.sorted()
        let results = try registry.queryDatasets(["raw"], collections: runs)
        let raw = try #require(results.first?.ref.datasetType)
        contents.datasetTypes = [ExportedDatasetType(name: "raw", storageClass: raw.storageClass, dimensions: raw.dimensions.names, isCalibration: false)]
        let locations = try butler.fileLocations(results.map(\.ref.id))
        for result in results {
            let dataId = Dictionary(uniqueKeysWithValues: result.ref.dataId.required.map { ($0.0, $0.1) })
            let location = try #require(locations[result.ref.id])
            let file = ExportedFile(refs: [ExportedRef(id: result.ref.id, dataId: dataId)], path: "\(result.collection)/raw/\(location.lastPathComponent)",
                                    formatter: "lsst.obs.lsst.rawFormatter.LatissRawFormatter")
            contents.datasets.append(ExportedDatasets(datasetType: "raw", run: result.collection, files: [file]))
            contents.collections.append(ExportedCollection(name: result.collection, type: .run))
        }
        return (contents, results, locations, runs)
    }

    @Test("Export contents written as a Zip read back the same, laid out and named as Rubin does")
    func roundTrip() throws {
        let dir = TemporaryDirectory("zip-roundtrip")
        let butler = try makeRepository(in: dir, raws: nil)
        let universe = butler.registry.universe
        let (contents, results, locations, runs) = try Self.rawExport(butler, root: dir.path("repo"))
        #expect(contents.dimensionRecords.contains { $0.element == "visit" }, "an LSSTCam visit, with region and timespan")
        #expect(results.count == allFixtureRaws.count)
        let raw = try #require(results.first?.ref.datasetType)
        var provenance = ProvenanceBundle()
        provenance.metrics = [.init(datasetId: results[0].ref.id, name: "zip.test", value: 1.5)]

        let sources = Dictionary(uniqueKeysWithValues: results.map { ($0.ref.id, locations[$0.ref.id]!.path) })
        let out = dir.url.appendingPathComponent("zip")
        let zipURL = try ButlerZip.write(contents, sourcePath: { sources[$0.refs[0].id]! }, provenance: provenance, into: out, universe: universe)

        // Named uuid5(Rubin's namespace, ",".join(sorted(members))), as Python computes it.
        let members = results.map { r in String(r.ref.id.lowercasedString.prefix(8)) + "-" + locations[r.ref.id]!.lastPathComponent }
        let expectedName = try Self.python("""
            import sys, uuid
            print(uuid.uuid5(uuid.UUID("840b31d9-05cd-5161-b2c8-00d32b280d0f"), ",".join(sorted(sys.argv[1:]))))
            """, members)
        #expect(zipURL.lastPathComponent == expectedName + ".zip")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path) == [zipURL.lastPathComponent], "no temporary left behind")

        // The layout, as Python's zipfile sees it: index first and deflated, FITS stored, provenance deflated.
        let layout = try Self.python("""
            import sys, zipfile, json
            z = zipfile.ZipFile(sys.argv[1])
            print(";".join(f"{i.filename}:{i.compress_type}" for i in z.infolist()))
            index = json.loads(z.read("_butler_zip_index.json"))
            ref = index["refs"]["compact_refs"][sys.argv[2]]
            print(",".join(sorted(ref["data_id"])))
            recs = index["refs"]["dimension_records"]
            det = [r for r in recs["detector"] if r[0] == "LATISS"][0]
            exp = [r for r in recs["exposure"] if r[1] == 2024062400106][0]
            visit = recs["visit"][0]
            print(json.dumps(det[:3]), json.dumps(exp[2:5]), len(exp), type(exp[-1]).__name__, len(visit), type(visit[-1]).__name__)
            print(sorted(k for k, v in recs.items() if not v))
            """, [zipURL.path, results.first { $0.collection == "LATISS/raw/all" }!.ref.id.lowercasedString])
        let lines = layout.split(separator: "\n").map(String.init)
        let entries = lines[0].split(separator: ";").map(String.init)
        #expect(entries.first == "_butler_zip_index.json:8")
        #expect(entries.last == "_butler_provenance.json:8")
        #expect(Set(entries.dropFirst().dropLast()) == Set(members.map { $0 + ":0" }))
        #expect(lines[1] == "band,day_obs,detector,exposure,group,instrument,physical_filter", "data IDs carry implied values")
        #expect(lines[2] == "[\"LATISS\", 0, \"RXX_S00\"] [20240624, \"2024-06-25T01:26:31.895#1\", \"SDSSr_65mm~empty\"] 23 list 14 list",
                "records in Rubin's field order: keys, implied dimensions by name, alternate keys, metadata, region, timespan")
        #expect(!lines[3].contains("'instrument'") && !lines[3].contains("'exposure'"), "\(lines[3])")

        // Read back.
        let zip = try ButlerZip(contentsOf: zipURL, universe: universe)
        let back = zip.contents
        #expect(Set(back.datasetIds) == Set(results.map(\.ref.id)))
        #expect(back.collections.map(\.name) == runs)
        #expect(back.collections.allSatisfy { $0.type == .run })
        #expect(back.datasetTypes.map(\.name) == ["raw"])
        #expect(Set(back.datasetTypes[0].dimensions) == Set(raw.dimensions.names))
        #expect(back.tags.isEmpty && back.certifications.isEmpty)
        for result in results {
            let file = try #require(back.datasets.flatMap(\.files).first { $0.refs.first?.id == result.ref.id })
            #expect(file.refs[0].dataId == Dictionary(uniqueKeysWithValues: result.ref.dataId.required.map { ($0.0, $0.1) }))
            #expect(file.path == String(result.ref.id.lowercasedString.prefix(8)) + "-" + locations[result.ref.id]!.lastPathComponent)
            #expect(file.size == (try Self.fileSize(locations[result.ref.id]!.path)))
            #expect(file.formatter == "lsst.obs.lsst.rawFormatter.LatissRawFormatter")
            #expect(zip.index.artifactMap[file.path]?.info.path == "\(result.collection)/raw/\(locations[result.ref.id]!.lastPathComponent)")
            let copy = dir.path("copy-\(file.path)")
            let (size, checksum) = try zip.extract(member: file.path, to: copy)
            let (_, expected) = try FileDatastore.measure(locations[result.ref.id]!.path, checksum: true)
            #expect(size == file.size)
            #expect(checksum == "sha256:" + expected!)
            // Never overwrites.
            #expect(errorCode { try zip.extract(member: file.path, to: copy) } == .alreadyExists)
        }
        for group in contents.dimensionRecords {
            let read = back.dimensionRecords.first { $0.element == group.element }
            #expect(Set(read?.records ?? []) == Set(group.records), "records of \(group.element)")
        }
        #expect(try back.provenance?.encoded() == provenance.encoded())

        // Writing the same again refuses to replace the Zip.
        #expect(errorCode { try ButlerZip.write(contents, sourcePath: { sources[$0.refs[0].id]! }, into: out, universe: universe) } == .alreadyExists)
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).count == 1)
    }

    /// Rubin's own `butler` (lsst-daf-butler 30.2026.4300 in the virtual environment `make rubin-venv` makes), or the
    /// one `RUBIN_BUTLER` names.
    static let rubinButler: String? = ProcessInfo.processInfo.environment["RUBIN_BUTLER"]
        ?? packageRoot.appendingPathComponent(".build/rubin-venv/bin/butler").path

    @Test("Rubin's butler ingests our Zip, with its dimension records")
    func rubinIngestsOurZip() throws {
        let rubin = try #require(Self.rubinButler)
        let dir = TemporaryDirectory("zip-rubin-ingest")
        let butler = try makeRepository(in: dir, raws: nil)
        let (contents, results, locations, runs) = try Self.rawExport(butler, root: dir.path("repo"))
        let zip = try ButlerZip.write(contents, sourcePath: { locations[$0.refs[0].id]!.path }, provenance: ProvenanceBundle(),
                                      into: dir.url.appendingPathComponent("zip"), universe: butler.registry.universe)
        let created = try runProcess(rubin, ["create", dir.path("rubin")])
        #expect(created.exitCode == 0, "\(created.stderr)")
        let ingested = try runProcess(rubin, ["ingest-zip", "--transfer-dimensions", "-t", "copy", dir.path("rubin"), zip.path])
        #expect(ingested.exitCode == 0, "\(ingested.stderr)")
        let listed = try Self.python("""
            import sys, zipfile
            from lsst.daf.butler import Butler
            b = Butler(sys.argv[1])
            def member_size(uri):
                # Rubin keeps the Zip whole: each dataset's URI is the Zip with #zip-path=<member>.
                member = uri.fragment.split("zip-path=")[1]
                with zipfile.ZipFile(uri.ospath) as z:
                    return len(z.read(member))
            refs = b.query_datasets("raw", collections="*", find_first=False)
            print(len(refs), len(b.query_dimension_records("exposure")))
            for r in refs:
                print(r.id, r.dataId["exposure"], member_size(b.getURI(r)))
            """, [dir.path("rubin")], python: URL(fileURLWithPath: rubin).deletingLastPathComponent().appendingPathComponent("python").path)
        let lines = listed.split(separator: "\n").map(String.init)
        #expect(lines.first == "\(results.count) \(contents.dimensionRecords.first { $0.element == "exposure" }!.records.count)")
        for result in results {
            let line = lines.first { $0.hasPrefix(result.ref.id.lowercasedString) }
            #expect(line != nil, "\(result.ref.id) in Rubin's repository")
            #expect(line?.hasSuffix(" \(try Self.fileSize(locations[result.ref.id]!.path))") == true, "\(line ?? "")")
        }

        // And back: the Zip Rubin writes of them reads as what we sent.
        let out = dir.path("rubin-zip")
        let retrieved = try runProcess(rubin, ["retrieve-artifacts", "--zip", dir.path("rubin"), out, "-d", "raw", "--collections", runs.joined(separator: ",")])
        #expect(retrieved.exitCode == 0, "\(retrieved.stderr)")
        let written = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasSuffix(".zip") }
        #expect(written.count == 1)
        let theirs = try ButlerZip(contentsOf: URL(fileURLWithPath: out).appendingPathComponent(try #require(written.first)), universe: butler.registry.universe)
        #expect(theirs.index.zipFileName == written.first)
        #expect(Set(theirs.contents.datasetIds) == Set(results.map(\.ref.id)))
        #expect(theirs.contents.collections.map(\.name) == runs)
        let ours = Dictionary(uniqueKeysWithValues: contents.datasets.flatMap(\.files).flatMap(\.refs).map { ($0.id, $0.dataId) })
        for file in theirs.contents.datasets.flatMap(\.files) {
            #expect(file.refs.allSatisfy { ours[$0.id] == $0.dataId })
            let copy = dir.path("back-\(file.path)")
            let (size, checksum) = try theirs.extract(member: file.path, to: copy)
            let source = locations[file.refs[0].id]!.path
            #expect(size == (try Self.fileSize(source)))
            #expect(checksum == "sha256:" + (try FileDatastore.measure(source, checksum: true).1!))
        }
        for element in ["instrument", "physical_filter", "detector", "day_obs", "group", "exposure"] {
            let sent = contents.dimensionRecords.first { $0.element == element }?.records ?? []
            let back = theirs.contents.dimensionRecords.first { $0.element == element }?.records ?? []
            // Rubin sends the records the data IDs reach; we sent every record of the repository.
            #expect(Set(back).subtracting(sent).isEmpty, "\(element) records after a trip through Rubin's butler: \(Set(back).subtracting(sent))")
            #expect(!back.isEmpty)
        }
    }

    @Test("A file many times the copy buffer goes through whole, streamed both ways")
    func largeFile() throws {
        let dir = TemporaryDirectory("zip-large")
        let universe = try DimensionUniverse.makeDefault()
        // The fixture raw followed by 40 MiB of data blocks (a multiple of FITS's 2880 bytes).
        let big = dir.path("big.fits")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: Self.latissRaw))
        var pattern = [UInt8](repeating: 0, count: 2880 * 14_564)
        for i in pattern.indices { pattern[i] = UInt8(truncatingIfNeeded: i &* 2654435761 >> 13) }
        bytes.append(contentsOf: pattern)
        try bytes.write(to: URL(fileURLWithPath: big))
        var contents = try ButlerZip(contentsOf: try Self.rubinZip(in: dir), universe: universe).contents
        contents.datasets[0].files[0].size = nil
        let zipURL = try ButlerZip.write(contents, sourcePath: { _ in big }, into: dir.url.appendingPathComponent("out"), universe: universe)
        let zip = try ButlerZip(contentsOf: zipURL, universe: universe)
        let member = try #require(zip.contents.datasets.first?.files.first)
        #expect(member.size == Int64(bytes.count))
        let (size, checksum) = try zip.extract(member: member.path, to: dir.path("copy.fits"))
        #expect(size == Int64(bytes.count))
        #expect(checksum == "sha256:" + (try FileDatastore.measure(big, checksum: true).1!))
    }

    @Test("A failed write leaves nothing in the destination")
    func failedWriteLeavesNothing() throws {
        let dir = TemporaryDirectory("zip-fail")
        let universe = try DimensionUniverse.makeDefault()
        let zip = try ButlerZip(contentsOf: try Self.rubinZip(in: dir), universe: universe)
        let out = dir.url.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        // A recorded size the source does not have.
        var contents = zip.contents
        contents.datasets[0].files[0].size = 1
        #expect(Self.message { try ButlerZip.write(contents, sourcePath: { _ in Self.latissRaw }, into: out, universe: universe) }.contains("were recorded"))
        // A source that cannot be read.
        #expect(errorCode { try ButlerZip.write(zip.contents, sourcePath: { _ in dir.path("missing.fits") }, into: out, universe: universe) } == .io)
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).isEmpty)
        // Nothing to write.
        #expect(errorCode { try ButlerZip.write(ExportContents(), sourcePath: { _ in Self.latissRaw }, into: out, universe: universe) } == .invalidValue)
    }

    // MARK: Rubin's Zips

    @Test("A Zip as Rubin writes it is read: ids, data IDs, runs, dataset types, records")
    func rubinZipRead() throws {
        let dir = TemporaryDirectory("zip-rubin")
        let universe = try DimensionUniverse.makeDefault()
        let zip = try ButlerZip(contentsOf: try Self.rubinZip(in: dir), universe: universe)
        let contents = zip.contents
        #expect(zip.provenance == nil)
        #expect(contents.universeNamespace == "daf_butler" && contents.universeVersion == 8)
        #expect(contents.datasetIds == [UUID(uuidString: Self.rubinId)!])
        #expect(contents.collections == [ExportedCollection(name: "LATISS/raw/all", type: .run)])
        let type = try #require(contents.datasetTypes.first)
        #expect(type.name == "raw" && type.storageClass == "Exposure" && !type.isCalibration)
        #expect(Set(type.dimensions) == ["instrument", "detector", "exposure", "band", "physical_filter", "day_obs", "group"])
        let datasets = try #require(contents.datasets.first)
        #expect(datasets.datasetType == "raw" && datasets.run == "LATISS/raw/all")
        let file = try #require(datasets.files.first)
        #expect(file.path == Self.rubinMember)
        #expect(file.size == (try Self.fileSize(Self.latissRaw)))
        #expect(file.checksum == nil)
        #expect(file.formatter == "lsst.obs.lsst.rawFormatter.LatissRawFormatter")
        #expect(file.refs[0].dataId == ["instrument": .string("LATISS"), "detector": .int(0), "exposure": .int(2024062400106)], "required values only")

        func record(_ element: String) -> DimensionRecord? { contents.dimensionRecords.first { $0.element == element }?.records.first }
        #expect(contents.dimensionRecords.map(\.element) == ["instrument", "physical_filter", "detector", "day_obs", "group", "exposure"],
                "universe order, empty elements dropped")
        #expect(record("instrument")?.fields == ["name": "LATISS", "visit_max": 2_000_000_000, "visit_system": 0, "exposure_max": 2_000_000_000,
                                                  "detector_max": 1, "class_name": "lsst.obs.lsst.Latiss"])
        #expect(record("detector")?.fields == ["instrument": "LATISS", "id": 0, "full_name": "RXX_S00", "name_in_raft": "S00", "raft": "RXX", "purpose": "SCIENCE"])
        #expect(record("physical_filter")?.fields == ["instrument": "LATISS", "name": "SDSSr_65mm~empty_1", "band": "r"])
        #expect(record("day_obs")?["timespan_begin"] == .int(1719230400000000000))
        let exposure = try #require(record("exposure"))
        #expect(exposure["id"] == .int(2024062400106))
        #expect(exposure["day_obs"] == .int(20240624))
        #expect(exposure["group"] == .string("2024-06-25T01:26:31.895#1"))
        #expect(exposure["physical_filter"] == .string("SDSSr_65mm~empty_1"))
        #expect(exposure["obs_id"] == .string("AT_O_20240624_000106"))
        #expect(exposure["exposure_time"] == .float(30.0))
        #expect(exposure["dark_time"] == .float(30.25))
        #expect(exposure["seq_num"] == .int(106))
        #expect(exposure["target_name"] == .string("HD 164461"))
        #expect(exposure["tracking_dec"] == .float(-29.25))
        #expect(exposure["has_simulated"] == .bool(false))
        #expect(exposure["can_see_sky"] == .bool(true))
        #expect(exposure["timespan_begin"] == .int(1719278791895000000))
        #expect(exposure["timespan_end"] == .int(1719278822146000000))

        // The member comes out whole.
        let copy = dir.path("raw.fits")
        let (size, checksum) = try zip.extract(member: Self.rubinMember, to: copy)
        #expect(size == file.size)
        #expect(checksum == "sha256:" + (try FileDatastore.measure(Self.latissRaw, checksum: true).1!))
    }

    @Test("Unbounded timespans are Rubin's sentinels in the index and nil in our records")
    func unboundedTimespans() throws {
        let dir = TemporaryDirectory("zip-timespan")
        let universe = try DimensionUniverse.makeDefault()
        let url = try Self.rubinZip(in: dir) { index in
            Self.edit(&index, ["refs", "dimension_records"]) { $0["day_obs"] = [["LATISS", 20240624, [0, 4102444800000000000]] as [Any]] }
        }
        let contents = try ButlerZip(contentsOf: url, universe: universe).contents
        let dayObs = try #require(contents.dimensionRecords.first { $0.element == "day_obs" }?.records.first)
        #expect(dayObs["timespan_begin"] == nil && dayObs["timespan_end"] == nil)
        // And back: an open end is the sentinel.
        var open = contents
        let i = open.dimensionRecords.firstIndex { $0.element == "day_obs" }!
        open.dimensionRecords[i].records[0]["timespan_begin"] = .int(1719230400000000000)
        let index = try ZipIndex(open, universe: universe)
        #expect(index.refs.dimensionRecords?["day_obs"]?.first?.last == .array([.int(1719230400000000000), .int(ZipIndex.unboundedEnd)]))
        #expect(ZipIndex.unboundedEnd == 4_102_444_800_000_000_000)
        // An instant (a zero-second exposure) is padded to one nanosecond, as Rubin pads it, and read back as an instant.
        open.dimensionRecords[i].records[0]["timespan_end"] = .int(1719230400000000000)
        let instant = try ZipIndex(open, universe: universe)
        #expect(instant.refs.dimensionRecords?["day_obs"]?.first?.last == .array([.int(1719230400000000000), .int(1719230400000000001)]))
        let back = try instant.exportContents(universe: universe, source: "test").dimensionRecords.first { $0.element == "day_obs" }?.records.first
        #expect(back?["timespan_begin"] == .int(1719230400000000000) && back?["timespan_end"] == .int(1719230400000000000))
        // Rubin's empty timespan is no timespan.
        let emptyURL = try Self.rubinZip(in: dir, name: "empty.zip") { index in
            Self.edit(&index, ["refs", "dimension_records"]) { $0["day_obs"] = [["LATISS", 20240624, [4102444800000000000, 0]] as [Any]] }
        }
        let emptyRecord = try ButlerZip(contentsOf: emptyURL, universe: universe).contents.dimensionRecords.first { $0.element == "day_obs" }?.records.first
        #expect(emptyRecord != nil && emptyRecord?["timespan_begin"] == nil && emptyRecord?["timespan_end"] == nil)
    }

    @Test("The index is one line of JSON with Rubin's keys, nulls written out")
    func indexBytes() throws {
        let dir = TemporaryDirectory("zip-bytes")
        let universe = try DimensionUniverse.makeDefault()
        let zip = try ButlerZip(contentsOf: try Self.rubinZip(in: dir), universe: universe)
        // Contents read from a Zip keep their member names.
        var contents = zip.contents
        let data = try ZipIndex(contents, memberNames: { $0.path }, universe: universe).encoded()
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.hasSuffix("}\n") && text.dropLast().contains("\n") == false)
        for key in ["\"index_version\":\"V1\"", "\"container_version\":\"V1\"", "\"universe_namespace\":\"daf_butler\"", "\"component\":null",
                    "\"checksum\":null", "\"parentStorageClass\":null", "\"isCalibration\":false", "\"storageClass\":\"Exposure\"",
                    "\"dimensions\":[\"instrument\",\"detector\",\"exposure\"]", "LATISS/raw/all", "\"day_obs\":[[\"LATISS\",20240624,[1719230400000000000,1719316800000000000]]]"] {
            #expect(text.contains(key), "\(key)")
        }
        #expect(!text.contains("visit"), "elements a raw's dimensions do not reach are not listed")
        // An element the dimensions reach is listed even without records, as Rubin lists it.
        contents.dimensionRecords.removeAll { $0.element == "exposure" }
        let empty = String(decoding: try ZipIndex(contents, memberNames: { $0.path }, universe: universe).encoded(), as: UTF8.self)
        #expect(empty.contains("\"exposure\":[]"))
        // Same member names, same Zip name; the name is Rubin's.
        let again = try ZipIndex.decode(data, source: "test")
        #expect(again.zipFileName == zip.index.zipFileName)
        let expected = try Self.python("""
            import uuid
            print(uuid.uuid5(uuid.UUID("840b31d9-05cd-5161-b2c8-00d32b280d0f"), "\(Self.rubinMember)"))
            """)
        #expect(again.zipFileName == expected + ".zip")
        #expect(again.refs.compactRefs[Self.rubinId]?.dataId["band"] == .string("r"), "implied values from the records")
    }

    // MARK: Refusals

    @Test("Files that are not butler Zips are refused, naming the file")
    func notButlerZips() throws {
        let dir = TemporaryDirectory("zip-bad")
        let universe = try DimensionUniverse.makeDefault()
        let text = dir.url.appendingPathComponent("text.zip")
        try Data("hello\n".utf8).write(to: text)
        #expect(Self.message { try ButlerZip(contentsOf: text, universe: universe) } == "\(text.path) is not a Zip file or is corrupted")

        let good = try Self.rubinZip(in: dir)
        let bytes = try Data(contentsOf: good)
        let truncated = dir.url.appendingPathComponent("truncated.zip")
        try bytes.prefix(bytes.count / 2).write(to: truncated)
        #expect(Self.message { try ButlerZip(contentsOf: truncated, universe: universe) } == "\(truncated.path) is not a Zip file or is corrupted")

        let missing = dir.url.appendingPathComponent("missing.zip")
        #expect(errorCode { try ButlerZip(contentsOf: missing, universe: universe) } == .io)

        let noIndex = dir.url.appendingPathComponent("noindex.zip")
        try Self.makeZip(noIndex, index: nil, members: [(Self.rubinMember, Self.latissRaw)])
        #expect(Self.message { try ButlerZip(contentsOf: noIndex, universe: universe) } == "\(noIndex.path) has no _butler_zip_index.json: not a butler Zip")

        let notJSON = dir.url.appendingPathComponent("notjson.zip")
        try Self.makeZip(notJSON, index: Data("{\"index_version\": \"V1\", ".utf8), members: [(Self.rubinMember, Self.latissRaw)])
        #expect(Self.message { try ButlerZip(contentsOf: notJSON, universe: universe) } == "\(notJSON.path): _butler_zip_index.json is not JSON")
    }

    @Test("Indexes that Rubin's reader would refuse are refused")
    func badIndexes() throws {
        let dir = TemporaryDirectory("zip-badindex")
        let universe = try DimensionUniverse.makeDefault()
        func refusal(_ name: String, _ edit: @escaping (inout [String: Any]) -> Void) throws -> String {
            let url = try Self.rubinZip(in: dir, name: name, edit: edit)
            let error = butlerError { try ButlerZip(contentsOf: url, universe: universe) }
            #expect(error?.code == .invalidValue, "\(name)")
            let text = error?.message ?? "no error"
            #expect(text.hasPrefix(url.path), "\(text) names the Zip")
            #expect(!text.contains("\n"))
            return text
        }
        #expect(try refusal("v2.zip") { $0["index_version"] = "V2" }.contains("Zip index version V2 is not supported (V1 is)"))
        #expect(try refusal("nokey.zip") { index in Self.edit(&index, ["refs"]) { $0["compact_refs"] = nil } }.contains("missing key 'compact_refs' in refs"))
        #expect(try refusal("noartifacts.zip") { $0["artifact_map"] = nil }.contains("missing key 'artifact_map'"))
        #expect(try refusal("namespace.zip") { index in Self.edit(&index, ["refs"]) { $0["universe_namespace"] = "swift_butler" } }
            .contains("universe namespace is 'swift_butler', not 'daf_butler'"))
        #expect(try refusal("absent.zip") { index in
            Self.edit(&index, []) { top in
                var map = top["artifact_map"] as! [String: Any]
                map["f4852260-other.fits"] = map[Self.rubinMember]
                top["artifact_map"] = map
            }
        }.contains("index lists the member f4852260-other.fits, which the Zip does not hold"))
        #expect(try refusal("noref.zip") { index in
            Self.edit(&index, ["artifact_map", Self.rubinMember]) { $0["ids"] = [Self.rubinId, "2f77f8fe-8d7b-5867-86a7-76b6d6cbd342"] }
        }.contains("holds dataset 2f77f8fe-8d7b-5867-86a7-76b6d6cbd342, which compact_refs does not describe"))
        #expect(try refusal("type.zip") { index in Self.edit(&index, ["refs", "compact_refs", Self.rubinId]) { $0["dataset_type_name"] = "bias" } }
            .contains("is of dataset type 'bias', which the index does not define"))
        #expect(try refusal("escape.zip") { index in
            Self.edit(&index, []) { top in top["artifact_map"] = ["../evil.fits": (top["artifact_map"] as! [String: Any])[Self.rubinMember]!] }
        }.contains("not a file name inside the Zip"))
        #expect(try refusal("arity.zip") { index in
            Self.edit(&index, ["refs", "dimension_records"]) { $0["detector"] = [["LATISS", 0, "RXX_S00"] as [Any]] }
        }.contains("record 1 of 'detector' has 3 values, expected 6"))
        #expect(try refusal("element.zip") { index in
            Self.edit(&index, ["refs", "dimension_records"]) { $0["not_an_element"] = [] as [Any] }
        }.contains("unknown element 'not_an_element'"))
    }

    @Test("A member whose size differs from the index is refused on extraction, leaving nothing behind")
    func wrongSizeOnExtraction() throws {
        let dir = TemporaryDirectory("zip-size")
        let universe = try DimensionUniverse.makeDefault()
        let real = try Self.fileSize(Self.latissRaw)
        for (name, recorded) in [("larger.zip", real + 1), ("smaller.zip", real - 2880)] {
            let url = try Self.rubinZip(in: dir, name: name) { index in
                Self.edit(&index, ["artifact_map", Self.rubinMember, "info"]) { $0["file_size"] = recorded }
            }
            let zip = try ButlerZip(contentsOf: url, universe: universe)
            let target = dir.path("out-\(name).fits")
            let error = butlerError { try zip.extract(member: Self.rubinMember, to: target) }
            #expect(error?.code == .invalidValue)
            #expect(error?.message.contains("index") == true, "\(error?.message ?? "")")
            #expect(!FileManager.default.fileExists(atPath: target), "nothing left at \(target)")
        }
        // A recorded checksum of ours that the bytes do not match.
        let url = try Self.rubinZip(in: dir, name: "checksum.zip") { index in
            Self.edit(&index, ["artifact_map", Self.rubinMember, "info"]) { $0["checksum"] = "sha256:" + String(repeating: "0", count: 64) }
        }
        let zip = try ButlerZip(contentsOf: url, universe: universe)
        #expect(zip.contents.datasets[0].files[0].checksum == "sha256:" + String(repeating: "0", count: 64))
        let target = dir.path("out-checksum.fits")
        #expect(Self.message { try zip.extract(member: Self.rubinMember, to: target) }.contains("but the index says sha256:000"))
        #expect(!FileManager.default.fileExists(atPath: target))
        #expect(errorCode { try zip.extract(member: "absent.fits", to: target) } == .notFound)

        // A byte of the stored member changed after the Zip was written: its CRC-32 gives it away.
        let good = try Self.rubinZip(in: dir, name: "flipped.zip")
        var bytes = try Data(contentsOf: good)
        let start = try #require(bytes.range(of: Data("SIMPLE  =".utf8))).lowerBound
        bytes[start + 2000] ^= 0x01
        try bytes.write(to: good)
        let flipped = try ButlerZip(contentsOf: good, universe: universe)
        let flippedTarget = dir.path("out-flipped.fits")
        #expect(Self.message { try flipped.extract(member: Self.rubinMember, to: flippedTarget) } == "\(good.path): member \(Self.rubinMember) is corrupted (CRC-32 mismatch)")
        #expect(!FileManager.default.fileExists(atPath: flippedTarget))
    }
}
