public import Foundation
internal import Yams

/// The set of dimension elements a repository knows, read from a YAML file (data, not code).
///
/// The default universe follows Rubin's (`daf_butler`, version 8). Elements keep the order of the file, which is
/// also the order in which dimensions are listed and their tables created (every element after its dependencies).
public struct DimensionUniverse: Sendable {
    /// The namespace of the universe, `daf_butler` for the default.
    public let namespace: String
    /// The version of the universe, 8 for the default.
    public let version: Int
    /// Every element, in dependency order.
    public let elements: [DimensionElement]
    /// The YAML text this universe was read from (stored in the registry).
    public let yaml: String
    private let index: [String: Int]
    private let requiredClosures: [String: [String]]

    /// The default universe shipped with ButlerKit.
    public static func makeDefault() throws -> DimensionUniverse {
        guard let url = Bundle.module.url(forResource: "dimensions", withExtension: "yaml", subdirectory: "Resources") else {
            throw ButlerError(.invalidConfig, "the default dimension configuration is missing from the ButlerKit bundle")
        }
        return try DimensionUniverse(contentsOf: url)
    }

    /// Reads a universe from a YAML file.
    public init(contentsOf url: URL) throws {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw ButlerError(.io, "cannot read dimension configuration \(url.path): \(error.localizedDescription)")
        }
        try self.init(yaml: text, source: url.path)
    }

    /// Reads a universe from YAML text; `source` names it in error messages.
    public init(yaml: String, source: String = "dimension configuration") throws {
        let file: UniverseFile
        do {
            // Read from the YAML node tree directly: Codable decoding costs more than the rest of start-up.
            guard let node = try YAMLLoader.compose(yaml) else { throw UniverseFile.Problem(message: "empty document") }
            file = try UniverseFile(node)
        } catch let problem as UniverseFile.Problem {
            throw ButlerError(.invalidConfig, "invalid dimension configuration \(source): \(problem.message)")
        } catch {
            throw ButlerError(.invalidConfig, "invalid dimension configuration \(source): \(describeYAMLError(error))")
        }
        self.namespace = file.namespace ?? "custom"
        self.version = file.version
        self.yaml = yaml
        // Order elements so that each comes after everything it requires or implies, keeping file order otherwise.
        var ordered: [DimensionElement] = []
        var placed = Set<String>()
        var remaining = file.elements.map { name, spec in (name, spec) }
        remaining.sort { file.order.firstIndex(of: $0.0)! < file.order.firstIndex(of: $1.0)! }
        let names = Set(file.elements.keys)
        for (name, spec) in remaining {
            for dep in (spec.requires ?? []) + (spec.implies ?? []) where !names.contains(dep) {
                throw ButlerError(.invalidConfig, "invalid dimension configuration \(source): element '\(name)' depends on unknown dimension '\(dep)'")
            }
            if let viewOf = spec.view_of, !names.contains(viewOf) {
                throw ButlerError(.invalidConfig, "invalid dimension configuration \(source): element '\(name)' is a view of unknown element '\(viewOf)'")
            }
            if let keys = spec.keys, keys.isEmpty {
                throw ButlerError(.invalidConfig, "invalid dimension configuration \(source): element '\(name)' has an empty key list")
            }
        }
        while !remaining.isEmpty {
            guard let i = remaining.firstIndex(where: { (_, spec) in
                ((spec.requires ?? []) + (spec.implies ?? [])).allSatisfy(placed.contains)
            }) else {
                throw ButlerError(.invalidConfig, "invalid dimension configuration \(source): cyclic requirements among \(remaining.map(\.0).joined(separator: ", "))")
            }
            let (name, spec) = remaining.remove(at: i)
            ordered.append(DimensionElement(name: name, spec: spec))
            placed.insert(name)
        }
        for element in ordered where !element.isDimension {
            if element.requires.isEmpty {
                throw ButlerError(.invalidConfig, "invalid dimension configuration \(source): element '\(element.name)' has neither keys nor required dimensions")
            }
        }
        for element in ordered {
            for dep in element.requires + element.implies where !(ordered.first { $0.name == dep }?.isDimension ?? false) {
                throw ButlerError(.invalidConfig, "invalid dimension configuration \(source): element '\(element.name)' depends on '\(dep)', which is a join element, not a dimension")
            }
        }
        self.elements = ordered
        let index = Dictionary(uniqueKeysWithValues: ordered.enumerated().map { ($1.name, $0) })
        self.index = index
        // The full set of required dimensions of each element: its direct requirements and theirs.
        var closures: [String: [String]] = [:]
        for element in ordered {
            var all = Set<String>()
            for dep in element.requires {
                all.formUnion(closures[dep] ?? [])
                all.insert(dep)
            }
            closures[element.name] = all.sorted { (index[$0]!, $0) < (index[$1]!, $1) }
        }
        self.requiredClosures = closures
    }

    /// Every dimension an element's primary key includes besides its own key, in universe order:
    /// `[instrument]` for detector, `[instrument, exposure, visit]` for visit_definition.
    public func requiredDimensions(of element: String) -> [String] {
        requiredClosures[element] ?? []
    }

    /// The element with this name, or `nil`. Sky pixel dimensions (`htm7`, `healpix11`) are dimensions too,
    /// without a table (see ``DimensionElement/isSkyPix``); they are not among ``elements``.
    public subscript(_ name: String) -> DimensionElement? {
        if let i = index[name] { return elements[i] }
        return skyPixDimension(name).map(DimensionElement.init(skyPix:))
    }

    /// The dimensions (elements with keys), in universe order.
    public var dimensions: [DimensionElement] { elements.filter(\.isDimension) }

    /// The governor dimensions (instrument, skymap).
    public var governors: [DimensionElement] { elements.filter(\.isGovernor) }

    /// The position of an element in universe order, used to sort dimension names.
    public func position(of name: String) -> Int { index[name] ?? Int.max }

    /// Sorts dimension names in universe order.
    public func sorted<S: Sequence>(_ names: S) -> [String] where S.Element == String {
        names.sorted { (position(of: $0), $0) < (position(of: $1), $1) }
    }

    /// Looks up a dimension, failing with a message that lists what exists.
    package func dimension(_ name: String) throws -> DimensionElement {
        guard let element = self[name] else {
            throw ButlerError(.notFound, "unknown dimension '\(name)'; known dimensions: \(dimensions.map(\.name).joined(separator: ", "))")
        }
        guard element.isDimension else {
            throw ButlerError(.invalidValue, "'\(name)' is a join element, not a dimension")
        }
        return element
    }

    /// Looks up an element (dimension or join element), failing with a clear message.
    package func element(_ name: String) throws -> DimensionElement {
        guard let element = self[name] else {
            throw ButlerError(.notFound, "unknown dimension element '\(name)'; known elements: \(elements.map(\.name).joined(separator: ", "))")
        }
        return element
    }

    /// The group of dimensions spanned by `names`: the names plus everything they require and imply.
    ///
    /// - Throws: ``ButlerError/Code/notFound`` for an unknown name, ``ButlerError/Code/invalidValue`` for a join element.
    public func group<S: Sequence>(_ names: S) throws -> DimensionGroup where S.Element == String {
        var all = Set<String>()
        var stack = Array(names)
        for name in stack { _ = try dimension(name) }
        while let name = stack.popLast() {
            guard all.insert(name).inserted else { continue }
            let element = self[name]!
            stack.append(contentsOf: element.requires)
            stack.append(contentsOf: element.implies)
        }
        let implied = Set(all.flatMap { self[$0]!.implies })
        let required = all.filter { !implied.contains($0) }
        return DimensionGroup(required: sorted(required), implied: sorted(all.subtracting(required)))
    }
}

