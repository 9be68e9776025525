import Foundation

extension Registry {
    /// Checks a collection name: 1 to 64 characters, no white space, no control characters, none of `, * ? [ ]`.
    ///
    /// - Returns: the name in Unicode normal form C (``Swift/String/normalizedName``), the form it is stored under:
    ///   callers that go on to use the name (in a path, a dataset id) use the returned one.
    @discardableResult
    package static func validateCollectionName(_ name: String) throws -> String {
        let name = name.normalizedName
        if name.isEmpty {
            throw ButlerError(.invalidName, "invalid collection name: empty")
        }
        if name.count > 64 {
            throw ButlerError(.invalidName, "invalid collection name '\(name)': longer than 64 characters")
        }
        if let bad = name.unicodeScalars.first(where: { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F || ",*?[]".unicodeScalars.contains($0) }) {
            let shown = bad.properties.isWhitespace || bad.value < 0x20 ? String(format: "U+%04X", bad.value) : "'\(bad)'"
            throw ButlerError(.invalidName, "invalid collection name '\(name)': it contains \(shown)")
        }
        return name
    }

    /// Creates a collection, or checks that one of the same type exists.
    ///
    /// - Returns: whether the collection was created.
    /// - Throws: ``ButlerError/Code/conflict`` when a collection of another type has this name.
    @discardableResult
    public func registerCollection(_ name: String, type: CollectionType, doc: String? = nil) throws -> Bool {
        let name = try Self.validateCollectionName(name)
        return try database.write { c in try registerCollection(name, type: type, doc: doc, in: c) }
    }

    /// Creates a RUN collection, or checks that it exists.
    @discardableResult
    public func registerRun(_ name: String, doc: String? = nil) throws -> Bool {
        try registerCollection(name, type: .run, doc: doc)
    }

    package func registerCollection(_ name: String, type: CollectionType, doc: String?, in c: any SQLConnection) throws -> Bool {
        let name = try Self.validateCollectionName(name)
        if let existing = try collectionRow(name, in: c) {
            guard existing.type == type else {
                throw ButlerError(.conflict, "collection '\(name)' exists with type \(existing.type), not \(type)")
            }
            return false
        }
        try c.execute("\(c.dialect.insertOrIgnore) collection (name, type, doc) VALUES (?, ?, ?)\(c.dialect.insertOrIgnoreSuffix)",
                      [.text(name), .integer(Int64(type.rawValue)), SQLValue(doc)])
        guard let row = try collectionRow(name, in: c), row.type == type else {
            throw ButlerError(.conflict, "collection '\(name)' was created concurrently with another type")
        }
        if type == .run {
            try c.execute("\(c.dialect.insertOrIgnore) run (collection_id, host) VALUES (?, ?)\(c.dialect.insertOrIgnoreSuffix)",
                          [.integer(row.id), .text(ProcessInfo.processInfo.hostName)])
        }
        return true
    }

    /// The collection with this name, or `nil`.
    public func collection(_ name: String) throws -> CollectionRecord? {
        try database.read { c in try collection(name, in: c) }
    }

    package func collection(_ name: String, in c: any SQLConnection) throws -> CollectionRecord? {
        let name = name.normalizedName
        guard let row = try collectionRow(name, in: c) else { return nil }
        return CollectionRecord(name: name, type: row.type, doc: row.doc,
                                children: row.type == .chained ? try children(of: row.id, in: c) : [], id: row.id)
    }

    package func requireCollection(_ name: String, in c: any SQLConnection) throws -> CollectionRecord {
        guard let record = try collection(name, in: c) else {
            throw ButlerError(.notFound, "no collection named '\(name)'")
        }
        return record
    }

    private func collectionRow(_ name: String, in c: any SQLConnection) throws -> (id: Int64, type: CollectionType, doc: String?)? {
        guard let row = try c.queryOne("SELECT collection_id, type, doc FROM collection WHERE name = ?", [.text(name.normalizedName)]),
              let id = row[0].int64, let type = row[1].int.flatMap(CollectionType.init(rawValue:)) else { return nil }
        return (id, type, row[2].string)
    }

    private func children(of id: Int64, in c: any SQLConnection) throws -> [String] {
        try c.query("""
            SELECT child.name FROM collection_chain JOIN collection AS child ON child.collection_id = collection_chain.child
            WHERE collection_chain.parent = ? ORDER BY collection_chain.position
            """, [.integer(id)]).compactMap { $0[0].string }
    }

