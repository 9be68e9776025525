import Foundation
import Testing
import ButlerKit
import ButlerTestSupport

/// Reads a staged record as JSON, lets `edit` change it, and writes it back (issue 27: records as a careless or
/// hostile job may leave them).
private func editRecord(_ path: String, _ edit: (inout [String: Any]) throws -> Void) throws {
    var object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    try edit(&object)
    try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
}

/// The report lines of a command (its stderr without the closing `butler: error:` line).
private func reportLines(_ result: CommandResult) -> [String] {
    result.stderr.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("butler: error:") }
}

private func hardLinks(_ path: String) -> Int {
    var st = stat()
    return lstat(path, &st) == 0 ? Int(st.st_nlink) : -1
}

@Suite("merge-staged: bad records, one validation, links (issue 27)")
struct MergeStagedTrustCLITests {
    @Test("one record whose output id is a registered dataset's is reported on one line naming its folder and left; the rest merge; exit 1")
    func collidingOutputId() throws {
        let b = try BatchRepository(raws: 12)
        #expect(try b.stagedRun(1).exitCode == 0)
        #expect(try b.merge().result.exitCode == 0)
        let registered = try #require(try Butler(repository: b.repo).registry.database.read { c in
            try c.queryOne("SELECT dataset_id FROM quantum_output WHERE role = 'out'")?[0].string
        })
        for n in 2...6 { #expect(try b.stagedRun(n).exitCode == 0) }
        let folders = b.folders().sorted()
        let bad = folders[1]
        try editRecord(b.staging + "/" + bad + "/quantum.json") { object in
            var outputs = try #require(object["outputs"] as? [[String: Any]])
            let old = try #require(outputs[0]["id"] as? String).lowercased()
            outputs[0]["id"] = registered
            object["outputs"] = outputs
            var step = try #require(object["step"] as? [String: Any])
            var edges = try #require(step["outputs"] as? [[String: Any]])
            for i in edges.indices where (edges[i]["dataset_id"] as? String)?.lowercased() == old { edges[i]["dataset_id"] = registered }
            step["outputs"] = edges
            object["step"] = step
        }
        let (merged, summary) = try b.merge()
        #expect(merged.exitCode == 1)
        #expect(summary["succeeded"] as? Int == 4, "\(merged.stdout)\(merged.stderr)")
        #expect(summary["rejected"] as? Int == 1)
        let lines = reportLines(merged)
        #expect(lines.count == 1, "\(merged.stderr)")
        #expect(lines.first?.contains(b.staging + "/" + bad) == true && lines.first?.contains(registered) == true, "\(merged.stderr)")
        #expect(!merged.stderr.contains("SQLite") && !merged.stderr.contains("PostgreSQL"), "\(merged.stderr)")
        #expect(b.folders() == [bad], "the bad record stays where it is")
        #expect(try b.count("SELECT COUNT(*) FROM quantum") == 5)
        let verify = try runButler(["verify", b.repo, "--checksums"])
        #expect(verify.exitCode == 0, "\(verify.stdout)\(verify.stderr)")
    }

    @Test("a record that reuses the id of a removed dataset is isolated from its batch by the registry's refusal and reported alone")
    func refusedByRegistryAlone() throws {
        let b = try BatchRepository(raws: 12)
        #expect(try b.stagedRun(1).exitCode == 0)
        #expect(try b.merge().result.exitCode == 0)
        // The output of job 1 is removed: its id stays in the provenance (a step made it), no dataset holds it.
        let removed = try #require(try Butler(repository: b.repo).registry.database.read { c in
            try c.queryOne("SELECT dataset_id FROM quantum_output WHERE role = 'out'")?[0].string
        })
        let pruned = try runButler(["prune-datasets", b.repo, "--dataset-type", "postISRCCD", "--collections", "u/batch/isr", "--purge", "u/batch/isr", "--no-confirm"])
        try #require(pruned.exitCode == 0, "\(pruned.stdout)\(pruned.stderr)")
        for n in 2...7 { #expect(try b.stagedRun(n).exitCode == 0) }
        let folders = b.folders().sorted()
        let bad = folders[2]
        try editRecord(b.staging + "/" + bad + "/quantum.json") { object in
            var outputs = try #require(object["outputs"] as? [[String: Any]])
            let old = try #require(outputs[0]["id"] as? String).lowercased()
            outputs[0]["id"] = removed
            object["outputs"] = outputs
            var step = try #require(object["step"] as? [String: Any])
            var edges = try #require(step["outputs"] as? [[String: Any]])
            for i in edges.indices where (edges[i]["dataset_id"] as? String)?.lowercased() == old { edges[i]["dataset_id"] = removed }
            step["outputs"] = edges
            object["step"] = step
        }
        let (merged, summary) = try b.merge()
        #expect(merged.exitCode == 1)
        #expect(summary["succeeded"] as? Int == 5, "\(merged.stdout)\(merged.stderr)")
        #expect(summary["rejected"] as? Int == 1)
        let lines = reportLines(merged)
        #expect(lines.count == 1 && lines.first?.contains(b.staging + "/" + bad) == true, "\(merged.stderr)")
        #expect(lines.first?.contains(removed) == true, "\(merged.stderr)")
        #expect(b.folders() == [bad])
    }

    @Test("merge-staged refuses what record refuses: exit code, end before start, metric name, NUL, data ID, unknown step input")
    func oneValidation() throws {
        let b = try BatchRepository(raws: 12)
        for n in 1...8 { #expect(try b.stagedRun(n).exitCode == 0) }
        let folders = b.folders().sorted()
        func record(_ i: Int) -> String { b.staging + "/" + folders[i] + "/quantum.json" }
        func editStep(_ i: Int, _ change: (inout [String: Any]) throws -> Void) throws {
            try editRecord(record(i)) { object in
                var step = try #require(object["step"] as? [String: Any])
                try change(&step)
                object["step"] = step
            }
        }
        try editStep(0) { $0["exit_code"] = 99_999_999_999 }
        try editStep(1) { step in
            let start = try #require(step["start_time"] as? Int)
            step["end_time"] = start - 1_000_000_000
        }
        try editRecord(record(2)) { $0["metrics"] = ["bad name <x>": 1.5] }
        try editStep(3) { $0["host"] = "node\u{0}evil" }
        try editStep(4) { $0["data_id"] = "totally=bogus" }
        try editStep(5) { step in
            var inputs = try #require(step["inputs"] as? [[String: Any]])
            inputs[0]["dataset_id"] = "0c9780c5-0378-5e20-8dd1-00000000abcd"
            step["inputs"] = inputs
        }
        let (merged, summary) = try b.merge()
        #expect(merged.exitCode == 1)
        #expect(summary["succeeded"] as? Int == 2, "\(merged.stdout)\(merged.stderr)")
        #expect(summary["rejected"] as? Int == 6)
        let lines = reportLines(merged)
        #expect(lines.count == 6, "\(merged.stderr)")
        let expected = ["exit_code", "end", "metric", "NUL", "totally", "not in the registry"]
        for (i, word) in expected.enumerated() {
            #expect(lines.contains { $0.hasPrefix("butler: " + record(i)) && $0.contains(word) }, "\(word): \(merged.stderr)")
        }
        #expect(b.folders().count == 6)
        #expect(try b.count("SELECT COUNT(*) FROM quantum") == 2)
        #expect(try b.count("SELECT COUNT(*) FROM quantum WHERE data_id LIKE '%totally%' OR exit_code > 2147483647 OR end_time < start_time") == 0)
    }

    @Test("a staging area that is a symbolic link is refused; nothing is merged")
    func symlinkedStagingArea() throws {
        let b = try BatchRepository(raws: 12)
        for n in 1...3 { #expect(try b.stagedRun(n).exitCode == 0) }
        let link = b.dir.path("staging-link")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: b.staging)
        let merged = try runButler(["merge-staged", b.repo, "--staging", link])
        #expect(merged.exitCode != 0)
        #expect(merged.stderr.contains(link) && merged.stderr.contains("symbolic link"), "\(merged.stderr)")
        #expect(merged.stderr.split(separator: "\n").count == 1, "\(merged.stderr)")
        #expect(try b.count("SELECT COUNT(*) FROM quantum") == 0)
        #expect(b.folders().count == 3)
    }

    @Test("a record folder or output file that is a link is reported and left; a file with another name is copied, never hard-linked")
    func symlinkedRecordsAndFiles() throws {
        let b = try BatchRepository(raws: 12)
        for n in 1...5 { #expect(try b.stagedRun(n).exitCode == 0) }
        let fm = FileManager.default
        let folders = b.folders().sorted()
        let outside = b.dir.path("outside")
        try fm.createDirectory(atPath: outside, withIntermediateDirectories: true)
        // 0: the record folder moved outside and linked back in.
        try fm.moveItem(atPath: b.staging + "/" + folders[0], toPath: outside + "/moved")
        try fm.createSymbolicLink(atPath: b.staging + "/" + folders[0], withDestinationPath: outside + "/moved")
        // 1: its output a link to a copy outside (same bytes).
        try fm.moveItem(atPath: b.staging + "/" + folders[1] + "/out.fits", toPath: outside + "/linked.fits")
        try fm.createSymbolicLink(atPath: b.staging + "/" + folders[1] + "/out.fits", withDestinationPath: outside + "/linked.fits")
        // 2: its output has a second name outside.
        #expect(link(b.staging + "/" + folders[2] + "/out.fits", outside + "/extra.fits") == 0)

        let (merged, summary) = try b.merge()
        #expect(merged.exitCode == 1)
        #expect(summary["succeeded"] as? Int == 3, "\(merged.stdout)\(merged.stderr)")
        #expect(summary["rejected"] as? Int == 2)
        let lines = reportLines(merged)
        #expect(lines.count == 2, "\(merged.stderr)")
        #expect(lines.contains { $0.contains(b.staging + "/" + folders[0]) && $0.contains("symbolic link") }, "\(merged.stderr)")
        #expect(lines.contains { $0.contains(b.staging + "/" + folders[1] + "/out.fits") && $0.contains("symbolic link") }, "\(merged.stderr)")
        // Nothing outside shares a registered file; the linked folder and file are where they were.
        #expect(hardLinks(outside + "/moved/out.fits") == 1)
        #expect(hardLinks(outside + "/linked.fits") == 1)
        #expect(hardLinks(outside + "/extra.fits") == 1, "a file with another name is copied into the datastore")
        #expect(fm.fileExists(atPath: outside + "/moved/quantum.json"))
        #expect(Set(b.folders()) == [folders[0], folders[1]])
        #expect(try b.count("SELECT COUNT(*) FROM quantum") == 3)
        let verify = try runButler(["verify", b.repo, "--checksums"])
        #expect(verify.exitCode == 0, "\(verify.stdout)\(verify.stderr)")
    }
}

@Suite("Concurrent writers into one destination (issue 27)")
struct ConcurrentArrivalCLITests {
    /// Runs the commands at once, each as its own butler process.
    private func atOnce(_ commands: [[String]]) -> [CommandResult?] {
        let lock = NSLock()
        nonisolated(unsafe) var results = [CommandResult?](repeating: nil, count: commands.count)
        DispatchQueue.concurrentPerform(iterations: commands.count) { i in
            let result = try? runButler(commands[i])
            lock.lock(); results[i] = result; lock.unlock()
        }
        return results
    }

    @Test("three merge-staged of one staging area at once: every record merged once, none reported as a duplicate, none moved")
    func concurrentMerges() throws {
        let b = try BatchRepository(raws: 24)
        for n in 1...24 { #expect(try b.stagedRun(n).exitCode == 0) }
        let results = atOnce(Array(repeating: ["merge-staged", b.repo, "--format", "json", "--batch-size", "4"], count: 3))
        var steps = 0
        for result in results {
            let result = try #require(result)
            #expect(result.exitCode == 0, "\(result.stderr)")
            #expect(!result.stderr.contains("duplicate"), "\(result.stderr)")
            let summary = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            #expect(summary["duplicates"] as? Int == 0 && summary["rejected"] as? Int == 0, "\(summary)")
            steps += summary["steps"] as? Int ?? 0
        }
        #expect(steps == 24, "each record is counted as merged by exactly one merge")
        #expect(b.folders().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: b.staging + "/duplicates"))
        #expect(try b.count("SELECT COUNT(*) FROM quantum") == 24)
        let verify = try runButler(["verify", b.repo, "--checksums"])
        #expect(verify.exitCode == 0, "\(verify.stdout)\(verify.stderr)")
    }

    /// A source repository with 24 raws.
    private func source(_ dir: TemporaryDirectory) throws -> String {
        let repo = dir.path("source")
        let made = try runProcess(toolBinary("make-raws"), [fixture("lsst/lsstCam-MC_O_20250609_000578_R01_S01.fits"), dir.path("raws"), "24", "32", "4", "100"])
        try #require(made.exitCode == 0, "\(made.stderr)")
        try #require(try runButler(try createArguments(repo)).exitCode == 0)
        let ingested = try runButler(["ingest-raws", repo, dir.path("raws"), "-t", "copy"])
        try #require(ingested.exitCode == 0, "\(ingested.stderr)")
        return repo
    }

    /// Each process either brought the 24 datasets or found them all here; exactly one brought them.
    private func checkArrivals(_ results: [CommandResult?], verb: String, destination: String) throws {
        var brought = 0
        for result in results {
            let result = try #require(result)
            #expect(result.exitCode == 0, "\(result.stderr)")
            #expect(!result.stderr.contains("constraint"), "\(result.stderr)")
            if result.stdout.contains("\(verb) 24 dataset(s)") {
                brought += 1
            } else {
                #expect(result.stdout.contains("\(verb) 0 dataset(s)") && result.stdout.contains("24 already here"), "\(result.stdout)\(result.stderr)")
            }
        }
        #expect(brought == 1)
        let listed = try runButler(["query-datasets", destination, "raw", "--collections", "LSSTCam/raw/all", "--format", "csv"])
        #expect(listed.stdout.split(separator: "\n").count == 25)
        let verify = try runButler(["verify", destination, "--checksums"])
        #expect(verify.exitCode == 0, "\(verify.stdout)\(verify.stderr)")
    }

    @Test("three transfer-datasets into one destination at once: one brings the datasets, the others find them already here (exit 0)")
    func concurrentTransfers() throws {
        let dir = TemporaryDirectory()
        let source = try source(dir)
        let destination = dir.path("destination")
        try #require(try runButler(try createArguments(destination)).exitCode == 0)
        let results = atOnce(Array(repeating: ["transfer-datasets", source, destination, "raw", "--collections", "LSSTCam/raw/all", "--register-dataset-types"], count: 3))
        try checkArrivals(results, verb: "Transferred", destination: destination)
    }

    @Test("three ingest-zip of one Zip into one destination at once: one brings the datasets, the others find them already here (exit 0)")
    func concurrentZipIngests() throws {
        let dir = TemporaryDirectory()
        let source = try source(dir)
        let zips = dir.path("zips")
        let written = try runButler(["retrieve-artifacts", source, zips, "--collections", "LSSTCam/raw/all", "--zip"])
        try #require(written.exitCode == 0, "\(written.stderr)")
        let zip = try #require(try FileManager.default.contentsOfDirectory(atPath: zips).first { $0.hasSuffix(".zip") })
        let destination = dir.path("destination")
        try #require(try runButler(try createArguments(destination)).exitCode == 0)
        let results = atOnce(Array(repeating: ["ingest-zip", destination, zips + "/" + zip, "--transfer-dimensions"], count: 3))
        try checkArrivals(results, verb: "Ingested", destination: destination)
    }
}
