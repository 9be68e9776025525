public import Foundation
internal import Glibc

/// Many quanta to record at once (`butler record SPEC`), for workflow systems: a JSON document, or JSON Lines.
///
/// The JSON document:
/// ```json
/// {
///   "run": "u/me/run1",
///   "collections": ["LATISS/raw/all"],
///   "environments": {"stack": {"packages": {"ip_isr": "1.2"}, "code_commit": "abc", "code_dirty": false}},
///   "configs": {"isr.yaml": {"path": "configs/isr.yaml"}},
///   "quanta": [{
///     "task": "isr", "data_id": {"instrument": "LATISS", "detector": 0, "exposure": 2023032100053},
///     "status": "succeeded", "exit_code": 0, "environment": "stack", "configs": ["isr.yaml"], "parameters": {"doBias": "true"},
///     "inputs": [{"role": "raw", "dataset": "raw:instrument=LATISS,detector=0,exposure=2023032100053"}],
///     "outputs": [{"name": "isr-0", "role": "out", "dataset_type": "postISRCCD", "data_id": {...}, "file": "out.fits",
///                  "metrics": {"background": 12.5}}]
///   }]
/// }
/// ```
/// An input may also be `{"role": "in", "output": "isr-0"}`: an output of an earlier quantum of the same document.
///
/// JSON Lines: one object a line; a line with a `task` (or any other key of a quantum) is one quantum as above, any
/// other line a header with `run`, `collections`, `environments` and `configs` (several header lines add up; a
/// name is defined once). Header lines may come anywhere: the whole text is read once to check it and collect the
/// header, then again to record the quanta.
///
/// Either form is read in chunks, never whole: memory does not grow with the number of quanta.
public struct RecordSpec: Sendable {
    /// The text, readable twice: a file, standard input copied to an unlinked temporary file, or bytes in memory.
    final class Text: @unchecked Sendable {
        // @unchecked: never changed after init.
        let fd: Int32
        let bytes: [UInt8]?
        init(fd: Int32) { self.fd = fd; bytes = nil }
        init(bytes: [UInt8]) { fd = -1; self.bytes = bytes }
        deinit { if fd >= 0 { close(fd) } }
        func reader() -> JSONStreamReader { JSONStreamReader(bytes.map { .bytes($0) } ?? .descriptor(fd)) }
    }

    let text: Text
    let source: String
    let baseDirectory: URL
    /// `run`, `collections`, `environments`, `configs`, checked (see ``RecordSpecValidator``).
    let header: [String: any Sendable]
    /// Whether the text is JSON Lines rather than one document.
    let isLines: Bool
    /// How many quanta the text holds.
    public let quantumCount: Int

    /// Reads and checks a document or JSON Lines text in memory; `source` names it in errors, relative file paths
    /// resolve against `baseDirectory`.
    ///
    /// - Throws: ``ButlerError/Code/invalidValue`` for a syntax error (with its line and column), an unknown key, or a
    ///   value of the wrong type or out of range (with its JSON path); see ``RecordSpecValidator``.
    public init(json: Data, source: String, baseDirectory: URL) throws {
        try self.init(text: Text(bytes: [UInt8](json)), source: source, baseDirectory: baseDirectory)
    }

