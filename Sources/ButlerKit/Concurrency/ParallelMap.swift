import Foundation

/// Maps `items` with `transform` on up to `workers` threads, keeping the order (raw ingest's header reads and
/// transfers, an import's file staging).
func parallelMap<T: Sendable, R: Sendable>(_ items: [T], workers: Int, _ transform: @escaping @Sendable (T) -> R) -> [R] {
    guard !items.isEmpty else { return [] }
    let box = ResultBox<R>(count: items.count)
    DispatchQueue.concurrentPerform(iterations: max(1, min(workers, items.count))) { _ in
        while let i = box.claim() {
            box.store(transform(items[i]), at: i)
        }
    }
    return box.results()
}

/// Results of a parallel map: slots filled by index under a lock.
private final class ResultBox<R: Sendable>: @unchecked Sendable {
    // @unchecked: every access goes through `lock`.
    private let lock = NSLock()
    private var slots: [R?]
    private var next = 0

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func claim() -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard next < slots.count else { return nil }
        next += 1
        return next - 1
    }

    func store(_ value: R, at index: Int) {
        lock.lock(); defer { lock.unlock() }
        slots[index] = value
    }

    func results() -> [R] {
        lock.lock(); defer { lock.unlock() }
        return slots.map { $0! }
    }
}

