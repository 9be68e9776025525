public import Foundation
internal import Yams

/// What differs between the upstream lineages of two datasets: tasks, code versions, config keys, parameters and
/// inputs by role. Steps are matched by task label.
public struct LineageDiff: Sendable {
    /// One difference. `a` and `b` are the values on each side (nil: absent on that side).
    public struct Change: Sendable, Hashable {
        public enum Kind: String, Sendable { case task, package, code, config, parameter, input }
        public let kind: Kind
        /// The task label the difference is under.
        public let task: String
        /// What differs: a package, `file: key`, a parameter, an input role.
        public let name: String
        public let a: String?
        public let b: String?
    }

    public let a: Lineage
    public let b: Lineage
    public let changes: [Change]

    /// Compares two upstream lineages (read with `includeConfigs` for key-level config differences).
    public init(_ a: Lineage, _ b: Lineage) {
        self.a = a
        self.b = b
        var changes: [Change] = []
        let tasksA = Dictionary(grouping: a.steps.values, by: \.taskLabel)
        let tasksB = Dictionary(grouping: b.steps.values, by: \.taskLabel)
        for task in Set(tasksA.keys).union(tasksB.keys).sorted() {
            guard let stepsA = tasksA[task], let stepsB = tasksB[task] else {
                changes.append(Change(kind: .task, task: task, name: "step", a: tasksA[task].map { "\($0.count) step(s)" },
                                      b: tasksB[task].map { "\($0.count) step(s)" }))
                continue
            }
            // Code: package versions and commits over the task's steps.
            func packages(_ l: Lineage, _ steps: [Lineage.Step]) -> [String: Set<String>] {
                var result: [String: Set<String>] = [:]
                for s in steps { for p in s.environment.flatMap({ l.environments[$0] })?.packages ?? [] { result[p.name, default: []].insert(p.version) } }
                return result
            }
            Self.compare(packages(a, stepsA), packages(b, stepsB), .package, task, &changes)
            func commits(_ l: Lineage, _ steps: [Lineage.Step]) -> [String: Set<String>] {
                let values = steps.compactMap { $0.environment.flatMap { l.environments[$0] } }.compactMap { e in
                    e.codeCommit.map { $0 + (e.codeDirty == true ? " (dirty)" : "") }
                }
                return values.isEmpty ? [:] : ["commit": Set(values)]
            }
            Self.compare(commits(a, stepsA), commits(b, stepsB), .code, task, &changes)
            // Parameters.
            func parameters(_ steps: [Lineage.Step]) -> [String: Set<String>] {
                var result: [String: Set<String>] = [:]
                for s in steps { for p in s.parameters { result[p.name, default: []].insert(p.value) } }
                return result
            }
            Self.compare(parameters(stepsA), parameters(stepsB), .parameter, task, &changes)
            // Configs: by file name; key by key when both sides parse.
            func configs(_ steps: [Lineage.Step]) -> [String: Set<String>] {
                var result: [String: Set<String>] = [:]
                for s in steps { for c in s.configs { result[c.name, default: []].insert(c.hash) } }
                return result
            }
            let configsA = configs(stepsA), configsB = configs(stepsB)
            for name in Set(configsA.keys).union(configsB.keys).sorted() where configsA[name] != configsB[name] {
                let hashA = configsA[name], hashB = configsB[name]
                if let ha = hashA, let hb = hashB, ha.count == 1, hb.count == 1,
                   let ca = a.configs[ha.first!], let cb = b.configs[hb.first!] {
                    changes += Self.configChanges(ca, cb, file: name, task: task)
                } else {
                    changes.append(Change(kind: .config, task: task, name: name, a: hashA.map { $0.sorted().joined(separator: ", ") },
                                          b: hashB.map { $0.sorted().joined(separator: ", ") }))
                }
            }
            // Inputs by role: sources by identity, datasets made inside the lineage by type and data ID.
            func inputs(_ l: Lineage, _ steps: [Lineage.Step]) -> [String: Set<String>] {
                var result: [String: Set<String>] = [:]
                for s in steps {
                    for e in s.inputs {
                        guard let d = l.datasets[e.dataset] else { continue }
                        let made = l.producer[d.id] != nil
                        result[e.role, default: []].insert(made ? "\(d.datasetType) {\(d.dataId)}" : d.label + " " + d.id.lowercasedString.prefix(8))
                    }
                }
                return result
            }
            Self.compare(inputs(a, stepsA), inputs(b, stepsB), .input, task, &changes)
        }
        self.changes = changes
    }

