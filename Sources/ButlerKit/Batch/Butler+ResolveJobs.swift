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
        // query each and matched in memory; the others (calibrations, looked up by time) one job at a time.
        let firstDims = Set(types[first.datasetType]!.dimensions.names)
        var bulk: [String: [String: DatasetRef]] = [:]
        for input in request.inputs.dropFirst() where bulk[input.datasetType] == nil {
            let type = types[input.datasetType]!
            guard !type.isCalibration, Set(type.dimensions.names).isSubset(of: firstDims) else { continue }
            var q = DatasetQuery()
            q.datasetTypes = [input.datasetType]
            q.collections = request.collections
            q.findFirst = true
            var index: [String: DatasetRef] = [:]
            _ = try registry.forEachDataset(q) { index[Self.jobKey($0.ref.dataId.values, type.dimensions.required)] = $0.ref }
            bulk[input.datasetType] = index
        }

        var jobs: [JobsFile.Job] = []
        for ref in found {
            let text = ref.dataId.values.mapValues(\.description)
            var inputs: [(String, DatasetRef)] = [(first.role, ref)]
            var missing: String?
            for input in request.inputs.dropFirst() {
                let other: DatasetRef?
                if let index = bulk[input.datasetType] {
                    other = index[Self.jobKey(ref.dataId.values, types[input.datasetType]!.dimensions.required)]
                } else {
                    other = try registry.findDataset(input.datasetType, dataId: text, collections: request.collections)
                }
                guard let other else {
                    missing = "no '\(input.datasetType)' for \(input.role)"
                    break
                }
                inputs.append((input.role, other))
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
            jobs.append(.init(job: jobs.count + 1, dataId: Dictionary(uniqueKeysWithValues: ref.dataId.required.map { ($0.0, $0.1) }),
                              inputs: inputs.map { .init(role: $0.0, id: $0.1.id, datasetType: $0.1.datasetType.name, run: $0.1.run, path: "") },
                              outputs: outputs))
        }
        let locations = try registry.fileLocations(jobs.flatMap { $0.inputs.map(\.id) }, datastoreRoot: datastoreRoot)
        for j in jobs.indices {
            for i in jobs[j].inputs.indices {
                guard let url = locations[jobs[j].inputs[i].id] else {
                    throw ButlerError(.notFound, "input \(jobs[j].inputs[i].datasetType) \(jobs[j].inputs[i].id) of job \(j + 1) has no file in the datastore")
                }
                jobs[j].inputs[i].path = url.isFileURL ? url.path : url.absoluteString
            }
        }
        try JobsFile(header: header, jobs: jobs).write(to: path)
        return jobs.count
    }

    /// The values of some dimensions of a data ID, as one key.
    private static func jobKey(_ values: [String: DataIDValue], _ dimensions: [String]) -> String {
        dimensions.map { values[$0]?.description ?? "" }.joined(separator: "\u{1}")
    }
}
