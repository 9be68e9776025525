import Foundation
public import FITS

/// How one concept is read from a header, in an instrument's YAML `translation` section.
///
/// A plain string is a keyword (`exposure_time: EXPTIME`). A mapping may give:
/// `keyword` or `keywords` (the first present), `constant`, `format` (`"LAB_{EXPID}"`, keywords in braces),
/// `date` + `time` (two cards joined with `T`), `mjd` (a card holding an MJD), `scale` (`utc`, `tai`, `tt`),
/// `regex` (keep the first capture group), `map` (replace whole values), `lowercase`, `unit` (`hours` or `degrees`
/// for angles, sexagesimal allowed) and `default`.
package struct ValueSpec: Sendable, Decodable {
    var keyword: String?
    var keywords: [String]?
    var constant: String?
    var format: String?
    var date: String?
    var time: String?
    var mjd: String?
    var scale: String?
    var regex: String?
    var map: [String: String]?
    var lowercase: Bool?
    var unit: String?
    var `default`: String?

    package init(from decoder: any Decoder) throws {
        if let single = try? decoder.singleValueContainer(), let keyword = try? single.decode(String.self) {
            self.keyword = keyword
            return
        }
        enum Keys: String, CodingKey { case keyword, keywords, constant, format, date, time, mjd, scale, regex, map, lowercase, unit, `default` }
        let c = try decoder.container(keyedBy: Keys.self)
        func scalar(_ key: Keys) throws -> String? {
            if let s = try? c.decodeIfPresent(String.self, forKey: key) { return s }
            if let i = try? c.decodeIfPresent(Int.self, forKey: key) { return String(i) }
            if let d = try? c.decodeIfPresent(Double.self, forKey: key) { return String(d) }
            if let b = try? c.decodeIfPresent(Bool.self, forKey: key) { return String(b) }
            return nil
        }
        keyword = try c.decodeIfPresent(String.self, forKey: .keyword)
        keywords = try c.decodeIfPresent([String].self, forKey: .keywords)
        constant = try scalar(.constant)
        format = try c.decodeIfPresent(String.self, forKey: .format)
        date = try c.decodeIfPresent(String.self, forKey: .date)
        time = try c.decodeIfPresent(String.self, forKey: .time)
        mjd = try c.decodeIfPresent(String.self, forKey: .mjd)
        scale = try c.decodeIfPresent(String.self, forKey: .scale)
        regex = try c.decodeIfPresent(String.self, forKey: .regex)
        map = try c.decodeIfPresent([String: String].self, forKey: .map)
        lowercase = try c.decodeIfPresent(Bool.self, forKey: .lowercase)
        unit = try c.decodeIfPresent(String.self, forKey: .unit)
        `default` = try scalar(.default)
    }

    /// The keywords this spec reads (for error messages).
    var describedKeywords: String {
        if let keyword { return keyword }
        if let keywords { return keywords.joined(separator: "|") }
        if let date { return time.map { "\(date)+\($0)" } ?? date }
        if let mjd { return mjd }
        if let format { return format }
        return "constant"
    }

    /// The raw text value, before typing.
    func text(_ header: Header) -> String? {
        var value: String?
        if let constant {
            value = constant
        } else if let keyword {
            value = header.string(keyword)
        } else if let keywords {
            value = keywords.lazy.compactMap { header.string($0) }.first
        } else if let format {
            value = Self.fill(format, header)
        } else if let date {
            if let d = header.string(date) {
                value = time.flatMap { header.string($0) }.map { "\(d.prefix(10))T\($0)" } ?? d
            }
        } else if let mjd {
            value = header.string(mjd)
        }
        value = value?.trimmedSpaces
        if let v = value, let regex, let re = try? NSRegularExpression(pattern: regex),
           let m = re.firstMatch(in: v, range: NSRange(v.startIndex..., in: v)) {
            let r = m.numberOfRanges > 1 ? m.range(at: 1) : m.range
            value = Range(r, in: v).map { String(v[$0]) }
        }
        if let v = value, let map { value = map[v] ?? map[v.lowercased()] ?? v }
        if lowercase == true { value = value?.lowercased() }
        if value == nil || value == "" { value = `default` }
        return value
    }

    /// `{KEY}` and `{KEY:06d}` replaced by header values; `nil` when a keyword is missing.
    static func fill(_ format: String, _ header: Header) -> String? {
        var out = ""
        var rest = Substring(format)
        while let open = rest.firstIndex(of: "{") {
            out += rest[..<open]
            guard let close = rest[open...].firstIndex(of: "}") else { return nil }
            let spec = rest[rest.index(after: open)..<close]
            let parts = spec.split(separator: ":", maxSplits: 1)
            guard let key = parts.first, let value = header.string(String(key)) else { return nil }
            if parts.count == 2, parts[1].hasSuffix("d"), let width = Int(parts[1].dropFirst().dropLast()), let n = Int(value) {
                let s = String(n)
                out += String(repeating: "0", count: max(0, width - s.count)) + s
            } else {
                out += value
            }
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }
}

/// The `translation` section of an instrument definition: how to read each concept from its headers.
package struct TranslationSpec: Sendable, Decodable {
    /// Cards that identify the camera (all must match, case-insensitively).
    var match: [String: String]
    var exposure_id: ValueSpec
    var obs_id: ValueSpec?
    var detector_id: ValueSpec?
    var detector_name: ValueSpec?
    var physical_filter: ValueSpec?
    var band: ValueSpec?
    var datetime_begin: ValueSpec
    var datetime_end: ValueSpec?
    var exposure_time: ValueSpec?
    var dark_time: ValueSpec?
    var day_obs: ValueSpec?
    var group: ValueSpec?
    var observation_type: ValueSpec?
    var observation_reason: ValueSpec?
    var target_name: ValueSpec?
    var science_program: ValueSpec?
    var tracking_ra: ValueSpec?
    var tracking_dec: ValueSpec?
    var rotation_angle: ValueSpec?

    func validate(source: String) throws {
        if match.isEmpty {
            throw ButlerError(.invalidConfig, "instrument definition \(source): translation.match must name at least one card")
        }
        for spec in [exposure_id, datetime_begin] + [datetime_end, obs_id, detector_id].compactMap({ $0 }) {
            if let s = spec.scale, TAITime.Scale(rawValue: s.lowercased()) == nil {
                throw ButlerError(.invalidConfig, "instrument definition \(source): unknown time scale '\(s)' (expected utc, tai or tt)")
            }
            if let r = spec.regex, (try? NSRegularExpression(pattern: r)) == nil {
                throw ButlerError(.invalidConfig, "instrument definition \(source): invalid regex '\(r)'")
            }
        }
    }
}

/// A translator described by an instrument's YAML definition: no Swift code needed for a new camera.
package struct ConfigTranslator: MetadataTranslator {
    let definition: InstrumentDefinition
    let spec: TranslationSpec

    package init?(_ definition: InstrumentDefinition) {
        guard let spec = definition.translation else { return nil }
        self.definition = definition
        self.spec = spec
    }

    package var instrument: String { definition.name }

    package func canTranslate(_ header: Header) -> Bool {
        spec.match.allSatisfy { key, value in header.string(key)?.trimmedSpaces.lowercased() == value.lowercased() }
    }

    package func translate(_ header: Header) throws(TranslationError) -> ObservationInfo {
        func required(_ spec: ValueSpec, _ concept: String) throws(TranslationError) -> String {
            guard let v = spec.text(header) else {
                throw TranslationError(instrument, keyword: spec.describedKeywords, "is missing (needed for \(concept))")
            }
            return v
        }
        func int(_ spec: ValueSpec, _ concept: String) throws(TranslationError) -> Int {
            let text = try required(spec, concept)
            guard let v = Int(text) ?? Double(text).flatMap({ Int(exactly: $0) }) else {
                throw TranslationError(instrument, keyword: spec.describedKeywords, "= '\(text)' is not an integer (\(concept))")
            }
            return v
        }
        func time(_ spec: ValueSpec, _ concept: String) throws(TranslationError) -> TAITime {
            let text = try required(spec, concept)
            let scale = TAITime.Scale(rawValue: (spec.scale ?? "utc").lowercased()) ?? .utc
            if spec.mjd != nil, let mjd = Double(text) { return TAITime(mjd: mjd, scale: scale) }
            guard let t = TAITime(iso: text, scale: scale) else {
                throw TranslationError(instrument, keyword: spec.describedKeywords, "= '\(text)' is not an ISO date and time (\(concept))")
            }
            return t
        }
        func double(_ spec: ValueSpec?) -> Double? {
            guard let spec, let text = spec.text(header) else { return nil }
            if let d = Double(text), d.isFinite { return spec.unit == "hours" ? d * 15 : d }
            if Double(text) == nil, let v = parseSexagesimal(text), v.isFinite { return spec.unit == "hours" ? v * 15 : v }
            HeaderProblems.report(spec.describedKeywords, .string(text), "is not a finite number")
            return nil
        }
        let exposureId = try int(spec.exposure_id, "exposure_id")
        let begin = try time(spec.datetime_begin, "datetime_begin")
        let detectorId = try spec.detector_id.map { s throws(TranslationError) in try int(s, "detector_id") } ?? (definition.detectors.count == 1 ? definition.detectors[0].id : 0)
        let detectorName = spec.detector_name?.text(header)
            ?? definition.detectors.first { $0.id == detectorId }?.full_name ?? String(detectorId)
        let filter = spec.physical_filter?.text(header) ?? "unknown"
        let band = spec.band?.text(header) ?? definition.band(of: filter) ?? filter
        let dayObs: Int
        if let s = spec.day_obs {
            dayObs = try int(s, "day_obs")
        } else {
            dayObs = begin.dayObs(offsetSeconds: definition.dayObsOffsetSeconds)
        }
        var info = ObservationInfo(instrument: instrument, detectorId: detectorId, detectorName: detectorName,
                                   exposureId: exposureId, obsId: spec.obs_id?.text(header) ?? String(exposureId),
                                   dayObs: dayObs, group: spec.group?.text(header) ?? String(exposureId),
                                   physicalFilter: filter, band: band, dayObsOffsetSeconds: definition.dayObsOffsetSeconds)
        info.datetimeBegin = begin
        info.exposureTime = double(spec.exposure_time)
        info.darkTime = double(spec.dark_time) ?? info.exposureTime
        if let endSpec = spec.datetime_end, endSpec.text(header) != nil {
            info.datetimeEnd = try time(endSpec, "datetime_end")
        } else {
            info.datetimeEnd = begin.adding(seconds: info.exposureTime ?? 0)
        }
        info.observationType = spec.observation_type?.text(header)?.lowercased()
        info.observationReason = spec.observation_reason?.text(header)
        info.targetName = spec.target_name?.text(header)
        info.scienceProgram = spec.science_program?.text(header)
        info.trackingRA = double(spec.tracking_ra)
        info.trackingDec = double(spec.tracking_dec)
        info.rotationAngle = double(spec.rotation_angle)
        return info
    }
}
