/// Dimension records already looked up while expanding data IDs, so that a write expanding many data IDs that
/// share records (the detectors of one exposure, one instrument) asks the database once per record.
///
/// It holds what a record implies (its `implies` values, in order; nothing for a view such as `band`), keyed by the
/// element and its key values. It lives for one command (a record updated by another process meanwhile is seen as
/// it was, as by the command's other lookups); it is emptied when it reaches ``limit`` entries, so memory stays
/// bounded.
package final class DimensionRecordCache {
    private struct Key: Hashable {
        let element: String
        let values: [DataIDValue]
    }
    private var implied: [Key: [DataIDValue?]] = [:]
    /// Entries kept before the cache starts again from empty.
    package let limit: Int

    package init(limit: Int = 100_000) { self.limit = max(1, limit) }

    /// What the record of `element` with these key values implies, if it was looked up already.
    func implied(by element: String, keys: [DataIDValue]) -> [DataIDValue?]? { implied[Key(element: element, values: keys)] }

    /// Keeps what a record that exists implies.
    func store(_ values: [DataIDValue?], for element: String, keys: [DataIDValue]) {
        if implied.count >= limit { implied.removeAll(keepingCapacity: true) }
        implied[Key(element: element, values: keys)] = values
    }
}
