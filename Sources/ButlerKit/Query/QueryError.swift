/// A syntax or semantic error in a `--where` expression: the expression, a caret under the column, and what was
/// expected.
struct ExpressionError: Error {
    let expression: String
    /// Zero-based column of the problem.
    let column: Int
    let message: String

    /// The error as a ``ButlerError``: a message line, the expression, and a caret under the column.
    var butlerError: ButlerError {
        let caret = String(repeating: " ", count: max(0, column)) + "^"
        return ButlerError(.invalidValue, "invalid --where expression: \(message)\n  \(expression)\n  \(caret)")
    }
}
