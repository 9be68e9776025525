public import Foundation

/// What a staged `butler run` leaves for ``Butler/mergeStaged(_:)``: one step's whole provenance, written as
/// `quantum.json` into the step's folder of the staging area after every other file of the folder.
///
/// Format `butler-staged-quantum`, version 1 (JSON). The step is a ``ProvenanceBundle/Step`` with its outputs'
/// dataset ids already assigned (so that FITS headers can carry them); the outputs' files lie beside `quantum.json`
/// under the names given here, with their size and SHA-256 as the job measured them.
public struct StagedQuantum: Codable, Sendable {
    public var format = "butler-staged-quantum"
    public var version = 1
    /// The job's number in its jobs file.
    public var job: Int?
    /// The jobs file the job came from.
    public var jobsFile: String?
    /// The step: id, task, RUN, data ID, host, user, command, times, status, exit code, configs, parameters, inputs
    /// and outputs by id (the log dataset is among the outputs, role `log`).
    public var step: ProvenanceBundle.Step
    public var environment: ProvenanceBundle.Environment
    public var configs: [ProvenanceBundle.Config]
    /// Why the step failed, if it did.
    public var failure: String?
    /// QA metrics of the first output.
    public var metrics: [String: Double]
    /// The inputs, as the jobs file resolved them.
    public var inputs: [JobsFile.Input]
    public var outputs: [Output]
    /// The dataset types of the outputs, as the jobs file gave them.
    public var datasetTypes: [String: JobsFile.TypeInfo]

    /// An output file of the step.
    public struct Output: Codable, Sendable {
        public var role: String
        public var id: UUID
        public var datasetType: String
        /// The required dimensions' values.
        public var dataId: [String: DataIDValue]
        /// The file's name in the step's folder.
        public var file: String
        public var size: Int64
        /// SHA-256, hex.
        public var sha256: String
    }

    /// The name of the record in a step's folder; a folder without it is not complete.
    public static let fileName = "quantum.json"

    /// Encodes the record (snake-case keys, sorted; the key strategy leaves dictionary keys alone).
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// Reads a record, refusing anything but this format and version.
    /// - Parameter source: names the file in errors.
    public static func decode(_ data: Data, source: String) throws -> StagedQuantum {
        let record: StagedQuantum
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do { record = try decoder.decode(StagedQuantum.self, from: data) } catch {
            // A foreign file is called that rather than a record missing keys. (Read only when the record is not one:
            // reading the head first parsed every record twice, a tenth of a merge.)
            struct Head: Decodable { var format: String?; var version: Int? }
            if let head = try? decoder.decode(Head.self, from: data), let format = head.format, format != "butler-staged-quantum" {
                throw ButlerError(.invalidValue, "\(source): format '\(format)' is not butler-staged-quantum")
            }
            if data.isEmpty { throw ButlerError(.invalidValue, "\(source): empty, not a staged quantum record") }
            throw ButlerError(.invalidValue, "\(source): not a staged quantum record (\(describeDecoding(error)))")
        }
        guard record.format == "butler-staged-quantum" else {
            throw ButlerError(.invalidValue, "\(source): format '\(record.format)' is not butler-staged-quantum")
        }
        guard record.version == 1 else {
            throw ButlerError(.invalidValue, "\(source): staged quantum format version \(record.version) is newer than this butler reads (1)")
        }
        return record
    }
}
