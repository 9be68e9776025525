/// How an ingest puts a file into the datastore (Rubin's modes).
public enum TransferMode: String, Sendable, CaseIterable {
    /// Files already inside the datastore stay where they are; others are linked (`link`).
    case auto
    /// Copy into the templated path.
    case copy
    /// Move into the templated path.
    case move
    /// Hard link, falling back to a symbolic link across file systems.
    case link
    /// Hard link.
    case hardlink
    /// Symbolic link with an absolute target.
    case symlink
    /// Symbolic link with a target relative to the link.
    case relsymlink
    /// No transfer: the registry records the file's absolute path (for permanent raw archives).
    case direct
}
