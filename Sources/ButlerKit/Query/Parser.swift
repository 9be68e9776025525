/// A recursive-descent parser for Rubin's `--where` grammar. Precedence, low to high:
/// `OR` < `AND` < `NOT` < `OVERLAPS` < `= !=` < `< <= > >=` < `+ -` < `* / %` < unary `+ -`.
/// (Rubin binds `NOT` tightest, which makes `NOT band = 'g'` an error; here it negates the comparison, as in SQL.)
struct Parser {
    let text: String
    let tokens: [Token]
    var position = 0

    /// Parses an expression; an empty string is `nil` (no constraint).
    static func parse(_ text: String) throws(ExpressionError) -> Expression? {
        if text.allSatisfy(\.isWhitespace) { return nil }
        var parser = Parser(text: text, tokens: try Lexer.tokenize(text))
        let expression = try parser.parseOr()
        guard case .end = parser.current.kind else {
            throw parser.error("expected AND, OR or the end of the expression, found \(parser.describe(parser.current))")
        }
        return expression
    }

    var current: Token { tokens[position] }

    mutating func advance() { if position < tokens.count - 1 { position += 1 } }

    func error(_ message: String, at column: Int? = nil) -> ExpressionError {
        ExpressionError(expression: text, column: column ?? current.column, message: message)
    }

    func describe(_ token: Token) -> String {
        switch token.kind {
        case .identifier(let s): return "'\(s)'"
        case .integer(let i): return "\(i)"
        case .float(let d): return "\(d)"
        case .string(let s): return "'\(s)'"
        case .time(let t): return "T'\(t)'"
        case .bind(let b): return ":\(b)"
        case .keyword(let k): return k
        case .symbol(let s): return "'\(s)'"
        case .end: return "the end of the expression"
        }
    }

    func isSymbol(_ s: String) -> Bool { if case .symbol(s) = current.kind { return true } else { return false } }
    func isKeyword(_ k: String) -> Bool { if case .keyword(k) = current.kind { return true } else { return false } }

    mutating func expect(_ s: String, _ what: String) throws(ExpressionError) {
        guard isSymbol(s) else { throw error("expected \(what), found \(describe(current))") }
        advance()
    }

    mutating func parseOr() throws(ExpressionError) -> Expression {
        var left = try parseAnd()
        while isKeyword("OR") {
            let column = current.column
            advance()
            left = .binary("OR", left, try parseAnd(), column: column)
        }
        return left
    }

    mutating func parseAnd() throws(ExpressionError) -> Expression {
        var left = try parseNot()
        while isKeyword("AND") {
            let column = current.column
            advance()
            left = .binary("AND", left, try parseNot(), column: column)
        }
        return left
    }

    /// `NOT` applies to a whole comparison, as in SQL: `NOT band = 'g'` is `NOT (band = 'g')`.
    mutating func parseNot() throws(ExpressionError) -> Expression {
        if isKeyword("NOT") && !(position + 1 < tokens.count && tokens[position + 1].kind == .keyword("IN")) {
            let column = current.column
            advance()
            return .unary("NOT", try parseNot(), column: column)
        }
        return try parseOverlaps()
    }

    mutating func parseOverlaps() throws(ExpressionError) -> Expression {
        var left = try parseEquality()
        while isKeyword("OVERLAPS") {
            let column = current.column
            advance()
            left = .binary("OVERLAPS", left, try parseEquality(), column: column)
        }
        return left
    }

    mutating func parseEquality() throws(ExpressionError) -> Expression {
        var left = try parseComparison()
        while true {
            if isSymbol("=") || isSymbol("!=") {
                guard case .symbol(let op) = current.kind else { break }
                let column = current.column
                advance()
                left = .binary(op, left, try parseComparison(), column: column)
            } else if isKeyword("IN") || (isKeyword("NOT") && position + 1 < tokens.count && tokens[position + 1].kind == .keyword("IN")) {
                let column = current.column
                let negated = isKeyword("NOT")
                if negated { advance() }
                advance()
                left = .inList(left, try parseInList(), negated: negated, column: column)
            } else {
                break
            }
        }
        return left
    }

