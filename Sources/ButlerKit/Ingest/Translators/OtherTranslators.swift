public import FITS
import Foundation

/// DECam (the rules of astro_metadata_translator's DECam translator): detector `CCDNUM` named `DETPOS`,
/// exposure `EXPNUM`, times in UTC from `DATE-OBS` and `DTUTC`, day_obs 12 h before TAI midnight.
package struct DECamTranslator: MetadataTranslator {
    let definition: InstrumentDefinition
    package var instrument: String { definition.name }

    package func canTranslate(_ header: Header) -> Bool {
        if let instrume = header.string("INSTRUME") { return instrume.trimmedSpaces == "DECam" }
        return header.string("FILTER")?.contains("DECam") == true
    }

    package func translate(_ header: Header) throws(TranslationError) -> ObservationInfo {
        let name = instrument
        let ccd = try header.requiredInt("CCDNUM", name)
        let detectorName = header.firstString("DETPOS") ?? definition.detectors.first { $0.id == ccd }?.full_name ?? String(ccd)
        let expnum = try header.requiredInt("EXPNUM", name)
        let scale = TAITime.Scale(rawValue: header.string("TIMESYS")?.lowercased().trimmedSpaces ?? "utc") ?? .utc
        guard let begin = header.string("DATE-OBS").flatMap({ TAITime(iso: $0.trimmedSpaces, scale: scale) })
                ?? header.double("MJD-OBS").map({ TAITime(mjd: $0, scale: scale) }) else {
            throw header.contains("DATE-OBS") ? TranslationError(name, keyword: "DATE-OBS", "= '\(header.string("DATE-OBS") ?? "")' is not an ISO date")
                                              : .missing(name, "DATE-OBS")
        }
        let type = header.string("OBSTYPE")?.trimmedSpaces.lowercased() ?? "none"
        var filter = header.string("FILTER")?.trimmedSpaces ?? "unknown"
        if type.contains("zero") || type.contains("bias") { filter = "solid plate 0.0 0.0" }
        let band = definition.band(of: filter) ?? filter.split(separator: " ").first.map(String.init) ?? filter
        var info = ObservationInfo(instrument: name, detectorId: ccd, detectorName: detectorName, exposureId: expnum,
                                   obsId: header.firstString("OBSID") ?? String(expnum),
                                   dayObs: begin.dayObs(offsetSeconds: definition.dayObsOffsetSeconds),
                                   group: String(expnum), physicalFilter: filter, band: band,
                                   dayObsOffsetSeconds: definition.dayObsOffsetSeconds)
        info.detectorGroup = String(detectorName.prefix(1))
        info.detectorNameInGroup = String(detectorName.dropFirst())
        info.seqNum = expnum
        info.exposureTime = header.firstDouble("EXPTIME")
        info.darkTime = header.firstDouble("DARKTIME") ?? info.exposureTime
        info.datetimeBegin = begin
        // DTUTC is read when it carries only the time of day (it rolls over midnight when earlier than the start);
        // a full date and time there (as in the fixtures) is not read, as before: the end is start + EXPTIME.
        if header.string("DTUTC")?.contains("T") == false,
           let t = header.optionalTime("DTUTC", { TAITime(iso: String(begin.isoTAI.prefix(10)) + "T" + $0, scale: .utc) }) {
            info.datetimeEnd = t < begin ? t.adding(seconds: 86_400) : t
        } else {
            info.datetimeEnd = begin.adding(seconds: info.exposureTime ?? 0)
        }
        info.observationType = type == "object" ? "science" : type
        info.observationReason = info.observationType == "science" ? "science" : "unknown"
        info.targetName = header.firstString("OBJECT")
        info.scienceProgram = header.firstString("PROPID")
        info.trackingRA = header.angle("TELRA", hours: true)
        info.trackingDec = header.angle("TELDEC", hours: false)
        info.rotationAngle = 90
        if let zd = header.firstDouble("ZD") { info.zenithAngle = zd }
        info.azimuth = header.firstDouble("AZ")
        return info
    }
}

