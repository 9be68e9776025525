package import Foundation
internal import Glibc

/// What a writing process is about to create or remove in the datastore, so that a crash leaves nothing behind.
///
/// Before a temporary file (or a staging folder) is created, or a file is renamed aside for removal, a line is
/// appended to this process's journal, `DATASTORE/.butler-journal/PID-ID.journal`, which the process holds locked
/// (`flock`) while it lives:
///
/// - `t PATH<TAB>TOKEN`: a new file for PATH under its temporary name (see ``StagedFile``);
/// - `r PATH<TAB>TOKEN<TAB>CLAIM`: the file at PATH renamed aside by a removal that deletes the claim CLAIM;
/// - `d FOLDER`: a staging folder, removed whole.
///
/// The journal is removed when the repository is closed. The next process that opens the repository finds journals
/// whose lock is free (their writer died, say by SIGKILL) and finishes or undoes what they list, using the
/// registry's claims (`datastore_path`) to tell what committed: a temporary file whose claim committed takes its
/// final name, any other is deleted; a file renamed aside is put back if its claim is still there, else deleted.
package final class TransferJournal: @unchecked Sendable {
    // @unchecked: `fd` and `path` change only under `lock`.
    static let folderName = ".butler-journal"
    private let folder: URL
    /// The folder the journal folder is in (the datastore root, or the repository folder for a bucket).
    package let folderRoot: URL
    private let lock = NSLock()
    private var fd: Int32 = -1
    private var path: String?
    /// Set when something it lists could not be finished; the journal then outlives the process for recovery.
    private var keep = false

    package init(datastoreRoot: URL) {
        folderRoot = datastoreRoot
        folder = datastoreRoot.appendingPathComponent(Self.folderName)
    }

    deinit { close() }

    /// Notes a temporary file about to be created for `relativePath` (relative to the datastore root).
    package func recordTemporary(_ relativePath: String, token: String) throws { try append("t \(relativePath)\t\(token)\n") }

    /// Notes a file about to be renamed aside by a removal that deletes the claim `claimToken`.
    package func recordTrash(_ relativePath: String, token: String, claimToken: String) throws {
        try append("r \(relativePath)\t\(token)\t\(claimToken)\n")
    }

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

    /// Keeps the journal when the process ends: something it lists (a registered file not yet at its final name)
    /// is left for the next open's recovery to finish.
    package func keepForRecovery() {
        lock.lock()
        defer { lock.unlock() }
        keep = true
    }

    /// Removes the journal: everything it listed is either recorded in the registry or was cleaned up.
    package func close() {
        lock.lock()
        defer { lock.unlock() }
        guard fd >= 0 else { return }
        if let path, !keep { unlink(path) }
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

    /// What live writers are creating or removing right now (not problems; `verify` leaves them alone).
    static func pathsInFlight(datastoreRoot: URL) -> (files: Set<String>, folders: [String], pids: Set<String>) {
        var files = Set<String>(), folders: [String] = [], pids = Set<String>()
        for journal in journals(datastoreRoot: datastoreRoot) where journal.alive {
            pids.insert(journal.pid)
            for entry in journal.entries {
                if entry.kind == "d" { folders.append(entry.path) } else { files.insert(String(entry.path.prefix { $0 != "\t" })) }
            }
        }
        return (files, folders, pids)
    }

    /// Finishes or undoes what writers that died left: see the type's documentation. Entries a live writer also
    /// lists are left alone.
    ///
    /// - Parameter claimToken: the token of the registry's claim on a path, nil when no claim holds it.
    /// - Returns: the number of files and folders removed, restored or published.
    @discardableResult
    static func recover(datastoreRoot: URL, claimToken: (String) throws -> String?) throws -> Int {
        try replayDead(root: datastoreRoot) { kind, fields, pid in
            var done = 0
            switch kind {
            case "d":
                guard let path = try? DatastorePath(fields[0]) else { return 0 }
                if (try? FileManager.default.removeItem(at: datastoreRoot.appendingPathComponent(path.description))) != nil { done += 1 }
            case "t" where fields.count == 2:
                guard let path = try? DatastorePath(fields[0]),
                      let folder = try? DatastoreFolder.open(holding: path, under: datastoreRoot, create: false) else { return 0 }
                let temporary = StagedFile.temporaryName(of: path.name, token: fields[1])
                guard folder.contains(temporary) else { return 0 }
                if try claimToken(path.description) == fields[1] {
                    // Registered before the crash: give it its name.
                    try FileDatastore.publish(temporary, as: path.name, in: folder, token: fields[1])
                } else {
                    unlinkat(folder.fd, temporary, 0)
                }
                done += 1
            case "r" where fields.count == 3:
                guard let path = try? DatastorePath(fields[0]),
                      let folder = try? DatastoreFolder.open(holding: path, under: datastoreRoot, create: false) else { return 0 }
                let trashed = TrashedFile(path: path.description, token: fields[1], claimToken: fields[2])
                guard folder.contains(trashed.trashName) else { return 0 }
                if try claimToken(path.description) == fields[2], !folder.contains(path.name) {
                    // The removal rolled back: the file is still registered.
                    if linkat(folder.fd, trashed.trashName, folder.fd, path.name, 0) == 0 { unlinkat(folder.fd, trashed.trashName, 0) }
                } else {
                    unlinkat(folder.fd, trashed.trashName, 0)
                }
                done += 1
            case "f":
                // Written by earlier versions: a file created at its final name, and its `.tmp-PID-` copies.
                guard let path = try? DatastorePath(fields[0]),
                      let folder = try? DatastoreFolder.open(holding: path, under: datastoreRoot, create: false) else { return 0 }
                let prefix = ".\(path.name).tmp-\(pid)-"
                let directory = datastoreRoot.appendingPathComponent(path.folders.joined(separator: "/"))
                for name in (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [] where name.hasPrefix(prefix) {
                    if unlinkat(folder.fd, name, 0) == 0 { done += 1 }
                }
                if folder.contains(path.name), try claimToken(path.description) == nil {
                    if unlinkat(folder.fd, path.name, 0) == 0 { done += 1 }
                }
            default:
                break
            }
            return done
        }
    }

    /// Replays the journals of writers that died under `root` (a datastore folder, or a repository folder for a
    /// bucket): `handle` gets each entry that no live writer also lists (its kind, its tab-separated fields, the dead
    /// writer's pid) and returns how many files it finished or undid; each dead journal is removed afterwards.
    ///
    /// - Returns: the total `handle` counted.
    static func replayDead(root: URL, _ handle: (_ kind: Character, _ fields: [String], _ pid: String) throws -> Int) throws -> Int {
        let all = journals(datastoreRoot: root)
        let dead = all.filter { !$0.alive }
        guard !dead.isEmpty else { return 0 }
        let live = Set(all.filter(\.alive).flatMap { $0.entries.map { String($0.path.prefix { $0 != "\t" }) } })
        var done = 0
        for journal in dead {
            for entry in journal.entries {
                let fields = entry.path.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
                guard !live.contains(fields[0]) else { continue }
                done += try handle(entry.kind, fields, journal.pid)
            }
            unlink(journal.file)
        }
        return done
    }
}
