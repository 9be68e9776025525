import ButlerKit
import Foundation

/// A one-line progress bar on stderr: done/total, rate and time left. Shown when stderr is a terminal, unless the
/// global `--no-progress` says otherwise (or `--progress` asks for it anyway, as Rubin's); silent when piped.
final class ProgressBar: @unchecked Sendable {
    // @unchecked: updates are serialized by the lock.
    /// The global `--progress` (true) or `--no-progress` (false); nil: only on a terminal.
    nonisolated(unsafe) static var choice: Bool?
    /// Whether bars are shown at all in this process.
    static var isShown: Bool { choice ?? (isatty(2) == 1) }

    private let enabled: Bool
    private let unit: String
    private let start = Date()
    private var shown = false
    private var lastDrawn = Date.distantPast
    private let lock = NSLock()

    /// - Parameter enabled: the command's own wish (ingest-raws' `--no-progress`); the global choice decides as well.
    init(unit: String, enabled: Bool = true) {
        self.enabled = enabled && Self.isShown
        self.unit = unit
    }

    /// The closure the library calls with its progress (see ``ProgressReport``); nil when no bar is shown, so the
    /// library does not count for nothing.
    var report: ProgressReport? {
        guard enabled else { return nil }
        return { @Sendable [self] done, total in update(done, of: total) }
    }

    /// Draws the bar, at most ten times a second (and always at the end).
    func update(_ done: Int, of total: Int) {
        guard enabled, total > 0 else { return }
        lock.lock(); defer { lock.unlock() }
        let now = Date()
        guard done >= total || now.timeIntervalSince(lastDrawn) >= 0.1 else { return }
        lastDrawn = now
        let elapsed = max(now.timeIntervalSince(start), 1e-3)
        let rate = Double(done) / elapsed
        let left = rate > 0 ? Double(max(0, total - done)) / rate : 0
        let width = 30
        let filled = min(width, Int(Double(width) * Double(done) / Double(total)))
        let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
        let line = String(format: "\r[%@] %d/%d %@, %.0f %@/s, %.0fs left ", bar, done, total, unit, rate, unit, left)
        // Our own text (numbers and a unit), its leading \r meant for the terminal: written as it is.
        FileHandle.standardError.write(Data(line.utf8))
        shown = true
    }

    /// Ends the bar's line, when one was drawn.
    func finish() {
        lock.lock(); defer { lock.unlock() }
        if shown { FileHandle.standardError.write(Data("\n".utf8)) }
        shown = false
    }
}
