/// The expression tree of a `--where` expression.
indirect enum Expression {
    /// A literal value.
    case literal(Literal, column: Int)
    /// A possibly dotted name: `visit`, `exposure.obs_id`, `visit.timespan.begin`.
    case name([String], column: Int)
    /// A bind parameter `:name`.
    case bind(String, column: Int)
    /// `NOT x`, `-x`, `+x`.
    case unary(String, Expression, column: Int)
    /// `a op b` for comparisons, `*`, `/`, `%` and OVERLAPS.
    case binary(String, Expression, Expression, column: Int)
    /// `a AND b AND c` or `a OR b OR c` (the operator): one flat list, however long, with nested lists of the same
    /// operator merged in. The column is that of the first operator.
    case logical(String, [Expression], column: Int)
    /// `a + b - c`: the terms in order with their signs (the first is never negated), however many. The column is
    /// that of the first operator.
    case sum([SumTerm], column: Int)
    /// `x [NOT] IN (items)`; items may be ranges.
    case inList(Expression, [InItem], negated: Bool, column: Int)
    /// `GLOB(x, 'pattern')`, `UUID('...')`, `POINT(...)` and so on.
    case function(String, [Expression], column: Int)
    /// `(a, b)`: a time range.
    case tuple([Expression], column: Int)

    enum Literal {
        case integer(Int)
        case float(Double)
        case string(String)
        case time(String)
        case uuid(String)
    }

    struct SumTerm {
        /// Whether the term is subtracted.
        let negated: Bool
        let value: Expression
    }

    enum InItem {
        case value(Expression)
        /// `start..stop[:stride]`, inclusive.
        case range(Int, Int, stride: Int, column: Int)
    }

    var column: Int {
        switch self {
        case .literal(_, let c), .name(_, let c), .bind(_, let c), .unary(_, _, let c), .binary(_, _, _, let c),
             .logical(_, _, let c), .sum(_, let c), .inList(_, _, _, let c), .function(_, _, let c), .tuple(_, let c):
            return c
        }
    }
}

extension Expression {
    /// Calls `body` with every name the expression holds (`visit`, `exposure.obs_id`), with its column, in order:
    /// what the rules that look at names alone (governors, sky pixels, dimensions named) walk.
    func forEachName(_ body: (_ parts: [String], _ column: Int) -> Void) {
        switch self {
        case .name(let parts, let column): body(parts, column)
        case .literal, .bind: return
        case .unary(_, let operand, _): operand.forEachName(body)
        case .binary(_, let a, let b, _): a.forEachName(body); b.forEachName(body)
        case .logical(_, let operands, _), .function(_, let operands, _), .tuple(let operands, _):
            for operand in operands { operand.forEachName(body) }
        case .sum(let terms, _): for term in terms { term.value.forEachName(body) }
        case .inList(let value, let items, _, _):
            value.forEachName(body)
            for case .value(let item) in items { item.forEachName(body) }
        }
    }
}
