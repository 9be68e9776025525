public import Foundation

/// How far a long operation has got: `done` of `total` units (files, tracts, quanta, staged folders). Called as the
/// work advances, possibly from several threads but never at once (see ``ProgressCounter``); the last call has
/// `done == total`. Commands draw it as a progress bar on a terminal.
public typealias ProgressReport = @Sendable (_ done: Int, _ total: Int) -> Void

/// Counts finished units of work done in parallel and reports them, one report at a time.
package final class ProgressCounter: @unchecked Sendable {
    // @unchecked: `done` and the calls to `report` are serialized by the lock.
    private let lock = NSLock()
    private var done = 0
    private let total: Int
    private let report: ProgressReport?

    package init(total: Int, report: ProgressReport?) {
        self.total = total
        self.report = report
    }

    /// Adds finished units and reports the new count.
    package func advance(by units: Int = 1) {
        guard let report else { return }
        lock.lock(); defer { lock.unlock() }
        done += units
        report(min(done, total), total)
    }
}
