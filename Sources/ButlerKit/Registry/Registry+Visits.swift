import Foundation

extension Registry {
    /// Defines one visit per science exposure of an instrument that has none yet (Rubin's one-to-one visit system):
    /// visit records with the exposure's id, name, filter, day_obs, times and pointing, plus visit_definition and
    /// visit_system_membership rows. Running it again defines only the new exposures.
    ///
    /// Each visit whose exposure has a pointing (tracking RA/Dec, rotation angle `sky_angle`) and whose instrument
    /// definition has a ``FocalPlane`` gets sky regions, indexed for spatial queries (``RegionIndex``): a
    /// visit_detector_region per placed detector and the visit's region around them all.
    ///
    /// - Parameters:
    ///   - exposures: restrict to these exposure ids (all science exposures when `nil`).
    ///   - progress: told of the exposures looked at as the work goes (regions take the time).
    /// - Returns: the ids of the visits defined.
    @discardableResult
    public func defineVisits(instrument: String, exposures: Set<Int>? = nil, progress: ProgressReport? = nil) throws -> [Int] {
        try database.write { c in
            guard try c.queryOne("SELECT 1 FROM instrument WHERE name = ?", [.text(instrument)]) != nil else {
                throw ButlerError(.notFound, "no instrument named '\(instrument)' in the registry")
            }
            let d = c.dialect
            try c.execute("\(d.insertOrIgnore) visit_system (instrument, id, name) VALUES (?, 0, 'one-to-one')\(d.insertOrIgnoreSuffix)", [.text(instrument)])
            let rows = try c.query("""
                SELECT e.id, e.obs_id, e.physical_filter, e.day_obs, e.seq_num, e.exposure_time, e.target_name, e.observation_reason,
                       e.science_program, e.azimuth, e.zenith_angle, e.timespan_begin, e.timespan_end, e.observation_type,
                       e.tracking_ra, e.tracking_dec, e.sky_angle
                FROM exposure AS e
                WHERE e.instrument = ? AND NOT EXISTS (SELECT 1 FROM visit_definition AS v WHERE v.instrument = e.instrument AND v.exposure = e.id)
                ORDER BY e.id
                """, [.text(instrument)])
            let definition = try Self.definitionWithFocalPlane(c, instrument: instrument)
            var defined: [Int] = []
            for (n, row) in rows.enumerated() {
                defer { progress?(n + 1, rows.count) }
                guard let id = row[0].int, exposures?.contains(id) ?? true else { continue }
                let type = row[13].string?.lowercased() ?? ""
                guard type == "science" || type == "object" else { continue }
                try c.execute("""
                    \(d.insertOrIgnore) visit (instrument, id, name, physical_filter, day_obs, seq_num, exposure_time, target_name,
                        observation_reason, science_program, azimuth, zenith_angle, timespan_begin, timespan_end)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)\(d.insertOrIgnoreSuffix)
                    """, [.text(instrument), .integer(Int64(id)), row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9], row[10], row[11], row[12]])
                try c.execute("INSERT INTO visit_definition (instrument, exposure, visit) VALUES (?, ?, ?)", [.text(instrument), .integer(Int64(id)), .integer(Int64(id))])
                try c.execute("\(d.insertOrIgnore) visit_system_membership (instrument, visit, visit_system) VALUES (?, ?, 0)\(d.insertOrIgnoreSuffix)",
                              [.text(instrument), .integer(Int64(id))])
                if let definition {
                    try writeRegions(c, instrument: instrument, definition: definition, visit: id, ra: row[14].double, dec: row[15].double, rotation: row[16].double)
                }
                defined.append(id)
            }
            // Visits defined before regions were computed (or before the camera had a focal plane) get them now.
            if let definition {
                let bare = try c.query("""
                    SELECT v.id, e.tracking_ra, e.tracking_dec, e.sky_angle FROM visit AS v
                    JOIN visit_definition AS vd ON vd.instrument = v.instrument AND vd.visit = v.id
                    JOIN exposure AS e ON e.instrument = vd.instrument AND e.id = vd.exposure
                    WHERE v.instrument = ? AND v.region IS NULL AND e.tracking_ra IS NOT NULL ORDER BY v.id
                    """, [.text(instrument)])
                for row in bare {
                    guard let id = row[0].int, exposures?.contains(id) ?? true else { continue }
                    try writeRegions(c, instrument: instrument, definition: definition, visit: id, ra: row[1].double, dec: row[2].double, rotation: row[3].double)
                }
            }
            return defined
        }
    }

    /// Writes a visit's region and its detectors' (visit_detector_region rows), indexed, from the pointing of its
    /// exposure; nothing without a pointing or a focal plane.
    private func writeRegions(_ c: any SQLConnection, instrument: String, definition: InstrumentDefinition, visit id: Int,
                              ra: Double?, dec: Double?, rotation: Double?) throws {
        guard let ra, let dec, dec >= -90, dec <= 90, ra.isFinite,
              let regions = try VisitRegions(definition: definition, ra: ra, dec: dec, rotation: rotation ?? 0) else { return }
        let d = c.dialect
        let visitElement = try universe.element("visit"), detectorRegion = try universe.element("visit_detector_region")
        let hex = SphgeomEncoding.hex(regions.visit)
        try c.execute("UPDATE visit SET region = ? WHERE instrument = ? AND id = ?", [.text(hex), .text(instrument), .integer(Int64(id))])
        try indexRegion(c, element: visitElement, record: DimensionRecord(element: "visit", fields: [
            "instrument": .string(instrument), "id": .int(id), "region": .string(hex)]))
        for (detector, polygon) in regions.detectors.sorted(by: { $0.key < $1.key }) {
            let detectorHex = SphgeomEncoding.hex(polygon)
            try c.execute("\(d.insertOrIgnore) visit_detector_region (instrument, visit, detector, region) VALUES (?, ?, ?, ?)\(d.insertOrIgnoreSuffix)",
                          [.text(instrument), .integer(Int64(id)), .integer(Int64(detector)), .text(detectorHex)])
            try indexRegion(c, element: detectorRegion, record: DimensionRecord(element: "visit_detector_region", fields: [
                "instrument": .string(instrument), "visit": .int(id), "detector": .int(detector), "region": .string(detectorHex)]))
        }
    }

    /// The registered definition of an instrument, with the focal plane of its built-in definition when the stored
    /// one (registered by an older butler) has none; nil for an instrument registered without a definition.
    static func definitionWithFocalPlane(_ c: any SQLConnection, instrument: String) throws -> InstrumentDefinition? {
        let builtIn = try InstrumentDefinition.builtIn(instrument)
        guard let yaml = try c.queryOne("SELECT value FROM butler_attributes WHERE name = ?", [.text("instrument:" + instrument)])?[0].string else {
            return builtIn
        }
        var definition = try InstrumentDefinition(yaml: yaml, source: "registry attribute instrument:\(instrument)")
        if definition.focalPlane == nil { definition.focalPlane = builtIn?.focalPlane }
        return definition
    }
}
