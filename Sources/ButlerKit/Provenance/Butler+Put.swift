public import Foundation
import FITS

/// What ``Butler/put(_:)`` registers: a file made elsewhere, with how it was made.
public struct PutRequest: Sendable {
    /// The file to store.
    public var file: String
    public var run: String
    public var datasetType: String
    /// Data ID values (typed against the dataset type's dimensions).
    public var dataId: [String: String]
    /// Inputs, each with a role and a dataset name (a UUID or `TYPE:key=value,...`).
    public var inputs: [(role: String?, dataset: String)] = []
    /// Collections searched for inputs named by data ID.
    public var collections: [String] = []
    /// The step that made the file (`put` when not given).
    public var taskLabel: String?
    public var configs: [ConfigFile] = []
    public var parameters: [String: String] = [:]
    public var environment = SoftwareEnvironment()
    /// QA metrics of the new dataset.
    public var metrics: [String: Double] = [:]
    public var transfer: TransferMode = .copy
    /// The command line to record.
    public var command: String?

    public init(file: String, run: String, datasetType: String, dataId: [String: String]) {
        self.file = file
        self.run = run
        self.datasetType = datasetType
        self.dataId = dataId
    }
}

extension Butler {
    /// Splits `ROLE=REF` (a plain identifier before the first `=` is a role) from a bare reference.
    public static func parseInput(_ text: String) -> (role: String?, dataset: String) {
        guard let eq = text.firstIndex(of: "=") else { return (nil, text) }
        let prefix = String(text[..<eq])
        if isIdentifier(prefix) {
            return (prefix, String(text[text.index(after: eq)...]))
        }
        return (nil, text)
    }

    /// Registers a file made elsewhere as a new dataset with its provenance: the step (task label), inputs with
    /// roles, software environment, configs, parameters and QA metrics. All or nothing.
    ///
    /// ```swift
    /// var request = PutRequest(file: "calexp.fits", run: "u/me/run1", datasetType: "calexp",
    ///                          dataId: ["instrument": "LATISS", "detector": "0", "visit": "2023032100053"])
    /// request.inputs = [("raw", "raw:instrument=LATISS,detector=0,exposure=2023032100053")]
    /// request.taskLabel = "calibrate"
    /// let ref = try butler.put(request)
    /// ```
    /// - Throws: ``ButlerError/Code/notFound`` for a missing input or dataset type, ``ButlerError/Code/conflict``
    ///   for a config that differs from the one this task already used in the run.
    @discardableResult
    public func put(_ request: PutRequest) throws -> DatasetRef {
        try Self.validateTaskLabel(request.taskLabel ?? "put")
        for input in request.inputs { if let role = input.role { try Self.validateTaskLabel(role, what: "input role") } }
        try registry.registerRun(request.run)
        let inputs = try request.inputs.map { input -> (role: String, ref: DatasetRef) in
            let ref = try registry.resolveDataset(input.dataset, collections: request.collections)
            return (input.role ?? ref.datasetType.name, ref)
        }
        let output = try prepareOutput(role: nil, datasetType: request.datasetType, dataId: request.dataId)
        var quantum = Quantum(taskLabel: request.taskLabel ?? "put", run: request.run,
                              dataId: Dictionary(uniqueKeysWithValues: output.dataId.required.map { ($0.0, $0.1.description) }),
                              environment: request.environment, configs: request.configs, parameters: request.parameters, inputs: inputs)
        quantum.command = request.command
        return try store([(output, request.file)], quantum: quantum, transfer: request.transfer, metrics: request.metrics)[0]
    }

    /// An output to store: its role, dataset type and expanded data ID.
    struct PreparedOutput {
        let role: String
        let type: DatasetType
        let dataId: DataCoordinate
    }

    func prepareOutput(role: String?, datasetType: String, dataId: [String: String]) throws -> PreparedOutput {
        var cache: [String: DataCoordinate] = [:]
        return try prepareOutput(role: role, datasetType: datasetType, dataId: dataId, cache: &cache)
    }

