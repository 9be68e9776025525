internal import Yams

/// The one way ButlerKit reads YAML (configurations, seed configs, dimension universes, instrument definitions,
/// storage classes, conda environments, recorded task configs): compose the node tree, then refuse a tree that
/// aliases expand beyond a bound, before anything walks, merges, serializes or decodes it.
///
/// Yams composes an alias as a shared copy of the anchored node, so composing a "billion laughs" document is cheap;
/// it is every later walk over the tree that expands it (the first `create` with such a seed ran 105 s at 3.9 GB
/// and crashed). ``compose(_:)`` counts the nodes of the expanded tree with an explicit stack, stopping at the
/// budget, so the check costs at most the budget, whatever the document.
enum YAMLLoader {
    /// Nodes any document may expand to, on top of one per byte of its text (which a document without aliases
    /// never exceeds, so only aliases can trip the bound).
    static let expansionBudget = 100_000

    /// Why a document was refused: aliases expand it beyond the budget.
    struct ExpansionError: Error, CustomStringConvertible {
        let limit: Int
        var description: String {
            "its aliases expand it to more than \(limit) nodes (an alias bomb?); refusing to read it"
        }
    }

    /// The node tree of a one-document YAML text (nil for an empty one).
    ///
    /// - Throws: Yams' errors for invalid YAML, ``ExpansionError`` for a document whose aliases expand it beyond
    ///   ``expansionBudget`` nodes more than its length in bytes.
    static func compose(_ text: String, resolver: Resolver = .basic) throws -> Node? {
        guard let node = try Yams.compose(yaml: text, resolver) else { return nil }
        try checkExpansion(node, limit: expansionBudget + text.utf8.count)
        return node
    }

    /// Counts the nodes of the expanded tree up to `limit`, without recursion.
    static func checkExpansion(_ root: Node, limit: Int) throws {
        var stack = [root]
        var count = 0
        while let node = stack.popLast() {
            count += 1
            if count > limit { throw ExpansionError(limit: limit) }
            switch node {
            case .scalar, .alias: break
            case .sequence(let sequence): stack.append(contentsOf: sequence)
            case .mapping(let mapping):
                for (key, value) in mapping {
                    stack.append(key)
                    stack.append(value)
                }
            }
        }
    }

    /// The document as Foundation values (`[String: Any]`, `[Any]`, `Int`, `String`, ...), as `Yams.load` gives,
    /// after the same check.
    static func load(_ text: String) throws -> Any? {
        try compose(text, resolver: .default).map(\.any)
    }

    /// A `Decodable` value from the document, after the same check.
    static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        // As `YAMLDecoder.decode(_:from: String)` reads it: merge keys resolved, an empty document an empty string.
        let node = try compose(text, resolver: Resolver.basic.appending(.merge)) ?? ""
        return try YAMLDecoder().decode(type, from: node)
    }
}
