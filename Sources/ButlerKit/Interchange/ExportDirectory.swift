import Foundation

/// The files of an export directory as an import may read them: regular files inside the directory, reached without
/// following a symbolic link, by paths without `..`. What an export names is the sender's to choose, so nothing it
/// names can lead the import to a file elsewhere on this machine (an ssh key, the registry of another repository)
/// or to a FIFO or device that never ends.
struct ExportDirectory: Sendable {
    /// The directory, as given.
    let root: URL
    /// Whether absolute paths (a direct-mode export of Rubin's) are taken where they are (``ImportOptions/allowAbsolutePaths``).
    let allowAbsolutePaths: Bool

    /// The path of a file the export names, checked.
    ///
    /// - Throws: ``ButlerError/Code/invalidValue`` for an absolute path (unless allowed), a path with an empty, `.`
    ///   or `..` component, a symbolic link on the way, or something other than a regular file;
    ///   ``ButlerError/Code/notFound`` when the file is not in the export.
    func file(_ path: String, of dataset: UUID?) throws -> String {
        let owner = dataset.map { " (dataset \($0.lowercasedString))" } ?? ""
        func refuse(_ why: String) -> ButlerError {
            ButlerError(.invalidValue, "\(escapedForMessage(path, limit: 300))\(owner): \(why)")
        }
        if path.hasPrefix("/") {
            guard allowAbsolutePaths else {
                throw refuse("an absolute path; an import reads only files inside its directory \(root.path) "
                             + "(a direct-mode export, whose files stay where they are: -t direct --allow-absolute-paths)")
            }
            try Self.requireRegularFile(path, what: "file\(owner)")
            return path
        }
        let components = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if let bad = components.first(where: { $0.isEmpty || $0 == "." || $0 == ".." }) {
            throw refuse(bad == ".." ? "leads out of the export directory ('..')" : "is not a plain relative path (an empty or '.' component)")
        }
        var current = root.path
        for (index, component) in components.enumerated() {
            current += "/" + component
            var status = stat()
            guard lstat(current, &status) == 0 else {
                if errno == ENOENT || errno == ENOTDIR {
                    throw ButlerError(.notFound, "\(escapedForMessage(path, limit: 160)): file of dataset \(dataset?.lowercasedString ?? "") is not in the export")
                }
                throw refuse("cannot read \(current): \(String(cString: strerror(errno)))")
            }
            let kind = status.st_mode & S_IFMT
            if kind == S_IFLNK {
                throw refuse("\(current) is a symbolic link; an import reads only files inside its directory and never follows a link")
            }
            if index < components.count - 1 {
                guard kind == S_IFDIR else { throw refuse("\(current) is not a folder") }
            } else if kind != S_IFREG {
                throw refuse("\(current) is \(Self.describe(kind)), not a regular file")
            }
        }
        return current
    }

    /// Refuses anything but a regular file (following links): a FIFO, a device or a folder given as an export file or
    /// a provenance file would hang the import or fail deep inside Foundation.
    ///
    /// - Throws: ``ButlerError/Code/invalidValue`` naming the file and what it is.
    static func requireRegularFile(_ path: String, what: String) throws {
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw ButlerError(errno == ENOENT ? .notFound : .io, "\(path): cannot read the \(what): \(String(cString: strerror(errno)))")
        }
        let kind = status.st_mode & S_IFMT
        guard kind == S_IFREG else {
            throw ButlerError(.invalidValue, "\(path): the \(what) is \(describe(kind)), not a regular file")
        }
    }

    private static func describe(_ kind: mode_t) -> String {
        switch kind {
        case S_IFIFO: return "a FIFO"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFDIR: return "a folder"
        case S_IFSOCK: return "a socket"
        case S_IFLNK: return "a symbolic link"
        default: return "not a regular file"
        }
    }
}