/// A set of dimensions, split into the required ones (that identify a data ID) and the implied ones
/// (whose values follow from the required ones).
public struct DimensionGroup: Sendable, Hashable, CustomStringConvertible {
    /// Dimensions whose values identify a data ID, in universe order.
    public let required: [String]
    /// Dimensions whose values follow from the required ones, in universe order.
    public let implied: [String]
    /// Every dimension of the group: required then implied.
    public var names: [String] { required + implied }
    /// `{instrument, detector, exposure}`: the required dimensions, as Rubin shows them.
    public var description: String { "{" + required.joined(separator: ", ") + "}" }
}

/// An element of the dimension universe: a dimension (with keys) or a join element (without).
public struct DimensionElement: Sendable, Hashable {
    /// The element name, also its table name.
    public let name: String
    /// What the element means.
    public let doc: String
    /// Key columns: the first is the primary key (the value in a data ID); the others are alternate keys.
    public let keys: [DimensionColumn]
    /// Dimensions whose keys are part of this element's primary key.
    public let requires: [String]
    /// Dimensions whose values a record of this element fixes.
    public let implies: [String]
    /// Further columns.
    public let metadata: [DimensionColumn]
    /// Whether this is a governor dimension (instrument, skymap).
    public let isGovernor: Bool
    /// Whether records carry a TAI timespan.
    public let isTemporal: Bool
    /// Whether records carry a sky region.
    public let isSpatial: Bool
    /// Whether queries always join this element when its required dimensions are present.
    public let alwaysJoin: Bool
    /// The element whose definition populates this one.
    public let populatedBy: String?
    /// The element whose column supplies this element's values, when it has no table of its own (band).
    public let viewOf: String?

