import Foundation

/// Brings the dimension records and dataset types of an export made with an older `daf_butler` universe into the
/// shape of this repository's universe, as Rubin's YAML import does (`YamlRepoImportBackend`): each step applies
/// only when the file's universe is older than the change and this universe has the newer form.
///
/// - Before version 2, a visit named its visit system (`visit.visit_system`): the field goes and a
///   `visit_system_membership` record (instrument, visit_system, visit) takes its place; `visit_system` leaves the
///   dimensions of dataset types that have `visit`.
/// - Before version 1, `visit.seeing` goes, and a visit's `day_obs` is the TAI date (`YYYYMMDD`) of its start.
/// - Before version 6, an exposure's `group_name` becomes its `group` (with a `group` record) and `group_id` goes;
///   the `day_obs` values of exposures and visits get `day_obs` records. Rubin takes their timespans from the
///   instrument's Python class when the repository already holds that instrument and the class can be imported;
///   this butler has no such classes, so, as Rubin in a fresh repository, the records get no timespan and a
///   warning says so.
enum UniverseConversion {
    /// Converts `contents` in place; returns one-line warnings.
    static func convert(_ contents: inout ExportContents, to universe: DimensionUniverse) -> [String] {
        let version = contents.universeVersion
        guard contents.universeNamespace == "daf_butler", universe.namespace == "daf_butler", version < universe.version else { return [] }
        func fields(_ element: String) -> Set<String> {
            guard let e = universe[element] else { return [] }
            return Set(e.keys.map(\.name) + e.metadata.map(\.name) + e.implies)
        }
        let visitSystem = version < 2 && universe["visit_system_membership"] != nil
        let visitSeeing = version < 1 && universe["visit"] != nil && !fields("visit").contains("seeing")
        let group = version < 6 && universe["exposure"]?.implies.contains("group") == true
        let exposureDayObs = version < 6 && universe["exposure"]?.implies.contains("day_obs") == true
        let visitDayObs = version < 6 && universe["visit"]?.implies.contains("day_obs") == true
        let addVisitDayObs = version < 1 && fields("visit").contains("day_obs")
        guard visitSystem || visitSeeing || group || exposureDayObs || visitDayObs || addVisitDayObs else { return [] }
        // Converted once: the contents are of this universe from here on.
        defer { contents.universeVersion = universe.version }

        var added: [String: [DimensionRecord]] = [:]
        var dayObs: [(instrument: DimensionValue, id: DimensionValue)] = []
        var seenDayObs = Set<[DimensionValue]>(), seenGroups = Set<[DimensionValue]>()
        func noteDayObs(_ record: DimensionRecord) {
            guard let instrument = record["instrument"], let id = record["day_obs"], seenDayObs.insert([instrument, id]).inserted else { return }
            dayObs.append((instrument, id))
        }
        for index in contents.dimensionRecords.indices {
            let element = contents.dimensionRecords[index].element
            var records = contents.dimensionRecords[index].records
            if element == "visit" {
                for i in records.indices {
                    if visitSystem, let system = records[i].fields.removeValue(forKey: "visit_system"),
                       let instrument = records[i]["instrument"], let id = records[i]["id"] {
                        added["visit_system_membership", default: []].append(
                            DimensionRecord(element: "visit_system_membership", fields: ["instrument": instrument, "visit_system": system, "visit": id]))
                    }
                    if visitSeeing { records[i].fields.removeValue(forKey: "seeing") }
                    if addVisitDayObs, records[i]["day_obs"] == nil, case .int(let begin)? = records[i]["timespan_begin"] {
                        // The TAI date of the start (no day_obs offset is known here, as in Rubin's fresh repository).
                        records[i]["day_obs"] = .int(Self.taiDate(nanoseconds: begin))
                    }
                    if visitDayObs { noteDayObs(records[i]) }
                }
            }
            if element == "exposure" {
                for i in records.indices {
                    if group {
                        if let name = records[i].fields.removeValue(forKey: "group_name") { records[i]["group"] = .string(name.description) }
                        records[i].fields.removeValue(forKey: "group_id")
                        if let instrument = records[i]["instrument"], let name = records[i]["group"], seenGroups.insert([instrument, name]).inserted {
                            added["group", default: []].append(DimensionRecord(element: "group", fields: ["instrument": instrument, "name": name]))
                        }
                    }
                    if exposureDayObs { noteDayObs(records[i]) }
                }
            }
            contents.dimensionRecords[index].records = records
        }
        var warnings: [String] = []
        if !dayObs.isEmpty {
            added["day_obs"] = dayObs.map { DimensionRecord(element: "day_obs", fields: ["instrument": $0.instrument, "id": $0.id]) }
            let instruments = Set(dayObs.map(\.instrument.description)).sorted()
            warnings.append("day_obs records made with no timespans for visit/exposure records exported before day_obs was a dimension "
                            + "(universe version \(version); instrument\(instruments.count == 1 ? "" : "s") \(instruments.joined(separator: ", ")))")
        }
        for (element, records) in added.sorted(by: { $0.key < $1.key }) {
            if let index = contents.dimensionRecords.firstIndex(where: { $0.element == element }) {
                // Records the file has already win (Rubin inserts with skip_existing).
                let have = Set(contents.dimensionRecords[index].records.compactMap { Self.key($0, universe) })
                contents.dimensionRecords[index].records += records.filter { Self.key($0, universe).map { !have.contains($0) } ?? true }
            } else {
                contents.dimensionRecords.append(ExportedElementRecords(element: element, records: records))
            }
        }
        if visitSystem {
            for i in contents.datasetTypes.indices where contents.datasetTypes[i].dimensions.contains("visit") {
                contents.datasetTypes[i].dimensions.removeAll { $0 == "visit_system" }
            }
        }
        return warnings
    }

    private static func key(_ record: DimensionRecord, _ universe: DimensionUniverse) -> [DimensionValue]? {
        guard let element = universe[record.element] else { return nil }
        let names = universe.requiredDimensions(of: record.element) + (element.primaryKey.map { [$0.name] } ?? [])
        return names.map { record[$0] ?? .string("") }
    }

    /// `YYYYMMDD` of a TAI time given as nanoseconds since 1970-01-01 TAI.
    static func taiDate(nanoseconds: Int) -> Int {
        var seconds = nanoseconds / 1_000_000_000
        if nanoseconds % 1_000_000_000 < 0 { seconds -= 1 }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day], from: Date(timeIntervalSince1970: TimeInterval(seconds)))
        return parts.year! * 10000 + parts.month! * 100 + parts.day!
    }
}
