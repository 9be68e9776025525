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

/// Header reading helpers shared by the translators.
extension Header {
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

    package func firstDouble(_ keys: String...) -> Double? {
        for key in keys { if let d = double(key), d.isFinite { return d } }
        return nil
    }

    /// An angle in degrees from a number or a sexagesimal string (`hours` for right ascension).
    package func angle(_ key: String, hours: Bool) -> Double? {
        if let d = double(key) { return d.isFinite ? d : nil }
        guard let s = string(key) else { return nil }
        return parseSexagesimal(s).map { hours ? $0 * 15 : $0 }
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
