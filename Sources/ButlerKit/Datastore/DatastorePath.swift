internal import Foundation
internal import Glibc

/// A path inside the datastore: relative to its root, made of checked components, and reached one folder at a time
/// without following symbolic links.
///
/// Every file the datastore creates, renames or deletes is named through this type, so no name (a run, a dataset
/// type, a data ID value, a header value, a template's literal text) can lead outside the root, and no link planted
/// inside the datastore (`ln -s /elsewhere DATASTORE/u/sym`) is ever written or deleted through.
struct DatastorePath: Sendable, Hashable, CustomStringConvertible {
    /// The components, each checked by ``validate(_:)``.
    let components: [String]

    /// The longest component most filesystems take.
    static let maxComponentBytes = 255
    /// The longest relative path accepted (PATH_MAX is 4096 with the root in front).
    static let maxPathBytes = 3000

    /// Parses and checks a relative path.
    ///
    /// - Throws: ``ButlerError/Code/invalidValue`` naming the path and what is wrong with it.
    init(_ relative: String) throws {
        guard !relative.isEmpty else { throw ButlerError(.invalidValue, "empty datastore path") }
        guard !relative.hasPrefix("/") else { throw ButlerError(.invalidValue, "datastore path '\(relative)' is absolute; it must be relative to the datastore root") }
        guard relative.utf8.count <= Self.maxPathBytes else {
            throw ButlerError(.invalidValue, "datastore path '\(relative.prefix(80))...' is longer than \(Self.maxPathBytes) bytes")
        }
        let parts = relative.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        for part in parts { try Self.validate(part, in: relative) }
        components = parts
    }

    /// Checks one component: not empty, not `.` or `..`, no NUL or control character, at most 255 bytes.
    static func validate(_ component: String, in path: String) throws {
        func refuse(_ why: String) -> ButlerError {
            ButlerError(.invalidValue, "datastore path '\(Self.printable(path))' \(why)")
        }
        if component.isEmpty { throw refuse("has an empty component") }
        if component == "." || component == ".." { throw refuse("has a '\(component)' component, which would leave its folder") }
        if component.utf8.count > maxComponentBytes { throw refuse("has a component longer than \(maxComponentBytes) bytes") }
        if component.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) { throw refuse("contains a control character") }
    }

    /// A path with control characters shown escaped, for messages.
    static func printable(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars.prefix(200) {
            if scalar.value < 0x20 || scalar.value == 0x7F { out += String(format: "\\x%02X", scalar.value) } else { out.unicodeScalars.append(scalar) }
        }
        return out
    }

    var description: String { components.joined(separator: "/") }
    /// The last component: the file's own name.
    var name: String { components.last! }
    /// The folders that lead to the file.
    var folders: ArraySlice<String> { components.dropLast() }

    /// A sibling in the same folder, named `name`.
    func sibling(_ name: String) -> DatastorePath {
        var copy = self
        copy = DatastorePath(unchecked: Array(components.dropLast()) + [name])
        return copy
    }

    private init(unchecked components: [String]) { self.components = components }
}

/// An open folder of the datastore, reached without following links. Closed when it goes away.
final class DatastoreFolder {
    let fd: Int32
    /// The folder's path relative to the root, for messages.
    let relative: String

    private init(fd: Int32, relative: String) {
        self.fd = fd
        self.relative = relative
    }

    deinit { close(fd) }

    /// Opens the folder that holds `path` under `root`, one component at a time with `O_NOFOLLOW`, creating the
    /// missing ones when `create` is set. The root itself may be a link (it is the repository's configuration).
    ///
    /// - Throws: ``ButlerError/Code/io`` when a component is a symbolic link or not a folder, or cannot be made.
    static func open(holding path: DatastorePath, under root: URL, create: Bool) throws -> DatastoreFolder {
        try open(path.folders, under: root, create: create, for: path.description)
    }

    static func open(_ folders: ArraySlice<String>, under root: URL, create: Bool, for description: String) throws -> DatastoreFolder {
        var fd = Glibc.open(root.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw ButlerError(.io, "cannot open the datastore root \(root.path): \(String(cString: strerror(errno)))") }
        var walked: [String] = []
        for component in folders {
            walked.append(component)
            var next = openat(fd, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if next < 0 && errno == ENOENT && create {
                if mkdirat(fd, component, 0o755) != 0 && errno != EEXIST {
                    let reason = String(cString: strerror(errno))
                    close(fd)
                    throw ButlerError(.io, "cannot create datastore folder \(root.path)/\(walked.joined(separator: "/")): \(reason)")
                }
                next = openat(fd, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            if next < 0 {
                let code = errno
                close(fd)
                let place = "\(root.path)/\(walked.joined(separator: "/"))"
                if code == ELOOP || code == ENOTDIR {
                    var st = stat()
                    let isLink = lstat(place, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK
                    throw ButlerError(.io, "datastore path \(description) passes through \(place), which is \(isLink ? "a symbolic link" : "not a folder"); the datastore never writes or deletes through a link it did not make")
                }
                throw ButlerError(code == ENOENT ? .notFound : .io, "cannot open datastore folder \(place): \(String(cString: strerror(code)))")
            }
            close(fd)
            fd = next
        }
        return DatastoreFolder(fd: fd, relative: folders.joined(separator: "/"))
    }

    /// Whether an entry (of any kind, links not followed) exists in the folder.
    func contains(_ name: String) -> Bool {
        var st = stat()
        return fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0
    }

    /// The path of an entry through this open folder (`/proc/self/fd/N/name`): path-based code (CFITSIO) then
    /// reaches exactly this folder, whatever happens to the names above it.
    func pinnedPath(_ name: String) -> String { "/proc/self/fd/\(fd)/\(name)" }
}
