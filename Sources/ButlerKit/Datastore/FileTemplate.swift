import Foundation

/// A file template as Rubin's datastore writes them:
/// `{run:/}/{datasetType}/{day_obs|exposure.day_obs}/{exposure.obs_id}/{datasetType}_{detector.full_name:?}_{run}`.
///
/// - `{name}` is a value; `{a|b}` takes the first that exists; `{dim.attr}` is a record attribute.
/// - `:?` makes a field optional: when it has no value, the field and the literal text just before it go.
/// - `/` inside a value becomes `_`, unless the field ends in `:/`.
/// - Characters ` <>:"\|?*` and control characters in values become `_`, and a value cannot be `.` or `..`,
///   so no path can leave the datastore root.
public struct FileTemplate: Sendable, Hashable {
    /// The template text.
    public let text: String
    private let parts: [Part]

    enum Part: Sendable, Hashable {
        case literal(String)
        case field(names: [String], optional: Bool, keepSlash: Bool)
    }

    /// Parses a template.
    ///
    /// - Throws: ``ButlerError/Code/invalidConfig`` for unbalanced braces or a template without `{run}` or `{id}`.
    public init(_ text: String) throws {
        var parts: [Part] = []
        var literal = ""
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            if c == "{" {
                guard let close = text[i...].firstIndex(of: "}") else {
                    throw ButlerError(.invalidConfig, "file template '\(text)': '{' without '}'")
                }
                if !literal.isEmpty { parts.append(.literal(literal)); literal = "" }
                var spec = String(text[text.index(after: i)..<close])
                var optional = false, keepSlash = false
                if let colon = spec.firstIndex(of: ":") {
                    let flags = spec[spec.index(after: colon)...]
                    optional = flags.contains("?")
                    keepSlash = flags.contains("/")
                    spec = String(spec[..<colon])
                }
                let names = spec.split(separator: "|").map { String($0).trimmingCharacters(in: .whitespaces) }
                guard !names.isEmpty, names.allSatisfy({ !$0.isEmpty }) else {
                    throw ButlerError(.invalidConfig, "file template '\(text)': empty field")
                }
                parts.append(.field(names: names, optional: optional, keepSlash: keepSlash))
                i = text.index(after: close)
            } else if c == "}" {
                throw ButlerError(.invalidConfig, "file template '\(text)': '}' without '{'")
            } else {
                literal.append(c)
                i = text.index(after: i)
            }
        }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        let fields = parts.flatMap { part -> [String] in if case .field(let n, _, _) = part { return n } else { return [] } }
        guard fields.contains("run") || fields.contains("id") else {
            throw ButlerError(.invalidConfig, "file template '\(text)' has neither {run} nor {id}, so paths would not be unique")
        }
        self.text = text
        self.parts = parts
    }

    /// The relative path for the given field values (`run`, `datasetType`, dimension names, `element.attr`).
    ///
    /// - Throws: ``ButlerError/Code/invalidValue`` when a required field has no value.
    public func format(_ values: [String: String]) throws -> String {
        var out = ""
        var pendingLiteral = ""
        for part in parts {
            switch part {
            case .literal(let s):
                pendingLiteral += s
            case .field(let names, let optional, let keepSlash):
                guard let value = names.lazy.compactMap({ values[$0] }).first(where: { !$0.isEmpty }) else {
                    if optional {
                        // Drop the field and the separator just before it.
                        if !pendingLiteral.isEmpty { pendingLiteral.removeLast() }
                        out += pendingLiteral
                        pendingLiteral = ""
                        continue
                    }
                    throw ButlerError(.invalidValue, "file template '\(text)' needs a value for {\(names.joined(separator: "|"))}")
                }
                out += pendingLiteral + Self.sanitize(value, keepSlash: keepSlash)
                pendingLiteral = ""
            }
        }
        out += pendingLiteral
        // Collapse empty components left by dropped fields; never start at the root.
        let components = out.split(separator: "/", omittingEmptySubsequences: true).map { c -> String in
            (c == "." || c == "..") ? "_" : String(c)
        }
        return components.joined(separator: "/")
    }

    /// Replaces characters that do not belong in a path component.
    static func sanitize(_ value: String, keepSlash: Bool) -> String {
        var out = ""
        for scalar in value.unicodeScalars {
            if scalar == "/" {
                out += keepSlash ? "/" : "_"
            } else if " <>:\"\\|?*".unicodeScalars.contains(scalar) || scalar.value < 0x20 || scalar.value == 0x7F {
                out += "_"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        if keepSlash {
            return out.split(separator: "/", omittingEmptySubsequences: true)
                .map { ($0 == "." || $0 == "..") ? "_" : String($0) }.joined(separator: "/")
        }
        return (out == "." || out == "..") ? "_" : out
    }
}
