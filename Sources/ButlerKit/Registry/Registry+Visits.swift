import Foundation

extension Registry {
    /// Defines one visit per science exposure of an instrument that has none yet (Rubin's one-to-one visit system):
    /// visit records with the exposure's id, name, filter, day_obs, times and pointing, plus visit_definition and
    /// visit_system_membership rows. Running it again defines only the new exposures.
    ///
    /// - Parameter exposures: restrict to these exposure ids (all science exposures when `nil`).
    /// - Returns: the ids of the visits defined.
    @discardableResult
    public func defineVisits(instrument: String, exposures: Set<Int>? = nil) throws -> [Int] {
        try database.write { c in
            guard try c.queryOne("SELECT 1 FROM instrument WHERE name = ?", [.text(instrument)]) != nil else {
                throw ButlerError(.notFound, "no instrument named '\(instrument)' in the registry")
            }
            let d = c.dialect
            try c.execute("\(d.insertOrIgnore) visit_system (instrument, id, name) VALUES (?, 0, 'one-to-one')\(d.insertOrIgnoreSuffix)", [.text(instrument)])
            let rows = try c.query("""
                SELECT e.id, e.obs_id, e.physical_filter, e.day_obs, e.seq_num, e.exposure_time, e.target_name, e.observation_reason,
                       e.science_program, e.azimuth, e.zenith_angle, e.timespan_begin, e.timespan_end, e.observation_type
                FROM exposure AS e
                WHERE e.instrument = ? AND NOT EXISTS (SELECT 1 FROM visit_definition AS v WHERE v.instrument = e.instrument AND v.exposure = e.id)
                ORDER BY e.id
                """, [.text(instrument)])
            var defined: [Int] = []
            for row in rows {
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
                defined.append(id)
            }
            return defined
        }
    }
}
