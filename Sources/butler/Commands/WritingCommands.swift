import ButlerKit

/// A command that changes the repository it names: on a repository this process may only read, it is refused
/// before it starts, in one line (``Butler/requireWritable(repository:)``), instead of failing halfway with an
/// engine's message. Every other command only reads and works on a read-only repository.
protocol WritingCommand {
    var repository: RepositoryArgument { get }
    /// Whether this invocation writes (`--dry-run` does not).
    var writes: Bool { get }
}

extension WritingCommand {
    var writes: Bool { true }
}

extension ButlerCommand.PruneDatasets: WritingCommand { var writes: Bool { !dryRun } }
extension ButlerCommand.Associate: WritingCommand {}
extension ButlerCommand.Disassociate: WritingCommand {}
extension ButlerCommand.CertifyCalibrations: WritingCommand {}
extension ButlerCommand.DecertifyCalibrations: WritingCommand {}
extension ButlerCommand.RegisterCollection: WritingCommand {}
extension ButlerCommand.CollectionChain: WritingCommand {}
extension ButlerCommand.RemoveCollections: WritingCommand {}
extension ButlerCommand.RemoveRuns: WritingCommand {}
extension ButlerCommand.RegisterDatasetType: WritingCommand {}
extension ButlerCommand.RemoveDatasetType: WritingCommand {}
extension ButlerCommand.IngestFiles: WritingCommand {}
extension ButlerCommand.IngestRaws: WritingCommand {}
extension ButlerCommand.DefineVisits: WritingCommand {}
extension ButlerCommand.RegisterInstrument: WritingCommand {}
extension ButlerCommand.RegisterSkymap: WritingCommand {}
extension ButlerCommand.Put: WritingCommand {}
extension ButlerCommand.Record: WritingCommand {}
extension ButlerCommand.Run: WritingCommand { var writes: Bool { jobs == nil } }  // a staged run opens no registry
extension ButlerCommand.MergeStaged: WritingCommand {}
extension ButlerCommand.Import: WritingCommand { var writes: Bool { !dryRun } }
extension ButlerCommand.IngestZip: WritingCommand { var writes: Bool { !dryRun } }
