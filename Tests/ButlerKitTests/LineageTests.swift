import Foundation
import Testing
@testable import ButlerKit
import ButlerTestSupport

/// Provenance questions answered from the registry: lineage, downstream, selection, differences, verification.
@Suite("Lineage and provenance queries")
struct LineageTests {
    @Test("upstream lineage of a coadd reaches raws and the shared bias, once each; --depth stops early")
    func upstream() throws {
        let dir = TemporaryDirectory()
        let f = try LineageFixture(in: dir)
        let lineage = try f.butler.registry.lineage(of: f.stack.id)
        #expect(lineage.datasets.count == 8)
        #expect(lineage.steps.count == 6)
        #expect(Set(lineage.steps.values.map(\.taskLabel)) == ["coadd", "calibrate", "isr", "cpBias"])
        #expect(Set(lineage.sources.map(\.id)) == [f.raw53.id, f.raw106.id])
        #expect(lineage.producer[f.bias.id] != nil)
        #expect(lineage.consumers[f.bias.id]?.count == 2)
        #expect(!lineage.truncated)
        let isr = lineage.steps.values.first { $0.taskLabel == "isr" && $0.inputs.contains { $0.dataset == f.raw53.id } }!
        #expect(isr.inputs.map(\.role) == ["bias", "raw"])
        #expect(isr.parameters.map(\.name) == ["doFlat"])
        #expect(isr.configs.map(\.name) == ["isr.yaml"])
        #expect(lineage.environments[isr.environment!]?.packages.map(\.name) == ["ip_isr", "numpy"])
        #expect(lineage.datasets[f.post53.id]?.dataId == "instrument=LATISS,detector=0,exposure=2023032100053")
        #expect(lineage.datasets[f.post53.id]?.contentType == "application/fits")

        let tree = lineage.treeText()
        #expect(tree.contains("made by coadd"))
        #expect(tree.contains("raw: raw@LATISS/raw/all"))
        // The shared bias is expanded once and referred back to the second time.
        #expect(tree.components(separatedBy: "bias: bias@calib/bias").count == 2)
        #expect(tree.contains("(see [d"))
        #expect(tree.contains("ip_isr 1.2.3"))

        let shallow = try f.butler.registry.lineage(of: f.stack.id, depth: 1)
        #expect(shallow.steps.count == 1)
        #expect(shallow.truncated)
        #expect(shallow.beyondDepth == [f.calexp53.id, f.calexp106.id])
        #expect(shallow.treeText().contains("beyond --depth"))
    }

    @Test("downstream of a raw and of the bias: everything derived, with the steps")
    func downstream() throws {
        let dir = TemporaryDirectory()
        let f = try LineageFixture(in: dir)
        let fromRaw = try f.butler.registry.lineage(of: f.raw53.id, direction: .downstream)
        #expect(Set(fromRaw.datasets.keys) == [f.raw53.id, f.post53.id, f.calexp53.id, f.stack.id])
        #expect(Set(fromRaw.steps.values.map(\.taskLabel)) == ["isr", "calibrate", "coadd"])
        let fromBias = try f.butler.registry.lineage(of: f.bias.id, direction: .downstream)
        #expect(Set(fromBias.datasets.keys) == [f.bias.id, f.post53.id, f.post106.id, f.calexp53.id, f.calexp106.id, f.stack.id])
        let tree = fromBias.treeText()
        #expect(tree.contains("used by isr"))
        // The coadd is reached through both calexps; it is shown once.
        #expect(tree.components(separatedBy: "used by coadd").count == 3)
        #expect(tree.contains("(see [q"))
        #expect(throws: ButlerError.self) { try f.butler.registry.lineage(of: UUID()) }
    }

