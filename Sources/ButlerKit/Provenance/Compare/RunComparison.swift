public import Foundation

/// QA metrics of two reprocessings compared dataset by dataset, with the provenance differences that go with the
/// shifts: what ``Butler/compareRuns(_:)`` returns.
public struct RunComparison: Sendable {
    /// Median and spread of a set of values.
    public struct Summary: Sendable {
        public let count: Int
        public let median: Double
        /// 1.4826 × the median absolute deviation (the standard deviation for normal values, robust to outliers).
        public let spread: Double

        init(_ values: [Double]) {
            count = values.count
            median = Self.median(values)
            let m = median
            spread = values.isEmpty ? .nan : 1.4826 * Self.median(values.map { abs($0 - m) })
        }

        static func median(_ values: [Double]) -> Double {
            guard !values.isEmpty else { return .nan }
            let sorted = values.sorted()
            let mid = sorted.count / 2
            return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
        }
    }

    /// One matched pair of datasets (same type and data ID) and a metric's values.
    public struct Pair: Sendable {
        public let dataId: String
        public let a: UUID
        public let b: UUID
        public let valueA: Double
        public let valueB: Double
        public var difference: Double { valueB - valueA }
        /// The difference relative to A's value (nil when A's is 0).
        public var relative: Double? { valueA == 0 ? nil : difference / abs(valueA) }
    }

    /// The pairs whose provenance differs between A and B in the same way.
    public struct Group: Sendable {
        /// What differs in how B's datasets were made, one phrase each ("isr ran with ip_isr 30.0.2 instead of 30.0.1"); empty: nothing.
        public let changes: [String]
        public let count: Int
        public let difference: Summary
        /// The median of the differences relative to A's values (nil when none can be computed).
        public let relativeMedian: Double?
        /// The data IDs, sorted.
        public let dataIds: [String]
    }

    /// One metric of one dataset type.
    public struct Metric: Sendable {
        public let name: String
        public let datasetType: String
        public let pairs: [Pair]
        public let a: Summary
        public let b: Summary
        public let difference: Summary
        /// The pairs that moved most (largest absolute difference), at most ``RunComparisonRequest/movers``.
        public let movers: [Pair]
        /// Pairs grouped by provenance difference, the largest shift first.
        public let groups: [Group]
        /// Data IDs of matched datasets that have the metric in B but not in A, sorted (a measurement that is new,
        /// or that failed in A).
        public let missingInA: [String]
        /// Data IDs of matched datasets that have the metric in A but not in B, sorted (a measurement lost in B).
        public let missingInB: [String]

        /// One sentence: where the metric moved and with what provenance change, and what happened elsewhere.
        public var attribution: String {
            func percent(_ g: Group) -> String {
                if let r = g.relativeMedian { return String(format: "%+.1f%%", r * 100) }
                return String(format: "%+.4g", g.difference.median)
            }
            var missing = ""
            if !missingInB.isEmpty { missing += "; not measured in B on \(missingInB.count)" }
            if !missingInA.isEmpty { missing += "; not measured in A on \(missingInA.count)" }
            guard !pairs.isEmpty else { return "\(name) of \(datasetType): no dataset has it on both sides" + missing }
            let moved = groups.filter { !Self.isZero($0) }
            guard !moved.isEmpty else {
                return "\(name) unchanged on all \(pairs.count) \(datasetType)" + (groups.contains { !$0.changes.isEmpty } ? ", whatever changed in how they were made" : "") + missing
            }
            func whose(_ g: Group) -> String {
                g.changes.isEmpty ? "with the same provenance" : "whose " + g.changes.joined(separator: " and ")
            }
            var text = "\(name) \(percent(moved[0])) on the \(moved[0].count) \(datasetType) " + whose(moved[0])
            for other in moved.dropFirst() { text += "; \(percent(other)) on the \(other.count) " + whose(other) }
            if groups.contains(where: Self.isZero) { text += "; unchanged elsewhere" }
            return text + missing
        }

        static func isZero(_ g: Group) -> Bool {
            abs(g.difference.median) <= 1e-12 || (g.relativeMedian.map { abs($0) < 0.001 } ?? false)
        }
    }

    public let runA: String
    public let runB: String
    public let metrics: [Metric]
    /// Datasets found in only one of the two (type and data ID), by side.
    public let onlyInA: Int
    public let onlyInB: Int
}

/// What ``Butler/compareRuns(_:)`` compares.
public struct RunComparisonRequest: Sendable {
    /// The two reprocessings: RUNs or any collections (searched find-first).
    public var runA: String
    public var runB: String
    /// Dataset types compared (every type with metrics when empty).
    public var datasetTypes: [String] = []
    /// Metrics compared (every metric the datasets have when empty).
    public var metrics: [String] = []
    /// A `--where` expression both sides must satisfy, with its bind values.
    public var `where` = ""
    public var binds: [String: BindValue] = [:]
    /// How many of the pairs that moved most are listed per metric.
    public var movers = 5

    public init(runA: String, runB: String) {
        self.runA = runA
        self.runB = runB
    }
}