/// HSC (no INSTRUME card in older files: recognised by the `HSC` prefix of `EXP-ID`/`FRAMEID`).
package struct HSCTranslator: MetadataTranslator {
    let definition: InstrumentDefinition
    package var instrument: String { definition.name }

    package func canTranslate(_ header: Header) -> Bool {
        if let instrume = header.string("INSTRUME") { return instrume.trimmedSpaces == "Hyper Suprime-Cam" }
        return header.firstString("EXP-ID", "FRAMEID")?.hasPrefix("HSC") == true
    }

    package func translate(_ header: Header) throws(TranslationError) -> ObservationInfo {
        let name = instrument
        var detector = try header.requiredInt("DET-ID", name)
        if let mjd = header.double("MJD"), (391...404).contains(Int(mjd) - 55927) {
            detector = [112: 106, 107: 105, 113: 107, 115: 109, 108: 110, 114: 108][detector] ?? detector
        }
        guard let detectorName = definition.detectors.first(where: { $0.id == detector })?.full_name else {
            throw TranslationError(name, keyword: "DET-ID", "= \(detector) is not a detector of HSC")
        }
        let expId = try header.requiredString("EXP-ID", name)
        let exposureId = try Self.exposureId(expId, frameId: header.string("FRAMEID"), name)
        guard let date = header.string("DATE-OBS")?.trimmedSpaces else { throw .missing(name, "DATE-OBS") }
        let start = try header.requiredString("UT-STR", name)
        guard let begin = TAITime(iso: "\(date.prefix(10))T\(start)", scale: .utc) else {
            throw TranslationError(name, keyword: "DATE-OBS+UT-STR", "= '\(date) \(start)' is not a date and time")
        }
        let rawFilter = header.string("FILTER01")?.trimmedSpaces.uppercased() ?? "UNKNOWN"
        let filter: String
        switch rawFilter {
        case "UNRECOGNIZED", "UNRECOGNISED", "NOTSET", "UNKNOWN", "": filter = "unknown"
        case "NONE": filter = "empty"
        default: filter = rawFilter
        }
        var info = ObservationInfo(instrument: name, detectorId: detector, detectorName: detectorName, exposureId: exposureId,
                                   obsId: expId, dayObs: begin.dayObs(offsetSeconds: definition.dayObsOffsetSeconds),
                                   group: String(exposureId), physicalFilter: filter,
                                   band: definition.band(of: filter) ?? filter, dayObsOffsetSeconds: definition.dayObsOffsetSeconds)
        let parts = detectorName.split(separator: "_")
        info.detectorGroup = parts.first.map(String.init)
        info.detectorNameInGroup = parts.last.map(String.init)
        info.seqNum = exposureId
        info.exposureTime = header.firstDouble("EXPTIME")
        info.darkTime = info.exposureTime
        info.datetimeBegin = begin
        var end = header.optionalTime("UT-END") { TAITime(iso: "\(date.prefix(10))T\($0)", scale: .utc) }
        let minimumEnd = begin.adding(seconds: info.exposureTime ?? 0)
        if end == nil || end! < minimumEnd { end = minimumEnd }
        info.datetimeEnd = end
        let type = header.string("DATA-TYP")?.trimmedSpaces.lowercased()
        info.observationType = type == "object" ? "science" : type
        info.observationReason = info.observationType == "science" ? "science" : "unknown"
        info.targetName = header.firstString("OBJECT")
        info.scienceProgram = header.firstString("PROP-ID")
        info.trackingRA = header.angle("RA2000", hours: true)
        info.trackingDec = header.angle("DEC2000", hours: false)
        if let pa = header.optionalDouble("INST-PA") {
            var angle = (270 - pa).truncatingRemainder(dividingBy: 360)
            if angle < 0 { angle += 360 }
            info.rotationAngle = angle
        }
        if let alt = header.firstDouble("ALTITUDE") { info.zenithAngle = 90 - alt }
        info.azimuth = header.firstDouble("AZIMUTH")
        return info
    }

    /// `HSCE00904010` -> 904010 (new scheme); `HSCA90402400` -> 904024 (old scheme, letter counts millions).
    static func exposureId(_ expId: String, frameId: String?, _ name: String) throws(TranslationError) -> Int {
        let chars = Array(expId)
        if expId.hasPrefix("HSCE"), chars.count == 12, let v = Int(String(chars[4...])) { return v }
        if expId.hasPrefix("HSC"), chars.count == 12, chars[3].isLetter, chars[3].isUppercase,
           String(chars[10...]) == "00", var visit = Int(String(chars[4..<10])) {
            let letter = Int(chars[3].asciiValue! - Character("A").asciiValue!)
            if visit == 0, let frame = frameId?.trimmedSpaces, frame.count == 12, let f = Int(String(Array(frame)[4..<10])) {
                visit = f % 2 == 1 ? f - 1 : f
            }
            return visit + 1_000_000 * letter
        }
        throw TranslationError(name, keyword: "EXP-ID", "= '\(expId)' is not an HSC exposure id (HSCEnnnnnnnn or HSCAnnnnnn00)")
    }
}

