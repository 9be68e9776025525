import Foundation

/// Checks a `butler record` document against its schema before anything is looked up or written.
///
/// Every object admits only its documented keys; every value must have its documented type, exactly: no string is
/// read as a number, no number is rounded (`exit_code` is a 32-bit integer, data ID values are integers or strings,
/// metrics are finite numbers), `null` is not a value, no string holds a NUL character (except a config's
/// `content`), times are ISO 8601 and a quantum's `end` is not before its `start`, output names are unique. The first
/// problem is reported with its JSON path (`quanta[3].exit_code: 1e20 is not a 32-bit integer`).
///
/// The result has the shapes ``Butler/record(_:)`` reads: `[String: any Sendable]` objects, `[any Sendable]` lists,
/// `String`, `Bool`, `Int` (data ID values, `exit_code`), `Double` (metrics), `Date` (`start`, `end`); parameter
/// values become the text of the JSON value.
struct RecordSpecValidator {
    let source: String
    private let withZone = ISO8601DateFormatter()
    private let withFraction: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f
    }()
    private var outputNames: [String: String] = [:]

    init(source: String) { self.source = source }

    private func fail(_ path: String, _ why: String) -> ButlerError { ButlerError(.invalidValue, "\(source): \(RecordSpecValidator.trimmed(path)): \(why)") }

    /// A path without the `: ` that ends a JSON Lines line's own path (`line 5: `).
    static func trimmed(_ path: String) -> String { path.hasSuffix(": ") ? String(path.dropLast(2)) : path }

    // Paths are autoclosures: they are built only for an error message, not for each of a million values.

    /// `path.key`, or `path["odd key"]` for a key that is not a plain word.
    private func member(_ path: String, _ key: String) -> String {
        let plain = !key.isEmpty && key.utf8.allSatisfy { $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) }
        if plain { return path.isEmpty || path.hasSuffix(": ") ? path + key : "\(path).\(key)" }
        return "\(Self.trimmed(path))[\(escapedForMessage(key))]"
    }

    /// The top-level members other than the quanta: `run`, `collections`, `environments`, `configs` (a document's
    /// top level also admits `quanta`, which is read separately, quantum by quantum).
    mutating func header(_ top: [String: JSONValue], keys: Set<String>) throws -> [String: any Sendable] {
        _ = try object(.object(top), "", keys: keys)
        var result: [String: any Sendable] = [:]
        if let run = top["run"] { result["run"] = try string(run, "run") }
        if let list = top["collections"] {
            result["collections"] = try array(list, "collections").enumerated().map { i, c in try string(c, "collections[\(i)]") as any Sendable }
        }
        if let environments = top["environments"] {
            var out: [String: any Sendable] = [:]
            for (name, env) in try object(environments, "environments", keys: nil) {
                let path = member("environments", name)
                try checkName(name, path)
                let d = try object(env, path, keys: ["packages", "code_commit", "code_dirty", "executable_sha256"])
                var e: [String: any Sendable] = [:]
                if let packages = d["packages"] {
                    var p: [String: any Sendable] = [:]
                    for (package, version) in try object(packages, member(path, "packages"), keys: nil) {
                        try checkName(package, member(member(path, "packages"), package))
                        p[package] = try string(version, member(member(path, "packages"), package))
                    }
                    e["packages"] = p
                }
                if let commit = d["code_commit"] { e["code_commit"] = try string(commit, member(path, "code_commit")) }
                if let dirty = d["code_dirty"] { e["code_dirty"] = try bool(dirty, member(path, "code_dirty")) }
                if let hash = d["executable_sha256"] {
                    let text = try string(hash, member(path, "executable_sha256"))
                    guard text.utf8.count == 64, text.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x66) }) else {
                        throw fail(member(path, "executable_sha256"), "\(escapedForMessage(text, limit: 80)) is not a SHA-256 digest (64 hexadecimal digits)")
                    }
                    e["executable_sha256"] = text.lowercased()
                }
                out[name] = e
            }
            result["environments"] = out
        }
        if let configs = top["configs"] {
            var out: [String: any Sendable] = [:]
            for (name, config) in try object(configs, "configs", keys: nil) {
                let path = member("configs", name)
                try checkName(name, path)
                let d = try object(config, path, keys: ["path", "content"])
                switch (d["path"], d["content"]) {
                case (let p?, nil): out[name] = ["path": try string(p, member(path, "path"))] as [String: any Sendable]
                case (nil, let c?):
                    guard case .string(let text) = c else { throw fail(member(path, "content"), "expected a string, found \(c.kind)") }
                    out[name] = ["content": text] as [String: any Sendable]
                case (nil, nil): throw fail(path, "needs 'path' or 'content'")
                case (_?, _?): throw fail(path, "has both 'path' and 'content'; give one")
                }
            }
            result["configs"] = out
        }
        return result
    }

    static let quantumKeys: Set<String> = ["task", "run", "data_id", "parameters", "environment", "configs", "status", "exit_code",
                                                   "command", "host", "user", "start", "end", "inputs", "outputs"]
    private static let inputKeys: Set<String> = ["role", "output", "dataset"]
    private static let outputKeys: Set<String> = ["name", "role", "dataset_type", "data_id", "file", "metrics", "transfer"]

    /// One quantum; `path` is where it is (`quanta[3]`, or `line 5: ` in JSON Lines).
    mutating func quantum(_ value: JSONValue, _ path: @autoclosure () -> String) throws -> [String: any Sendable] {
        let q = try object(value, path(), keys: Self.quantumKeys)
        var result: [String: any Sendable] = [:]
        for key in ["task", "run", "environment", "status", "command", "host", "user"] {
            if let v = q[key] { result[key] = try string(v, member(path(), key)) }
        }
        if let task = result["task"] as? String {
            do { try Butler.validateTaskLabel(task) } catch let error as ButlerError {
                throw fail(member(path(), "task"), error.message.replacingOccurrences(of: "invalid task label ", with: "") + " (a task label is a letter or '_', then letters, digits and '_')")
            }
        }
        if let dataId = q["data_id"] { result["data_id"] = try self.dataId(dataId, member(path(), "data_id")) }
        if let parameters = q["parameters"] {
            var out: [String: any Sendable] = [:]
            for (key, v) in try object(parameters, member(path(), "parameters"), keys: nil) {
                func p() -> String { member(member(path(), "parameters"), key) }
                try checkName(key, p())
                switch v {
                case .string: out[key] = try string(v, p())
                case .number(let n): out[key] = n
                case .bool(let b): out[key] = b ? "true" : "false"
                default: throw fail(p(), "expected a string, number or boolean, found \(v.kind)")
                }
            }
            result["parameters"] = out
        }
        if let configs = q["configs"] {
            result["configs"] = try array(configs, member(path(), "configs")).enumerated().map { j, c in try string(c, "\(member(path(), "configs"))[\(j)]") as any Sendable }
        }
        if let code = q["exit_code"] {
            guard case .number(let text) = code else { throw fail(member(path(), "exit_code"), "\(code.shown) is \(code.kind), expected a 32-bit integer") }
            guard let i = Int32(text) else { throw fail(member(path(), "exit_code"), "\(text) is not a 32-bit integer") }
            result["exit_code"] = Int(i)
        }
        var times: [String: Date] = [:]
        for key in ["start", "end"] {
            guard let v = q[key] else { continue }
            let text = try string(v, member(path(), key))
            guard let t = withZone.date(from: text) ?? withFraction.date(from: text) ?? withZone.date(from: text + "Z") ?? withFraction.date(from: text + "Z") else {
                throw fail(member(path(), key), "\(escapedForMessage(text, limit: 80)) is not an ISO 8601 time (like 2026-01-01T00:00:00Z)")
            }
            times[key] = t
            result[key] = t
        }
        if let start = times["start"], let end = times["end"], end < start {
            throw fail(member(path(), "end"), "\(escapedForMessage(string(q["end"]), limit: 80)) is before start \(escapedForMessage(string(q["start"]), limit: 80))")
        }
        if let inputs = q["inputs"] {
            var out: [any Sendable] = []
            for (j, input) in try array(inputs, member(path(), "inputs")).enumerated() {
                func p() -> String { "\(member(path(), "inputs"))[\(j)]" }
                let d = try object(input, p(), keys: Self.inputKeys)
                var r: [String: any Sendable] = [:]
                for key in ["role", "output", "dataset"] { if let v = d[key] { r[key] = try string(v, member(p(), key)) } }
                if r["output"] != nil && r["dataset"] != nil { throw fail(p(), "has both 'output' and 'dataset'; give one") }
                if r["output"] == nil && r["dataset"] == nil { throw fail(p(), "needs 'dataset' (a dataset id or TYPE:k=v,...) or 'output' (the name of an earlier output)") }
                out.append(r)
            }
            result["inputs"] = out
        }
        if let outputs = q["outputs"] {
            var out: [any Sendable] = []
            for (j, output) in try array(outputs, member(path(), "outputs")).enumerated() {
                func p() -> String { "\(member(path(), "outputs"))[\(j)]" }
                let d = try object(output, p(), keys: Self.outputKeys)
                var r: [String: any Sendable] = [:]
                for key in ["name", "role", "dataset_type", "file", "transfer"] { if let v = d[key] { r[key] = try string(v, member(p(), key)) } }
                if let name = r["name"] as? String {
                    if let earlier = outputNames[name] { throw fail(member(p(), "name"), "\(escapedForMessage(name)) is already the name of \(earlier)") }
                    outputNames[name] = p()
                }
                if let dataId = d["data_id"] { r["data_id"] = try self.dataId(dataId, member(p(), "data_id")) }
                if let metrics = d["metrics"] {
                    var m: [String: any Sendable] = [:]
                    for (key, v) in try object(metrics, member(p(), "metrics"), keys: nil) {
                        func mp() -> String { member(member(p(), "metrics"), key) }
                        try checkName(key, mp())
                        guard case .number(let text) = v else { throw fail(mp(), "\(v.shown) is \(v.kind), expected a number") }
                        guard let x = Double(text), x.isFinite else { throw fail(mp(), "\(text) is out of the range of a double") }
                        m[key] = x
                    }
                    r["metrics"] = m
                }
                out.append(r)
            }
            result["outputs"] = out
        }
        return result
    }

    /// A data ID: dimension names to integers or strings (checked against the dimensions later, by the registry's universe).
    private func dataId(_ value: JSONValue, _ path: @autoclosure () -> String) throws -> [String: any Sendable] {
        var out: [String: any Sendable] = [:]
        for (key, v) in try object(value, path(), keys: nil) {
            func p() -> String { member(path(), key) }
            try checkName(key, p())
            switch v {
            case .string:
                out[key] = try string(v, p())
            case .number(let text):
                guard let i = Int(text) else {
                    throw fail(p(), text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) ? "\(text) is not an integer" : "\(text) is out of the range of a 64-bit integer")
                }
                out[key] = i
            default:
                throw fail(p(), "\(v.shown) is \(v.kind), expected an integer or a string")
            }
        }
        return out
    }

    // MARK: Typed readers

    private func object(_ value: JSONValue, _ path: @autoclosure () -> String, keys: Set<String>?) throws -> [String: JSONValue] {
        guard case .object(let d) = value else {
            let where_ = path()
            throw fail(where_.isEmpty ? "(top level)" : where_, "expected an object, found \(value.kind)")
        }
        if let keys, d.keys.contains(where: { !keys.contains($0) }), let unknown = d.keys.filter({ !keys.contains($0) }).sorted().first {
            throw fail(member(path(), unknown), "unknown key (expected one of: \(keys.sorted().joined(separator: ", ")))")
        }
        return d
    }

    private func array(_ value: JSONValue, _ path: @autoclosure () -> String) throws -> [JSONValue] {
        guard case .array(let a) = value else { throw fail(path(), "expected a list, found \(value.kind)") }
        return a
    }

    private func string(_ value: JSONValue, _ path: @autoclosure () -> String) throws -> String {
        guard case .string(let s) = value else { throw fail(path(), "\(value.shown) is \(value.kind), expected a string") }
        if s.utf8.contains(0) { throw fail(path(), "\(escapedForMessage(s, limit: 80)) contains a NUL character") }
        return s
    }

    /// The text of a string value already checked, for messages.
    private func string(_ value: JSONValue?) -> String {
        if case .string(let s)? = value { return s }
        return ""
    }

    private func bool(_ value: JSONValue, _ path: @autoclosure () -> String) throws -> Bool {
        guard case .bool(let b) = value else { throw fail(path(), "\(value.shown) is \(value.kind), expected true or false") }
        return b
    }

    /// A key used as a name (environment, config, package, parameter, metric, dimension): no NUL, not empty.
    private func checkName(_ key: String, _ path: @autoclosure () -> String) throws {
        if key.isEmpty { throw fail(path(), "an empty key") }
        if key.utf8.contains(0) { throw fail(path(), "the key contains a NUL character") }
    }
}

