/// A syntax or semantic error in a `--where` expression: the expression, a caret under the column, and what was
/// expected.
struct ExpressionError: Error {
    let expression: String
    /// Zero-based column of the problem.
    let column: Int
    let message: String

    /// The widest excerpt of the expression an error shows.
    static let excerptWidth = 72

    /// The error as a ``ButlerError``: a message line, the expression, and a caret under the column. A long
    /// expression is cut to a window around the column (the message line then names the column), and line breaks
    /// show as spaces, so the error is three short lines however long the expression is.
    var butlerError: ButlerError {
        let (excerpt, offset) = Self.excerpt(expression, around: column)
        let caret = String(repeating: " ", count: max(0, offset)) + "^"
        let place = excerpt.count < expression.count ? " (at column \(column + 1) of \(expression.count))" : ""
        return ButlerError(.invalidValue, "invalid --where expression: \(message)\(place)\n  \(excerpt)\n  \(caret)")
    }

    /// At most ``excerptWidth`` characters of `text` around `column`, with `...` where it was cut, and the column's
    /// offset in the excerpt.
    static func excerpt(_ text: String, around column: Int) -> (String, Int) {
        let chars = Array(text).map { $0.isNewline || $0 == "\t" ? " " : $0 }
        guard chars.count > excerptWidth else { return (String(chars), column) }
        let column = min(max(0, column), chars.count)
        let start = max(0, min(column - excerptWidth / 3, chars.count - excerptWidth))
        let end = min(chars.count, start + excerptWidth)
        let head = start > 0 ? "..." : ""
        let tail = end < chars.count ? "..." : ""
        return (head + String(chars[start..<end]) + tail, column - start + head.count)
    }
}
