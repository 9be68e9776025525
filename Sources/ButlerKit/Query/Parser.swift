/// A recursive-descent parser for Rubin's `--where` grammar. Precedence, low to high:
/// `OR` < `AND` < `NOT` < `OVERLAPS` < `= !=` < `< <= > >=` < `+ -` < `* / %` < unary `+ -`.
/// `NOT band = 'g'` negates the comparison, as in SQL and as Rubin reads it.
///
/// Long flat lists stay flat: `a OR b OR ...` and `a AND b AND ...` become one ``Expression/logical(_:_:column:)``
/// node and `a + b - ...` one ``Expression/sum(_:column:)``, so a list of any length costs no depth. Nesting is
/// bounded: the parser refuses, as it descends, more than ``maxDepth`` levels of parentheses, `NOT`, signs and
/// function calls, and any expression tree higher than that (a chain of 300 `*`), so that neither parsing,
/// compiling nor freeing the tree can exhaust the stack.
struct Parser {
    /// The deepest nesting an expression may have.
    static let maxDepth = 200

    let text: String
    let tokens: [Token]
    var position = 0
    /// How many parentheses, `NOT`s, signs and function calls the parser is inside.
    private var depth = 0
    /// The height of the expression the last parse function returned (a name or value is 1).
    private var height = 0

    init(text: String, tokens: [Token]) {
        self.text = text
        self.tokens = tokens
    }

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
        case .range(let a, let b, let stride): return "\(a)..\(b)" + (stride.map { ":\($0)" } ?? "")
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

    func tooDeep() -> ExpressionError {
        error("the expression nests more than \(Self.maxDepth) levels deep (parentheses, NOT, signs, function calls or a chain of comparisons or '*')")
    }

    /// One level deeper into parentheses, `NOT`, a sign or a function call; refused beyond ``maxDepth``.
    mutating func descend() throws(ExpressionError) {
        depth += 1
        if depth > Self.maxDepth { throw tooDeep() }
    }

    mutating func ascend() { depth -= 1 }

    /// Records the height of a node about to be returned; refused beyond ``maxDepth``.
    mutating func node(_ expression: Expression, height h: Int) throws(ExpressionError) -> Expression {
        if h > Self.maxDepth { throw tooDeep() }
        height = h
        return expression
    }

    mutating func parseOr() throws(ExpressionError) -> Expression { try parseLogical("OR") }

    mutating func parseAnd() throws(ExpressionError) -> Expression { try parseLogical("AND") }

    /// `a OR b OR ...` (of ANDs) or `a AND b AND ...` (of NOTs) as one flat list.
    private mutating func parseLogical(_ op: String) throws(ExpressionError) -> Expression {
        func operand(_ parser: inout Parser) throws(ExpressionError) -> Expression {
            op == "OR" ? try parser.parseAnd() : try parser.parseNot()
        }
        let first = try operand(&self)
        guard isKeyword(op) else { return first }
        let column = current.column
        var items: [Expression] = []
        var h = height
        func add(_ e: Expression) {
            if case .logical(op, let inner, _) = e { items.append(contentsOf: inner) } else { items.append(e) }
        }
        add(first)
        while isKeyword(op) {
            advance()
            add(try operand(&self))
            h = max(h, height)
        }
        return try node(.logical(op, items, column: column), height: h + 1)
    }

    /// `NOT` applies to a whole comparison, as in SQL: `NOT band = 'g'` is `NOT (band = 'g')`.
    mutating func parseNot() throws(ExpressionError) -> Expression {
        if isKeyword("NOT") && !(position + 1 < tokens.count && tokens[position + 1].kind == .keyword("IN")) {
            let column = current.column
            advance()
            try descend()
            defer { ascend() }
            let inner = try parseNot()
            return try node(.unary("NOT", inner, column: column), height: height + 1)
        }
        return try parseOverlaps()
    }

