import Foundation

/// A W3C PROV document, written as PROV-JSON or PROV-N from the same records.
///
/// Identifiers are qualified names (`prefix:local`) whose prefixes are all declared in ``prefixes``.
public struct ProvDocument: Sendable {
    /// An attribute value.
    public enum Value: Sendable, Hashable {
        case string(String)
        /// A qualified name such as `prov:SoftwareAgent`.
        case qualifiedName(String)
        case int(Int)
        case double(Double)
        /// An xsd:dateTime.
        case dateTime(String)
    }

    /// The kinds of record written, with their formal arguments in PROV-N order (PROV-JSON keys).
    public enum Kind: String, Sendable, CaseIterable {
        case entity, activity, agent, used, wasGeneratedBy, wasDerivedFrom, wasAssociatedWith, wasAttributedTo, wasInformedBy

        var formalArguments: [String] {
            switch self {
            case .entity, .agent: return []
            case .activity: return ["prov:startTime", "prov:endTime"]
            case .used: return ["prov:activity", "prov:entity", "prov:time"]
            case .wasGeneratedBy: return ["prov:entity", "prov:activity", "prov:time"]
            case .wasDerivedFrom: return ["prov:generatedEntity", "prov:usedEntity", "prov:activity", "prov:generation", "prov:usage"]
            case .wasAssociatedWith: return ["prov:activity", "prov:agent", "prov:plan"]
            case .wasAttributedTo: return ["prov:entity", "prov:agent"]
            case .wasInformedBy: return ["prov:informed", "prov:informant"]
            }
        }

        var isElement: Bool { self == .entity || self == .activity || self == .agent }
    }

    /// One record: its kind, id, formal arguments (by PROV-JSON key; times for activities, ids otherwise) and
    /// attributes (a name may repeat).
    public struct Record: Sendable {
        public let kind: Kind
        public let id: String
        public var arguments: [String: String]
        public var attributes: [(name: String, value: Value)]
    }

    /// Declared prefixes, in order.
    public var prefixes: [(prefix: String, uri: String)] = []
    public var records: [Record] = []

    public init() {}

    /// The number of records of one kind.
    public func count(_ kind: Kind) -> Int { records.count { $0.kind == kind } }

    /// The document as PROV-JSON (W3C Member Submission, 2013).
    public func jsonText() -> String {
        func value(_ v: Value) -> String {
            switch v {
            case .string(let s): return jsonString(s)
            case .qualifiedName(let n): return "{\"$\": \(jsonString(n)), \"type\": \"prov:QUALIFIED_NAME\"}"
            case .int(let i): return String(i)
            case .double(let d): return d.isFinite ? String(d) : "{\"$\": \(jsonString(String(d))), \"type\": \"xsd:double\"}"
            case .dateTime(let t): return "{\"$\": \(jsonString(t)), \"type\": \"xsd:dateTime\"}"
            }
        }
        var out = "{\n  \"prefix\": {" + prefixes.map { "\(jsonString($0.prefix)): \(jsonString($0.uri))" }.joined(separator: ", ") + "}"
        for kind in Kind.allCases {
            let members = records.filter { $0.kind == kind }
            guard !members.isEmpty else { continue }
            out += ",\n  \(jsonString(kind.rawValue)): {\n"
            out += members.map { r in
                var fields: [String] = kind.formalArguments.compactMap { key in r.arguments[key].map { "\(jsonString(key)): \(jsonString($0))" } }
                var grouped: [(String, [Value])] = []
                for (name, v) in r.attributes {
                    if let i = grouped.firstIndex(where: { $0.0 == name }) { grouped[i].1.append(v) } else { grouped.append((name, [v])) }
                }
                fields += grouped.map { name, values in
                    "\(jsonString(name)): " + (values.count == 1 ? value(values[0]) : "[" + values.map(value).joined(separator: ", ") + "]")
                }
                return "    \(jsonString(r.id)): {" + fields.joined(separator: ", ") + "}"
            }.joined(separator: ",\n")
            out += "\n  }"
        }
        return out + "\n}\n"
    }

    /// The document as PROV-N (W3C Recommendation, 2013).
    public func provNText() -> String {
        func literal(_ s: String) -> String {
            "\"" + escaping(s, ["\\": "\\\\", "\"": "\\\"", "\n": "\\n"]) + "\""
        }
        func value(_ v: Value) -> String {
            switch v {
            case .string(let s): return literal(s)
            case .qualifiedName(let n): return "'\(n)'"
            case .int(let i): return "\"\(i)\" %% xsd:int"
            case .double(let d): return "\"\(d)\" %% xsd:double"
            case .dateTime(let t): return "\"\(t)\" %% xsd:dateTime"
            }
        }
        var out = "document\n"
        for p in prefixes { out += "  prefix \(p.prefix) <\(p.uri)>\n" }
        out += "\n"
        for kind in Kind.allCases {
            for r in records where r.kind == kind {
                let args = kind.formalArguments.map { r.arguments[$0] ?? "-" }
                let attributes = r.attributes.isEmpty ? "" : ", [" + r.attributes.map { "\($0.name)=\(value($0.value))" }.joined(separator: ", ") + "]"
                if kind.isElement {
                    out += "  \(kind.rawValue)(\(([r.id] + args).joined(separator: ", "))\(attributes))\n"
                } else {
                    out += "  \(kind.rawValue)(\(r.id); \(args.joined(separator: ", "))\(attributes))\n"
                }
            }
        }
        return out + "endDocument\n"
    }
}
