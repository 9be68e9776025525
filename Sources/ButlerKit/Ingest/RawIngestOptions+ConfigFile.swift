public import Foundation

extension RawIngestOptions {
    /// Applies the overrides of a config file given to `ingest-raws --config-file`, as Rubin's `RawIngestConfig`
    /// overrides are written.
    ///
    /// Two forms are read:
    /// - Rubin's pex_config override file: lines `config.transfer = "copy"` and `config.failFast = True`
    ///   (`#` comments and `import` lines are ignored; nothing is executed);
    /// - a YAML-like file (name ending `.yaml` or `.yml`): lines `transfer: copy` and `failFast: true`.
    ///
    /// The fields Rubin's raw ingest configuration has and we apply are `transfer` and `failFast`; any other field
    /// is refused, naming the file, the line and the field, so that no override is silently dropped.
    ///
    /// - Throws: ``ButlerError/Code/invalidValue`` for an unreadable file, an unknown field or a bad value.
    public mutating func applyConfigFile(_ path: String) throws {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ButlerError(.io, "cannot read config file \(path): \(error.localizedDescription)")
        }
        let yaml = path.hasSuffix(".yaml") || path.hasSuffix(".yml")
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)?
                .trimmingCharacters(in: .whitespaces) ?? ""
            if line.isEmpty || line.hasPrefix("import ") || line.hasPrefix("from ") || line == "---" { continue }
            let place = "\(path):\(index + 1)"
            let separator: Character = yaml ? ":" : "="
            let parts = line.split(separator: separator, maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else {
                throw ButlerError(.invalidValue, "\(place): cannot read '\(line)': expected \(yaml ? "field: value" : "config.field = value")")
            }
            var field = parts[0]
            if !yaml {
                guard field.hasPrefix("config.") else {
                    throw ButlerError(.invalidValue, "\(place): cannot apply '\(line)': only assignments to config.<field> are read")
                }
                field.removeFirst("config.".count)
            }
            let value = Self.unquoted(parts[1])
            switch field {
            case "transfer":
                guard let mode = TransferMode(rawValue: value.lowercased()) else {
                    throw ButlerError(.invalidValue, "\(place): transfer '\(value)' is not one of \(TransferMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                transfer = mode
            case "failFast":
                switch value.lowercased() {
                case "true": failFast = true
                case "false": failFast = false
                default: throw ButlerError(.invalidValue, "\(place): failFast takes True or False, not '\(value)'")
                }
            default:
                throw ButlerError(.invalidValue, "\(place): unknown raw ingest config field '\(field)' (fields applied: transfer, failFast)")
            }
        }
    }

    /// A value without its surrounding quotes (`"copy"`, `'copy'`).
    private static func unquoted(_ text: String) -> String {
        guard text.count >= 2, let first = text.first, first == "\"" || first == "'", text.last == first else { return text }
        return String(text.dropFirst().dropLast())
    }
}
