/// Dimension records already looked up while expanding data IDs, so that a write expanding many data IDs that
/// share records (the detectors of one exposure, one instrument) asks the database once per record.
///
/// It holds what a record implies (its `implies` values, in order; nothing for a view such as `band`), keyed by the
/// element and its key values. Records are only added by other commands, never changed, so the cache is right for
/// the life of one command; it is emptied when it reaches ``limit`` entries, so memory stays bounded.
package final class DimensionRecordCache {
    private var implied: [String: [DataIDValue?]] = [:]
    /// Entries kept before the cache starts again from empty.
    package let limit: Int

    package init(limit: Int = 100_000) { self.limit = max(1, limit) }

    /// What the record of `element` with these key values implies, if it was looked up already.
    func implied(by element: String, keys: [DataIDValue]) -> [DataIDValue?]? { implied[Self.key(element, keys)] }

    /// Keeps what a record that exists implies.
    func store(_ values: [DataIDValue?], for element: String, keys: [DataIDValue]) {
        if implied.count >= limit { implied.removeAll(keepingCapacity: true) }
        implied[Self.key(element, keys)] = values
    }

    private static func key(_ element: String, _ keys: [DataIDValue]) -> String {
        // The key columns of one element have fixed types, so the text of the values cannot collide.
        keys.reduce(element) { $0 + "\u{1}" + $1.description }
    }
}
