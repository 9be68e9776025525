public import Foundation

/// What ``Butler/resolveJobs(_:to:)`` resolves: one job per dataset of the first input's type found by a query, the
/// other inputs looked up with each job's data ID, and the outputs each job must write.
public struct JobsRequest: Sendable {
    /// Inputs as `(role, dataset type)`; the first defines the jobs.
    public var inputs: [(role: String, datasetType: String)]
    /// Outputs as `(role, dataset type)`; their data IDs are the job's, cut to the type's dimensions.
    public var outputs: [(role: String, datasetType: String)] = []
    /// Collections searched, in order (the first match wins, calibrations by the job's observation time).
    public var collections: [String]
    /// A `--where` expression on the first input's datasets.
    public var `where` = ""
    public var binds: [String: BindValue] = [:]

    public init(inputs: [(role: String, datasetType: String)], collections: [String]) {
        self.inputs = inputs
        self.collections = collections
    }
}

extension Butler {
    /// Resolves the inputs of many jobs at once and writes them to a jobs file (``JobsFile``), so that each batch job
    /// can run its step with a staged ``StagedRun`` without opening the registry.
    ///
    /// A job whose other inputs cannot all be found is left out and reported through `skipped`.
    /// - Returns: the number of jobs written.
    /// - Throws: ``ButlerError/Code/notFound`` for an unknown dataset type, ``ButlerError/Code/invalidValue`` for an
    ///   output type with a dimension the jobs' data IDs do not give.
    @discardableResult
    public func resolveJobs(_ request: JobsRequest, to path: String, skipped: (String) -> Void = { _ in }) throws -> Int {
        guard let first = request.inputs.first else { throw ButlerError(.invalidValue, "give at least one input (ROLE=DATASET_TYPE)") }
        var roles = Set<String>()
        for role in request.inputs.map(\.role) + request.outputs.map(\.role) {
            try Self.validateTaskLabel(role, what: "role")
            guard roles.insert(role).inserted else { throw ButlerError(.invalidValue, "role '\(role)' is given twice") }
        }
        var header = JobsFile.Header()
        header.repository = identity
        header.collections = request.collections
        var types: [String: DatasetType] = [:]
        for name in Set(request.inputs.map(\.datasetType) + request.outputs.map(\.datasetType)) {
            guard let type = try registry.datasetType(name) else {
                throw ButlerError(.notFound, "no dataset type named '\(name)'; register it with register-dataset-type first")
            }
            types[name] = type
            header.datasetTypes[name] = JobsFile.TypeInfo(storageClass: type.storageClass, dimensions: type.dimensions.required)
        }
        var query = DatasetQuery()
        query.datasetTypes = [first.datasetType]
        query.collections = request.collections
        query.where = request.where
        query.binds = request.binds
        query.findFirst = true
        var found: [DatasetRef] = []
        _ = try registry.forEachDataset(query) { found.append($0.ref) }
        found.sort { $0.dataId.required.map(\.1) .lexicographicallyPrecedes($1.dataId.required.map(\.1)) }

        // Other inputs that are not calibrations and whose dimensions the jobs' data IDs give are found with one
        // query each and matched in memory (kept small: id, type and RUN); the others (calibrations, looked up by
        // time) one job at a time.
        let firstDims = Set(types[first.datasetType]!.dimensions.names)
        var bulk: [String: [String: JobsFile.Input]] = [:]
        for input in request.inputs.dropFirst() where bulk[input.datasetType] == nil {
            let type = types[input.datasetType]!
            guard !type.isCalibration, Set(type.dimensions.names).isSubset(of: firstDims) else { continue }
            var q = DatasetQuery()
            q.datasetTypes = [input.datasetType]
            q.collections = request.collections
            q.findFirst = true
            var index: [String: JobsFile.Input] = [:]
            _ = try registry.forEachDataset(q) { result in
                let ref = result.ref
                index[Self.jobKey(ref.dataId.values, type.dimensions.required)] = .init(role: "", id: ref.id, datasetType: ref.datasetType.name, run: ref.run, path: "")
            }
            bulk[input.datasetType] = index
        }

        // Jobs are resolved, given their files' locations and written a chunk at a time.
        let writer = try JobsFile.Writer(path: path, header: header)
        var chunk: [JobsFile.Job] = []
        func writeChunk() throws {
            let locations = try fileLocations(chunk.flatMap { $0.inputs.map(\.id) })
            for var job in chunk {
                for i in job.inputs.indices {
                    guard let url = locations[job.inputs[i].id] else {
                        throw ButlerError(.notFound, "input \(job.inputs[i].datasetType) \(job.inputs[i].id) of job \(job.job) has no file in the datastore")
                    }
                    job.inputs[i].path = url.isPlainLocalFile ? url.path : url.absoluteString
                }
                try writer.append(job)
            }
            chunk.removeAll(keepingCapacity: true)
        }
        for ref in found {
            let text = ref.dataId.values.mapValues(\.description)
            var inputs: [JobsFile.Input] = [.init(role: first.role, id: ref.id, datasetType: ref.datasetType.name, run: ref.run, path: "")]
            var missing: String?
            for input in request.inputs.dropFirst() {
                var other: JobsFile.Input?
                if let index = bulk[input.datasetType] {
                    other = index[Self.jobKey(ref.dataId.values, types[input.datasetType]!.dimensions.required)]
                } else if let found = try registry.findDataset(input.datasetType, dataId: text, collections: request.collections) {
                    other = .init(role: "", id: found.id, datasetType: found.datasetType.name, run: found.run, path: "")
                }
                guard var other else {
                    missing = "no '\(input.datasetType)' for \(input.role)"
                    break
                }
                other.role = input.role
                inputs.append(other)
            }
            if let missing {
                skipped("\(first.datasetType) \(ref.dataId): \(missing) in \(request.collections.joined(separator: ", "))")
                continue
            }
            var outputs: [JobsFile.Output] = []
            for output in request.outputs {
                let type = types[output.datasetType]!
                var dataId: [String: DataIDValue] = [:]
                for dim in type.dimensions.required {
                    guard let value = ref.dataId.values[dim] else {
                        throw ButlerError(.invalidValue, "output '\(output.role)=\(output.datasetType)' needs '\(dim)', which the data IDs of '\(first.datasetType)' do not give")
                    }
                    dataId[dim] = value
                }
                outputs.append(.init(role: output.role, datasetType: output.datasetType, dataId: dataId))
            }
            chunk.append(.init(job: writer.count + chunk.count + 1, dataId: Dictionary(uniqueKeysWithValues: ref.dataId.required.map { ($0.0, $0.1) }),
                               inputs: inputs, outputs: outputs))
            if chunk.count == 2000 { try writeChunk() }
        }
        try writeChunk()
        try writer.finish()
        return writer.count
    }

    /// The values of some dimensions of a data ID, as one key.
    private static func jobKey(_ values: [String: DataIDValue], _ dimensions: [String]) -> String {
        dimensions.map { values[$0]?.description ?? "" }.joined(separator: "\u{1}")
    }
}
