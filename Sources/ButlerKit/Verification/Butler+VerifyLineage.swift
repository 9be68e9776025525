public import Foundation

/// A dataset of a lineage that this repository does not hold whole: not here at all, removed, or with a file that is
/// missing or differs from the recorded one.
public struct LineageGap: Sendable, Hashable, CustomStringConvertible {
    public enum Reason: String, Sendable, CaseIterable {
        /// Neither the dataset nor its tombstone is here: another repository holds it.
        case notHere = "not-here"
        /// Only its tombstone is here.
        case removed
        /// It is here but a file of it is not (or it has no file).
        case fileMissing = "file-missing"
        /// A file of it differs from the recorded size or SHA-256.
        case mismatch

        /// How the reason is written for people.
        public var text: String {
            switch self {
            case .notHere: return "not in this repository"
            case .removed: return "removed (tombstone)"
            case .fileMissing: return "file missing"
            case .mismatch: return "size/checksum mismatch"
            }
        }
    }

    public let datasetId: UUID
    /// The dataset type, run and data ID (`key=value,...`), nil when the repository knows nothing of the dataset.
    public let datasetType: String?
    public let run: String?
    public let dataId: String?
    public let reason: Reason
    /// What exactly: the file and sizes, or the step that used the dataset.
    public let detail: String

    /// `ID TYPE RUN: REASON (DETAIL)`, one line (`-` for what is not known).
    public var description: String {
        "\(datasetId.lowercasedString) \(datasetType ?? "-") \(run ?? "-"): \(reason.text)" + (detail.isEmpty ? "" : " (\(detail))")
    }
}

/// What ``Butler/verifyLineage(of:checksums:report:)`` checked and found.
public struct LineageVerification: Sendable {
    /// The datasets whose lineage was checked.
    public var roots: [UUID] = []
    /// Distinct datasets of those lineages, the roots included (those held elsewhere too).
    public var datasetsChecked = 0
    public var filesChecked = 0
    public var checksumsChecked = 0
    /// What is not here whole, sorted by dataset type, run and id.
    public var gaps: [LineageGap] = []
    /// Whether every dataset of the lineages is here with its files as recorded.
    public var isComplete: Bool { gaps.isEmpty }
}

extension Butler {
    /// Checks that the whole upstream lineage of datasets is here: every dataset they were made from, step by step
    /// down to the raws and calibrations, is in this repository with its files present at the recorded size and
    /// SHA-256. The datasets themselves are checked too.
    ///
    /// A dataset that steps used but that is neither here nor removed from here is reported as not in this repository
    /// (another repository holds it, as after copying datasets without their inputs); one with only a tombstone as
    /// removed.
    /// - Parameters:
    ///   - roots: datasets (or tombstones) of this repository.
    ///   - checksums: recompute each file's SHA-256 where one is recorded (reads every file).
    ///   - report: called for each gap, in the order of ``LineageVerification/gaps``.
    /// - Throws: ``ButlerError/Code/notFound`` for a root the registry knows nothing of.
    public func verifyLineage(of roots: [UUID], checksums: Bool = true,
                              report: (LineageGap) -> Void = { _ in }) throws -> LineageVerification {
        var result = LineageVerification()
        result.roots = roots
        var datasets: [UUID: Lineage.Dataset] = [:]
        var elsewhere: [UUID: String] = [:]
        // A root inside a lineage walked already has its own upstream in it.
        for root in roots where datasets[root] == nil {
            let lineage = try registry.lineage(of: root, direction: .upstream)
            for (id, d) in lineage.datasets { datasets[id] = d }
            for id in lineage.elsewhere where elsewhere[id] == nil { elsewhere[id] = Self.usedBy(id, in: lineage) }
        }
        result.datasetsChecked = datasets.count + elsewhere.count
        var gaps: [LineageGap] = elsewhere.map { id, detail in
            LineageGap(datasetId: id, datasetType: nil, run: nil, dataId: nil, reason: .notHere, detail: detail)
        }
        let present = datasets.values.filter { !$0.removed }
        for d in datasets.values where d.removed {
            gaps.append(LineageGap(datasetId: d.id, datasetType: d.datasetType, run: d.run, dataId: d.dataId, reason: .removed, detail: ""))
        }
        let files = try registry.fileRecords(of: present.map(\.id))
        let datastore = self.datastore
        for d in present {
            func gap(_ reason: LineageGap.Reason, _ detail: String) {
                gaps.append(LineageGap(datasetId: d.id, datasetType: d.datasetType, run: d.run, dataId: d.dataId, reason: reason, detail: detail))
            }
            guard let records = files[d.id], !records.isEmpty else {
                gap(.fileMissing, "no file recorded")
                continue
            }
            for r in records {
                result.filesChecked += 1
                let path = Self.shown(datastore.location(of: r.path))
                let recordedChecksum = checksums ? r.checksum : nil
                let measured: (size: Int64, checksum: String?)?
                do {
                    measured = try datastore.measure(recordedPath: r.path, checksum: recordedChecksum != nil)
                } catch let error as ButlerError where error.code == .invalidValue {
                    gap(.mismatch, error.message)  // a member of a stored Zip that fails the Zip's CRC-32
                    continue
                }
                guard let measured else {
                    gap(.fileMissing, "\(path) is not there")
                    continue
                }
                if let size = r.size, measured.size != size {
                    gap(.mismatch, "\(path) has \(measured.size) bytes, recorded \(size)")
                    continue
                }
                if let recorded = recordedChecksum {
                    result.checksumsChecked += 1
                    if measured.checksum != recorded { gap(.mismatch, "\(path) has SHA-256 \(measured.checksum ?? "?"), recorded \(recorded)") }
                }
            }
        }
        result.gaps = gaps.sorted {
            ($0.datasetType ?? "", $0.run ?? "", $0.datasetId.lowercasedString, $0.detail)
                < ($1.datasetType ?? "", $1.run ?? "", $1.datasetId.lowercasedString, $1.detail)
        }
        for g in result.gaps { report(g) }
        return result
    }

    /// `input 'ROLE' of step TASK ID` for a dataset held elsewhere, with the repository that step ran in when its
    /// outputs were copied here.
    private static func usedBy(_ id: UUID, in lineage: Lineage) -> String {
        guard let stepId = lineage.consumers[id]?.first, let step = lineage.steps[stepId] else { return "held by another repository" }
        let role = step.inputs.first { $0.dataset == id }?.role ?? ""
        var text = "input '\(role)' of step \(step.taskLabel) \(stepId.lowercasedString.prefix(8))"
        let origin = step.outputs.lazy.compactMap { lineage.copies[$0.dataset]?.first?.sourceRepository }.first
        if let origin { text += ", which ran in \(origin.label)" }
        return text
    }
}

extension Registry {
    /// The file records of datasets: path (as recorded), size and SHA-256, by dataset.
    package func fileRecords(of ids: [UUID]) throws -> [UUID: [(path: String, size: Int64?, checksum: String?)]] {
        try database.read { c in
            var found: [UUID: [(path: String, size: Int64?, checksum: String?)]] = [:]
            for chunk in ids.chunked(500) {
                for row in try c.query("""
                    SELECT dataset_id, path, file_size, checksum FROM file_datastore_records WHERE dataset_id IN (\(placeholders(chunk.count)))
                    ORDER BY dataset_id, component
                    """, chunk.map { .text($0.lowercasedString) }) {
                    guard let id = row[0].string.flatMap(UUID.init(registryText:)), let path = row[1].string else { continue }
                    found[id, default: []].append((path, row[2].int64, row[3].string))
                }
            }
            return found
        }
    }
}