    /// Prepares an output, reusing dataset types and expanded data IDs already looked up (batches repeat them).
    func prepareOutput(role: String?, datasetType: String, dataId: [String: String], cache: inout [String: DataCoordinate],
                       records: DimensionRecordCache? = nil) throws -> PreparedOutput {
        let typeKey = "type|" + datasetType
        let type: DatasetType
        if let known = cache[typeKey] {
            type = DatasetType(name: datasetType, storageClass: known.values["storageClass"]?.description ?? "", dimensions: known.dimensions,
                               isCalibration: known.values["isCalibration"] == .int(1))
        } else {
            guard let t = try registry.datasetType(datasetType) else {
                throw ButlerError(.notFound, "no dataset type named '\(datasetType)'; register it with register-dataset-type first")
            }
            type = t
            cache[typeKey] = DataCoordinate(dimensions: t.dimensions, values: ["storageClass": .string(t.storageClass), "isCalibration": .int(t.isCalibration ? 1 : 0)])
        }
        let key = datasetType + "|" + dataId.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        if let known = cache[key] { return PreparedOutput(role: role ?? type.name, type: type, dataId: known) }
        let expanded = try registry.expandDataID(dataId, dimensions: type.dimensions.names, records: records)
        cache[key] = expanded
        return PreparedOutput(role: role ?? type.name, type: type, dataId: expanded)
    }

    /// Stages one output file for its templated path (nothing is staged for `direct`). A FITS output that is the
    /// repository's own copy carries its provenance in its header, as Rubin's do, stamped while the file still has
    /// its temporary name; the recorded size and checksum are those of the stamped file.
    func stageOutput(_ output: PreparedOutput, file: String, id: UUID, quantum: Quantum, transfer: TransferMode,
                     cache: inout [String: [String: String]]) throws -> StagedFile {
        guard FileManager.default.fileExists(atPath: file) else { throw ButlerError(.notFound, "no such file: \(file)") }
        if transfer == .move { try checkMoveSource(file) }
        var relative = ""
        if transfer != .direct {
            let values = try templateValues(run: quantum.run, datasetType: output.type.name, dataId: output.dataId, cache: &cache)
            relative = try fileTemplate(for: output.type).format(values) + RawIngester.fitsExtensionOrOwn(of: file, storageClass: output.type.storageClass)
        }
        let stamps = (transfer == .copy || transfer == .move) && FITSWriter.looksLikeFITS(file)
        let cards = stamps ? HeaderProvenance.cards(for: DatasetRef(id: id, datasetType: output.type, run: quantum.run, dataId: output.dataId),
                                                    quantum: quantum.id, inputs: quantum.inputs.map(\.ref)) : []
        return try datastore.stage(file, at: relative, mode: transfer, checksum: checksumsEnabled && transfer != .direct,
                                   prepare: stamps ? { try FITSWriter.stampProvenance($0, cards: cards) } : nil)
    }

    /// Stages output files and registers them with their quantum (and the claims on their paths) in one
    /// transaction, then publishes them; when anything fails, only the staged files are removed and nothing is
    /// registered.
    func store(_ outputs: [(PreparedOutput, String)], quantum: Quantum, transfer: TransferMode, metrics: [String: Double] = [:],
               extra: ((any SQLConnection) throws -> Void)? = nil) throws -> [DatasetRef] {
        var cache: [String: [String: String]] = [:]
        var staged: [StagedFile] = []
        let ids = outputs.map { _ in DatasetIdGenerationMode.uuid7() }
        let refs: [DatasetRef]
        do {
            for ((output, file), id) in zip(outputs, ids) {
                staged.append(try stageOutput(output, file: file, id: id, quantum: quantum, transfer: transfer, cache: &cache))
            }
            refs = try registry.database.write { c in
                var refs: [(String, DatasetRef)] = []
                for ((output, file), place) in zip(outputs, staged) {
                    var info = StoredFileInfo(path: place.recordedPath, storageClass: output.type.storageClass, checksum: place.checksum, fileSize: place.size)
                    let source = absolutePath(file)
                    info.sourcePath = datastore.contains(source) ? nil : source
                    let ref = try registry.insertDatasets(output.type.name, run: quantum.run, dataIds: [output.dataId.values], idGenerationMode: .unique,
                                                          files: [info], ids: [ids[refs.count]], expandedDataIds: true, in: c)[0]
                    refs.append((output.role, ref))
                }
                try registry.claimPaths(staged, in: c)
                try registry.record(quantum, outputs: refs.map { (role: $0.0, ref: $0.1) }, in: c)
                if let first = refs.first { try registry.recordMetrics(metrics, for: first.1.id, in: c) }
                try extra?(c)
                return refs.map(\.1)
            }
        } catch {
            for file in staged { datastore.discard(file) }
            throw error
        }
        try publish(staged)
        return refs
    }

    /// Gives registered files their final names. A failure here (it takes a broken file system) leaves the files
    /// under their journaled temporary names, which the next open of the repository publishes.
    func publish(_ staged: [StagedFile]) throws {
        try datastore.publishAll(staged)
    }
}
