import Foundation

extension Lineage {
    /// The graph as an indented tree for people: upstream, each dataset with the step that made it and that step's
    /// inputs; downstream, each dataset with the steps that used it and their outputs. A dataset or step reached a
    /// second time is shown once and referred back to (`see [d3]`). Environments and configs are listed once at the end.
    ///
    /// Each value recorded here or received from elsewhere (host, command, parameters, ...) is shown on its line with
    /// its control characters, newlines included, escaped (``singleLine(_:)``).
    ///
    /// - Parameter showConfigs: include each config file's content (needs a lineage read with `includeConfigs`).
    public func treeText(showConfigs: Bool = false) -> String {
        var text = ""
        try! writeTree(showConfigs: showConfigs) { text += $0 }  // appending to a string cannot fail
        return text
    }

    /// Writes ``treeText(showConfigs:)`` to `sink` in pieces of about a megabyte as it is made, so that the tree of a
    /// large graph is never held whole.
    ///
    /// - Throws: what `sink` throws.
    public func writeTree(showConfigs: Bool = false, to sink: (String) throws -> Void) throws {
        var out = ""
        out.reserveCapacity(1 << 20 + 4096)
        func flushIfFull() throws {
            guard out.utf8.count >= 1 << 20 else { return }
            try sink(out)
            out.removeAll(keepingCapacity: true)
        }
        var datasetNumbers: [UUID: Int] = [:]
        var stepNumbers: [UUID: Int] = [:]
        var shownEnvironments = Set<String>()

        func short(_ id: UUID) -> String { String(id.lowercasedString.prefix(8)) }
        func short(_ hash: String) -> String { String(hash.prefix(12)) }

        func datasetLine(_ id: UUID, role: String?, prefix: String, connector: String, childPrefix: String) throws {
            try flushIfFull()
            let rolePart = role.map { "\($0): " } ?? ""
            let d = datasets[id]
            if let n = datasetNumbers[id] {
                out += prefix + connector + rolePart + "\(d?.datasetType ?? "dataset") \(short(id)) (see [d\(n)] above)\n"
                return
            }
            let n = datasetNumbers.count + 1
            datasetNumbers[id] = n
            if let d {
                out += prefix + connector + rolePart + "\(singleLine(d.label)) \(id.lowercasedString) [d\(n)]" + (d.removed ? " (removed: tombstone only)" : "") + "\n"
            } else {
                // Neither a row nor a tombstone: another repository holds it (its steps may still be recorded here).
                out += prefix + connector + rolePart + "dataset \(id.lowercasedString) [d\(n)] (elsewhere: held by another repository, not here)\n"
            }
            let next: [UUID]
            switch direction {
            case .upstream: next = producer[id].map { [$0] } ?? []
            case .downstream: next = consumers[id] ?? []
            }
            for copy in copies[id] ?? [] {
                out += childPrefix + (next.isEmpty && !beyondDepth.contains(id) ? "   " : "│  ") + singleLine(copy.sentence) + "\n"
            }
            if next.isEmpty && beyondDepth.contains(id) {
                out += childPrefix + "└─ … (more steps beyond --depth)\n"
            }
            for (i, step) in next.enumerated() {
                let last = i == next.count - 1
                try stepLines(step, prefix: childPrefix, connector: last ? "└─ " : "├─ ", childPrefix: childPrefix + (last ? "   " : "│  "))
            }
        }

        func stepLines(_ id: UUID, prefix: String, connector: String, childPrefix: String) throws {
            guard let s = steps[id] else { return }
            let verb = direction == .upstream ? "made by" : "used by"
            if let n = stepNumbers[id] {
                out += prefix + connector + "\(verb) \(s.taskLabel) \(short(id)) (see [q\(n)] above)\n"
                return
            }
            let n = stepNumbers.count + 1
            stepNumbers[id] = n
            out += prefix + connector + "\(verb) \(s.taskLabel) [q\(n)] \(s.status)" + (s.exitCode.map { " (exit \($0))" } ?? "")
                + " in \(singleLine(s.run))" + (s.dataId.isEmpty ? "" : " on {\(singleLine(s.dataId))}") + "\n"
            let detail = childPrefix + "  "
            var facts: [String] = []
            if let h = s.host { facts.append("host \(singleLine(h))") }
            if let u = s.user { facts.append("user \(singleLine(u))") }
            if let start = s.start {
                var time = start.isoUTC
                if let end = s.end {
                    let ms = max(0, (end.nanoseconds - start.nanoseconds) / 1_000_000)
                    let fraction = String(ms % 1000)
                    time += " → \(end.isoUTC) (\(ms / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction) s)"
                }
                facts.append(time)
            }
            if !facts.isEmpty { out += detail + facts.joined(separator: ", ") + "\n" }
            if let e = s.environment {
                var code = "code: environment \(short(e))"
                if let env = environments[e] {
                    if let commit = env.codeCommit { code += ", commit \(singleLine(commit))" + (env.codeDirty == true ? " (dirty)" : "") }
                    if shownEnvironments.insert(e).inserted {
                        code += env.packages.isEmpty ? "" : "; " + env.packages.map { "\(singleLine($0.name)) \(singleLine($0.version))" }.joined(separator: ", ")
                    } else if !env.packages.isEmpty {
                        code += " (\(env.packages.count) packages, listed above)"
                    }
                }
                out += detail + code + "\n"
            }
            if !s.configs.isEmpty {
                out += detail + "config: " + s.configs.map { "\(singleLine($0.name)) \(short($0.hash))" }.joined(separator: ", ") + "\n"
            }
            if !s.parameters.isEmpty {
                out += detail + "parameters: " + s.parameters.map { "\(singleLine($0.name))=\(singleLine($0.value))" }.joined(separator: ", ") + "\n"
            }
            if let command = s.command { out += detail + "command: \(singleLine(command))\n" }
            if let origin = s.origin {
                out += detail + "foreign: made at \(singleLine(origin.name)) (\(origin.id.lowercasedString))"
                    + (s.receivedFrom.map { $0.id == origin.id ? "" : ", received from \(singleLine($0.name)) (\($0.id.lowercasedString))" } ?? "") + "\n"
            }
            for r in s.reproductions {
                out += detail + "reproduced \(r.time.isoUTC) by step \(r.step.lowercasedString)"
                    + (r.reportedBy.map { " at \(singleLine($0.name)) (\($0.id.lowercasedString)), as it reports" } ?? "")
                    + ": \(singleLine(r.verdict))" + (r.detail.isEmpty ? "" : " (\(singleLine(r.detail)))") + "\n"
            }
            let children = direction == .upstream ? s.inputs : s.outputs
            for (i, edge) in children.enumerated() {
                let last = i == children.count - 1
                try datasetLine(edge.dataset, role: edge.role, prefix: childPrefix, connector: last ? "└─ " : "├─ ",
                            childPrefix: childPrefix + (last ? "   " : "│  "))
            }
        }

        let title = direction == .upstream ? "Upstream lineage" : "Downstream of"
        let elsewhereCount = elsewhere.count
        out += "\(title): \(datasets.count) dataset(s), \(steps.count) step(s), \(environments.count) environment(s), "
            + "\(Set(steps.values.flatMap { $0.configs.map(\.hash) }).count) config(s)"
            + (elsewhereCount > 0 ? "; \(elsewhereCount) dataset(s) held elsewhere" : "") + (truncated ? "; stopped at --depth" : "") + "\n"
        try datasetLine(root, role: nil, prefix: "", connector: "", childPrefix: "")
        let usedConfigs = Dictionary(steps.values.flatMap { s in s.configs.map { ($0.hash, "\(s.taskLabel)/\($0.name)") } },
                                     uniquingKeysWith: { a, _ in a })
        if !usedConfigs.isEmpty {
            out += "\nConfigs:\n"
            for (hash, use) in usedConfigs.sorted(by: { $0.key < $1.key }) {
                let format = configs[hash].map { " (\($0.format))" } ?? ""
                out += "  \(hash)\(format) \(use)\n"
                if showConfigs, let content = configs[hash] {
                    let text = String(decoding: content.content, as: UTF8.self)
                    out += text.split(separator: "\n", omittingEmptySubsequences: false).map { "    | " + singleLine(String($0)) }.joined(separator: "\n") + "\n"
                }
                try flushIfFull()
            }
        }
        try sink(out)
    }
}
