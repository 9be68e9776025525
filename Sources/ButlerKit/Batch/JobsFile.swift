public import Foundation

/// The inputs of many batch jobs, resolved once against the registry so that the jobs themselves never open it.
///
/// Format `butler-jobs`, version 1, JSON Lines: a header line, then one line per job, numbered from 1 (a Slurm array
/// index, an HTCondor `$(Process)` + 1). Written by ``Butler/resolveJobs(_:to:)`` (`butler resolve-inputs`), read by
/// a staged `butler run --jobs FILE --job N`; written a job at a time by ``Writer``.
///
/// ```
/// {"format":"butler-jobs","version":1,"dataset_types":{"raw":{"storage_class":"Exposure","dimensions":[...]}, ...}}
/// {"job":1,"data_id":{"instrument":"LSSTCam",...},"inputs":[{"role":"raw","id":"...","dataset_type":"raw","run":"...","path":"/..."}],
///  "outputs":[{"role":"postISRCCD","dataset_type":"postISRCCD","data_id":{...}}]}
/// ```
public struct JobsFile: Sendable {
    /// The header line.
    public struct Header: Codable, Sendable {
        public var format = "butler-jobs"
        public var version = 1
        /// The repository the inputs were resolved in.
        public var repository: RepositoryIdentity?
        /// The collections searched.
        public var collections: [String] = []
        /// Every dataset type the jobs read or write.
        public var datasetTypes: [String: TypeInfo] = [:]

        public init() {}

        private enum CodingKeys: String, CodingKey { case format, version, repository, collections, datasetTypes }
        private enum RepositoryKeys: String, CodingKey { case id, name }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            format = try c.decode(String.self, forKey: .format)
            version = try c.decode(Int.self, forKey: .version)
            repository = try c.decodeIfPresent(RepositoryIdentity.self, forKey: .repository)
            collections = try c.decodeIfPresent([String].self, forKey: .collections) ?? []
            datasetTypes = try c.decodeIfPresent([String: TypeInfo].self, forKey: .datasetTypes) ?? [:]
        }

        /// The repository id in lower case, as every UUID the butler prints.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(format, forKey: .format)
            try c.encode(version, forKey: .version)
            if let repository {
                var r = c.nestedContainer(keyedBy: RepositoryKeys.self, forKey: .repository)
                try r.encode(repository.id.lowercasedString, forKey: .id)
                try r.encode(repository.name, forKey: .name)
            }
            try c.encode(collections, forKey: .collections)
            try c.encode(datasetTypes, forKey: .datasetTypes)
        }
    }

    /// What a job needs to know of a dataset type to name and stamp its files.
    public struct TypeInfo: Codable, Sendable, Hashable {
        public var storageClass: String
        /// The required dimensions, in universe order.
        public var dimensions: [String]
    }

    /// One job: its data ID, resolved inputs and the outputs it must write.
    public struct Job: Codable, Sendable {
        public var job: Int
        public var dataId: [String: DataIDValue]
        public var inputs: [Input]
        public var outputs: [Output]
    }

    /// A resolved input: the dataset's id, type, RUN and file.
    public struct Input: Codable, Sendable {
        public var role: String
        public var id: UUID
        public var datasetType: String
        public var run: String
        /// The absolute path of its file.
        public var path: String

        private enum CodingKeys: String, CodingKey { case role, id, datasetType, run, path }

        /// The id in lower case, as every UUID the butler prints (`JSONEncoder` writes upper case).
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(role, forKey: .role)
            try c.encode(id.lowercasedString, forKey: .id)
            try c.encode(datasetType, forKey: .datasetType)
            try c.encode(run, forKey: .run)
            try c.encode(path, forKey: .path)
        }
    }

    /// An output to write: its role, dataset type and (required) data ID.
    public struct Output: Codable, Sendable {
        public var role: String
        public var datasetType: String
        public var dataId: [String: DataIDValue]
    }

    // Snake-case keys (the strategy leaves dictionary keys, data ID keys and dataset type names, alone).
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }()

    /// Reads the header and job `number` only: the file is scanned for line starts, and no other job is decoded, so
    /// a job of a million-line file starts as fast as one of ten.
    /// - Throws: ``ButlerError/Code/invalidValue`` for a file that is not a jobs file, ``ButlerError/Code/notFound``
    ///   for a number it does not have.
    public static func job(_ number: Int, in path: String) throws -> (header: Header, job: Job) {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
            throw ButlerError(.io, "cannot read the jobs file \(path): \(error.localizedDescription)")
        }
        var lines: [Range<Int>] = []
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            var start = 0
            // The header, then line `number` (job N is line N + 1): stop as soon as it is found.
            while start < raw.count, lines.count <= number {
                let rest = UnsafeRawBufferPointer(rebasing: raw[start...])
                let end = rest.firstIndex(of: 10).map { start + $0 } ?? raw.count
                lines.append(start..<end)
                start = end + 1
            }
        }
        guard let first = lines.first else { throw ButlerError(.invalidValue, "\(path): empty, not a butler jobs file") }
        let header: Header
        do { header = try decoder.decode(Header.self, from: data[first]) } catch {
            throw ButlerError(.invalidValue, "\(path): line 1 is not a butler jobs header (\(describeDecoding(error)))")
        }
        guard header.format == "butler-jobs" else { throw ButlerError(.invalidValue, "\(path): format '\(header.format)' is not butler-jobs") }
        guard header.version == 1 else {
            throw ButlerError(.invalidValue, "\(path): jobs format version \(header.version) is newer than this butler reads (1)")
        }
        guard number >= 1, number < lines.count, !lines[number].isEmpty else {
            throw ButlerError(.notFound, "\(path) has no job \(number) (jobs are numbered 1 to \(max(0, lines.count - 1)))")
        }
        let job: Job
        do { job = try decoder.decode(Job.self, from: data[lines[number]]) } catch {
            throw ButlerError(.invalidValue, "\(path): line \(number + 1) is not a job (\(describeDecoding(error)))")
        }
        guard job.job == number else {
            throw ButlerError(.invalidValue, "\(path): line \(number + 1) holds job \(job.job), not \(number)")
        }
        return (header, job)
    }
}
