/// A command line as a POSIX shell reads it back: each argument that holds anything but letters, digits and
/// `_@%+=:,./-` goes in single quotes (a quote inside as `'\''`), an empty one as `''`.
///
/// Steps record their command this way, so the `command` of a step in provenance can be pasted into a shell.
public func shellQuoted(_ arguments: [String]) -> String {
    arguments.map(shellQuoted).joined(separator: " ")
}

/// One argument as ``shellQuoted(_:)-([String])`` writes it.
public func shellQuoted(_ argument: String) -> String {
    let plain = !argument.isEmpty && argument.unicodeScalars.allSatisfy { c in
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || "_@%+=:,./-".unicodeScalars.contains(c)
    }
    if plain { return argument }
    return "'" + argument.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
}
