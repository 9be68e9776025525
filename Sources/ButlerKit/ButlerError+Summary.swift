extension ButlerError {
    /// A readable summary of many failures for one error message: the first `shown` items (each cut to
    /// `itemLength` characters), joined by `; `, then `and N more`. A thousand files failing on a full disk give a
    /// line of a few hundred characters, not a wall of them.
    package static func summary(_ items: [String], shown: Int = 3, itemLength: Int = 300) -> String {
        let cut = items.prefix(max(1, shown)).map { item in
            item.count > itemLength ? String(item.prefix(itemLength)) + "..." : item
        }
        let rest = items.count - cut.count
        return cut.joined(separator: "; ") + (rest > 0 ? "; and \(rest) more" : "")
    }
}