/// MegaPrime at CFHT: detector from `EXTNAME` `ccdNN`, exposure `EXPNUM`, UTC times from `DATE-OBS` + `UTC-OBS`.
package struct MegaPrimeTranslator: MetadataTranslator {
    let definition: InstrumentDefinition
    package var instrument: String { definition.name }

    package func canTranslate(_ header: Header) -> Bool {
        header.string("INSTRUME")?.trimmedSpaces == "MegaPrime"
    }

    package func translate(_ header: Header) throws(TranslationError) -> ObservationInfo {
        let name = instrument
        var detectorName = header.string("EXTNAME")?.trimmedSpaces ?? "ccd99"
        if detectorName == "COMPRESSED_IMAGE", let ver = header.int("EXTVER") { detectorName = String(format: "ccd%02d", ver) }
        if detectorName.range(of: "^ccd[0-9]+$", options: .regularExpression) == nil { detectorName = "ccd99" }
        let detector = Int(detectorName.dropFirst(3)) ?? 99
        let expnum = try header.requiredInt("EXPNUM", name)
        let date = try header.requiredString("DATE-OBS", name)
        let begin: TAITime
        if let t = header.string("UTC-OBS"), let parsed = TAITime(iso: "\(date.prefix(10))T\(t.trimmedSpaces)", scale: .utc) {
            begin = parsed
        } else if let parsed = TAITime(iso: date, scale: .utc), date.count > 10 {
            begin = parsed
        } else if let mjd = header.double("MJD-OBS") {
            begin = TAITime(mjd: mjd, scale: .utc)
        } else {
            throw TranslationError(name, keyword: "UTC-OBS", "is missing, so the start time is unknown")
        }
        let filter = header.string("FILTER")?.trimmedSpaces ?? "unknown"
        var info = ObservationInfo(instrument: name, detectorId: detector, detectorName: detectorName, exposureId: expnum,
                                   obsId: header.string("OBSID")?.trimmedSpaces ?? String(expnum),
                                   dayObs: begin.dayObs(offsetSeconds: definition.dayObsOffsetSeconds), group: String(expnum),
                                   physicalFilter: filter, band: definition.band(of: filter) ?? String(filter.prefix(1)),
                                   dayObsOffsetSeconds: definition.dayObsOffsetSeconds)
        info.seqNum = expnum
        info.exposureTime = header.firstDouble("EXPTIME")
        info.darkTime = header.firstDouble("DARKTIME") ?? info.exposureTime
        info.datetimeBegin = begin
        info.datetimeEnd = header.optionalTime("UTCEND") { TAITime(iso: "\(date.prefix(10))T\($0)", scale: .utc) }
            ?? begin.adding(seconds: info.exposureTime ?? 0)
        let type = header.string("OBSTYPE")?.trimmedSpaces.lowercased()
        info.observationType = type == "object" ? "science" : type
        info.observationReason = info.observationType == "science" ? "science" : "unknown"
        info.targetName = header.firstString("OBJECT")
        info.scienceProgram = header.firstString("RUNID")
        if let ra = header.firstDouble("RA_DEG"), let dec = header.firstDouble("DEC_DEG") {
            info.trackingRA = ra
            info.trackingDec = dec
        } else if let ra = header.firstDouble("BORE-RA"), let dec = header.firstDouble("BORE-DEC") {
            info.trackingRA = ra
            info.trackingDec = dec
        }
        info.rotationAngle = 0
        if let alt = header.firstDouble("TELALT", "BORE-ALT") { info.zenithAngle = 90 - alt }
        info.azimuth = header.firstDouble("TELAZ", "BORE-AZ")
        return info
    }
}