// MARK: The rules of a step, wherever it comes from

extension RecordSpecValidator {
    /// The checks every step passes before the registry holds it, whichever command brings it: `butler record`
    /// (after its document passed the JSON checks above) and `butler merge-staged` (a staged `quantum.json`). One
    /// function, so that no way in accepts what `record` refuses.
    ///
    /// A valid task label and RUN name; a data ID whose keys are dimensions of `universe` (integers where the
    /// dimension is an integer); status `succeeded` or `failed`; an exit code that is a 32-bit integer; an end not
    /// before the start; no NUL character in any text (host, user, command, roles, parameters, configs, log); metric
    /// names that are identifiers with finite values; inputs the registry holds, when `knownInputs` is given.
    ///
    /// - Parameters:
    ///   - metrics: the step's metrics by name.
    ///   - knownInputs: the datasets the registry holds among the step's inputs; nil when the caller resolved every
    ///     input itself (``Butler/record(_:batchSize:progress:)`` finds each input or fails).
    /// - Throws: ``ButlerError/Code/invalidValue`` (``ButlerError/Code/notFound`` for an input) as `WHAT: WHY`; the
    ///   caller puts the step's source in front.
    static func checkStep(_ step: ProvenanceBundle.Step, metrics: [String: Double], universe: DimensionUniverse, knownInputs: Set<UUID>?) throws {
        func refuse(_ what: String, _ why: String) -> ButlerError { ButlerError(.invalidValue, "\(what): \(why)") }
        /// No NUL, and no longer than the registry's column (PostgreSQL refuses a longer value, SQLite would keep it).
        func checkText(_ text: String?, _ what: @autoclosure () -> String, limit: Int? = nil) throws {
            guard let text else { return }
            if text.utf8.contains(0) { throw refuse(what(), "\(escapedForMessage(text, limit: 80)) contains a NUL character") }
            if let limit, text.unicodeScalars.count > limit {
                throw refuse(what(), "\(escapedForMessage(text, limit: 80)) is longer than \(limit) characters")
            }
        }
        try checkText(step.taskLabel, "task", limit: 128)
        do { try Butler.validateTaskLabel(step.taskLabel) } catch let error as ButlerError { throw refuse("task", error.message) }
        try checkText(step.run, "run")
        do { try Registry.validateCollectionName(step.run) } catch let error as ButlerError { throw refuse("run", error.message) }
        try checkText(step.dataId, "data_id")
        let dataId: [String: String]
        do { dataId = try parseDataIDString(step.dataId) } catch let error as ButlerError { throw refuse("data_id", error.message) }
        for (key, value) in dataId.sorted(by: { $0.key < $1.key }) {
            guard let dimension = universe[key], dimension.isDimension, let type = dimension.primaryKey?.type else {
                throw refuse("data_id.\(escapedForMessage(key, limit: 80))", "unknown dimension '\(escapedForMessage(key, limit: 80))'")
            }
            if value.isEmpty { throw refuse("data_id.\(key)", "an empty value") }
            if type == .int, Int(value) == nil {
                throw refuse("data_id.\(key)", "\(escapedForMessage(value, limit: 80)) is not an integer (\(key) is an integer dimension)")
            }
        }
        guard step.status == "succeeded" || step.status == "failed" else {
            throw refuse("status", "\(escapedForMessage(step.status, limit: 40)): expected 'succeeded' or 'failed'")
        }
        if let code = step.exitCode, Int32(exactly: code) == nil { throw refuse("exit_code", "\(code) is not a 32-bit integer") }
        if let start = step.startTime, let end = step.endTime, end < start {
            throw refuse("end", "\(TAITime(nanoseconds: end)) is before start \(TAITime(nanoseconds: start))")
        }
        try checkText(step.host, "host", limit: 256)
        try checkText(step.userName, "user", limit: 128)
        try checkText(step.command, "command")
        try checkText(step.commandDirectory, "command_directory")
        for argument in step.commandTemplate ?? [] { try checkText(argument, "command_template") }
        try checkText(step.environmentId, "environment", limit: 64)
        try checkText(step.configDigest, "config_digest", limit: 64)
        try checkText(step.logText, "log")
        for (name, hash) in step.configs.sorted(by: { $0.key < $1.key }) {
            if name.isEmpty { throw refuse("configs", "a config without a name") }
            try checkText(name, "configs", limit: 256)
            try checkText(hash, "configs.\(name)", limit: 64)
        }
        for (name, value) in step.parameters.sorted(by: { $0.key < $1.key }) {
            if name.isEmpty { throw refuse("parameters", "an empty key") }
            try checkText(name, "parameters", limit: 128)
            try checkText(value, "parameters.\(name)")
        }
        for (list, edges) in [("inputs", step.inputs), ("outputs", step.outputs)] {
            for edge in edges {
                if edge.role.isEmpty { throw refuse(list, "\(edge.datasetId.lowercasedString) has an empty role") }
                try checkText(edge.role, "\(list).role", limit: 64)
            }
        }
        for (name, value) in metrics.sorted(by: { $0.key < $1.key }) { try checkMetric(name, value, "metrics") }
        if let knownInputs {
            for edge in step.inputs where !knownInputs.contains(edge.datasetId) {
                throw ButlerError(.notFound, "inputs: \(edge.role) \(edge.datasetId.lowercasedString) is not in the registry")
            }
        }
    }

    /// A metric: its name an identifier (letters, digits and `_`, not starting with a digit), its value finite.
    /// - Parameter path: where the metrics are (`outputs[0].metrics`), for the message.
    static func checkMetric(_ name: String, _ value: Double, _ path: @autoclosure () -> String) throws {
        guard Butler.isIdentifier(name), name.utf8.count <= 64 else {
            throw ButlerError(.invalidValue, "\(path()).\(escapedForMessage(name, limit: 80)): invalid metric name: use letters, digits and '_' (at most 64)")
        }
        guard value.isFinite else { throw ButlerError(.invalidValue, "\(path()).\(name): \(value) is not a finite number") }
    }
}