    /// Reads and checks the file at `path` (relative paths in it resolve against its folder), in chunks.
    public init(contentsOf path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ButlerError(.io, "cannot read \(path): \(String(cString: strerror(errno)))") }
        var st = stat()
        if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
            close(fd)
            throw ButlerError(.io, "cannot read \(path): it is a folder")
        }
        try self.init(text: Text(fd: fd), source: path, baseDirectory: URL(fileURLWithPath: path).deletingLastPathComponent())
    }

    /// Reads and checks standard input, copied as it comes to an unlinked temporary file (it is read twice);
    /// relative paths resolve against `baseDirectory`.
    public static func standardInput(baseDirectory: URL) throws -> RecordSpec {
        var template = Array((NSTemporaryDirectory() + "/butler-record-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw ButlerError(.io, "cannot create a temporary file in \(NSTemporaryDirectory()): \(String(cString: strerror(errno)))") }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        let text = Text(fd: fd)
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(0, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw ButlerError(.io, "cannot read standard input: \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            let written = chunk.withUnsafeBytes { write(fd, $0.baseAddress, n) }
            guard written == n else { throw ButlerError(.io, "cannot copy standard input to a temporary file: \(String(cString: strerror(errno)))") }
        }
        return try RecordSpec(text: text, source: "standard input", baseDirectory: baseDirectory)
    }

    private init(text: Text, source: String, baseDirectory: URL) throws {
        self.text = text
        self.source = source
        self.baseDirectory = baseDirectory
        var header: [String: any Sendable] = [:]
        var lines = false
        var count = 0
        try Self.read(text, source: source) { kind in
            switch kind {
            case .quantum: count += 1
            case .documentHeader(let h):
                header = h
            case .lineHeader(let h, let line):
                try Self.merge(h, into: &header, source: source, line: line)
                lines = true
            case .lines: lines = true
            }
        }
        if count == 0 {
            throw ButlerError(.invalidValue, lines ? "\(source): no quanta (JSON Lines: one quantum a line, or header lines)" : "\(source): quanta: empty list")
        }
        self.header = header
        self.isLines = lines
        self.quantumCount = count
    }

    /// What one reading of the text finds, in order.
    enum Item {
        /// A quantum, checked, with where it is (`quanta[3]`, or `line 5: `).
        case quantum(String, [String: any Sendable])
        /// The top level of a document, checked (after its quanta when they come first).
        case documentHeader([String: any Sendable])
        /// A header line of JSON Lines, checked.
        case lineHeader([String: any Sendable], line: Int)
        /// The text is JSON Lines.
        case lines
    }

    private static let documentKeys: Set<String> = ["run", "collections", "environments", "configs", "quanta"]
    private static let headerKeys: Set<String> = ["run", "collections", "environments", "configs"]

    /// Reads the whole text once, checking it, and hands over what it finds.
    static func read(_ text: Text, source: String, _ body: (Item) throws -> Void) throws {
        var validator = RecordSpecValidator(source: source)
        var members: [String: JSONValue] = [:]
        var objectLine = 1
        var streamed = false
        var reader = text.reader()
        do {
            try withoutActuallyEscaping(body) { body in
                let handler = JSONStreamReader.Handler(
                    member: { _, key, value in members[key] = value },
                    streamStarted: { _ in streamed = true },
                    element: { index, value in try body(.quantum("quanta[\(index)]", try validator.quantum(value, "quanta[\(index)]"))) },
                    objectStarted: { object, line in
                        members = [:]
                        objectLine = line
                        if object == 1 { try body(.lines) }
                    },
                    objectEnded: { object in
                        if object == 0 && (streamed || members["quanta"] != nil) {
                            if let quanta = members["quanta"] {
                                guard case .array = quanta else {
                                    throw ButlerError(.invalidValue, "\(source): quanta: expected a list, found \(quanta.kind)")
                                }
                            }
                            try body(.documentHeader(try validator.header(members, keys: documentKeys)))
                            return
                        }
                        if object == 0 { try body(.lines) }
                        if members["quanta"] != nil {
                            throw ButlerError(.invalidValue, "\(source): line \(objectLine): a line of JSON Lines holds one quantum or a header, not 'quanta'")
                        }
                        if members["task"] != nil || members.keys.contains(where: { !headerKeys.contains($0) }) {
                            let at = "line \(objectLine): "
                            let q = try validator.quantum(.object(members), at)
                            guard q["task"] != nil else { throw ButlerError(.invalidValue, "\(source): line \(objectLine): task: missing (a quantum's task label)") }
                            try body(.quantum(at, q))
                        } else {
                            try body(.lineHeader(try validator.header(members, keys: headerKeys), line: objectLine))
                        }
                    })
                _ = try reader.read(streamedKey: "quanta", handler) { value in
                    throw ButlerError(.invalidValue, "\(source): expected a JSON object at the top level, found \(value.kind)")
                }
            }
        } catch let error as JSONDocumentParser.SyntaxError {
            throw ButlerError(.invalidValue, "\(source): not valid JSON: \(error)")
        }
    }

    /// Adds a header line to the header collected so far: a run or collections given once, names defined once.
    private static func merge(_ line: [String: any Sendable], into header: inout [String: any Sendable], source: String, line number: Int) throws {
        func fail(_ path: String, _ why: String) -> ButlerError { ButlerError(.invalidValue, "\(source): line \(number): \(path): \(why)") }
        for key in ["run", "collections"] where line[key] != nil {
            if header[key] != nil { throw fail(key, "given again (a header line gives it once)") }
            header[key] = line[key]
        }
        for key in ["environments", "configs"] {
            guard let new = line[key] as? [String: any Sendable] else { continue }
            var known = header[key] as? [String: any Sendable] ?? [:]
            for (name, value) in new {
                if known[name] != nil { throw fail("\(key).\(name)", "already defined on an earlier line") }
                known[name] = value
            }
            header[key] = known
        }
    }

    /// A path from the text: absolute, or relative to the text's folder.
    func resolve(_ path: String) -> String {
        path.hasPrefix("/") ? path : baseDirectory.appendingPathComponent(path).path
    }

    /// `base.sub` in a document (`quanta[3].inputs[0]`), `line 5: sub` in JSON Lines.
    static func path(_ base: String, _ sub: String) -> String {
        base.hasSuffix(": ") ? base + sub : base + "." + sub
    }

    /// Checks a data ID of the text against the dimensions: known dimension names, integers for integer
    /// dimensions, strings for the others.
    func checkDataId(_ value: (any Sendable)?, _ path: String, universe: DimensionUniverse) throws {
        guard let d = value as? [String: any Sendable] else { return }
        for key in d.keys.sorted() {
            let p = Self.path(path, key)
            guard let dim = universe[key], dim.isDimension, let type = dim.primaryKey?.type else {
                throw ButlerError(.invalidValue, "\(source): \(p): unknown dimension '\(key)'")
            }
            switch (type, d[key]) {
            case (.int, let s as String): throw ButlerError(.invalidValue, "\(source): \(p): \(escapedForMessage(s, limit: 80)) is not an integer (\(key) is an integer dimension)")
            case (.int, _), (_, is String): continue
            case (_, let i?): throw ButlerError(.invalidValue, "\(source): \(p): \(i) is a number, expected a string (\(key) is a string dimension)")
            default: continue
            }
        }
    }
}
