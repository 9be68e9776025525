internal import Glibc
import Foundation
import Logging

extension String {
    /// The string without leading and trailing spaces and tabs (a fast, Foundation-free trim for header values).
    var trimmedSpaces: String {
        let utf8 = self.utf8
        guard let first = utf8.first, let last = utf8.last, first == 0x20 || first == 0x09 || last == 0x20 || last == 0x09 else { return self }
        var start = utf8.startIndex, end = utf8.endIndex
        while start < end, utf8[start] == 0x20 || utf8[start] == 0x09 { start = utf8.index(after: start) }
        while end > start, utf8[utf8.index(before: end)] == 0x20 || utf8[utf8.index(before: end)] == 0x09 { end = utf8.index(before: end) }
        return String(self[start..<end])
    }
}

/// An absolute path with `.`, `..` and repeated slashes resolved (symbolic links are not followed).
func absolutePath(_ path: String) -> String {
    var full = path
    if !path.hasPrefix("/") {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX))
        let cwd = getcwd(&buffer, buffer.count) != nil ? String(cString: buffer) : "/"
        full = cwd + "/" + path
    }
    if !full.contains("//") && !full.contains("/./") && !full.contains("/../") && !full.hasSuffix("/.") && !full.hasSuffix("/..") {
        return full.count > 1 && full.hasSuffix("/") ? String(full.dropLast()) : full
    }
    var parts: [Substring] = []
    for component in full.split(separator: "/", omittingEmptySubsequences: true) {
        if component == "." { continue }
        if component == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
        parts.append(component)
    }
    return "/" + parts.joined(separator: "/")
}

/// Which file names a folder walk takes: a regular expression matched against the name alone, within a time budget.
///
/// ICU's matcher backtracks, so a pattern such as `(a+)+$` takes exponential time on a name like `aaaa...a.fits`
/// (seconds to hours on one name). Matching is therefore bounded: the name is at most 255 bytes (`NAME_MAX`; longer
/// text is cut), and a match that runs longer than ``budget`` is stopped (through `NSRegularExpression`'s progress
/// callback) and the walk refused with an error naming the pattern and the name, before anything is ingested.
struct FileNamePattern: @unchecked Sendable {
    // @unchecked: NSRegularExpression is immutable after creation and safe to use from several threads.
    let pattern: String
    private let regex: NSRegularExpression
    /// How long one name may take, in seconds.
    static let budget: TimeInterval = 0.1
    /// The longest name matched, in UTF-8 bytes.
    static let maximumNameLength = 255

    init(_ pattern: String) throws {
        self.pattern = pattern
        do { regex = try NSRegularExpression(pattern: pattern) } catch {
            throw ButlerError(.invalidValue, "invalid --regex '\(pattern)': \(error.localizedDescription)")
        }
    }

    /// Whether `name` (a file name, not a path) matches.
    /// - Throws: ``ButlerError/Code/invalidValue`` when the match takes longer than ``budget``.
    func matches(_ name: String) throws -> Bool {
        var text = name
        if text.utf8.count > Self.maximumNameLength { text = String(decoding: text.utf8.prefix(Self.maximumNameLength), as: UTF8.self) }
        let start = DispatchTime.now().uptimeNanoseconds
        let limit = UInt64(Self.budget * 1e9)
        var found = false
        var timedOut = false
        regex.enumerateMatches(in: text, options: [.reportProgress], range: NSRange(text.startIndex..., in: text)) { match, _, stop in
            if match != nil {
                found = true
                stop.pointee = true
            } else if DispatchTime.now().uptimeNanoseconds - start > limit {
                timedOut = true
                stop.pointee = true
            }
        }
        if timedOut && !found {
            throw ButlerError(.invalidValue, "--regex '\(pattern)' took more than \(Self.budget) s on the file name \(escapedForMessage(text, limit: 80)): "
                + "the pattern backtracks catastrophically (nested quantifiers such as (a+)+); simplify it")
        }
        return found
    }
}

