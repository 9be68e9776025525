public import Foundation

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
        if prefix.range(of: "^[A-Za-z_][A-Za-z0-9_]*$", options: .regularExpression) != nil {
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
        guard let type = try registry.datasetType(request.datasetType) else {
            throw ButlerError(.notFound, "no dataset type named '\(request.datasetType)'; register it with register-dataset-type first")
        }
        guard FileManager.default.fileExists(atPath: request.file) else {
            throw ButlerError(.notFound, "no such file: \(request.file)")
        }
        try registry.registerRun(request.run)
        let dataId = try registry.expandDataID(request.dataId, dimensions: type.dimensions.names)
        let inputs = try request.inputs.map { input -> (role: String, ref: DatasetRef) in
            let ref = try registry.resolveDataset(input.dataset, collections: request.collections)
            return (input.role ?? ref.datasetType.name, ref)
        }
        var cache: [String: [String: String]] = [:]
        let values = try templateValues(run: request.run, datasetType: type.name, dataId: dataId, cache: &cache)
        let relative = try fileTemplate(for: type).format(values) + RawIngester.fitsExtensionOrOwn(of: request.file, storageClass: type.storageClass)
        let placed = try datastore.transfer(request.file, to: relative, mode: request.transfer, checksum: checksumsEnabled)
        var quantum = Quantum(taskLabel: request.taskLabel ?? "put", run: request.run,
                              dataId: Dictionary(uniqueKeysWithValues: dataId.required.map { ($0.0, $0.1.description) }),
                              environment: request.environment, configs: request.configs, parameters: request.parameters, inputs: inputs)
        quantum.command = request.command
        do {
            return try registry.database.write { c in
                var file = StoredFileInfo(path: placed.recordedPath, storageClass: type.storageClass, checksum: placed.checksum, fileSize: placed.size)
                let source = absolutePath(request.file)
                file.sourcePath = datastore.contains(source) ? nil : source
                let refs = try registry.insertDatasets(type.name, run: request.run, dataIds: [dataId.values], idGenerationMode: .unique,
                                                       files: [file], in: c)
                try registry.record(quantum, outputs: [(type.name, refs[0])], in: c)
                try registry.recordMetrics(request.metrics, for: refs[0].id, in: c)
                return refs[0]
            }
        } catch {
            if let created = placed.created { datastore.remove(created) }
            throw error
        }
    }
}
