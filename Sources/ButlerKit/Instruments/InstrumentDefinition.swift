public import Foundation
internal import Yams

/// An instrument as `register-instrument` writes it: its record, detectors and physical filters (with bands),
/// and, for a camera without a built-in translator, how to read its headers.
///
/// Built-in definitions ship as YAML resources; a custom camera is described in the same YAML format:
///
/// ```yaml
/// name: LabCam
/// day_obs_offset_hours: 0
/// detectors:
///   - {id: 0, full_name: S0, purpose: SCIENCE}
/// filters:
///   - {name: g-lab, band: g}
/// translation:
///   match: {INSTRUME: LabCam}
///   exposure_id: {keyword: EXPID}
///   obs_id: {format: "LAB_{EXPID}"}
///   detector_id: {constant: 0}
///   physical_filter: FILTER
///   datetime_begin: {date: DATE-OBS, time: TIME-OBS, scale: utc}
///   exposure_time: EXPTIME
/// ```
public struct InstrumentDefinition: Sendable {
    /// Detector description.
    public struct Detector: Sendable, Hashable, Decodable {
        public var id: Int
        public var full_name: String
        public var raft: String?
        public var name_in_raft: String?
        public var purpose: String?
    }
    /// Physical filter description.
    public struct Filter: Sendable, Hashable, Decodable {
        public var name: String
        public var band: String
    }

    public var name: String
    public var className: String?
    public var dayObsOffsetSeconds: Int64
    public var exposureMax: Int?
    public var detectorMax: Int?
    public var visitMax: Int?
    public var detectors: [Detector]
    public var filters: [Filter]
    /// The translation section for cameras without a built-in translator.
    package var translation: TranslationSpec?
    /// Where the detectors see the sky (for visit regions), when the definition says.
    public var focalPlane: FocalPlane?
    /// The YAML text of the definition (stored in the registry).
    public let yaml: String

    /// Reads a definition from YAML text; `source` names it in errors.
    public init(yaml: String, source: String) throws {
        let file: File
        do {
            file = try YAMLLoader.decode(File.self, from: yaml)
        } catch {
            throw ButlerError(.invalidConfig, "invalid instrument definition \(source): \(describeYAMLError(error))")
        }
        guard !file.name.isEmpty, file.name.count <= 32,
              file.name.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) || $0 == "_" || $0 == "-" }) else {
            throw ButlerError(.invalidName, "invalid instrument name '\(file.name)' in \(source): use up to 32 letters, digits, '_' or '-'")
        }
        var seen = Set<Int>()
        for d in file.detectors ?? [] where !seen.insert(d.id).inserted {
            throw ButlerError(.invalidConfig, "instrument definition \(source): detector id \(d.id) appears twice")
        }
        self.name = file.name
        self.className = file.class_name
        self.dayObsOffsetSeconds = Int64((file.day_obs_offset_hours ?? 0) * 3600)
        self.exposureMax = file.exposure_max
        self.detectorMax = file.detector_max
        self.visitMax = file.visit_max
        self.detectors = file.detectors ?? []
        self.filters = file.filters ?? []
        self.translation = file.translation
        self.focalPlane = file.focal_plane
        self.yaml = yaml
        if let t = translation {
            try t.validate(source: source)
        }
    }

    /// Reads a definition from a YAML file.
    public init(contentsOf url: URL) throws {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw ButlerError(.io, "cannot read instrument definition \(url.path): \(error.localizedDescription)")
        }
        try self.init(yaml: text, source: url.path)
    }

    /// The built-in definition of a camera (LATISS, LSSTCam, LSSTComCam, DECam, HSC, MegaPrime), or `nil`.
    ///
    /// - Parameter name: the instrument's name in any case, or the Python class name Rubin's
    ///   `butler register-instrument` takes for it (`lsst.obs.lsst.Latiss`, `lsst.obs.decam.DarkEnergyCamera`).
    public static func builtIn(_ name: String) throws -> InstrumentDefinition? {
        let name = rubinClassNames[name] ?? name
        guard let match = builtInNames.first(where: { $0.lowercased() == name.lowercased() }),
              let url = Bundle.module.url(forResource: match, withExtension: "yaml", subdirectory: "Resources/instruments") else { return nil }
        return try InstrumentDefinition(contentsOf: url)
    }

    /// Rubin's instrument class names (the `class_name` of the built-in definitions) and the cameras they name.
    public static let rubinClassNames = [
        "lsst.obs.lsst.Latiss": "LATISS", "lsst.obs.lsst.LsstCam": "LSSTCam", "lsst.obs.lsst.LsstComCam": "LSSTComCam",
        "lsst.obs.decam.DarkEnergyCamera": "DECam", "lsst.obs.subaru.HyperSuprimeCam": "HSC", "lsst.obs.cfht.MegaPrime": "MegaPrime",
    ]

    /// The names of the built-in cameras.
    public static let builtInNames = ["LATISS", "LSSTCam", "LSSTComCam", "DECam", "HSC", "MegaPrime"]

    /// The band of a physical filter, from the definition.
    public func band(of physicalFilter: String) -> String? {
        filters.first { $0.name == physicalFilter }?.band
    }

    /// The dimension records of the instrument, its detectors and its filters.
    package var records: [DimensionRecord] {
        var instrument: [String: DimensionValue] = ["name": .string(name)]
        if let className { instrument["class_name"] = .string(className) }
        if let exposureMax { instrument["exposure_max"] = .int(exposureMax) }
        if let visitMax { instrument["visit_max"] = .int(visitMax) }
        instrument["detector_max"] = .int(detectorMax ?? ((detectors.map(\.id).max() ?? -1) + 1))
        var records = [DimensionRecord(element: "instrument", fields: instrument)]
        for f in filters {
            records.append(DimensionRecord(element: "physical_filter", fields: ["instrument": .string(name), "name": .string(f.name), "band": .string(f.band)]))
        }
        for d in detectors {
            var fields: [String: DimensionValue] = ["instrument": .string(name), "id": .int(d.id), "full_name": .string(d.full_name)]
            if let r = d.raft { fields["raft"] = .string(r) }
            if let n = d.name_in_raft { fields["name_in_raft"] = .string(n) }
            if let p = d.purpose { fields["purpose"] = .string(p) }
            records.append(DimensionRecord(element: "detector", fields: fields))
        }
        return records
    }

    private struct File: Decodable {
        var name: String
        var class_name: String?
        var day_obs_offset_hours: Double?
        var exposure_max: Int?
        var detector_max: Int?
        var visit_max: Int?
        var detectors: [Detector]?
        var filters: [Filter]?
        var translation: TranslationSpec?
        var focal_plane: FocalPlane?
    }
}
