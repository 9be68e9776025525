import Foundation

extension Lineage {
    /// The graph as JSON: `root`, `direction`, `truncated`, `datasets` (each with the `copies` that brought it here),
    /// `elsewhere` (ids of datasets held by another repository), `steps`, `environments` and, when loaded, `configs`
    /// (content as text). Times are TAI (`start_tai`) and UTC (`start`). Documented in the README.
    public func jsonText() -> String {
        func object(_ pairs: [(String, String)]) -> String {
            "{" + pairs.map { "\(jsonString($0.0)): \($0.1)" }.joined(separator: ", ") + "}"
        }
        func text(_ s: String?) -> String { s.map(jsonString) ?? "null" }
        // A data ID as stored (`instrument=LATISS,detector=0`) as a JSON object, integers as numbers.
        func dataIdObject(_ text: String) -> String {
            object(text.split(separator: ",").compactMap { pair -> (String, String)? in
                let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { return nil }
                let isInteger = Int(parts[1]) != nil && (parts[1] == "0" || !parts[1].hasPrefix("0")) && !parts[1].hasPrefix("+")
                return (parts[0], isInteger ? parts[1] : jsonString(parts[1]))
            })
        }
        func repository(_ r: RepositoryIdentity?) -> String {
            guard let r else { return "null" }
            return object([("id", jsonString(r.id.lowercasedString)), ("name", jsonString(r.name))])
        }
        func copiesJSON(_ id: UUID) -> String {
            let entries: [String] = (copies[id] ?? []).map { copy in
                object([
                    ("from", repository(copy.sourceRepository)), ("to", repository(copy.destinationRepository)),
                    ("copied_at", jsonString(copy.copiedTime.isoUTC)), ("copied_at_tai", jsonString(copy.copiedTime.isoTAI)),
                    ("copied_by", text(copy.copiedBy)), ("method", jsonString(copy.method)),
                    ("verified_checksum", text(copy.verifiedChecksum)),
                ])
            }
            return "[" + entries.joined(separator: ", ") + "]"
        }
        var out = "{\n  \"root\": \(jsonString(root.lowercasedString)),\n  \"direction\": \(jsonString(direction.rawValue)),\n"
        out += "  \"truncated\": \(truncated),\n  \"datasets\": [\n"
        out += orderedDatasets.map { d in
            "    " + object([
                ("id", jsonString(d.id.lowercasedString)), ("dataset_type", jsonString(d.datasetType)), ("run", jsonString(d.run)),
                ("data_id", dataIdObject(d.dataId)), ("storage_class", text(d.storageClass)), ("path", text(d.path)),
                ("content_type", jsonString(d.contentType)), ("removed", d.removed ? "true" : "false"),
                ("produced_by", text(producer[d.id]?.lowercasedString)),
                ("copies", copiesJSON(d.id)),
            ])
        }.joined(separator: ",\n")
        out += "\n  ],\n  \"elsewhere\": [" + elsewhere.map { jsonString($0.lowercasedString) }.joined(separator: ", ")
        out += "\n  ],\n  \"steps\": [\n"
        out += orderedSteps.map { s in
            "    " + object([
                ("id", jsonString(s.id.lowercasedString)), ("task", jsonString(s.taskLabel)), ("run", jsonString(s.run)),
                ("data_id", dataIdObject(s.dataId)), ("status", jsonString(s.status)), ("exit_code", s.exitCode.map { String($0) } ?? "null"),
                ("host", text(s.host)), ("user", text(s.user)), ("command", text(s.command)),
                ("origin", repository(s.origin)), ("received_from", repository(s.receivedFrom)),
                ("start", text(s.start?.isoUTC)), ("end", text(s.end?.isoUTC)),
                ("start_tai", text(s.start?.isoTAI)), ("end_tai", text(s.end?.isoTAI)),
                ("environment", text(s.environment)),
                ("configs", object(s.configs.map { ($0.name, jsonString($0.hash)) })),
                ("parameters", object(s.parameters.map { ($0.name, jsonString($0.value)) })),
                ("inputs", "[" + s.inputs.map { object([("role", jsonString($0.role)), ("id", jsonString($0.dataset.lowercasedString))]) }.joined(separator: ", ") + "]"),
                ("outputs", "[" + s.outputs.map { object([("role", jsonString($0.role)), ("id", jsonString($0.dataset.lowercasedString))]) }.joined(separator: ", ") + "]"),
                ("reproductions", "[" + s.reproductions.map {
                    object([("step", jsonString($0.step.lowercasedString)), ("verdict", jsonString($0.verdict)), ("detail", jsonString($0.detail)),
                            ("time", jsonString($0.time.isoUTC)), ("reported_by", repository($0.reportedBy))])
                }.joined(separator: ", ") + "]"),
            ])
        }.joined(separator: ",\n")
        out += "\n  ],\n  \"environments\": {\n"
        out += environments.values.sorted { $0.id < $1.id }.map { e in
            "    \(jsonString(e.id)): " + object([
                ("code_commit", text(e.codeCommit)), ("code_dirty", e.codeDirty.map { $0 ? "true" : "false" } ?? "null"),
                ("executable_sha256", text(e.executableHash)),
                ("packages", object(e.packages.map { ($0.name, jsonString($0.version)) })),
            ])
        }.joined(separator: ",\n")
        out += "\n  }"
        if !configs.isEmpty {
            out += ",\n  \"configs\": {\n" + configs.values.sorted { $0.hash < $1.hash }.map { c in
                "    \(jsonString(c.hash)): " + object([("format", jsonString(c.format)), ("content", jsonString(String(decoding: c.content, as: UTF8.self)))])
            }.joined(separator: ",\n") + "\n  }"
        }
        return out + "\n}\n"
    }

