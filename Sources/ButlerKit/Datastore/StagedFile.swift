/// A file on its way into the datastore: under its temporary name, registered or not, not yet at its final path.
///
/// Made by ``FileDatastore/stage(_:at:mode:checksum:prepare:)``; registered with a claim on ``recordedPath``; then
/// ``FileDatastore/publish(_:)`` or ``FileDatastore/discard(_:)``.
package struct StagedFile: Sendable {
    /// The path to record: relative to the root, or absolute for `direct`.
    package let recordedPath: String
    /// Unique to this write: names the temporary file and goes in the registry's claim on the path.
    package let token: String
    /// The temporary file's name in the final folder (nil when nothing was created: `direct`, or a file in place).
    package let temporaryName: String?
    /// Where a moved file came from, to move it back if the write is refused.
    package let movedFrom: String?
    /// A file moved across file systems was copied; the source goes once the copy is published.
    package var deleteSourceOnPublish: String?
    package var size: Int64
    package var checksum: String?

    init(recordedPath: String, token: String, temporaryName: String?, movedFrom: String?, deleteSourceOnPublish: String? = nil,
         size: Int64, checksum: String?) {
        self.recordedPath = recordedPath
        self.token = token
        self.temporaryName = temporaryName
        self.movedFrom = movedFrom
        self.deleteSourceOnPublish = deleteSourceOnPublish
        self.size = size
        self.checksum = checksum
    }

    /// Whether the registry must hold a claim on the path (every path inside the datastore; a member of a stored Zip
    /// is held by the Zip's claim).
    package var claimsPath: Bool { !recordedPath.hasPrefix("/") && ZipMemberPath(recordedPath: recordedPath) == nil }

    /// A dataset's file that is a member of a Zip staged (or stored) as `zip`: nothing of its own to publish or discard.
    init(member: String, of zip: StagedFile, size: Int64, checksum: String?) {
        self.init(recordedPath: ZipMemberPath(container: zip.recordedPath, member: member).recordedPath, token: zip.token,
                  temporaryName: nil, movedFrom: nil, size: size, checksum: checksum)
    }

    /// `.NAME.butler-tmp-TOKEN`: the name a new file has until it is published.
    static func temporaryName(of name: String, token: String) -> String { ".\(name.prefix(180)).butler-tmp-\(token)" }
    /// `.NAME.butler-orphan-TOKEN`: an unregistered file found at a claimed path, kept for `verify` to report.
    static func orphanName(of name: String, token: String) -> String { ".\(name.prefix(180)).butler-orphan-\(token)" }
}

/// A file renamed aside by a removal that has not committed yet.
package struct TrashedFile: Sendable {
    /// Its path relative to the datastore root.
    package let path: String
    let token: String
    /// The token of the claim the removal deletes (to tell, after a crash, whether the removal rolled back).
    let claimToken: String

    /// `.NAME.butler-trash-TOKEN`, in the file's folder.
    var trashName: String { Self.trashName(of: String(path.split(separator: "/").last ?? ""), token: token) }
    static func trashName(of name: String, token: String) -> String { ".\(name.prefix(180)).butler-trash-\(token)" }
}
