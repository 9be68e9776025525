import ArgumentParser

/// Finds a first word that names no subcommand, before ArgumentParser would take `butler typo --help` for the
/// top-level help (exit 0) or report it without a suggestion.
enum UnknownCommand {
    /// Every name the first word may take.
    static var knownNames: [String] {
        ButlerCommand.configuration.subcommands.map { $0._commandName } + ["help"]
    }

    /// The usage error for `arguments` whose first word is not an option and names no subcommand; nil otherwise.
    static func check(_ arguments: [String]) -> UsageError? {
        guard let first = arguments.first, !first.hasPrefix("-") else { return nil }
        let names = knownNames
        guard !names.contains(first) else { return nil }
        var message = "unknown command '\(first)'"
        if let nearest = nearest(to: first, in: names) { message += "; did you mean '\(nearest)'?" }
        return UsageError(message + " (see butler --help)")
    }

    /// The known name closest to `word`: one that starts with it or contains it, else the one within an edit
    /// distance of a third of its length.
    static func nearest(to word: String, in names: [String]) -> String? {
        let typed = word.lowercased()
        if let prefixed = names.filter({ $0.hasPrefix(typed) }).min(by: { $0.count < $1.count }) { return prefixed }
        if let containing = names.filter({ $0.contains(typed) && typed.count >= 3 }).min(by: { $0.count < $1.count }) {
            return containing
        }
        let scored = names.map { (name: $0, distance: editDistance(typed, $0)) }
        guard let best = scored.min(by: { $0.distance < $1.distance }) else { return nil }
        return best.distance <= max(2, best.name.count / 3) ? best.name : nil
    }

    /// Levenshtein distance between two words.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where !b.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return a.isEmpty ? b.count : previous[b.count]
    }
}