/// A folder walk: every regular file under some folders whose name passes a pattern, recursively, as absolute
/// paths, folder by folder, names sorted, using `readdir`'s file types.
///
/// - Hidden entries (`.name`) are skipped.
/// - What is neither a regular file nor a folder (a FIFO, socket or device, directly or through a link) is skipped
///   and said at DEBUG: opening a FIFO would block the ingest forever.
/// - Each folder is walked once, by its (device, inode): a symbolic link back to a folder already walked (a loop,
///   or a second way to the same folder) is skipped and said at DEBUG.
/// - A dangling link is kept, so that the ingest reports it as unreadable.
struct FolderWalk {
    let include: (String) throws -> Bool
    let logger: Logger?
    private var visited = Set<FolderIdentity>()

    private struct FolderIdentity: Hashable { let device: UInt64; let inode: UInt64 }

    init(include: @escaping (String) throws -> Bool, logger: Logger? = nil) {
        self.include = include
        self.logger = logger
    }

    /// Visits every file under `root`.
    mutating func walk(_ root: String, _ visit: (String) throws -> Void) throws {
        guard enter(root) else { return }
        var pending = [root]
        while let folder = pending.popLast() {
            let (files, folders) = try list(folder)
            for file in files { try visit(file) }
            // Depth first, in name order: push the sub-folders reversed.
            for sub in folders.reversed() where enter(sub) { pending.append(sub) }
        }
    }

    /// Whether a folder is new (and marks it seen).
    private mutating func enter(_ folder: String) -> Bool {
        var st = stat()
        guard stat(folder, &st) == 0 else { return true }
        let inserted = visited.insert(FolderIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))).inserted
        if !inserted { logger?.debug("skipping a folder already walked (a symbolic link loop, or a second link to it)", metadata: ["path": "\(folder)"]) }
        return inserted
    }

    /// The files and sub-folders of one folder, each sorted.
    private func list(_ dir: String) throws -> (files: [String], folders: [String]) {
        guard let handle = opendir(dir) else {
            logger?.debug("cannot read folder", metadata: ["path": "\(dir)", "error": "\(String(cString: strerror(errno)))"])
            return ([], [])
        }
        defer { closedir(handle) }
        var files: [String] = []
        var folders: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) } }
            if name.hasPrefix(".") { continue }
            let full = dir + "/" + name
            var type = Int32(entry.pointee.d_type)
            if type == Int32(DT_UNKNOWN) || type == Int32(DT_LNK) {
                var st = stat()
                if stat(full, &st) == 0 {
                    switch st.st_mode & S_IFMT {
                    case S_IFDIR: type = Int32(DT_DIR)
                    case S_IFREG: type = Int32(DT_REG)
                    default: type = Int32(DT_FIFO)  // some other kind of file: skipped below
                    }
                } else {
                    type = Int32(DT_REG)  // a dangling link: reported as unreadable, not skipped
                }
            }
            if type == Int32(DT_DIR) {
                folders.append(full)
            } else if type != Int32(DT_REG) {
                logger?.debug("skipping what is not a regular file (a FIFO, socket or device)", metadata: ["path": "\(full)"])
            } else if try include(name) {
                files.append(full)
            }
        }
        return (files.sorted(), folders.sorted())
    }
}

/// What kind of file a path is (following links), for messages: `nil` for a regular file or a folder.
func irregularFileKind(_ path: String) -> String? {
    var st = stat()
    guard stat(path, &st) == 0 else { return nil }
    switch st.st_mode & S_IFMT {
    case S_IFREG, S_IFDIR: return nil
    case S_IFIFO: return "a FIFO"
    case S_IFSOCK: return "a socket"
    case S_IFCHR: return "a character device"
    case S_IFBLK: return "a block device"
    default: return "not a regular file"
    }
}
