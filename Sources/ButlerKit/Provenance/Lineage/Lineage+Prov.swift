import Crypto
import Foundation

extension Lineage {
    /// The IVOA Provenance Data Model namespace, as the voprov library declares it.
    public static let voprovNamespace = "http://www.ivoa.net/documents/ProvenanceDM/index.html#"

    /// The graph as a W3C PROV document with IVOA ProvenanceDM attributes.
    ///
    /// Datasets are entities (`voprov:DatasetEntity`, with content type and location); steps are activities (task
    /// label as `voprov:name`, start and end in UTC); `used` and `wasGeneratedBy` carry the roles; `wasDerivedFrom`
    /// links each output to each input through the step, its generation and its usage (all relations have ids);
    /// software environments (`prov:SoftwareAgent`) and users (`prov:Person`) are agents associated with the steps;
    /// config files (`voprov:ConfigFile`) and parameters (`voprov:Parameter`) are entities used with
    /// `voprov:type` `Setup`. A dataset held by another repository is an entity with `butler:heldElsewhere`. A
    /// reproduction of a step (`butler reproduce`) is an activity (`prov:type` `butler:Reproduction`, with
    /// `butler:verdict`) informed by the step (`wasInformedBy`).
    ///
    /// A dataset copied here from other repositories has one entity per repository that held it (`held:REPO.DATASET`,
    /// the local one being `dataset:DATASET`), and each copy is an activity (`prov:type` `butler:Copy`, at its time,
    /// associated with the user who made it) that used the dataset in the repository it came from and generated it
    /// in the next, with `wasDerivedFrom` between them. The step that made such a dataset generated it in the first
    /// repository, so that every entity has at most one generation.
    public func provDocument() -> ProvDocument {
        var doc = ProvDocument()
        doc.prefixes = [
            ("voprov", Self.voprovNamespace), ("butler", "urn:butler:"), ("dataset", "urn:butler:dataset:"),
            ("step", "urn:butler:quantum:"), ("env", "urn:butler:environment:"), ("config", "urn:butler:config:"),
            ("param", "urn:butler:parameter:"), ("user", "urn:butler:user:"), ("held", "urn:butler:held:"),
            ("copy", "urn:butler:copy:"),
        ]
        var relationNumber = 0
        func relationId(_ kind: String) -> String { relationNumber += 1; return "butler:\(kind)-\(relationNumber)" }
        func dataset(_ id: UUID) -> String { "dataset:" + id.lowercasedString }
        func step(_ id: UUID) -> String { "step:" + id.lowercasedString }
        func localName(_ s: String) -> String {
            String(s.unicodeScalars.map { CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "_" || $0 == "." ? Character($0) : "_" })
        }

        for d in orderedDatasets {
            var attributes: [(String, ProvDocument.Value)] = [
                ("prov:type", .qualifiedName("voprov:DatasetEntity")), ("prov:label", .string(d.label)),
                ("voprov:name", .string(d.datasetType)), ("voprov:content_type", .string(d.contentType)),
                ("butler:run", .string(d.run)), ("butler:dataId", .string(d.dataId)),
            ]
            if let path = d.path { attributes.append(("prov:location", .string(path))) }
            if let storageClass = d.storageClass { attributes.append(("butler:storageClass", .string(storageClass))) }
            if d.removed { attributes.append(("butler:removed", .string("true"))) }
            doc.records.append(.init(kind: .entity, id: dataset(d.id), arguments: [:], attributes: attributes))
        }
        let heldElsewhere = Set(elsewhere)
        for id in elsewhere {
            doc.records.append(.init(kind: .entity, id: dataset(id), arguments: [:], attributes: [
                ("prov:type", .qualifiedName("voprov:DatasetEntity")), ("prov:label", .string("dataset held by another repository")),
                ("butler:heldElsewhere", .string("true")),
            ]))
        }
        func inGraph(_ id: UUID) -> Bool { datasets[id] != nil || heldElsewhere.contains(id) }
        // Copied datasets: the entity of each repository that held them before, oldest first (the last is here).
        var holdings: [UUID: [(entity: String, repository: RepositoryIdentity?)]] = [:]
        for d in orderedDatasets {
            guard let hops = copies[d.id], !hops.isEmpty else { continue }
            var chain: [(entity: String, repository: RepositoryIdentity?)] = []
            var used = Set<String>()
            for (i, hop) in hops.enumerated() {
                let repository = i == 0 ? hop.sourceRepository : (hops[i - 1].destinationRepository ?? hop.sourceRepository)
                var entity = "held:" + (repository?.id.lowercasedString ?? "unknown") + "." + d.id.lowercasedString
                if !used.insert(entity).inserted { entity += ".\(i + 1)" }  // held there again after a round trip
                chain.append((entity, repository))
            }
            chain.append((dataset(d.id), hops.last?.destinationRepository))
            holdings[d.id] = chain
            for holding in chain.dropLast() {
                var attributes: [(String, ProvDocument.Value)] = [
                    ("prov:type", .qualifiedName("voprov:DatasetEntity")),
                    ("prov:label", .string(d.label + " in " + (holding.repository?.label ?? "a repository of unknown identity"))),
                    ("voprov:name", .string(d.datasetType)), ("butler:run", .string(d.run)), ("butler:dataId", .string(d.dataId)),
                ]
                if let r = holding.repository {
                    attributes += [("butler:repository", .string(r.name)), ("butler:repositoryId", .string(r.id.lowercasedString))]
                }
                doc.records.append(.init(kind: .entity, id: holding.entity, arguments: [:], attributes: attributes))
            }
        }
        // The entity a step's output is generated as: where it was first held, for a copied dataset.
        func generated(_ id: UUID) -> String { holdings[id]?.first?.entity ?? dataset(id) }
        var configNames: [String: String] = [:]
        var parameterIds: [String: String] = [:]
        for s in orderedSteps {
            for c in s.configs where configNames[c.hash] == nil { configNames[c.hash] = c.name }
            for p in s.parameters {
                let key = "\(p.name)=\(p.value)"
                if parameterIds[key] == nil { parameterIds[key] = "param:" + hexDigest(SHA256.hash(data: Data(key.utf8))).prefix(16) }
            }
        }
        for (hash, name) in configNames.sorted(by: { $0.key < $1.key }) {
            let format = configs[hash]?.format ?? ((name as NSString).pathExtension.lowercased())
            let contentType = ["yaml": "application/x-yaml", "yml": "application/x-yaml", "json": "application/json", "py": "text/x-python",
                               "toml": "application/toml"][format] ?? "text/plain"
            doc.records.append(.init(kind: .entity, id: "config:" + hash, arguments: [:], attributes: [
                ("prov:type", .qualifiedName("voprov:ConfigFile")), ("voprov:name", .string(name)),
                ("voprov:content_type", .string(contentType)), ("butler:sha256", .string(hash)),
            ]))
        }
        for (key, id) in parameterIds.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "=", maxSplits: 1).map(String.init)
            doc.records.append(.init(kind: .entity, id: id, arguments: [:], attributes: [
                ("prov:type", .qualifiedName("voprov:Parameter")), ("voprov:name", .string(parts[0])),
                ("voprov:value", .string(parts.count > 1 ? parts[1] : "")),
            ]))
        }
        for s in orderedSteps {
            var arguments: [String: String] = [:]
            if let start = s.start { arguments["prov:startTime"] = start.isoUTC }
            if let end = s.end { arguments["prov:endTime"] = end.isoUTC }
            var attributes: [(String, ProvDocument.Value)] = [
                ("prov:label", .string(s.taskLabel)), ("voprov:name", .string(s.taskLabel)), ("voprov:type", .string("Reduction")),
                ("butler:run", .string(s.run)), ("butler:dataId", .string(s.dataId)), ("butler:status", .string(s.status)),
            ]
            if let code = s.exitCode { attributes.append(("butler:exitCode", .int(code))) }
            if let host = s.host { attributes.append(("butler:host", .string(host))) }
            if let command = s.command { attributes.append(("butler:command", .string(command))) }
            if let origin = s.origin { attributes.append(("butler:origin", .string("\(origin.name) \(origin.id.lowercasedString)"))) }
            doc.records.append(.init(kind: .activity, id: step(s.id), arguments: arguments, attributes: attributes))
            // Each reproduction: an activity of its own, informed by the step it ran again, with the verdict.
            for r in s.reproductions {
                if steps[r.step] == nil {
                    doc.records.append(.init(kind: .activity, id: step(r.step), arguments: ["prov:startTime": r.time.isoUTC, "prov:endTime": r.time.isoUTC],
                                             attributes: [("prov:type", .qualifiedName("butler:Reproduction")),
                                                          ("prov:label", .string("reproduction of \(s.taskLabel)")), ("voprov:name", .string(s.taskLabel)),
                                                          ("butler:verdict", .string(r.verdict)), ("butler:detail", .string(r.detail))]))
                }
                doc.records.append(.init(kind: .wasInformedBy, id: relationId("informed"), arguments: ["prov:informed": step(r.step), "prov:informant": step(s.id)],
                                         attributes: []))
            }
        }
        for d in orderedDatasets {
            for (i, hop) in (copies[d.id] ?? []).enumerated() {
                let time = hop.copiedTime.isoUTC
                let from = hop.sourceRepository?.label ?? "a repository of unknown identity"
                var attributes: [(String, ProvDocument.Value)] = [
                    ("prov:type", .qualifiedName("butler:Copy")), ("prov:label", .string("copy of \(d.label) from \(from)")),
                    ("voprov:name", .string("copy")), ("butler:method", .string(hop.method)),
                ]
                if let r = hop.sourceRepository { attributes.append(("butler:sourceRepository", .string(r.label))) }
                if let r = hop.destinationRepository { attributes.append(("butler:destinationRepository", .string(r.label))) }
                if let sum = hop.verifiedChecksum { attributes.append(("butler:verifiedChecksum", .string(sum))) }
                doc.records.append(.init(kind: .activity, id: "copy:\(d.id.lowercasedString).\(i + 1)",
                                         arguments: ["prov:startTime": time, "prov:endTime": time], attributes: attributes))
            }
        }
        let users = Set(steps.values.compactMap(\.user) + copies.values.flatMap { $0.compactMap(\.copiedBy) })
        for e in environments.values.sorted(by: { $0.id < $1.id }) {
            var attributes: [(String, ProvDocument.Value)] = [
                ("prov:type", .qualifiedName("prov:SoftwareAgent")), ("prov:label", .string("software environment \(e.id.prefix(12))")),
            ]
            if let commit = e.codeCommit { attributes.append(("butler:codeCommit", .string(commit + (e.codeDirty == true ? " (dirty)" : "")))) }
            if let exe = e.executableHash { attributes.append(("butler:executableSha256", .string(exe))) }
            attributes += e.packages.map { ("butler:package", .string("\($0.name)==\($0.version)")) }
            doc.records.append(.init(kind: .agent, id: "env:" + e.id, arguments: [:], attributes: attributes))
        }
        for user in users.sorted() {
            doc.records.append(.init(kind: .agent, id: "user:" + localName(user), arguments: [:], attributes: [
                ("prov:type", .qualifiedName("prov:Person")), ("voprov:name", .string(user)),
            ]))
        }
        for s in orderedSteps {
            var usages: [(UUID, String)] = []
            for input in s.inputs where inGraph(input.dataset) {
                let id = relationId("used")
                var arguments = ["prov:activity": step(s.id), "prov:entity": dataset(input.dataset)]
                if let start = s.start { arguments["prov:time"] = start.isoUTC }
                doc.records.append(.init(kind: .used, id: id, arguments: arguments, attributes: [("prov:role", .string(input.role))]))
                usages.append((input.dataset, id))
            }
            for c in s.configs {
                doc.records.append(.init(kind: .used, id: relationId("used"), arguments: ["prov:activity": step(s.id), "prov:entity": "config:" + c.hash],
                                         attributes: [("prov:role", .string(c.name)), ("voprov:type", .string("Setup"))]))
            }
            for p in s.parameters {
                doc.records.append(.init(kind: .used, id: relationId("used"),
                                         arguments: ["prov:activity": step(s.id), "prov:entity": parameterIds["\(p.name)=\(p.value)"]!],
                                         attributes: [("prov:role", .string(p.name)), ("voprov:type", .string("Setup"))]))
            }
            for output in s.outputs where inGraph(output.dataset) {
                let generation = relationId("gen")
                var arguments = ["prov:entity": generated(output.dataset), "prov:activity": step(s.id)]
                if let end = s.end { arguments["prov:time"] = end.isoUTC }
                doc.records.append(.init(kind: .wasGeneratedBy, id: generation, arguments: arguments, attributes: [("prov:role", .string(output.role))]))
                for (input, usage) in usages {
                    doc.records.append(.init(kind: .wasDerivedFrom, id: relationId("der"), arguments: [
                        "prov:generatedEntity": generated(output.dataset), "prov:usedEntity": dataset(input), "prov:activity": step(s.id),
                        "prov:generation": generation, "prov:usage": usage,
                    ], attributes: []))
                }
            }
            if let e = s.environment, environments[e] != nil {
                doc.records.append(.init(kind: .wasAssociatedWith, id: relationId("assoc"), arguments: ["prov:activity": step(s.id), "prov:agent": "env:" + e],
                                         attributes: [("prov:role", .string("software"))]))
            }
            if let user = s.user {
                doc.records.append(.init(kind: .wasAssociatedWith, id: relationId("assoc"), arguments: ["prov:activity": step(s.id), "prov:agent": "user:" + localName(user)],
                                         attributes: [("prov:role", .string("Operator"))]))
            }
        }
        for d in orderedDatasets {
            guard let chain = holdings[d.id] else { continue }
            for (i, hop) in (copies[d.id] ?? []).enumerated() {
                let activity = "copy:\(d.id.lowercasedString).\(i + 1)"
                let time = hop.copiedTime.isoUTC
                let usage = relationId("used")
                doc.records.append(.init(kind: .used, id: usage, arguments: ["prov:activity": activity, "prov:entity": chain[i].entity, "prov:time": time],
                                         attributes: [("prov:role", .string("source"))]))
                let generation = relationId("gen")
                doc.records.append(.init(kind: .wasGeneratedBy, id: generation,
                                         arguments: ["prov:entity": chain[i + 1].entity, "prov:activity": activity, "prov:time": time],
                                         attributes: [("prov:role", .string("copy"))]))
                doc.records.append(.init(kind: .wasDerivedFrom, id: relationId("der"), arguments: [
                    "prov:generatedEntity": chain[i + 1].entity, "prov:usedEntity": chain[i].entity, "prov:activity": activity,
                    "prov:generation": generation, "prov:usage": usage,
                ], attributes: []))
                if let user = hop.copiedBy {
                    doc.records.append(.init(kind: .wasAssociatedWith, id: relationId("assoc"), arguments: ["prov:activity": activity, "prov:agent": "user:" + localName(user)],
                                             attributes: [("prov:role", .string("Operator"))]))
                }
            }
        }
        return doc
    }
}
