package import Foundation

/// Where a repository's files live, behind one seam: a folder (``FileDatastore``) or, next, an S3 bucket. Nothing
/// above it knows which it talks to.
///
/// The write path is the same for every backend: ``stage(_:at:mode:checksum:prepare:)`` puts a file under a temporary
/// name beside its final path; the caller registers it with a claim on that path in one transaction; then
/// ``publish(_:)`` gives it its final name, or ``discard(_:)`` removes what the staging created. Removal is two-phase:
/// ``trash(_:claimToken:)`` inside the removing transaction, then ``emptyTrash(_:)`` after the commit or
/// ``restore(_:)`` after a rollback. A backend keeps ``FileDatastore``'s invariants: a file a registry row names is
/// never overwritten, moved or deleted except by a removal; a refused write removes only what it created; no name
/// leads out of the datastore.
package protocol Datastore: Sendable {
    /// The datastore's root as a URI: `file:///...` or `s3://bucket/prefix`.
    var rootURI: URL { get }
    /// Whether an absolute source path is already inside the datastore (ingested in place, never copied).
    func contains(_ path: String) -> Bool
    /// Where a recorded path's file is: a `file://` or `s3://` URL (with `#zip-path=MEMBER` for a member of a stored
    /// Zip, see ``ZipMemberPath``).
    func location(of recordedPath: String) -> URL
    /// Puts a source file under a temporary name beside `relativePath`; see the protocol's documentation.
    func stage(_ source: String, at relativePath: String, mode: TransferMode, checksum: Bool,
               prepare: ((_ temporaryPath: String) throws -> Void)?) throws -> StagedFile
    /// Gives a staged, registered file its final name; never replaces a file.
    func publish(_ staged: StagedFile) throws
    /// Publishes the files of one write (as ``publish(_:)`` each, in fewer round trips where the backend can).
    func publishAll(_ staged: [StagedFile]) throws
    /// Removes what a refused or losing staging created.
    func discard(_ staged: StagedFile)
    /// Sets a registered file aside, inside a removing transaction; nil when there is no file.
    func trash(_ relativePath: String, claimToken: String) throws -> TrashedFile?
    /// Puts a file set aside back (the removal rolled back).
    func restore(_ trashed: TrashedFile)
    /// Deletes a file set aside (the removal committed).
    func emptyTrash(_ trashed: TrashedFile)
    /// The size, and the SHA-256 when `checksum`, of the file at a recorded path; nil when it is not there.
    func measure(recordedPath: String, checksum: Bool) throws -> (size: Int64, checksum: String?)?
    /// Every file in the datastore that no live writer is creating, with its path as the registry records it.
    func forEachStoredFile(_ body: (_ recordedPath: String, _ shown: String) throws -> Void) throws
    /// Copies the file at a location (as ``location(of:)`` gives; a Zip member's bytes for `#zip-path=`) to a new
    /// local file, streamed.
    func download(_ location: URL, to localPath: String) throws
    /// The Zip at a location (a whole file's), opened for reading members; nil when there is no file there. Readers are
    /// shared within the process (``ZipReaderCache``).
    func zipReader(at location: URL) throws -> ZipArchiveReader?
}

extension Datastore {
    func stage(_ source: String, at relativePath: String, mode: TransferMode, checksum: Bool) throws -> StagedFile {
        try stage(source, at: relativePath, mode: mode, checksum: checksum, prepare: nil)
    }
}
