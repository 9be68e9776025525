import ButlerKit
import Foundation

/// The engine floor of `make bench` (issue 29): the rows a bulk command wrote, inserted again into a copy of the
/// repository as it was before the command, with prepared statements (COPY on PostgreSQL) in one transaction straight
/// through the database API. No parsing, no checks, no files: what the database alone needs for those rows, so that
/// every bulk figure can be printed as a ratio to it.
///
/// Usage: make-registry --engine-floor DONE BEFORE RUN
///
/// DONE is the repository after the command (its registry is read), BEFORE a copy made just before it (written), RUN
/// the RUN collection the command wrote. The rows are those of tables that were empty before (steps, edges, configs,
/// parameters, metrics) and, in the others, those of RUN, its steps and its datasets. Reading them is not timed; only the inserts
/// are, summed over batches of 50,000 rows. Prints `ROWS SECONDS` on the last line, and says so on standard error when
/// a table of BEFORE does not end up with DONE's row count.
enum EngineFloor {
    static func main(_ args: [String]) throws {
        guard args.count == 3 else {
            FileHandle.standardError.write(Data("usage: make-registry --engine-floor DONE BEFORE RUN\n".utf8))
            exit(2)
        }
        let done = try Butler(repository: args[0]).registry, before = try Butler(repository: args[1]).registry
        let run = args[2]
        guard let runId = try done.database.read({ c in try c.queryOne("SELECT collection_id FROM collection WHERE name = ?", [.text(run)])?[0].int64 }) else {
            FileHandle.standardError.write(Data("make-registry: no RUN \(run) in \(args[0])\n".utf8))
            exit(1)
        }
        let tables = try done.database.read { c in try c.tableNames() }
        func count(_ r: Registry, _ table: String) throws -> Int {
            try r.database.read { c in try c.queryOne("SELECT COUNT(*) FROM \(c.dialect.quote(table))")?[0].int ?? 0 }
        }
        var beforeCounts: [String: Int] = [:], doneCounts: [String: Int] = [:]
        for t in tables {
            guard let n = try? count(before, t) else {
                FileHandle.standardError.write(Data("make-registry: engine floor: \(args[1]) has no table \(t); make BEFORE after the dataset types are registered\n".utf8))
                exit(1)
            }
            beforeCounts[t] = n
            doneCounts[t] = try count(done, t)
        }
        // Parents before children (foreign keys); tables not named here come last.
        let order = ["collection", "run", "dataset_type", "software_environment", "environment_package", "config_blob", "dataset"]
        let written = tables.filter { doneCounts[$0] != beforeCounts[$0] }
        let ordered = written.sorted { a, b in
            func rank(_ t: String) -> Int {
                if let i = order.firstIndex(of: t) { return i }
                if t.hasPrefix("dataset_tags_") || t.hasPrefix("dataset_calibs_") { return order.count }
                if t == "file_datastore_records" { return order.count + 1 }
                if t == "quantum" { return order.count + 2 }
                return order.count + 3
            }
            return (rank(a), a) < (rank(b), b)
        }
        var rows = 0
        var seconds = 0.0
        try before.database.write { target in
            for table in ordered {
                let quoted = target.dialect.quote(table)
                let columns = try done.database.read { c in try c.query("SELECT * FROM \(quoted) LIMIT 1").first?.columns } ?? []
                var filter = ""
                if beforeCounts[table] != 0 {
                    if columns.contains("run_id") { filter = "WHERE run_id = \(runId)" }
                    else if columns.contains("quantum_id") { filter = "WHERE quantum_id IN (SELECT id FROM quantum WHERE run_id = \(runId))" }
                    else if columns.contains("collection_id") { filter = "WHERE collection_id = \(runId)" }
                    else if columns.contains("dataset_id") { filter = "WHERE dataset_id IN (SELECT id FROM dataset WHERE run_id = \(runId))" }
                    else if table == "collection" { filter = "WHERE collection_id = \(runId)" }
                    else if table == "dataset" { filter = "WHERE run_id = \(runId)" }
                }
                // A table with rows before and no RUN to select by (dataset types, chains): the rows it did not have.
                var old = Set<[SQLValue]>()
                if beforeCounts[table] != 0 && filter.isEmpty {
                    try before.database.read { c in try c.forEachRow("SELECT * FROM \(quoted)", []) { old.insert($0.values) } }
                }
                var batch: [[SQLValue]] = []
                func flush() throws {
                    guard !batch.isEmpty else { return }
                    let start = DispatchTime.now()
                    try target.insertRows(into: table, columns: columns, rows: batch)
                    seconds += Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
                    rows += batch.count
                    batch.removeAll(keepingCapacity: true)
                }
                try done.database.read { c in
                    try c.forEachRow("SELECT * FROM \(quoted) \(filter)", []) { row in
                        guard old.isEmpty || !old.contains(row.values) else { return }
                        batch.append(row.values)
                        if batch.count == 50_000 { try flush() }
                    }
                }
                try flush()
            }
        }
        for t in tables {
            let n = try count(before, t)
            if n != doneCounts[t] {
                FileHandle.standardError.write(Data("make-registry: engine floor: \(t) holds \(n) rows, the command's \(doneCounts[t] ?? 0)\n".utf8))
            }
        }
        print("engine floor: \(rows) rows of \(ordered.count) tables inserted")
        print(String(format: "%d %.3f", rows, seconds))
    }
}