    @Test("selection by provenance: derived-from, produced-by, produced-with, config-hash, combined with --where")
    func selection() throws {
        let dir = TemporaryDirectory()
        let f = try LineageFixture(in: dir)
        func ids(_ configure: (inout ProvenanceSelection) -> Void, where expression: String = "", types: [String] = []) throws -> Set<UUID> {
            var q = DatasetQuery()
            q.datasetTypes = types
            configure(&q.provenance)
            q.where = expression
            return Set(try f.butler.registry.queryDatasets(q).datasets.map(\.ref.id))
        }
        #expect(try ids { $0.derivedFrom = [f.raw53.id] } == [f.post53.id, f.calexp53.id, f.stack.id])
        #expect(try ids { $0.derivedFrom = [f.bias.id] } == [f.post53.id, f.post106.id, f.calexp53.id, f.calexp106.id, f.stack.id])
        #expect(try ids { $0.producedBy = ["isr"] } == [f.post53.id, f.post106.id])
        #expect(try ids { $0.producedBy = ["isr", "coadd"] } == [f.post53.id, f.post106.id, f.stack.id])
        #expect(try ids { $0.producedWith = [("ip_isr", "1.2.4")] } == [f.post106.id])
        #expect(try ids { $0.producedWith = [("numpy", "2.1.0")] } == [f.post53.id, f.post106.id, f.calexp53.id, f.calexp106.id])
        #expect(try ids { $0.producedWith = [("code", "c0ffee1.2.3")] } == [f.post53.id])
        #expect(try ids { $0.configHashes = [f.config106] } == [f.post106.id])
        #expect(try ids { $0.configHashes = [String(f.config106.prefix(8)).uppercased()] } == [f.post106.id])
        #expect(try ids({ $0.producedBy = ["calibrate"] }, where: "instrument = 'LATISS' AND exposure = 2023032100053", types: ["calexp"]) == [f.calexp53.id])
        #expect(try ids { $0.producedBy = ["isr"]; $0.producedWith = [("ip_isr", "1.2.3")] } == [f.post53.id])
        #expect(try ids { $0.producedBy = ["nosuchtask"] } == [])
        #expect(throws: ButlerError.self) { try ids { $0.configHashes = ["xyz"] } }
        #expect(throws: ButlerError.self) { try ProvenanceSelection.package("numpy") }
        var q = DatasetQuery()
        q.provenance.producedBy = ["nosuchtask"]
        q.datasetTypes = ["calexp"]
        #expect(try f.butler.registry.queryDatasets(q).reasons.first?.contains("provenance selection") == true)
    }

    @Test("provenance-diff names code versions, config keys and inputs by role")
    func diff() throws {
        let dir = TemporaryDirectory()
        let f = try LineageFixture(in: dir)
        let diff = try f.butler.registry.lineageDiff(f.calexp53.id, f.calexp106.id)
        let changes = Set(diff.changes.map { "\($0.kind.rawValue) \($0.task) \($0.name) \($0.a ?? "-") \($0.b ?? "-")" })
        #expect(changes.contains("package isr ip_isr 1.2.3 1.2.4"))
        #expect(changes.contains("config isr isr.yaml: doBias true false"))
        #expect(changes.contains("code isr commit c0ffee1.2.3 c0ffee1.2.4"))
        #expect(diff.changes.contains { $0.kind == .input && $0.task == "isr" && $0.name == "raw" })
        #expect(diff.changes.contains { $0.kind == .input && $0.task == "calibrate" && $0.name == "exposure" })
        #expect(!diff.changes.contains { $0.kind == .parameter })
        #expect(!diff.changes.contains { $0.name.hasPrefix("isr.yaml: overscan") })
        #expect(!diff.changes.contains { $0.kind == .input && $0.name == "bias" })
        let same = try f.butler.registry.lineageDiff(f.calexp53.id, f.calexp53.id)
        #expect(same.changes.isEmpty)
        // Configs that are not YAML or JSON are compared line by line.
        let a = Lineage.Config(hash: "a", format: "py", content: Data("x = 1\ny = 2\n".utf8))
        let b = Lineage.Config(hash: "b", format: "py", content: Data("x = 1\ny = 3\n".utf8))
        let lines = LineageDiff.configChanges(a, b, file: "c.py", task: "t")
        #expect(lines.map { "\($0.a ?? "-")|\($0.b ?? "-")" } == ["y = 2|y = 3"])
    }

    @Test("PROV document: counts of every record kind, ids for referenced relations, PROV-N of the same records")
    func prov() throws {
        let dir = TemporaryDirectory()
        let f = try LineageFixture(in: dir)
        let doc = try f.butler.registry.lineage(of: f.stack.id, includeConfigs: true).provDocument()
        // 8 datasets, 3 configs (two isr, one calibrate), 1 parameter value.
        #expect(doc.count(.entity) == 12)
        #expect(doc.count(.activity) == 6)
        #expect(doc.count(.wasGeneratedBy) == 6)
        // Data inputs: coadd 2, calibrate 2, isr 4; setup: 4 configs and 2 parameters.
        #expect(doc.count(.used) == 14)
        #expect(doc.count(.wasDerivedFrom) == 8)
        // 5 environments and the user.
        #expect(doc.count(.agent) == 6)
        let json = doc.jsonText()
        #expect(json.contains("\"voprov\": \"http://www.ivoa.net/documents/ProvenanceDM/index.html#\""))
        #expect(json.contains("\"prov:generation\": \"butler:gen-"))
        #expect(json.contains("\"voprov:type\": \"Setup\""))
        let provN = doc.provNText()
        #expect(provN.hasPrefix("document\n"))
        #expect(provN.hasSuffix("endDocument\n"))
        #expect(provN.split(separator: "\n").filter { $0.hasPrefix("  ") && !$0.hasPrefix("  prefix") }.count == doc.records.count)
    }
}