    mutating func parseOverlaps() throws(ExpressionError) -> Expression {
        var left = try parseEquality()
        while isKeyword("OVERLAPS") {
            let column = current.column
            advance()
            let h = height
            let right = try parseEquality()
            left = try node(.binary("OVERLAPS", left, right, column: column), height: max(h, height) + 1)
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
                let h = height
                let right = try parseComparison()
                left = try node(.binary(op, left, right, column: column), height: max(h, height) + 1)
            } else if isKeyword("IN") || (isKeyword("NOT") && position + 1 < tokens.count && tokens[position + 1].kind == .keyword("IN")) {
                let column = current.column
                let negated = isKeyword("NOT")
                if negated { advance() }
                advance()
                let h = height
                let items = try parseInList()
                left = try node(.inList(left, items, negated: negated, column: column), height: max(h, height) + 1)
            } else {
                break
            }
        }
        return left
    }

    /// `( item, ... )` after IN. As in Rubin's grammar, an item is a literal (a number, a signed number, a string, a
    /// time, a range), a name without dots, a bind value or a function call (`UUID('...')`): not an expression.
    mutating func parseInList() throws(ExpressionError) -> [Expression.InItem] {
        try expect("(", "'(' after IN")
        var items: [Expression.InItem] = []
        var h = 1
        if isSymbol(")") { throw error("expected at least one value in the IN list") }
        while true {
            let token = current
            switch token.kind {
            case .range(let a, let b, let stride):
                // Rubin: an inclusive a..b is Python's range(a, b + 1), which may be empty but not run backwards.
                // b + 1 >= a, written so that it cannot overflow at Int.max.
                guard a == Int.min || b >= a - 1 else { throw error("range \(a)..\(b) ends before it starts (its stop must be at least start - 1)", at: token.column) }
                advance()
                items.append(.range(a, b, stride: stride ?? 1, column: token.column))
            case .symbol("-"), .symbol("+"):
                let negate = isSymbol("-")
                advance()
                switch current.kind {
                case .integer(let v): items.append(.value(.literal(.integer(negate ? -v : v), column: token.column)))
                case .float(let v): items.append(.value(.literal(.float(negate ? -v : v), column: token.column)))
                default: throw error("expected a number after '\(negate ? "-" : "+")' in the IN list")
                }
                advance()
            case .integer, .float, .string, .time, .bind:
                items.append(.value(try parsePrimary()))
            case .identifier(let name) where !name.contains("."):
                let e = try parsePrimary()
                h = max(h, height)
                items.append(.value(e))
            case .identifier(let name):
                throw error("an IN list holds values, names without dots and bind values, not '\(name)'; write \(name) = x OR \(name) = y instead")
            default:
                throw error("expected a value, a range, a name or a bind value in the IN list, found \(describe(token))")
            }
            if isSymbol(",") { advance(); continue }
            try expect(")", "',' or ')' in the IN list")
            height = h
            return items
        }
    }

    mutating func parseComparison() throws(ExpressionError) -> Expression {
        var left = try parseAdditive()
        while case .symbol(let op) = current.kind, ["<", "<=", ">", ">="].contains(op) {
            let column = current.column
            advance()
            let h = height
            let right = try parseAdditive()
            left = try node(.binary(op, left, right, column: column), height: max(h, height) + 1)
        }
        return left
    }

    /// `a + b - c ...` as one flat list of signed terms.
    mutating func parseAdditive() throws(ExpressionError) -> Expression {
        let first = try parseMultiplicative()
        guard case .symbol(let firstOp) = current.kind, firstOp == "+" || firstOp == "-" else { return first }
        let column = current.column
        var terms = [Expression.SumTerm(negated: false, value: first)]
        var h = height
        while case .symbol(let op) = current.kind, op == "+" || op == "-" {
            advance()
            terms.append(Expression.SumTerm(negated: op == "-", value: try parseMultiplicative()))
            h = max(h, height)
        }
        return try node(.sum(terms, column: column), height: h + 1)
    }

    mutating func parseMultiplicative() throws(ExpressionError) -> Expression {
        var left = try parseUnary()
        while case .symbol(let op) = current.kind, op == "*" || op == "/" || op == "%" {
            let column = current.column
            advance()
            let h = height
            let right = try parseUnary()
            left = try node(.binary(op, left, right, column: column), height: max(h, height) + 1)
        }
        return left
    }

    mutating func parseUnary() throws(ExpressionError) -> Expression {
        let column = current.column
        if isSymbol("-") || isSymbol("+") {
            let negate = isSymbol("-")
            advance()
            try descend()
            defer { ascend() }
            let inner = try parseUnary()
            return negate ? try node(.unary("-", inner, column: column), height: height + 1) : inner
        }
        return try parsePrimary()
    }

    mutating func parsePrimary() throws(ExpressionError) -> Expression {
        let token = current
        switch token.kind {
        case .integer(let v): advance(); height = 1; return .literal(.integer(v), column: token.column)
        case .float(let v): advance(); height = 1; return .literal(.float(v), column: token.column)
        case .string(let v): advance(); height = 1; return .literal(.string(v), column: token.column)
        case .time(let v): advance(); height = 1; return .literal(.time(v), column: token.column)
        case .bind(let name): advance(); height = 1; return .bind(name, column: token.column)
        case .range(let a, let b, let stride):
            let text = "\(a)..\(b)" + (stride.map { ":\($0)" } ?? "")
            throw error("a range (\(text)) can only be an item of an IN list: x IN (\(text))")
        case .identifier(let word):
            advance()
            let dotted = word.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            let first = dotted[0]
            if isSymbol("("), dotted.count > 1 { throw error("a function name has no dots: '\(word)'", at: token.column) }
            if isSymbol("(") {
                try descend()
                defer { ascend() }
                advance()
                var args: [Expression] = []
                var h = 0
                if !isSymbol(")") {
                    while true {
                        args.append(try parseOr())
                        h = max(h, height)
                        if isSymbol(",") { advance(); continue }
                        break
                    }
                }
                try expect(")", "',' or ')' after function arguments")
                if first.uppercased() == "UUID" {
                    guard args.count == 1, case .literal(.string(let s), _) = args[0] else {
                        throw error("UUID takes one string, as UUID('e15ab039-bc8b-4135-87c5-90902a7c0b22')", at: token.column)
                    }
                    height = 1
                    return .literal(.uuid(s), column: token.column)
                }
                return try node(.function(first.uppercased(), args, column: token.column), height: h + 1)
            }
            if dotted.count > 3 { throw error("a name has at most two dots (element.field.part)", at: token.column) }
            height = 1
            return .name(dotted, column: token.column)
        case .symbol("("):
            try descend()
            defer { ascend() }
            advance()
            let first = try parseOr()
            if isSymbol(",") {
                var items = [first]
                var h = height
                while isSymbol(",") { advance(); items.append(try parseOr()); h = max(h, height) }
                try expect(")", "')' to close the tuple")
                return try node(.tuple(items, column: token.column), height: h + 1)
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
