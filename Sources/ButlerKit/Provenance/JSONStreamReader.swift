import Foundation
internal import Glibc

/// Reads a JSON document, or a sequence of JSON objects (JSON Lines), in chunks, so that memory does not grow with
/// the size of the text: the members of each top-level object are handed over one by one, and the elements of one
/// list member (`streamedKey`, say `quanta`) one by one, each parsed by ``JSONDocumentParser`` and then dropped.
///
/// The whole text is checked as strictly as ``JSONDocumentParser/parse(_:)`` checks it, with the same messages and
/// positions (line and column of the whole text): syntax errors, duplicate keys, nesting, invalid UTF-8.
struct JSONStreamReader {
    /// What the reader reads: a file descriptor from its start (read with `pread`, so that it can be read again),
    /// or bytes in memory.
    enum Source {
        case descriptor(Int32)
        case bytes([UInt8])
    }

    /// One top-level object's members, in the order written, and the position where it starts.
    struct Handler {
        /// A member of top-level object number `object` (from 0), other than the streamed list.
        var member: (_ object: Int, _ key: String, _ value: JSONValue) throws -> Void
        /// The start of the streamed list (`streamedKey`) in top-level object `object`.
        var streamStarted: (_ object: Int) throws -> Void = { _ in }
        /// An element of the streamed list, with its index.
        var element: (_ index: Int, _ value: JSONValue) throws -> Void
        /// The start of top-level object `object`, at `line` of the text (before any of its members).
        var objectStarted: (_ object: Int, _ line: Int) throws -> Void = { _, _ in }
        /// The end of top-level object `object`.
        var objectEnded: (_ object: Int) throws -> Void = { _ in }
    }

    private let source: Source
    private let chunkSize: Int
    private var window: [UInt8] = []
    private var position = 0
    private var fileOffset: Int64 = 0
    private var atEnd = false
    /// Line and column (in characters, from 1) of `window[position]`.
    private var line = 1
    private var column = 1
    private var skippedBOM = false

    init(_ source: Source, chunkSize: Int = 1 << 20) {
        self.source = source
        self.chunkSize = chunkSize
        if case .bytes(let b) = source {
            window = b
            atEnd = true
        }
    }

    // MARK: Bytes

