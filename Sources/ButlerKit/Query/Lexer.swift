/// A token of the `--where` language (Rubin's grammar: `daf_butler` queries/expressions/parser).
struct Token: Equatable {
    enum Kind: Equatable {
        case identifier(String)          // visit, exposure.obs_id, visit.timespan.begin: dots without spaces
        case range(Int, Int, stride: Int?) // -10..-1:2 (one token, as in Rubin's lexer)
        case integer(Int)
        case float(Double)
        case string(String)              // 'single quoted'
        case time(String)                // T'...'
        case bind(String)                // :name
        case keyword(String)             // AND OR NOT IN OVERLAPS (upper case)
        case symbol(String)              // = != < <= > >= + - * / % ( ) ,
        case end
    }
    let kind: Kind
    /// Zero-based column of the token's first character.
    let column: Int
}

/// Splits an expression into tokens as Rubin's lexer does (`parserLex.py`): a range `N..M[:S]` is one token, tried
/// before numbers and `-`, so `-10..-1:2` is a range; a dotted name has no spaces around its dots; a string runs
/// to the next quote (there is no escape); keywords are case-insensitive, names are not.
struct Lexer {
    static let keywords: Set<String> = ["AND", "OR", "NOT", "IN", "OVERLAPS"]

    static func tokenize(_ text: String) throws(ExpressionError) -> [Token] {
        let chars = Array(text)
        var tokens: [Token] = []
        var i = 0
        func fail(_ message: String, _ column: Int) -> ExpressionError {
            ExpressionError(expression: text, column: column, message: message)
        }
        while i < chars.count {
            let c = chars[i]
            if c.isWhitespace { i += 1; continue }
            let start = i
            // Time literal T'...'
            if (c == "T" || c == "t"), i + 1 < chars.count, chars[i + 1] == "'" {
                i += 2
                var value = ""
                while i < chars.count && chars[i] != "'" { value.append(chars[i]); i += 1 }
                guard i < chars.count else { throw fail("unterminated time literal", start) }
                i += 1
                tokens.append(Token(kind: .time(value), column: start))
                continue
            }
            if c.isLetter || c == "_" {
                var word = ""
                func readWord() { while i < chars.count && (chars[i].isLetter || chars[i].isNumber || chars[i] == "_") { word.append(chars[i]); i += 1 } }
                readWord()
                var dotted = false
                while i + 1 < chars.count, chars[i] == ".", chars[i + 1].isLetter || chars[i + 1] == "_" {
                    word.append("."); i += 1; readWord(); dotted = true
                }
                let upper = word.uppercased()
                tokens.append(Token(kind: !dotted && keywords.contains(upper) ? .keyword(upper) : .identifier(word), column: start))
                continue
            }
            if let (range, end) = Self.range(chars, from: i) {
                tokens.append(Token(kind: range, column: start))
                i = end
                continue
            }
            if c.isNumber || (c == "." && i + 1 < chars.count && chars[i + 1].isNumber) {
                var digits = ""
                var isFloat = false
                while i < chars.count {
                    let d = chars[i]
                    if d.isNumber { digits.append(d); i += 1; continue }
                    if d == ".", !isFloat { isFloat = true; digits.append(d); i += 1; continue }
                    if (d == "e" || d == "E"), i + 1 < chars.count, chars[i + 1].isNumber || ((chars[i + 1] == "-" || chars[i + 1] == "+") && i + 2 < chars.count && chars[i + 2].isNumber) {
                        isFloat = true
                        digits.append(d); digits.append(chars[i + 1]); i += 2
                        continue
                    }
                    break
                }
                if isFloat {
                    guard let v = Double(digits.hasSuffix(".") ? digits + "0" : digits.replacingOccurrences(of: ".e", with: ".0e").replacingOccurrences(of: ".E", with: ".0E")) else { throw fail("invalid number '\(digits)'", start) }
                    tokens.append(Token(kind: .float(v), column: start))
                } else {
                    guard let v = Int(digits) else { throw fail("integer '\(digits)' is too large", start) }
                    tokens.append(Token(kind: .integer(v), column: start))
                }
                continue
            }
            if c == "'" {
                i += 1
                var value = ""
                while true {
                    guard i < chars.count else { throw fail("unterminated string", start) }
                    if chars[i] == "'" { i += 1; break }
                    value.append(chars[i]); i += 1
                }
                tokens.append(Token(kind: .string(value.normalizedName), column: start))
                continue
            }
            if c == ":" , i + 1 < chars.count, chars[i + 1].isLetter || chars[i + 1] == "_" {
                i += 1
                var name = ""
                while i < chars.count && (chars[i].isLetter || chars[i].isNumber || chars[i] == "_") { name.append(chars[i]); i += 1 }
                tokens.append(Token(kind: .bind(name), column: start))
                continue
            }
            let two = i + 1 < chars.count ? String([c, chars[i + 1]]) : ""
            if two == "<>" || two == "==" { throw fail("'\(two)' is not an operator of the language; write '\(two == "<>" ? "!=" : "=")'", start) }
            if ["!=", "<=", ">="].contains(two) {
                tokens.append(Token(kind: .symbol(two), column: start))
                i += 2
                continue
            }
            if "=<>+-*/%(),".contains(c) {
                tokens.append(Token(kind: .symbol(String(c)), column: start))
                i += 1
                continue
            }
            throw fail("unexpected character '\(c)'", start)
        }
        tokens.append(Token(kind: .end, column: chars.count))
        return tokens
    }

    /// `-?\d+ \s* .. \s* -?\d+ (\s* : \s* [1-9]\d*)?` at `start`: the token and the index after it.
    static func range(_ chars: [Character], from start: Int) -> (Token.Kind, Int)? {
        var i = start
        func skipSpaces() { while i < chars.count && (chars[i] == " " || chars[i] == "\t") { i += 1 } }
        func integer(signed: Bool) -> Int? {
            let begin = i
            if signed && i < chars.count && chars[i] == "-" { i += 1 }
            let digitsStart = i
            while i < chars.count, chars[i].isASCII, chars[i].isNumber { i += 1 }
            guard i > digitsStart else { i = begin; return nil }
            return Int(String(chars[begin..<i]))
        }
        guard let a = integer(signed: true) else { return nil }
        skipSpaces()
        guard i + 1 < chars.count, chars[i] == ".", chars[i + 1] == "." else { return nil }
        i += 2
        skipSpaces()
        guard let b = integer(signed: true) else { return nil }
        let afterStop = i
        skipSpaces()
        if i < chars.count, chars[i] == ":" {
            i += 1
            skipSpaces()
            if i < chars.count, chars[i] != "0", let s = integer(signed: false) { return (.range(a, b, stride: s), i) }
        }
        return (.range(a, b, stride: nil), afterStop)
    }
}