    /// The collections whose name matches any of `patterns` (all when empty) and whose type is in `types`,
    /// sorted by name.
    public func queryCollections(_ patterns: [String] = [], types: Set<CollectionType> = Set(CollectionType.allCases)) throws -> [CollectionRecord] {
        let pattern = NamePattern(patterns)
        return try database.read { c in
            let rows = try c.query("SELECT collection_id, name, type, doc FROM collection ORDER BY name")
            let chains = try c.query("""
                SELECT collection_chain.parent, child.name FROM collection_chain
                JOIN collection AS child ON child.collection_id = collection_chain.child
                ORDER BY collection_chain.parent, collection_chain.position
                """)
            var childrenById: [Int64: [String]] = [:]
            for row in chains { childrenById[row[0].int64!, default: []].append(row[1].string!) }
            return rows.compactMap { row -> CollectionRecord? in
                guard let id = row[0].int64, let name = row[1].string,
                      let type = row[2].int.flatMap(CollectionType.init(rawValue:)),
                      types.contains(type), pattern.matches(name) else { return nil }
                return CollectionRecord(name: name, type: type, doc: row[3].string, children: childrenById[id] ?? [], id: id)
            }
        }
    }

    /// The CHAINED collections that list `name` as a direct child, sorted.
    public func parentChains(of name: String) throws -> [String] {
        try database.read { c in try parentChains(of: name, in: c) }
    }

    package func parentChains(of name: String, in c: any SQLConnection) throws -> [String] {
        try c.query("""
            SELECT DISTINCT parent.name FROM collection_chain
            JOIN collection AS parent ON parent.collection_id = collection_chain.parent
            JOIN collection AS child ON child.collection_id = collection_chain.child
            WHERE child.name = ? ORDER BY parent.name
            """, [.text(name.normalizedName)]).compactMap { $0[0].string }
    }

    /// The non-CHAINED collections a collection searches, in order, each once (the first occurrence wins).
    public func flattenedCollections(_ name: String) throws -> [String] {
        try database.read { c in try flatten(name, in: c) }
    }

    package func flatten(_ name: String, in c: any SQLConnection) throws -> [String] {
        var result: [String] = []
        var seen = Set<String>()
        func visit(_ name: String, _ path: [String]) throws {
            let record = try requireCollection(name, in: c)
            if record.type != .chained {
                if seen.insert(name).inserted { result.append(name) }
                return
            }
            for child in record.children where !path.contains(child) {
                try visit(child, path + [child])
            }
        }
        try visit(name, [name])
        return result
    }

    /// Creates or edits a CHAINED collection and returns its children.
    ///
    /// - Parameters:
    ///   - children: collection names for `redefine`, `extend`, `remove` and `prepend`; positions for `pop`.
    ///   - flatten: store the flattened leaves of the children instead of the children themselves.
    /// - Throws: ``ButlerError/Code/cycle`` when the chain would contain itself, ``ButlerError/Code/notFound``
    ///   for a missing child.
    @discardableResult
    public func modifyChain(_ parent: String, children: [String], mode: ChainMode = .redefine,
                            doc: String? = nil, flatten: Bool = false) throws -> [String] {
        let parent = try Self.validateCollectionName(parent)
        let children = mode == .pop ? children : children.map(\.normalizedName)
        return try database.write { c in
            var record = try collection(parent, in: c)
            if record == nil {
                guard mode == .redefine || mode == .extend || mode == .prepend else {
                    throw ButlerError(.notFound, "no chained collection named '\(parent)'")
                }
                _ = try registerCollection(parent, type: .chained, doc: doc, in: c)
                record = try collection(parent, in: c)
            }
            guard let record, record.type == .chained else {
                throw ButlerError(.conflict, "collection '\(parent)' is a \(record!.type) collection, not CHAINED")
            }
            var current = record.children
            var given = children
            if mode != .pop {
                for child in given where try collection(child, in: c) == nil {
                    throw ButlerError(.notFound, "no collection named '\(child)' (given as a child of '\(parent)')")
                }
                if flatten {
                    given = try given.flatMap { try self.flatten($0, in: c) }
                }
            }
            switch mode {
            case .redefine:
                current = given
            case .extend:
                current += given.filter { !current.contains($0) }
            case .prepend:
                current = given + current.filter { !given.contains($0) }
            case .remove:
                for child in given where !current.contains(child) {
                    throw ButlerError(.notFound, "'\(child)' is not a child of chain '\(parent)'")
                }
                current.removeAll { given.contains($0) }
            case .pop:
                let positions = try (given.isEmpty ? ["0"] : given).map { text -> Int in
                    guard let i = Int(text) else {
                        throw ButlerError(.invalidValue, "pop takes child positions, not '\(text)'")
                    }
                    let index = i < 0 ? current.count + i : i
                    guard current.indices.contains(index) else {
                        throw ButlerError(.invalidValue, "position \(i) is outside chain '\(parent)' of \(current.count) children")
                    }
                    return index
                }
                for index in Set(positions).sorted(by: >) { current.remove(at: index) }
            }
            var unique: [String] = []
            for child in current where !unique.contains(child) { unique.append(child) }
            current = unique
            // Refuse cycles: no child may be the parent or reach it.
            for child in current {
                if child == parent {
                    throw ButlerError(.cycle, "chain '\(parent)' cannot contain itself")
                }
                if try reaches(child, parent, in: c) {
                    throw ButlerError(.cycle, "adding '\(child)' to chain '\(parent)' would make a cycle: '\(child)' already contains '\(parent)'")
                }
            }
            try c.execute("DELETE FROM collection_chain WHERE parent = ?", [.integer(record.id)])
            for (position, child) in current.enumerated() {
                let childRecord = try requireCollection(child, in: c)
                try c.execute("INSERT INTO collection_chain (parent, position, child) VALUES (?, ?, ?)",
                              [.integer(record.id), .integer(Int64(position)), .integer(childRecord.id)])
            }
            if let doc {
                try c.execute("UPDATE collection SET doc = ? WHERE collection_id = ?", [.text(doc), .integer(record.id)])
            }
            return current
        }
    }

