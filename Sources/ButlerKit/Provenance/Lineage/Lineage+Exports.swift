import Foundation

extension Lineage {
    /// The graph as JSON: `root`, `direction`, `truncated`, `datasets` (each with the `copies` that brought it here),
    /// `elsewhere` (ids of datasets held by another repository), `steps`, `environments` and, when loaded, `configs`
    /// (content as text). Times are TAI (`start_tai`) and UTC (`start`). Documented in the README.
    public func jsonText() -> String {
        var text = ""
        try! writeJSON { text += $0 }  // appending to a string cannot fail
        return text
    }

    /// Writes ``jsonText()`` to `sink` in pieces of about a megabyte as it is made, so that the JSON of a large graph
    /// (the downstream of a bias: tens of megabytes) is never held whole.
    ///
    /// - Throws: what `sink` throws.
    public func writeJSON(to sink: (String) throws -> Void) throws {
        try withoutActuallyEscaping(sink) { sink in
            let out = ChunkedText(sink: sink)
            try out.write { o in
                o += "{\n  \"root\": "; appendJSONString(root.lowercasedString, to: &o)
                o += ",\n  \"direction\": "; appendJSONString(direction.rawValue, to: &o)
                o += ",\n  \"truncated\": \(truncated),\n  \"datasets\": [\n"
            }
            for (n, d) in orderedDatasets.enumerated() {
                try out.write { o in
                    if n > 0 { o += ",\n" }
                    o += "    {\"id\": "; appendJSONString(d.id.lowercasedString, to: &o)
                    o += ", \"dataset_type\": "; appendJSONString(d.datasetType, to: &o)
                    o += ", \"run\": "; appendJSONString(d.run, to: &o)
                    o += ", \"data_id\": "; Self.appendDataID(d.dataId, to: &o)
                    o += ", \"storage_class\": "; Self.appendOptional(d.storageClass, to: &o)
                    o += ", \"path\": "; Self.appendOptional(d.path, to: &o)
                    o += ", \"content_type\": "; appendJSONString(d.contentType, to: &o)
                    o += d.removed ? ", \"removed\": true" : ", \"removed\": false"
                    o += ", \"produced_by\": "; Self.appendOptional(producer[d.id]?.lowercasedString, to: &o)
                    o += ", \"copies\": ["
                    for (i, copy) in (copies[d.id] ?? []).enumerated() {
                        if i > 0 { o += ", " }
                        o += "{\"from\": "; Self.appendRepository(copy.sourceRepository, to: &o)
                        o += ", \"to\": "; Self.appendRepository(copy.destinationRepository, to: &o)
                        o += ", \"copied_at\": "; appendJSONString(copy.copiedTime.isoUTC, to: &o)
                        o += ", \"copied_at_tai\": "; appendJSONString(copy.copiedTime.isoTAI, to: &o)
                        o += ", \"copied_by\": "; Self.appendOptional(copy.copiedBy, to: &o)
                        o += ", \"method\": "; appendJSONString(copy.method, to: &o)
                        o += ", \"verified_checksum\": "; Self.appendOptional(copy.verifiedChecksum, to: &o)
                        o += "}"
                    }
                    o += "]}"
                }
            }
            try out.write { o in
                o += "\n  ],\n  \"elsewhere\": ["
                for (i, id) in elsewhere.enumerated() {
                    if i > 0 { o += ", " }
                    appendJSONString(id.lowercasedString, to: &o)
                }
                o += "\n  ],\n  \"steps\": [\n"
            }
            for (n, s) in orderedSteps.enumerated() {
                try out.write { o in
                    if n > 0 { o += ",\n" }
                    o += "    {\"id\": "; appendJSONString(s.id.lowercasedString, to: &o)
                    o += ", \"task\": "; appendJSONString(s.taskLabel, to: &o)
                    o += ", \"run\": "; appendJSONString(s.run, to: &o)
                    o += ", \"data_id\": "; Self.appendDataID(s.dataId, to: &o)
                    o += ", \"status\": "; appendJSONString(s.status, to: &o)
                    o += ", \"exit_code\": " + (s.exitCode.map { String($0) } ?? "null")
                    o += ", \"host\": "; Self.appendOptional(s.host, to: &o)
                    o += ", \"user\": "; Self.appendOptional(s.user, to: &o)
                    o += ", \"command\": "; Self.appendOptional(s.command, to: &o)
                    o += ", \"origin\": "; Self.appendRepository(s.origin, to: &o)
                    o += ", \"received_from\": "; Self.appendRepository(s.receivedFrom, to: &o)
                    o += ", \"start\": "; Self.appendOptional(s.start?.isoUTC, to: &o)
                    o += ", \"end\": "; Self.appendOptional(s.end?.isoUTC, to: &o)
                    o += ", \"start_tai\": "; Self.appendOptional(s.start?.isoTAI, to: &o)
                    o += ", \"end_tai\": "; Self.appendOptional(s.end?.isoTAI, to: &o)
                    o += ", \"environment\": "; Self.appendOptional(s.environment, to: &o)
                    o += ", \"configs\": {"
                    for (i, c) in s.configs.enumerated() {
                        if i > 0 { o += ", " }
                        appendJSONString(c.name, to: &o); o += ": "; appendJSONString(c.hash, to: &o)
                    }
                    o += "}, \"parameters\": {"
                    for (i, p) in s.parameters.enumerated() {
                        if i > 0 { o += ", " }
                        appendJSONString(p.name, to: &o); o += ": "; appendJSONString(p.value, to: &o)
                    }
                    o += "}, \"inputs\": "; Self.appendEdges(s.inputs, to: &o)
                    o += ", \"outputs\": "; Self.appendEdges(s.outputs, to: &o)
                    o += ", \"reproductions\": ["
                    for (i, r) in s.reproductions.enumerated() {
                        if i > 0 { o += ", " }
                        o += "{\"step\": "; appendJSONString(r.step.lowercasedString, to: &o)
                        o += ", \"verdict\": "; appendJSONString(r.verdict, to: &o)
                        o += ", \"detail\": "; appendJSONString(r.detail, to: &o)
                        o += ", \"time\": "; appendJSONString(r.time.isoUTC, to: &o)
                        o += ", \"reported_by\": "; Self.appendRepository(r.reportedBy, to: &o)
                        o += "}"
                    }
                    o += "]}"
                }
            }
            try out.write { o in
                o += "\n  ],\n  \"environments\": {\n"
                for (i, e) in environments.values.sorted(by: { $0.id < $1.id }).enumerated() {
                    if i > 0 { o += ",\n" }
                    o += "    "; appendJSONString(e.id, to: &o)
                    o += ": {\"code_commit\": "; Self.appendOptional(e.codeCommit, to: &o)
                    o += ", \"code_dirty\": " + (e.codeDirty.map { $0 ? "true" : "false" } ?? "null")
                    o += ", \"executable_sha256\": "; Self.appendOptional(e.executableHash, to: &o)
                    o += ", \"packages\": {"
                    for (j, p) in e.packages.enumerated() {
                        if j > 0 { o += ", " }
                        appendJSONString(p.name, to: &o); o += ": "; appendJSONString(p.version, to: &o)
                    }
                    o += "}}"
                }
                o += "\n  }"
            }
            if !configs.isEmpty {
                try out.append(",\n  \"configs\": {\n")
                for (i, c) in configs.values.sorted(by: { $0.hash < $1.hash }).enumerated() {
                    try out.write { o in
                        if i > 0 { o += ",\n" }
                        o += "    "; appendJSONString(c.hash, to: &o)
                        o += ": {\"format\": "; appendJSONString(c.format, to: &o)
                        o += ", \"content\": "; appendJSONString(String(decoding: c.content, as: UTF8.self), to: &o)
                        o += "}"
                    }
                }
                try out.append("\n  }")
            }
            try out.append("\n}\n")
            try out.finish()
        }
    }

