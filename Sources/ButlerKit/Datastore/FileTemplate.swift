import Foundation

/// A file template as Rubin's datastore writes them:
/// `{run:/}/{datasetType}/{day_obs|exposure.day_obs}/{exposure.obs_id}/{datasetType}_{detector.full_name:?}_{run}`.
///
/// - `{name}` is a value; `{a|b}` takes the first that exists; `{dim.attr}` is a record attribute.
/// - `:?` makes a field optional: when it has no value, the field and the literal text just before it go.
/// - `/` inside a value becomes `_` (as Rubin's do), unless the field ends in `:/`.
/// - `%`, the characters ` <>:"\|?*` and control characters in values are percent-encoded (`a:b` becomes `a%3Ab`),
///   a value or a component of a `:/` value that is `.` or `..` is encoded too (`%2E`), and an empty component of a
///   `:/` value becomes `%`: different values give different paths, and no path can leave the datastore root. The
///   one exception, `a/b` and `a_b` in a field without `:/`, is refused when it happens by the registry's claim on
///   the path (see ``FileDatastore``); Rubin's templates put `{run:/}` first, which keeps them apart.
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

    /// The relative path for the given field values (`run`, `datasetType`, dimension names, `element.attr`), in
    /// Unicode normal form C (a name typed in another form makes the same path).
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
                // `{skypix}` is the value of whichever sky pixel dimension the data ID has (`htm7`), as in Rubin's.
                guard let value = names.lazy.compactMap({ values[$0] ?? ($0 == "skypix" ? Self.skyPixValue(values) : nil) })
                    .first(where: { !$0.isEmpty }) else {
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
        return components.joined(separator: "/").normalizedName
    }

    /// Encodes characters that do not belong in a path component (see the type's documentation).
    /// The value of the sky pixel dimension among `values` (`htm7`, `healpix11`), the first by name if several.
    static func skyPixValue(_ values: [String: String]) -> String? {
        values.keys.sorted().first { SkyPixDimension(name: $0) != nil }.flatMap { values[$0] }
    }

    static func sanitize(_ value: String, keepSlash: Bool) -> String {
        func encode(_ component: Substring) -> String {
            if component.isEmpty { return "%" }
            if component == "." { return "%2E" }
            if component == ".." { return "%2E%2E" }
            var out = ""
            for scalar in component.unicodeScalars {
                if scalar == "/" {
                    out += "_"
                } else if scalar == "%" || " <>:\"\\|?*".unicodeScalars.contains(scalar) || scalar.value < 0x20 || scalar.value == 0x7F {
                    for byte in String(scalar).utf8 { out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2) }
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
            return out
        }
        if keepSlash {
            return value.split(separator: "/", omittingEmptySubsequences: false).map(encode).joined(separator: "/")
        }
        return encode(Substring(value))
    }
}

private extension String {
    func leftPadded(to width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