    /// Whether this element is a dimension (it has keys); otherwise it is a join element.
    public var isDimension: Bool { !keys.isEmpty }
    /// Whether this is a sky pixel dimension (`htm7`): its values are pixel indices, it has no table and no records.
    public let isSkyPix: Bool
    /// Whether this element has a table of its own.
    public var hasTable: Bool { viewOf == nil && !isSkyPix }
    /// The primary key column (`id`, `name`), for dimensions.
    public var primaryKey: DimensionColumn? { keys.first }

    fileprivate init(name: String, spec: ElementSpec) {
        self.name = name
        self.doc = (spec.doc ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        self.keys = (spec.keys ?? []).map(DimensionColumn.init)
        self.requires = spec.requires ?? []
        self.implies = spec.implies ?? []
        self.metadata = (spec.metadata ?? []).map(DimensionColumn.init)
        self.isGovernor = spec.governor ?? false
        self.isTemporal = spec.temporal ?? false
        self.isSpatial = spec.spatial ?? false
        self.alwaysJoin = spec.always_join ?? false
        self.populatedBy = spec.populated_by
        self.viewOf = spec.view_of
        self.isSkyPix = false
    }

    /// A sky pixel dimension: one integer key, `id`, and nothing else.
    fileprivate init(skyPix: SkyPixDimension) {
        self.name = skyPix.description
        self.doc = "\(skyPix.system == "htm" ? "HTM" : "HEALPix") pixels of level \(skyPix.level)"
        self.keys = [DimensionColumn(name: "id", type: .int)]
        self.requires = []
        self.implies = []
        self.metadata = []
        self.isGovernor = false
        self.isTemporal = false
        self.isSpatial = false  // its pixels have regions, but it has no records holding one
        self.alwaysJoin = false
        self.populatedBy = nil
        self.viewOf = nil
        self.isSkyPix = true
    }
}

/// A column of a dimension element.
public struct DimensionColumn: Sendable, Hashable {
    /// The kinds of values a dimension column holds.
    public enum ValueType: String, Sendable, Hashable, Codable {
        case int, float, string, bool, hash
    }
    public let name: String
    public let type: ValueType
    /// Maximum length of a string, or byte count of a hash.
    public let length: Int?
    public let doc: String

    fileprivate init(name: String, type: ValueType) {
        self.name = name
        self.type = type
        self.length = nil
        self.doc = ""
    }

