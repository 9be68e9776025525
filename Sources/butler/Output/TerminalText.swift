import ButlerKit
import Foundation

/// Writes a message for a person to standard error, control characters escaped: with ``emit(_:)`` and
/// ``StreamWriter``, the one way the CLI writes text (see ``ButlerKit/TerminalText``).
///
/// - Parameter keepingLines: keep every newline (ArgumentParser's usage text); otherwise see ``messageText(_:)``.
func writeStandardError(_ text: String, keepingLines: Bool = false) {
    FileHandle.standardError.write(Data((keepingLines ? terminalSafe(text) : messageText(text)).utf8))
}

/// A message (`butler: error: ...`, a warning) with its control characters escaped, and its newlines too except the
/// last and those our own messages continue with (a newline then two spaces, as the excerpt and caret under an
/// invalid --where expression): a value quoted in a message cannot make a line that looks like another message.
func messageText(_ text: String) -> String {
    let scalars = Array(text.unicodeScalars)
    guard scalars.contains(where: { TerminalText.isControl($0) }) else { return text }
    var out = ""
    out.reserveCapacity(text.utf8.count + 16)
    for (i, scalar) in scalars.enumerated() {
        if scalar == "\n" {
            let isLast = i == scalars.count - 1
            let continues = i + 2 < scalars.count && scalars[i + 1] == " " && scalars[i + 2] == " "
            out += isLast || continues ? "\n" : TerminalText.escape(scalar)
        } else if TerminalText.isControl(scalar) {
            out += TerminalText.escape(scalar)
        } else {
            out.unicodeScalars.append(scalar)
        }
    }
    return out
}