    /// Whether collection `from` contains `target`, directly or through nested chains.
    private func reaches(_ from: String, _ target: String, in c: any SQLConnection) throws -> Bool {
        var stack = [from]
        var seen = Set<String>()
        while let name = stack.popLast() {
            guard seen.insert(name).inserted, let record = try collection(name, in: c), record.type == .chained else { continue }
            if record.children.contains(target) { return true }
            stack.append(contentsOf: record.children)
        }
        return false
    }

    /// Removes non-RUN collections whose names match `patterns`, all or none.
    ///
    /// - Parameter removeFromParents: also unlink them from the chains that list them; otherwise a collection
    ///   that is still in a chain is an error.
    /// - Returns: the removed collections.
    /// - Throws: ``ButlerError/Code/inUse`` when a collection is in a chain, ``ButlerError/Code/invalidValue``
    ///   when a pattern names a RUN.
    @discardableResult
    public func removeCollections(_ patterns: [String], removeFromParents: Bool = false) throws -> [CollectionRecord] {
        let pattern = NamePattern(patterns)
        return try database.write { c in
            let all = try c.query("SELECT name, type FROM collection ORDER BY name")
            var matched: [CollectionRecord] = []
            for row in all {
                guard let name = row[0].string, pattern.matches(name) else { continue }
                let record = try requireCollection(name, in: c)
                if record.type == .run {
                    if !NamePattern.hasWildcard(name) && pattern.literals.contains(name) {
                        throw ButlerError(.invalidValue, "'\(name)' is a RUN collection; remove it with remove-runs")
                    }
                    continue
                }
                matched.append(record)
            }
            for literal in pattern.literals where !all.contains(where: { $0[0].string == literal }) {
                throw ButlerError(.notFound, "no collection named '\(literal)'")
            }
            let names = Set(matched.map(\.name))
            for record in matched {
                let parents = try parentChains(of: record.name, in: c).filter { !names.contains($0) }
                if !parents.isEmpty && !removeFromParents {
                    throw ButlerError(.inUse, "collection '\(record.name)' is still in chain(s) \(parents.map { "'\($0)'" }.joined(separator: ", ")); remove it from them first or use --remove-from-parents")
                }
            }
            for record in matched {
                try unlinkFromParents(record, in: c)
                try deleteCollectionRow(record, in: c)
            }
            return matched
        }
    }

    /// Removes a collection from every chain that lists it, renumbering positions.
    package func unlinkFromParents(_ record: CollectionRecord, in c: any SQLConnection) throws {
        let parents = try c.query("SELECT DISTINCT parent FROM collection_chain WHERE child = ?", [.integer(record.id)])
        for row in parents {
            let parentId = row[0].int64!
            let children = try c.query("SELECT child FROM collection_chain WHERE parent = ? ORDER BY position", [.integer(parentId)])
                .compactMap { $0[0].int64 }.filter { $0 != record.id }
            try c.execute("DELETE FROM collection_chain WHERE parent = ?", [.integer(parentId)])
            for (position, child) in children.enumerated() {
                try c.execute("INSERT INTO collection_chain (parent, position, child) VALUES (?, ?, ?)",
                              [.integer(parentId), .integer(Int64(position)), .integer(child)])
            }
        }
    }

    package func deleteCollectionRow(_ record: CollectionRecord, in c: any SQLConnection) throws {
        // Memberships of TAGGED (and RUN) collections live in the per-group tags tables.
        for table in try tagTables(in: c) {
            try c.execute("DELETE FROM \(q(table)) WHERE collection_id = ?", [.integer(record.id)])
        }
        try c.execute("DELETE FROM collection WHERE collection_id = ?", [.integer(record.id)])
    }
}
