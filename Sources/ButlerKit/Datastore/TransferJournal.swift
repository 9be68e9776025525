package import Foundation
internal import Glibc

/// What a writing process is about to create in the datastore, so that a crash leaves nothing behind for long.
///
/// Before a file (or a staging folder) is created, its path is appended to this process's journal,
/// `DATASTORE/.butler-journal/PID-ID.journal`, which the process holds locked (`flock`) while it lives. The journal
/// is removed when the repository is closed. The next process that opens the repository finds journals whose lock is
/// free (their writer died, say by SIGKILL) and removes the files they list that no registry row names, with their
/// temporary files, then the journals: the datastore goes back to agreeing with the registry, whose own transactions
/// the database already rolled back.
package final class TransferJournal: @unchecked Sendable {
    // @unchecked: `fd` and `path` change only under `lock`.
    static let folderName = ".butler-journal"
    private let folder: URL
    private let lock = NSLock()
    private var fd: Int32 = -1
    private var path: String?

    package init(datastoreRoot: URL) {
        folder = datastoreRoot.appendingPathComponent(Self.folderName)
    }

    deinit { close() }

    /// Notes a file about to be created at `relativePath` (relative to the datastore root).
    package func recordFile(_ relativePath: String) throws { try append("f \(relativePath)\n") }

    /// Notes a folder about to be created (removed whole by recovery).
    package func recordFolder(_ relativePath: String) throws { try append("d \(relativePath)\n") }

    private func append(_ line: String) throws {
        lock.lock()
        defer { lock.unlock() }
        if fd < 0 {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let file = folder.appendingPathComponent("\(getpid())-\(UUID().uuidString.prefix(8)).journal").path
            let opened = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            guard opened >= 0 else { throw ButlerError(.io, "cannot create the transfer journal \(file): \(String(cString: strerror(errno)))") }
            guard flock(opened, LOCK_EX) == 0 else {
                Glibc.close(opened)
                throw ButlerError(.io, "cannot lock the transfer journal \(file): \(String(cString: strerror(errno)))")
            }
            fd = opened
            path = file
        }
        let written = line.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
        guard written == line.utf8.count else { throw ButlerError(.io, "cannot write the transfer journal \(path ?? ""): \(String(cString: strerror(errno)))") }
    }

    /// Removes the journal: everything it listed is either recorded in the registry or was cleaned up.
    package func close() {
        lock.lock()
        defer { lock.unlock() }
        guard fd >= 0 else { return }
        if let path { unlink(path) }
        Glibc.close(fd)
        fd = -1
        path = nil
    }

    /// The entries of every journal under `datastoreRoot`, split by whether their writer is alive.
    static func journals(datastoreRoot: URL) -> [(file: String, alive: Bool, pid: String, entries: [(kind: Character, path: String)])] {
        let folder = datastoreRoot.appendingPathComponent(folderName).path
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return [] }
        var result: [(String, Bool, String, [(Character, String)])] = []
        for name in names.sorted() where name.hasSuffix(".journal") {
            let file = folder + "/" + name
            let probe = open(file, O_RDONLY | O_CLOEXEC)
            guard probe >= 0 else { continue }
            let alive = flock(probe, LOCK_EX | LOCK_NB) != 0
            let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
            Glibc.close(probe)
            let entries = text.split(separator: "\n").compactMap { line -> (Character, String)? in
                guard line.count > 2, let kind = line.first else { return nil }
                return (kind, String(line.dropFirst(2)))
            }
            result.append((file, alive, String(name.prefix { $0 != "-" }), entries))
        }
        return result
    }

    /// Paths that live writers are creating right now (not problems; `verify` leaves them alone).
    static func pathsInFlight(datastoreRoot: URL) -> (files: Set<String>, folders: [String], pids: Set<String>) {
        var files = Set<String>(), folders: [String] = [], pids = Set<String>()
        for journal in journals(datastoreRoot: datastoreRoot) where journal.alive {
            pids.insert(journal.pid)
            for entry in journal.entries { if entry.kind == "d" { folders.append(entry.path) } else { files.insert(entry.path) } }
        }
        return (files, folders, pids)
    }

    /// Cleans up after writers that died: their files without a registry row, their temporary files and staging
    /// folders, then their journals. Paths a live writer also lists are left alone.
    ///
    /// - Returns: the number of files and folders removed.
    @discardableResult
    static func recover(datastoreRoot: URL, isRecorded: (String) throws -> Bool) throws -> Int {
        let all = journals(datastoreRoot: datastoreRoot)
        let dead = all.filter { !$0.alive }
        guard !dead.isEmpty else { return 0 }
        let live = Set(all.filter(\.alive).flatMap { $0.entries.map(\.path) })
        let fm = FileManager.default
        var removed = 0
        for journal in dead {
            for entry in journal.entries where !live.contains(entry.path) {
                let url = datastoreRoot.appendingPathComponent(entry.path)
                if entry.kind == "d" {
                    if (try? fm.removeItem(at: url)) != nil { removed += 1 }
                    continue
                }
                // The dead writer's temporary files beside the target.
                let directory = url.deletingLastPathComponent()
                let prefix = ".\(url.lastPathComponent).tmp-\(journal.pid)-"
                for name in (try? fm.contentsOfDirectory(atPath: directory.path)) ?? [] where name.hasPrefix(prefix) {
                    if unlink(directory.appendingPathComponent(name).path) == 0 { removed += 1 }
                }
                var st = stat()
                if lstat(url.path, &st) == 0, try !isRecorded(entry.path) {
                    if unlink(url.path) == 0 { removed += 1 }
                }
            }
            unlink(journal.file)
        }
        return removed
    }
}