extension Butler {
    /// Matches the datasets of two reprocessings by type and data ID and compares their QA metrics: median and spread
    /// of each side and of the differences, the data IDs that moved most, and, grouped, what differs in their
    /// provenance (package versions, code commits, config keys, parameters, inputs), so that a shift is attributed to
    /// the change that came with it.
    ///
    /// - Throws: ``ButlerError/Code/notFound`` for an unknown collection or dataset type, or a bad `where`.
    public func compareRuns(_ request: RunComparisonRequest) throws -> RunComparison {
        // Without named types, only the types that have metrics are read (a reprocessing holds many more); when no
        // type has any, every type is (and nothing is compared).
        let types = request.datasetTypes.isEmpty ? try registry.datasetTypesWithMetrics() : request.datasetTypes
        func side(_ collection: String) throws -> [String: DatasetRef] {
            var q = DatasetQuery()
            q.datasetTypes = types
            q.collections = [collection]
            q.findFirst = true
            q.where = request.where
            q.binds = request.binds
            var out: [String: DatasetRef] = [:]
            for result in try registry.queryDatasets(q).datasets {
                out[result.ref.datasetType.name + "\u{1}" + result.ref.dataId.keyValueString] = result.ref
            }
            return out
        }
        let a = try side(request.runA), b = try side(request.runB)
        let keys = Set(a.keys).intersection(b.keys).sorted()
        let metricsA = try registry.metrics(of: keys.map { a[$0]!.id }), metricsB = try registry.metrics(of: keys.map { b[$0]!.id })
        // Pairs per (type, metric), and the matched datasets that have the metric on one side only.
        var pairs: [String: [RunComparison.Pair]] = [:]
        var missingInA: [String: [String]] = [:], missingInB: [String: [String]] = [:]
        for key in keys {
            let ra = a[key]!, rb = b[key]!
            let ma = metricsA[ra.id] ?? [:], mb = metricsB[rb.id] ?? [:]
            for name in Set(ma.keys).union(mb.keys) where request.metrics.isEmpty || request.metrics.contains(name) {
                let slot = ra.datasetType.name + "\u{1}" + name
                switch (ma[name], mb[name]) {
                case let (valueA?, valueB?):
                    pairs[slot, default: []].append(RunComparison.Pair(dataId: ra.dataId.keyValueString, a: ra.id, b: rb.id, valueA: valueA, valueB: valueB))
                case (_?, nil): missingInB[slot, default: []].append(ra.dataId.keyValueString)
                case (nil, _?): missingInA[slot, default: []].append(ra.dataId.keyValueString)
                case (nil, nil): break
                }
            }
        }
        let slots = Set(pairs.keys).union(missingInA.keys).union(missingInB.keys)
        for name in request.metrics where !slots.contains(where: { $0.hasSuffix("\u{1}" + name) }) {
            throw ButlerError(.notFound, "no dataset found in both \(request.runA) and \(request.runB) has the metric '\(name)'")
        }
        // The provenance differences of each pair, computed once per pair of datasets.
        var changes: [String: [String]] = [:]
        func changesOf(_ pair: RunComparison.Pair) throws -> [String] {
            let key = pair.a.lowercasedString + pair.b.lowercasedString
            if let known = changes[key] { return known }
            let found = try registry.lineageDiff(pair.a, pair.b).changes.map(Self.phrase)
            changes[key] = found
            return found
        }
        var metrics: [RunComparison.Metric] = []
        for key in slots.sorted() {
            let list = pairs[key] ?? []
            let parts = key.split(separator: "\u{1}").map(String.init)
            var byChange: [[String]: [RunComparison.Pair]] = [:]
            for pair in list { byChange[try changesOf(pair), default: []].append(pair) }
            let groups = byChange.map { change, members in
                RunComparison.Group(changes: change, count: members.count, difference: .init(members.map(\.difference)),
                                    relativeMedian: members.compactMap(\.relative).isEmpty ? nil : RunComparison.Summary.median(members.compactMap(\.relative)),
                                    dataIds: members.map(\.dataId).sorted())
            }.sorted { x, y in
                if abs(x.difference.median) != abs(y.difference.median) { return abs(x.difference.median) > abs(y.difference.median) }
                if x.changes.count != y.changes.count { return x.changes.count > y.changes.count }
                return x.changes.joined(separator: "\u{1}") < y.changes.joined(separator: "\u{1}")
            }
            let movers = list.sorted { abs($0.difference) != abs($1.difference) ? abs($0.difference) > abs($1.difference) : $0.dataId < $1.dataId }
            metrics.append(RunComparison.Metric(name: parts[1], datasetType: parts[0], pairs: list.sorted { $0.dataId < $1.dataId },
                                                a: .init(list.map(\.valueA)), b: .init(list.map(\.valueB)), difference: .init(list.map(\.difference)),
                                                movers: Array(movers.prefix(max(0, request.movers))), groups: groups,
                                                missingInA: (missingInA[key] ?? []).sorted(), missingInB: (missingInB[key] ?? []).sorted()))
        }
        // Datasets of one side only, among the types compared (those with metrics).
        let compared = Set(metrics.map(\.datasetType))
        func only(_ x: [String: DatasetRef], _ y: [String: DatasetRef]) -> Int {
            x.filter { y[$0.key] == nil && compared.contains($0.value.datasetType.name) }.count
        }
        return RunComparison(runA: request.runA, runB: request.runB, metrics: metrics, onlyInA: only(a, b), onlyInB: only(b, a))
    }

    /// A provenance difference as a phrase after "whose": "isr ran with ip_isr 30.0.2 instead of 30.0.1".
    static func phrase(_ change: LineageDiff.Change) -> String {
        let was = change.a ?? "none", now = change.b ?? "none"
        switch change.kind {
        case .package: return "\(change.task) ran with \(change.name) \(now) instead of \(was)"
        case .code: return "\(change.task) ran code commit \(change.b.map { String($0.prefix(12)) } ?? "(none recorded)") instead of \(change.a.map { String($0.prefix(12)) } ?? "(none recorded)")"
        case .parameter: return "\(change.task) ran with \(change.name)=\(now) instead of \(was)"
        case .config: return "\(change.task) had config \(change.name) = \(now) instead of \(was)"
        case .input: return "\(change.task) read \(change.name) \(now) instead of \(was)"
        case .task: return "task \(change.task) had \(now) instead of \(was)"
        }
    }
}