    private static func compare(_ a: [String: Set<String>], _ b: [String: Set<String>], _ kind: Change.Kind, _ task: String, _ changes: inout [Change]) {
        for name in Set(a.keys).union(b.keys).sorted() where a[name] != b[name] {
            let onlyA = a[name].map { $0.subtracting(b[name] ?? []) }, onlyB = b[name].map { $0.subtracting(a[name] ?? []) }
            changes.append(Change(kind: kind, task: task, name: name,
                                  a: onlyA.map { $0.isEmpty ? "(same plus others)" : $0.sorted().joined(separator: ", ") },
                                  b: onlyB.map { $0.isEmpty ? "(same plus others)" : $0.sorted().joined(separator: ", ") }))
        }
    }

    /// Key-level differences of two YAML or JSON configs; line differences for other text.
    static func configChanges(_ a: Lineage.Config, _ b: Lineage.Config, file: String, task: String) -> [Change] {
        if let ka = flatten(a), let kb = flatten(b) {
            return Set(ka.keys).union(kb.keys).sorted().compactMap { key in
                ka[key] == kb[key] ? nil : Change(kind: .config, task: task, name: "\(file): \(key)", a: ka[key], b: kb[key])
            }
        }
        let la = String(decoding: a.content, as: UTF8.self).split(separator: "\n").map(String.init)
        let lb = String(decoding: b.content, as: UTF8.self).split(separator: "\n").map(String.init)
        let setA = Set(la), setB = Set(lb)
        let removed = la.filter { !setB.contains($0) }, added = lb.filter { !setA.contains($0) }
        var result: [Change] = []
        for i in 0..<max(removed.count, added.count) {
            result.append(Change(kind: .config, task: task, name: "\(file): line", a: i < removed.count ? removed[i] : nil, b: i < added.count ? added[i] : nil))
        }
        if result.isEmpty { result.append(Change(kind: .config, task: task, name: file, a: a.hash, b: b.hash)) }
        return result
    }

    /// `key.sub[0] -> value` for a YAML or JSON mapping; nil for other formats or text that does not parse.
    static func flatten(_ config: Lineage.Config) -> [String: String]? {
        let text = String(decoding: config.content, as: UTF8.self)
        let tree: Any?
        switch config.format {
        case "json": tree = try? JSONSerialization.jsonObject(with: config.content, options: [.fragmentsAllowed])
        case "yaml": tree = try? YAMLLoader.load(text)  // a refused alias bomb compares as text
        default: return nil
        }
        guard let root = tree, root is [String: Any] || root is [AnyHashable: Any] || root is [Any] else { return nil }
        var out: [String: String] = [:]
        func walk(_ value: Any, _ path: String) {
            switch value {
            case let d as [String: Any]:
                if d.isEmpty { out[path] = "{}" }
                for (k, v) in d { walk(v, path.isEmpty ? k : "\(path).\(k)") }
            case let d as [AnyHashable: Any]:
                for (k, v) in d { walk(v, path.isEmpty ? "\(k)" : "\(path).\(k)") }
            case let list as [Any]:
                if list.isEmpty { out[path] = "[]" }
                for (i, v) in list.enumerated() { walk(v, "\(path)[\(i)]") }
            case is NSNull: out[path] = "null"
            default: out[path] = "\(value)"
            }
        }
        walk(root, "")
        return out
    }
}

extension Registry {
    /// What differs between how two datasets were made (their full upstream lineages, configs included).
    public func lineageDiff(_ a: UUID, _ b: UUID) throws -> LineageDiff {
        LineageDiff(try lineage(of: a, includeConfigs: true), try lineage(of: b, includeConfigs: true))
    }
}
