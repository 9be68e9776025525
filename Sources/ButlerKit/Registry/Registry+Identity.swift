public import Foundation

extension RepositoryIdentity {
    /// The `butler_attributes` names that hold a repository's identity.
    package static let idAttribute = "repository_id"
    package static let nameAttribute = "repository_name"

    /// The longest repository name accepted, in characters.
    public static let maximumNameLength = 64

    /// Checks a repository name given by the user: not empty, printable (no control characters, no line breaks),
    /// at most ``maximumNameLength`` characters, and no spaces at its ends.
    ///
    /// - Throws: ``ButlerError/Code/invalidValue`` naming the name and the reason.
    public static func validateName(_ name: String) throws {
        guard !name.isEmpty else { throw ButlerError(.invalidValue, "repository name is empty") }
        guard name.count <= maximumNameLength else {
            throw ButlerError(.invalidValue, "repository name '\(name.prefix(maximumNameLength))…' is \(name.count) characters long; at most \(maximumNameLength) are allowed")
        }
        if let bad = name.unicodeScalars.first(where: { !isPrintable($0) }) {
            throw ButlerError(.invalidValue, "repository name \(jsonString(name)) holds the unprintable character U+\(String(format: "%04X", bad.value))")
        }
        guard name.trimmingCharacters(in: .whitespaces) == name else {
            throw ButlerError(.invalidValue, "repository name \(jsonString(name)) begins or ends with a space")
        }
    }

    /// The name a repository gets when none is given: its folder's name, made valid (unprintable characters
    /// replaced by `_`, cut to ``maximumNameLength`` characters; `repository` when nothing is left).
    public static func defaultName(for root: URL) -> String {
        let base = root.standardizedFileURL.lastPathComponent
        var name = String(String.UnicodeScalarView(base.unicodeScalars.map { isPrintable($0) ? $0 : "_" }))
        name = String(name.prefix(maximumNameLength)).trimmingCharacters(in: .whitespaces)
        return name.isEmpty || name == "/" ? "repository" : name
    }

    private static func isPrintable(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator: return false
        default: return true
        }
    }
}

extension Migrations {
    /// Gives the repository its identity (a new UUID and the context's name) unless it has one already: at create,
    /// and for a repository made by an older butler the first time it is opened by a process that may write it.
    static func repositoryIdentity(_ c: any SQLConnection, _ context: MigrationContext) throws {
        for (name, value) in [(RepositoryIdentity.idAttribute, UUID().lowercasedString), (RepositoryIdentity.nameAttribute, context.repositoryName)] {
            try c.execute("\(c.dialect.insertOrIgnore) butler_attributes (name, value) VALUES (?, ?)\(c.dialect.insertOrIgnoreSuffix)",
                          [.text(name), .text(value)])
        }
    }
}

extension Registry {
    /// The identity recorded in the registry, nil when it has none (a schema older than `v5-repository-identity`).
    package static func readIdentity(_ c: any SQLConnection) throws -> RepositoryIdentity? {
        let rows = try c.query("SELECT name, value FROM butler_attributes WHERE name IN (?, ?)",
                               [.text(RepositoryIdentity.idAttribute), .text(RepositoryIdentity.nameAttribute)])
        var values: [String: String] = [:]
        for row in rows { if let name = row[0].string, let value = row[1].string { values[name] = value } }
        guard let idText = values[RepositoryIdentity.idAttribute] else { return nil }
        guard let id = UUID(registryText: idText) else {
            throw ButlerError(.invalidConfig, "the registry attribute \(RepositoryIdentity.idAttribute) is not a UUID: '\(idText)'")
        }
        return RepositoryIdentity(id: id, name: values[RepositoryIdentity.nameAttribute] ?? "")
    }
}