    /// The graph in Graphviz's DOT language: datasets as ellipses (grey when removed), steps as boxes (red when they
    /// failed), edges labelled with roles, inputs above outputs. Render with `dot -Tsvg`.
    public func dotText() -> String {
        func quoted(_ s: String) -> String {
            "\"" + escaping(s, ["\\": "\\\\", "\"": "\\\"", "\n": "\\n"]) + "\""
        }
        func node(_ id: UUID, _ kind: String) -> String { quoted(kind + id.lowercasedString) }
        var out = "digraph lineage {\n  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=9];\n"
        for d in orderedDatasets {
            var attributes = "shape=ellipse, label=\(quoted("\(d.datasetType)\n\(d.dataId)\n\(d.run)"))"
            if d.removed { attributes += ", style=dashed, color=gray" }
            if d.id == root { attributes += ", penwidth=2" }
            out += "  \(node(d.id, "d:")) [\(attributes)];\n"
        }
        let heldElsewhere = Set(elsewhere)
        for id in elsewhere {
            out += "  \(node(id, "d:")) [shape=ellipse, style=dotted, label=\(quoted("\(id.lowercasedString.prefix(8))\nheld elsewhere"))];\n"
        }
        for s in orderedSteps {
            let fill = s.status == "succeeded" ? "lightblue" : "salmon"
            out += "  \(node(s.id, "q:")) [shape=box, style=filled, fillcolor=\(fill), label=\(quoted("\(s.taskLabel)\n\(s.dataId)\n\(s.status)"))];\n"
        }
        for s in orderedSteps {
            for e in s.inputs where datasets[e.dataset] != nil || heldElsewhere.contains(e.dataset) {
                out += "  \(node(e.dataset, "d:")) -> \(node(s.id, "q:")) [label=\(quoted(e.role))];\n"
            }
            for e in s.outputs where datasets[e.dataset] != nil || heldElsewhere.contains(e.dataset) {
                out += "  \(node(s.id, "q:")) -> \(node(e.dataset, "d:")) [label=\(quoted(e.role))];\n"
            }
        }
        return out + "}\n"
    }
}