    mutating func parseInList() throws(ExpressionError) -> [Expression.InItem] {
        try expect("(", "'(' after IN")
        var items: [Expression.InItem] = []
        if isSymbol(")") { throw error("expected at least one value in the IN list") }
        while true {
            let column = current.column
            if case .integer(let a) = current.kind, position + 1 < tokens.count, tokens[position + 1].kind == .symbol("..") {
                advance(); advance()
                guard case .integer(let b) = current.kind else { throw error("expected an integer after '..'") }
                advance()
                var stride = 1
                if isSymbol(":") {
                    advance()
                    guard case .integer(let s) = current.kind, s >= 1 else { throw error("expected a stride of at least 1 after ':'") }
                    stride = s
                    advance()
                }
                guard b >= a else { throw error("empty range \(a)..\(b): the end is before the start", at: column) }
                items.append(.range(a, b, stride: stride, column: column))
            } else {
                items.append(.value(try parseAdditive()))
            }
            if isSymbol(",") { advance(); continue }
            try expect(")", "',' or ')' in the IN list")
            return items
        }
    }

    mutating func parseComparison() throws(ExpressionError) -> Expression {
        var left = try parseAdditive()
        while case .symbol(let op) = current.kind, ["<", "<=", ">", ">="].contains(op) {
            let column = current.column
            advance()
            left = .binary(op, left, try parseAdditive(), column: column)
        }
        return left
    }

    mutating func parseAdditive() throws(ExpressionError) -> Expression {
        var left = try parseMultiplicative()
        while case .symbol(let op) = current.kind, op == "+" || op == "-" {
            let column = current.column
            advance()
            left = .binary(op, left, try parseMultiplicative(), column: column)
        }
        return left
    }

    mutating func parseMultiplicative() throws(ExpressionError) -> Expression {
        var left = try parseUnary()
        while case .symbol(let op) = current.kind, op == "*" || op == "/" || op == "%" {
            let column = current.column
            advance()
            left = .binary(op, left, try parseUnary(), column: column)
        }
        return left
    }

    mutating func parseUnary() throws(ExpressionError) -> Expression {
        let column = current.column
        if isSymbol("-") { advance(); return .unary("-", try parseUnary(), column: column) }
        if isSymbol("+") { advance(); return try parseUnary() }
        return try parsePrimary()
    }

    mutating func parsePrimary() throws(ExpressionError) -> Expression {
        let token = current
        switch token.kind {
        case .integer(let v): advance(); return .literal(.integer(v), column: token.column)
        case .float(let v): advance(); return .literal(.float(v), column: token.column)
        case .string(let v): advance(); return .literal(.string(v), column: token.column)
        case .time(let v): advance(); return .literal(.time(v), column: token.column)
        case .bind(let name): advance(); return .bind(name, column: token.column)
        case .identifier(let first):
            advance()
            if isSymbol("(") {
                advance()
                var args: [Expression] = []
                if !isSymbol(")") {
                    while true {
                        args.append(try parseOr())
                        if isSymbol(",") { advance(); continue }
                        break
                    }
                }
                try expect(")", "',' or ')' after function arguments")
                if first.uppercased() == "UUID" {
                    guard args.count == 1, case .literal(.string(let s), _) = args[0] else {
                        throw error("UUID takes one string, as UUID('e15ab039-bc8b-4135-87c5-90902a7c0b22')", at: token.column)
                    }
                    return .literal(.uuid(s), column: token.column)
                }
                return .function(first.uppercased(), args, column: token.column)
            }
            var parts = [first]
            while isSymbol(".") {
                advance()
                guard case .identifier(let next) = current.kind else { throw error("expected a name after '.'") }
                parts.append(next)
                advance()
            }
            if parts.count > 3 { throw error("a name has at most two dots (element.field.part)", at: token.column) }
            return .name(parts, column: token.column)
        case .symbol("("):
            advance()
            let first = try parseOr()
            if isSymbol(",") {
                var items = [first]
                while isSymbol(",") { advance(); items.append(try parseOr()) }
                try expect(")", "')' to close the tuple")
                return .tuple(items, column: token.column)
            }
            try expect(")", "')'")
            return first
        case .end:
            throw error("expected a value or a name, found the end of the expression")
        default:
            throw error("expected a value or a name, found \(describe(token))")
        }
    }
}
