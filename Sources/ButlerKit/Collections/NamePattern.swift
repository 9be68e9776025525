internal import Glibc

/// Shell-style patterns (`*`, `?`, `[...]`) over names, as Rubin's `GLOB...` arguments.
public struct NamePattern: Sendable {
    package let patterns: [String]

    /// Patterns from command-line values; each value may hold several comma-separated patterns.
    /// No pattern (or `*`) matches everything. Patterns and names are compared in Unicode normal form C, so `é`
    /// typed either way matches the same names.
    package init(_ values: [String]) {
        patterns = values.flatMap { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces).normalizedName } }
            .filter { !$0.isEmpty }
    }

    package var matchesEverything: Bool { patterns.isEmpty || patterns.contains("*") || patterns.contains("...") }

    /// Whether any pattern is a literal name (no wildcard).
    package var literals: [String] { patterns.filter { !Self.hasWildcard($0) } }

    package func matches(_ name: String) -> Bool {
        if matchesEverything { return true }
        let name = name.normalizedName
        return patterns.contains { fnmatch($0, name, 0) == 0 }
    }

    /// Whether a command-line value holds a wildcard (or several patterns).
    public static func isGlob(_ value: String) -> Bool { hasWildcard(value) || value.contains(",") }

    package static func hasWildcard(_ pattern: String) -> Bool {
        pattern.contains { "*?[".contains($0) }
    }
}
