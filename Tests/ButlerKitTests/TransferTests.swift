import ButlerKit
import ButlerTestSupport
import Foundation
import Testing

/// Repository-to-repository transfers keep ids, provenance and validity; re-sending adds nothing; conflicts write nothing.
@Suite struct TransferTests {
    /// The lineage of a dataset as comparable text: steps with task, run, inputs and environment packages.
    func lineageText(_ butler: Butler, _ id: UUID, _ direction: Lineage.Direction = .upstream) throws -> [String] {
        let lineage = try butler.registry.lineage(of: id, direction: direction)
        var lines: [String] = []
        for step in lineage.steps.values {
            let packages = step.environment.flatMap { lineage.environments[$0] }?.packages.map { "\($0.name)=\($0.version)" }.sorted() ?? []
            lines.append("\(step.id) \(step.taskLabel) \(step.run) in=\(step.inputs.map { "\($0.role):\($0.dataset)" }.sorted()) out=\(step.outputs.map { "\($0.dataset)" }.sorted()) env=\(packages) params=\(step.parameters.map { "\($0.name)=\($0.value)" }.sorted()) configs=\(step.configs.map(\.hash).sorted())")
        }
        return lines.sorted()
    }

    func problems(_ butler: Butler) throws -> [String] {
        var found: [String] = []
        _ = try butler.verify(checksums: true) { found.append($0.description) }
        return found
    }

    @Test func transferKeepsIdsProvenanceAndAddsNothingTwice() throws {
        let dir = try TemporaryDirectory()
        let source = try LineageFixture(in: dir)
        let destination = try makeRepository(in: dir, name: "centre")
        var request = ExportRequest()
        request.query.datasetTypes = ["calexp", "postISRCCD", "stack"]
        request.query.collections = ["drp/*"]
        let report = try destination.transferDatasets(from: source.butler, request, options: ImportOptions())
        #expect(report.datasets == 5)
        #expect(report.alreadyPresent == 0)
        for ref in [source.calexp53, source.calexp106, source.stack, source.post53, source.post106] {
            let moved = try #require(try destination.registry.dataset(ref.id))
            #expect(moved.run == ref.run)
            #expect(moved.dataId.keyValueString == ref.dataId.keyValueString)
            // The same steps, the bias's own too (its RUN stayed at the source: the step comes, its output is held there).
            #expect(try lineageText(destination, ref.id) == lineageText(source.butler, ref.id))
            #expect(try lineageText(destination, ref.id, .downstream) == lineageText(source.butler, ref.id, .downstream))
        }
        // Every step that arrived is foreign: it keeps where it was made and who sent it.
        let arrived = try destination.registry.lineage(of: source.calexp53.id)
        #expect(!arrived.steps.isEmpty && arrived.steps.values.allSatisfy { $0.origin?.id == source.butler.identity.id && $0.receivedFrom?.id == source.butler.identity.id })
        #expect(try source.butler.registry.lineage(of: source.calexp53.id).steps.values.allSatisfy { !$0.isForeign })
        // The raws and the bias did not move: they stay referenced by id.
        #expect(try destination.registry.dataset(source.bias.id) == nil)
        #expect(try lineageText(destination, source.post53.id).contains { $0.contains("bias:\(source.bias.id)") })
        #expect(try problems(destination).isEmpty)

        let again = try destination.transferDatasets(from: source.butler, request, options: ImportOptions())
        #expect(again.datasets == 0)
        #expect(again.alreadyPresent == 5)
        #expect(try problems(destination).isEmpty)
    }

    @Test func calibrationsTravelWithTheirValidityRanges() throws {
        let dir = try TemporaryDirectory()
        let source = try LineageFixture(in: dir)
        let begin = TAITime(year: 2023, month: 1, day: 1, scale: .tai)
        let r = source.butler.registry
        try r.registerDatasetType(try r.makeDatasetType("flat", storageClass: "ExposureF", dimensions: ["instrument", "detector"], isCalibration: true))
        try FileManager.default.copyItem(atPath: fixture("lsst/latiss-AT_O_20230321_000053.fits"), toPath: dir.path("flat.fits"))
        let flat = try source.butler.put(PutRequest(file: dir.path("flat.fits"), run: "LATISS/calib/flat", datasetType: "flat",
                                                    dataId: ["instrument": "LATISS", "detector": "0"]))
        try r.certify("LATISS/calib", [flat], validity: Timespan(begin: begin, end: nil))
        try source.butler.registry.modifyChain("LATISS/defaults", children: ["LATISS/calib", "LATISS/raw/all"])
        let destination = try makeRepository(in: dir, name: "site")
        var request = ExportRequest()
        request.query.collections = ["LATISS/defaults"]
        let report = try destination.transferDatasets(from: source.butler, request, options: ImportOptions())
        #expect(report.datasets == 3)  // two raws, one flat
        let certified = try destination.registry.certifications("LATISS/calib", datasetType: "flat")
        #expect(certified.count == 1)
        #expect(certified.first?.0.id == flat.id)
        #expect(certified.first?.1 == Timespan(begin: begin, end: nil))
        #expect(try destination.registry.collection("LATISS/defaults")?.children == ["LATISS/calib", "LATISS/raw/all"])
        #expect(try problems(destination).isEmpty)
    }

    @Test func conflictingIdsAndDataIdsWriteNothing() throws {
        let dir = try TemporaryDirectory()
        let source = try LineageFixture(in: dir)
        let destination = try makeRepository(in: dir, name: "dest")
        var request = ExportRequest()
        request.query.datasetTypes = ["postISRCCD"]
        request.query.collections = ["drp/isr"]
        _ = try destination.transferDatasets(from: source.butler, request, options: ImportOptions())
        // Another release made the same data ID in the same RUN under another (unique) id.
        let otherDir = try TemporaryDirectory()
        let other = try LineageFixture(in: otherDir).butler
        let before = try registrySnapshot(destination.root.path)
        let error = butlerError { try destination.transferDatasets(from: other, request, options: ImportOptions()) }
        #expect(error?.code == .conflict)
        #expect(error?.message.contains("drp/isr") == true, "\(error?.message ?? "")")
        #expect(try registrySnapshot(destination.root.path) == before)
        #expect(try problems(destination).isEmpty)
    }

    @Test func aFileThatDiffersFromItsChecksumFailsTheTransfer() throws {
        let dir = try TemporaryDirectory()
        let source = try LineageFixture(in: dir)
        let destination = try makeRepository(in: dir, name: "dest")
        // Corrupt the stored file of calexp53 at the source (same size, other bytes).
        let location = try #require(try source.butler.fileLocations([source.calexp53.id])[source.calexp53.id])
        var bytes = try storedData(location)
        bytes[bytes.count - 1] ^= 0xFF
        try plant(bytes, at: location)
        var request = ExportRequest()
        request.query.datasetTypes = ["calexp"]
        request.query.collections = ["drp/calibrate"]
        let before = try registrySnapshot(destination.root.path)
        let error = butlerError { try destination.transferDatasets(from: source.butler, request, options: ImportOptions()) }
        #expect(error?.code == .integrity)
        #expect(error?.message.contains("checksum") == true)
        #expect(try registrySnapshot(destination.root.path) == before)
        #expect(try problems(destination).isEmpty)
    }
}