    /// Reads the next chunk when `position` reached the end of the window; false at the end of the text.
    private mutating func more() throws -> Bool {
        if position < window.count { return true }
        if atEnd { return false }
        guard case .descriptor(let fd) = source else { return false }
        window.removeAll(keepingCapacity: true)
        position = 0
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, chunkSize, off_t(fileOffset)) }
        guard n >= 0 else { throw ButlerError(.io, "cannot read: \(String(cString: strerror(errno)))") }
        if n == 0 { atEnd = true; return false }
        fileOffset += Int64(n)
        window = Array(chunk[0..<n])
        return true
    }

    private mutating func peek() throws -> UInt8? {
        try more() ? window[position] : nil
    }

    /// Moves past one byte, keeping the line and column.
    private mutating func advance() {
        let b = window[position]
        position += 1
        if b == 0x0A { line += 1; column = 1 } else if b & 0xC0 != 0x80 { column += 1 }
    }

    private mutating func skipSpace() throws {
        while let b = try peek() {
            switch b {
            case 0x20, 0x09, 0x0A, 0x0D: advance()
            default: return
            }
        }
    }

    private func error(_ reason: String, line: Int? = nil, column: Int? = nil) -> JSONDocumentParser.SyntaxError {
        JSONDocumentParser.SyntaxError(line: line ?? self.line, column: column ?? self.column, reason: reason)
    }

    private mutating func current() throws -> String {
        guard let b = try peek() else { return "the end of the text" }
        if b >= 0x21 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
        return "byte 0x" + String(b, radix: 16, uppercase: true)
    }

    /// The bytes of the value that starts here, found by matching brackets outside strings (its syntax is checked
    /// by the parser afterwards). Stops early, after the byte at fault, at a bracket that does not match, a line
    /// break in a string or nesting deeper than the parser allows, so that the parser reports the error there.
    private mutating func valueBytes() throws -> [UInt8] {
        var out: [UInt8] = []
        var start = position
        var stack: [UInt8] = []
        var inString = false, escaped = false
        let first = try peek()
        let container = first == UInt8(ascii: "{") || first == UInt8(ascii: "[")
        let scalarString = first == UInt8(ascii: "\"")
        var done = false
        while !done {
            if position >= window.count {
                out.append(contentsOf: window[start..<position])
                guard try more() else { return out }
                start = position
            }
            let b = window[position]
            if inString {
                if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") {
                    inString = false
                    if !container { done = true }
                } else if b == 0x0A { advance(); break }
                advance()
                continue
            }
            if !container && !scalarString {
                switch b {
                case UInt8(ascii: ","), UInt8(ascii: "]"), UInt8(ascii: "}"), 0x20, 0x09, 0x0A, 0x0D: done = true; continue
                default: advance(); continue
                }
            }
            switch b {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                stack.append(b)
                if stack.count > JSONDocumentParser.maximumDepth + 2 { advance(); done = true; continue }
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                let open = b == UInt8(ascii: "}") ? UInt8(ascii: "{") : UInt8(ascii: "[")
                if stack.last != open { advance(); done = true; continue }
                stack.removeLast()
                if stack.isEmpty { done = true }
            default: break
            }
            advance()
        }
        out.append(contentsOf: window[start..<position])
        return out
    }

    /// Parses the value that starts here (at nesting `depth`), with positions of the whole text in its errors.
    private mutating func value(depth: Int) throws -> JSONValue {
        let (startLine, startColumn) = (line, column)
        let bytes = try valueBytes()
        do {
            return try JSONDocumentParser.parse(bytes, depth: depth)
        } catch {
            throw JSONDocumentParser.SyntaxError(line: error.line + startLine - 1, column: error.line == 1 ? error.column + startColumn - 1 : error.column,
                                                 reason: error.reason)
        }
    }

    // MARK: Structure

    /// Reads the whole text: one top-level object (whose `streamedKey` list is streamed), or several top-level
    /// objects one after another (JSON Lines). Anything else at the top level is parsed whole and handed to
    /// `other` (which says what is wrong with it).
    ///
    /// - Returns: the number of top-level objects.
    mutating func read(streamedKey: String, _ handler: Handler, other: (JSONValue) throws -> Void) throws -> Int {
        if !skippedBOM, try more(), window.starts(with: [0xEF, 0xBB, 0xBF]) { position = 3 }
        skippedBOM = true
        try skipSpace()
        guard try peek() == UInt8(ascii: "{") else {
            guard try peek() != nil else { throw error("expected a value, found the end of the text") }
            let v = try value(depth: 0)
            try skipSpace()
            if try peek() != nil { throw error("unexpected text after the JSON value") }
            try other(v)
            return 0
        }
        var objects = 0
        var streamed = false
        while true {
            try handler.objectStarted(objects, line)
            try object(objects, streamedKey: objects == 0 ? streamedKey : nil, handler, streamed: &streamed)
            try handler.objectEnded(objects)
            objects += 1
            try skipSpace()
            guard let b = try peek() else { return objects }
            if streamed || b != UInt8(ascii: "{") { throw error("unexpected text after the JSON value") }
        }
    }

    /// One top-level object, member by member.
    private mutating func object(_ index: Int, streamedKey: String?, _ handler: Handler, streamed: inout Bool) throws {
        advance()  // {
        var keys = Set<String>()
        try skipSpace()
        if try peek() == UInt8(ascii: "}") { advance(); return }
        while true {
            try skipSpace()
            guard try peek() == UInt8(ascii: "\"") else {
                throw error(try peek() == UInt8(ascii: "}") ? "a trailing ',' before '}'" : "expected a key in double quotes, found \(try current())")
            }
            let (keyLine, keyColumn) = (line, column)
            guard case .string(let key) = try value(depth: 1) else { throw error("expected a key in double quotes", line: keyLine, column: keyColumn) }
            try skipSpace()
            guard try peek() == UInt8(ascii: ":") else { throw error("expected ':' after the key, found \(try current())") }
            advance()
            try skipSpace()
            let duplicate = !keys.insert(key).inserted
            if key == streamedKey, !duplicate, try peek() == UInt8(ascii: "[") {
                streamed = true
                try handler.streamStarted(index)
                try list(handler)
            } else {
                let member = try value(depth: 1)
                if duplicate { throw error("duplicate key \(escapedForMessage(key))", line: keyLine, column: keyColumn) }
                try handler.member(index, key, member)
            }
            try skipSpace()
            guard let b = try peek() else { throw error("the object is not closed: expected ',' or '}', found the end of the text") }
            if b == UInt8(ascii: ",") { advance(); continue }
            if b == UInt8(ascii: "}") { advance(); return }
            throw error("expected ',' or '}' after an object member, found \(try current())")
        }
    }

    /// The streamed list, element by element.
    private mutating func list(_ handler: Handler) throws {
        advance()  // [
        try skipSpace()
        if try peek() == UInt8(ascii: "]") { advance(); return }
        var index = 0
        while true {
            try skipSpace()
            if try peek() == UInt8(ascii: "]") { throw error("a trailing ',' before ']'") }
            guard try peek() != nil else { throw error("expected a value, found the end of the text") }
            try handler.element(index, try value(depth: 2))
            index += 1
            try skipSpace()
            guard let b = try peek() else { throw error("the list is not closed: expected ',' or ']', found the end of the text") }
            if b == UInt8(ascii: ",") { advance(); continue }
            if b == UInt8(ascii: "]") { advance(); return }
            throw error("expected ',' or ']' after a list element, found \(try current())")
        }
    }
}