    private static func appendOptional(_ s: String?, to o: inout String) {
        if let s { appendJSONString(s, to: &o) } else { o += "null" }
    }

    private static func appendRepository(_ r: RepositoryIdentity?, to o: inout String) {
        guard let r else { o += "null"; return }
        o += "{\"id\": "; appendJSONString(r.id.lowercasedString, to: &o)
        o += ", \"name\": "; appendJSONString(r.name, to: &o)
        o += "}"
    }

    private static func appendEdges(_ edges: [Edge], to o: inout String) {
        o += "["
        for (i, e) in edges.enumerated() {
            if i > 0 { o += ", " }
            o += "{\"role\": "; appendJSONString(e.role, to: &o)
            o += ", \"id\": "; appendJSONString(e.dataset.lowercasedString, to: &o)
            o += "}"
        }
        o += "]"
    }

    /// A data ID as stored (`instrument=LATISS,detector=0`) as a JSON object, integers as numbers.
    private static func appendDataID(_ text: String, to o: inout String) {
        o += "{"
        var first = true
        for pair in text.split(separator: ",") {
            guard let equals = pair.firstIndex(of: "=") else { continue }
            let key = String(pair[..<equals]), value = pair[pair.index(after: equals)...]
            guard !key.isEmpty, !value.isEmpty else { continue }
            if !first { o += ", " }
            first = false
            appendJSONString(key, to: &o)
            o += ": "
            let isInteger = Int(value) != nil && (value == "0" || !value.hasPrefix("0")) && !value.hasPrefix("+")
            if isInteger { o += value } else { appendJSONString(String(value), to: &o) }
        }
        o += "}"
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
