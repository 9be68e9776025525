public import FITS
import Foundation

/// Turns a raw header into an ``ObservationInfo``. One per camera; chosen from the header itself.
package protocol MetadataTranslator: Sendable {
    /// The instrument name this translator produces.
    var instrument: String { get }
    /// Whether this translator understands the header.
    func canTranslate(_ header: Header) -> Bool
    /// Translates a header.
    ///
    /// - Throws: ``TranslationError`` when a required keyword is missing or unreadable.
    func translate(_ header: Header) throws(TranslationError) -> ObservationInfo
}

/// Why a header could not be translated.
package struct TranslationError: Error, Sendable, CustomStringConvertible {
    package let instrument: String
    package let keyword: String?
    package let reason: String

    package init(_ instrument: String, keyword: String? = nil, _ reason: String) {
        self.instrument = instrument
        self.keyword = keyword
        self.reason = reason
    }

    package var description: String {
        if let keyword { return "\(instrument) header: \(keyword) \(reason)" }
        return "\(instrument) header: \(reason)"
    }

    package static func missing(_ instrument: String, _ keyword: String) -> TranslationError {
        TranslationError(instrument, keyword: keyword, "is missing (required)")
    }
}

/// Optional header values that were present but unusable (`EXPTIME = 'abc'`, `EXPTIME = -1e400`), collected while
/// one header is translated so that the ingest can warn about each (file, keyword and value) instead of leaving the
/// field empty without a word. The header helpers below report into ``current``; ``collect(_:)`` sets it.
package final class HeaderProblems: @unchecked Sendable {
    // @unchecked: `messages` is guarded by `lock`.
    @TaskLocal package static var current: HeaderProblems?
    private let lock = NSLock()
    private var list: [String] = []

    package init() {}

    /// What was reported, in order, one line each (`EXPTIME = 'abc' is not a number; ignored`).
    package var messages: [String] { lock.withLock { list } }

    /// Reports an unusable value of `keyword` to the collector in effect, if any.
    package static func report(_ keyword: String, _ value: HeaderValue?, _ why: String) {
        guard let current else { return }
        let shown: String
        switch value {
        case .string(let s)?: shown = "'\(s.trimmedSpaces)'"
        case .float(let d)? where !d.isFinite: shown = "\(d) (out of the range of a double)"
        case let v?: shown = v.description
        case nil: shown = "(none)"
        }
        current.lock.withLock { current.list.append("\(keyword) = \(shown) \(why); ignored") }
    }

    /// Runs `body` (a translation) with a fresh collector; returns its result and what was reported.
    package static func collect<T>(_ body: () throws -> T) rethrows -> (T, [String]) {
        let problems = HeaderProblems()
        let value = try $current.withValue(problems) { try body() }
        return (value, problems.messages)
    }
}

/// Header reading helpers shared by the translators.
extension Header {
    /// Whether the keyword has a value (present and not undefined) that an optional reader could not use:
    /// reported to ``HeaderProblems``.
    private func reportUnusable(_ key: String, _ why: String) {
        if contains(key) && !isUndefined(key) { HeaderProblems.report(key.uppercased(), self[key], why) }
    }

    /// A required string; `instrument` names the translator in the error.
    package func requiredString(_ key: String, _ instrument: String) throws(TranslationError) -> String {
        guard let s = string(key)?.trimmedSpaces, !s.isEmpty else {
            throw isUndefined(key) ? TranslationError(instrument, keyword: key, "is undefined (required)") : .missing(instrument, key)
        }
        return s
    }

    package func requiredInt(_ key: String, _ instrument: String) throws(TranslationError) -> Int {
        guard contains(key) else { throw .missing(instrument, key) }
        guard let v = int(key) else { throw TranslationError(instrument, keyword: key, "= '\(self[key]?.description ?? "")' is not an integer") }
        return v
    }

    /// The first present, defined string among `keys`, trimmed.
    package func firstString(_ keys: String...) -> String? {
        for key in keys { if let s = string(key)?.trimmedSpaces, !s.isEmpty { return s } }
        return nil
    }

    /// The first present, finite number among `keys`; a present value that is not one is reported (``HeaderProblems``).
    package func firstDouble(_ keys: String...) -> Double? {
        for key in keys {
            if let d = double(key), d.isFinite { return d }
            reportUnusable(key, "is not a finite number")
        }
        return nil
    }

    /// An optional number: ``firstDouble(_:)`` of one keyword.
    package func optionalDouble(_ key: String) -> Double? { firstDouble(key) }

    /// An optional time read with `parse`; a present value that does not parse is reported (``HeaderProblems``).
    package func optionalTime(_ key: String, _ parse: (String) -> TAITime?) -> TAITime? {
        guard let text = string(key) else { return nil }
        if let t = parse(text.trimmedSpaces) { return t }
        reportUnusable(key, "is not a date and time")
        return nil
    }

    /// An angle in degrees from a number or a sexagesimal string (`hours` for right ascension).
    package func angle(_ key: String, hours: Bool) -> Double? {
        if let d = double(key), d.isFinite { return d }
        if let s = string(key), case .string? = self[key], let v = parseSexagesimal(s) { return hours ? v * 15 : v }
        reportUnusable(key, "is not an angle")
        return nil
    }
}

/// `12:34:56.7` or `-12 34 56.7` as a decimal number (of hours or degrees, as written).
package func parseSexagesimal(_ text: String) -> Double? {
    let trimmed = text.trimmedSpaces
    let negative = trimmed.hasPrefix("-")
    let parts = trimmed.trimmingCharacters(in: CharacterSet(charactersIn: "+-")).split(whereSeparator: { $0 == ":" || $0 == " " })
    guard (1...3).contains(parts.count) else { return nil }
    var value = 0.0
    var scale = 1.0
    for part in parts {
        guard let v = Double(part) else { return nil }
        value += v / scale
        scale *= 60
    }
    return negative ? -value : value
}
