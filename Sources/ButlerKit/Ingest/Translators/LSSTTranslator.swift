public import FITS
import Foundation

/// The Rubin cameras (LATISS, LSSTCam, LSSTComCam): the rules of `obs_lsst`'s translators.
///
/// - exposure id: `DAYOBS * 100000 + SEQNUM`, plus 1000 years per controller step (`CONTRLLR` in `OCHPQS`), except
///   for controllers whose counters were unified (C after 2023-10-04, P/Q/S after 2025-04-17).
/// - times are TAI (`DATE-BEG`, else `MJD-BEG`; end `DATE-END`); day_obs is `DAYOBS`; group is `GROUPID`.
/// - detector from `RAFTBAY` + `CCDSLOT` through the camera's definition (LATISS: always 0, `RXX_S00`).
package struct LSSTTranslator: MetadataTranslator {
    package enum Camera: Sendable { case latiss, lsstCam, comCam }
    let camera: Camera
    let definition: InstrumentDefinition
    private let detectorIds: [String: Int]

    package init(camera: Camera, definition: InstrumentDefinition) {
        self.camera = camera
        self.definition = definition
        self.detectorIds = Dictionary(definition.detectors.map { ($0.full_name, $0.id) }, uniquingKeysWith: { a, _ in a })
    }

    package var instrument: String { definition.name }

    package func canTranslate(_ header: Header) -> Bool {
        let instrume = header.string("INSTRUME")?.trimmedSpaces
        switch camera {
        case .latiss:
            return instrume == "LATISS" || instrume == "LSST_ATISS"
        case .lsstCam:
            return instrume?.lowercased() == "lsstcam"
        case .comCam:
            guard instrume?.lowercased() == "comcam" else { return false }
            let telescope = header.string("TELESCOP")?.trimmedSpaces
            return telescope == nil || telescope == "Simonyi Survey Telescope" || telescope == "LSST"
        }
    }

    package func translate(_ header: Header) throws(TranslationError) -> ObservationInfo {
        let name = instrument
        let dayObs = try Self.dayObs(header, name)
        let seqNum = try header.requiredInt("SEQNUM", name)
        guard (0..<100_000).contains(seqNum) else { throw TranslationError(name, keyword: "SEQNUM", "= \(seqNum) is outside 0...99999") }
        let exposureId = (dayObs + Self.controllerOffset(header.string("CONTRLLR"), dayObs: dayObs)) * 100_000 + seqNum

        let detectorName: String
        let detectorId: Int
        var raft: String?
        var slot: String?
        if camera == .latiss {
            detectorName = "RXX_S00"
            detectorId = 0
            raft = "RXX"
            slot = "S00"
        } else {
            let r = try header.requiredString("RAFTBAY", name)
            let s = try header.requiredString("CCDSLOT", name)
            detectorName = "\(r)_\(s)"
            guard let id = detectorIds[detectorName] else {
                throw TranslationError(name, keyword: "RAFTBAY+CCDSLOT", "= \(detectorName) is not a detector of \(name)")
            }
            detectorId = id
            raft = r
            slot = s
        }

        guard let begin = Self.time(header, ["DATE-BEG", "MJD-BEG", "DATE-OBS", "MJD-OBS"]) else {
            if let present = ["DATE-BEG", "MJD-BEG", "DATE-OBS", "MJD-OBS"].first(where: { header.string($0) != nil }) {
                throw TranslationError(name, keyword: present, "= '\(header.string(present)!.trimmedSpaces)' is not a usable time, and no other of DATE-BEG, MJD-BEG, DATE-OBS, MJD-OBS is (required)")
            }
            throw TranslationError(name, keyword: "DATE-BEG", "is missing (and so are MJD-BEG, DATE-OBS and MJD-OBS)")
        }
        let filter = physicalFilter(header)
        var info = ObservationInfo(
            instrument: name, detectorId: detectorId, detectorName: detectorName, exposureId: exposureId,
            obsId: header.firstString("OBSID", "IMGNAME") ?? String(exposureId), dayObs: dayObs,
            group: header.firstString("GROUPID") ?? String(exposureId),
            physicalFilter: filter, band: band(of: filter), dayObsOffsetSeconds: definition.dayObsOffsetSeconds)
        info.detectorGroup = raft
        info.detectorNameInGroup = slot
        info.seqNum = seqNum
        if camera == .latiss {
            info.exposureTime = header.firstDouble("EXPTIME")
        } else if let shutter = header.optionalDouble("SHUTTIME"), shutter > 0 {
            info.exposureTime = shutter
        } else {
            info.exposureTime = header.firstDouble("EXPTIME")
        }
        let dark = header.firstDouble("DARKTIME")
        info.darkTime = (dark == nil || dark! < (info.exposureTime ?? 0)) ? info.exposureTime : dark
        info.datetimeBegin = begin
        info.datetimeEnd = Self.time(header, ["DATE-END", "MJD-END"]) ?? begin.adding(seconds: max(0, info.exposureTime ?? 0))
        if let type = header.firstString("OBSTYPE", "IMGTYPE")?.lowercased() {
            info.observationType = (type == "object" || type == "skyexp") ? "science" : type
        } else {
            info.observationType = (info.exposureTime ?? -1) == 0 ? "bias" : "unknown"
        }
        info.observationReason = header.firstString("REASON", "TESTTYPE")?.lowercased() ?? (info.observationType == "science" ? "science" : "unknown")
        info.targetName = header.firstString("OBJECT") ?? "UNKNOWN"
        info.scienceProgram = header.firstString("PROGRAM", "RUNNUM") ?? "unknown"
        let tracking = header.firstString("TRACKSYS")
        if info.observationType != "bias" && info.observationType != "flat" && (tracking == nil || tracking?.uppercased() == "RADEC") {
            if let ra = header.firstDouble("RASTART"), let dec = header.firstDouble("DECSTART") {
                info.trackingRA = ra
                info.trackingDec = dec
            } else if let ra = header.firstDouble("RA"), let dec = header.firstDouble("DEC") {
                info.trackingRA = ra
                info.trackingDec = dec
            }
        }
        info.rotationAngle = header.firstDouble("ROTPA", "ROTANGLE")
        if let el = header.firstDouble("ELSTART") { info.zenithAngle = 90 - el }
        info.azimuth = header.firstDouble("AZSTART")
        return info
    }

    /// `DAYOBS` as an integer YYYYMMDD (it may be written `2023-03-21` or `20230321`).
    static func dayObs(_ header: Header, _ name: String) throws(TranslationError) -> Int {
        let raw = try header.requiredString("DAYOBS", name)
        let digits = String(raw.prefix { $0 != "T" }).replacingOccurrences(of: "-", with: "")
        guard digits.count == 8, let value = Int(digits) else {
            throw TranslationError(name, keyword: "DAYOBS", "= '\(raw)' is not a date YYYYMMDD")
        }
        return value
    }

    /// The day_obs offset that keeps exposure ids of different controllers apart (in units of YYYYMMDD).
    static func controllerOffset(_ controller: String?, dayObs: Int) -> Int {
        guard let c = controller?.trimmedSpaces.uppercased(), let step = Array("OCHPQS").firstIndex(of: Character(c)) else { return 0 }
        if c == "C" && dayObs > 20231004 { return 0 }
        if ["P", "Q", "S"].contains(c) && dayObs > 20250417 { return 0 }
        return step * 10_000_000
    }

    /// The first defined time among `keys` (`MJD-*` as MJD, others as ISO), always TAI for Rubin cameras.
    static func time(_ header: Header, _ keys: [String]) -> TAITime? {
        for key in keys {
            if key.hasPrefix("MJD") {
                if let mjd = header.optionalDouble(key), mjd > 0 { return TAITime(mjd: mjd, scale: .tai) }
            } else if let t = header.optionalTime(key, { TAITime(iso: $0, scale: .tai) }) {
                return t
            }
        }
        return nil
    }

    func physicalFilter(_ header: Header) -> String {
        switch camera {
        case .latiss:
            var filter = header.string("FILTER")?.trimmedSpaces ?? "unknown"
            if filter.range(of: "^empty_?[0-9]*$", options: [.regularExpression, .caseInsensitive]) != nil { filter = "empty" }
            var grating = header.string("GRATING")?.trimmedSpaces ?? (header.contains("GRATING") ? "unknown" : "unknown")
            if header.string("GRATING") != nil && (grating.isEmpty || grating.lowercased().hasPrefix("empty")) { grating = "empty" }
            if filter.isEmpty { filter = "unknown" }
            return "\(filter)~\(grating)"
        case .lsstCam, .comCam:
            var parts = ["FILTER", "FILTER1", "FILTER2"].compactMap { header.string($0)?.trimmedSpaces }.filter { !$0.isEmpty }
            if camera == .comCam, let first = parts.first, first == "r" { parts[0] = "empty" }
            var filter = parts.isEmpty ? "unknown" : parts.joined(separator: "~")
            filter = filter.replacingOccurrences(of: "NONE", with: "none")
            while filter.hasSuffix("~empty") { filter = String(filter.dropLast("~empty".count)) }
            return filter
        }
    }

    func band(of filter: String) -> String {
        if let band = definition.band(of: filter) { return band }
        if camera == .latiss {
            // Band from the filter part; from the grating when the filter slot is empty and the grating is a filter.
            let parts = filter.split(separator: "~").map(String.init)
            if parts.count == 2 {
                if let b = definition.band(of: "\(parts[0])~empty"), parts[0] != "empty" { return b }
                if parts[0] == "empty", let b = definition.band(of: "empty~\(parts[1])") { return b }
            }
        }
        return filter.split(separator: "~").first.map { definition.band(of: String($0)) ?? String($0) } ?? filter
    }
}
