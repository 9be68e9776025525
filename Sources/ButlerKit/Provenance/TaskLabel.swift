extension Butler {
    /// The longest task label: `<label>_metadata`, the longest name derived from it, must stay a valid dataset type
    /// name (at most 128 characters).
    package static let maximumTaskLabelLength = 119

    /// Checks a task label (or, with `what`, an input or output role) before anything uses it (quanta, `<label>_log`
    /// dataset types, staging file names).
    ///
    /// A label is an identifier, as Rubin's pipeline labels are: a letter or `_`, then letters, digits and `_`, at
    /// most ``maximumTaskLabelLength`` characters. So it holds no NUL or other control character, no `/`, no `.`
    /// (neither `.` nor `..`), no space, and `<label>_log` is always a valid dataset type name and file name.
    ///
    /// - Throws: ``ButlerError/Code/invalidName`` naming the label (with control characters escaped) and the reason.
    package static func validateTaskLabel(_ label: String, what: String = "task label") throws {
        func refuse(_ why: String) -> ButlerError {
            ButlerError(.invalidName, "invalid \(what) \(escapedForMessage(label)): \(why)")
        }
        let scalars = label.unicodeScalars
        guard let first = scalars.first else { throw refuse("empty") }
        if let bad = scalars.first(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw refuse(bad.value == 0 ? "contains a NUL character" : "contains the control character U+\(hex4(bad.value))")
        }
        if scalars.contains("/") { throw refuse("contains '/'") }
        if label == "." || label == ".." { throw refuse("'\(label)' names a folder") }
        let isLetter = { (c: Unicode.Scalar) in c == "_" || ("a"..."z").contains(c) || ("A"..."Z").contains(c) }
        guard isLetter(first) else { throw refuse("must start with a letter or '_'") }
        if let bad = scalars.first(where: { !isLetter($0) && !("0"..."9").contains($0) }) {
            throw refuse("'\(bad)' is not allowed: use letters, digits and '_'")
        }
        if scalars.count > maximumTaskLabelLength { throw refuse("longer than \(maximumTaskLabelLength) characters") }
    }
}

/// A value quoted for an error message, with control characters (NUL included) and quotes escaped, so the message
/// stays on one line and shows what was given.
package func escapedForMessage(_ text: String, limit: Int = 200) -> String {
    var out = "\""
    var count = 0
    for scalar in text.unicodeScalars {
        if count == limit { out += "..."; break }
        count += 1
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F { out += "\\u" + hex4(scalar.value) } else { out.unicodeScalars.append(scalar) }
        }
    }
    return out + "\""
}

private func hex4(_ value: UInt32) -> String {
    let digits = String(value, radix: 16, uppercase: true)
    return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
}