    fileprivate init(_ spec: ColumnSpec) {
        name = spec.name
        type = spec.type
        length = spec.length ?? spec.nbytes
        doc = (spec.doc ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

// MARK: - The YAML file

extension Node.Mapping {
    /// The value for a string key, compared as text (Yams' own subscript builds a tagged node, which loads its
    /// regular-expression resolver: a measurable part of start-up).
    func value(_ key: String) -> Node? {
        first { $0.key.string == key }?.value
    }
}

private struct UniverseFile {
    struct Problem: Error { let message: String }
    var namespace: String?
    var version: Int
    var elements: [String: ElementSpec]
    var order: [String]

    init(_ node: Node) throws {
        guard let top = node.mapping else { throw Problem(message: "expected a mapping at the top level") }
        namespace = top.value("namespace")?.string
        guard let v = top.value("version")?.int else { throw Problem(message: "missing key 'version' (an integer)") }
        version = v
        guard let elementsNode = top.value("elements")?.mapping else { throw Problem(message: "missing key 'elements' (a mapping)") }
        var elements: [String: ElementSpec] = [:]
        var order: [String] = []
        for (key, value) in elementsNode {
            guard let name = key.string else { throw Problem(message: "an element name is not a string") }
            elements[name] = try ElementSpec(value, element: name)
            order.append(name)
        }
        self.elements = elements
        self.order = order
    }
}

private struct ElementSpec {
    var doc: String?
    var keys: [ColumnSpec]?
    var requires: [String]?
    var implies: [String]?
    var metadata: [ColumnSpec]?
    var governor: Bool?
    var temporal: Bool?
    var spatial: Bool?
    var always_join: Bool?
    var populated_by: String?
    var view_of: String?

    init(_ node: Node, element: String) throws {
        guard let m = node.mapping else { throw UniverseFile.Problem(message: "element '\(element)' is not a mapping") }
        let known: Set<String> = ["doc", "keys", "requires", "implies", "metadata", "governor", "temporal", "spatial", "always_join", "populated_by", "view_of", "storage"]
        for key in m.keys { if let k = key.string, !known.contains(k) { throw UniverseFile.Problem(message: "element '\(element)' has unknown key '\(k)'") } }
        func strings(_ key: String) throws -> [String]? {
            guard let n = m[key] else { return nil }
            guard let seq = n.sequence else { throw UniverseFile.Problem(message: "'\(element).\(key)' must be a list") }
            return try seq.map { item in
                guard let s = item.string else { throw UniverseFile.Problem(message: "'\(element).\(key)' must list names") }
                return s
            }
        }
        func columns(_ key: String) throws -> [ColumnSpec]? {
            guard let n = m[key] else { return nil }
            guard let seq = n.sequence else { throw UniverseFile.Problem(message: "'\(element).\(key)' must be a list") }
            return try seq.map { try ColumnSpec($0, element: element) }
        }
        doc = m.value("doc")?.string
        keys = try columns("keys")
        requires = try strings("requires")
        implies = try strings("implies")
        metadata = try columns("metadata")
        governor = m.value("governor")?.bool
        temporal = m.value("temporal")?.bool
        spatial = m.value("spatial")?.bool
        always_join = m.value("always_join")?.bool
        populated_by = m.value("populated_by")?.string
        view_of = m.value("view_of")?.string
    }
}

private struct ColumnSpec {
    var name: String
    var type: DimensionColumn.ValueType
    var length: Int?
    var nbytes: Int?
    var doc: String?

    init(_ node: Node, element: String) throws {
        guard let m = node.mapping, let name = m.value("name")?.string else {
            throw UniverseFile.Problem(message: "a column of '\(element)' needs a name")
        }
        guard let typeName = m.value("type")?.string, let type = DimensionColumn.ValueType(rawValue: typeName) else {
            throw UniverseFile.Problem(message: "column '\(element).\(name)' needs a type: int, float, string, bool or hash")
        }
        self.name = name
        self.type = type
        length = m.value("length")?.int
        nbytes = m.value("nbytes")?.int
        doc = m.value("doc")?.string
    }
}

/// A one-line description of a YAML decoding error.
package func describeYAMLError(_ error: any Error) -> String {
    if let e = error as? DecodingError {
        switch e {
        case .keyNotFound(let key, let ctx):
            return "missing key '\(key.stringValue)' at \(path(ctx.codingPath))"
        case .typeMismatch(_, let ctx), .valueNotFound(_, let ctx):
            return "\(ctx.debugDescription) at \(path(ctx.codingPath))"
        case .dataCorrupted(let ctx):
            let underlying = ctx.underlyingError.map { " (\(String(describing: $0).replacingOccurrences(of: "\n", with: " ")))" } ?? ""
            return "\(ctx.debugDescription)\(underlying)"
        @unknown default:
            return "\(e)"
        }
    }
    // Yams quotes the offending line, which can be the whole of a one-line file: keep the message short.
    let text = String(describing: error).replacingOccurrences(of: "\n", with: " ")
    return text.count > 300 ? String(text.prefix(300)) + "..." : text
}

private func path(_ codingPath: [any CodingKey]) -> String {
    codingPath.isEmpty ? "top level" : codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
}
