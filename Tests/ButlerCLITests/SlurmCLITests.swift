import Foundation
import Testing
import ButlerKit
import ButlerTestSupport

/// The batch flow on a real Slurm (started by `scripts/with-slurm.sh`, as `make test` does): a job array of staged
/// `butler run`s of the demo pipeline's isr step, some failing and one cancelled with scancel, merged while the last
/// job still runs, the failures re-run through Slurm and merged again.
@Suite("Batch: a job array on Slurm")
struct SlurmCLITests {
    static let tasks = 200
    static let failing: Set<Int> = [7, 50, 123, 190]
    static let cancelled = 77

    /// Runs a Slurm client command; fails the test when Slurm is not there.
    static func slurm(_ command: String, _ arguments: [String]) throws -> CommandResult {
        guard ProcessInfo.processInfo.environment["SLURM_CONF"] != nil else {
            throw ButlerError(.invalidConfig, "SLURM_CONF is not set: run the tests through scripts/with-slurm.sh (make test does)")
        }
        let path = ["/usr/bin/", "/usr/local/bin/"].map { $0 + command }.first { FileManager.default.isExecutableFile(atPath: $0) } ?? command
        return try runProcess(path, arguments)
    }

    /// Waits until `done` holds, polling, for at most `seconds`.
    static func wait(_ what: String, seconds: Double, _ done: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while try !done() {
            guard Date() < deadline else { throw ButlerError(.io, "timed out after \(Int(seconds)) s waiting for \(what)") }
            usleep(200_000)
        }
    }

    /// The states of an array job's tasks that are still queued or running, by task index.
    static func activeTasks(_ jobId: String) throws -> [Int: String] {
        let listed = try slurm("squeue", ["-h", "-r", "-j", jobId, "-t", "PD,R,CG,S,CF", "-o", "%K %T"])
        var tasks: [Int: String] = [:]
        for line in listed.stdout.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let n = Int(parts[0]) { tasks[n] = String(parts[1]) }
        }
        return tasks
    }

    @Test("200 staged isr jobs: failures and a cancelled job recorded, re-run through Slurm, every output registered once")
    func jobArray() throws {
        let b = try BatchRepository(raws: Self.tasks, calibrations: true)
        let step = toolBinary("demo-step")
        let markers = b.dir.path("markers"), logs = b.dir.path("logs")
        try FileManager.default.createDirectory(atPath: markers, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        for n in Self.failing { FileManager.default.createFile(atPath: "\(markers)/fail-\(n)", contents: nil) }
        FileManager.default.createFile(atPath: "\(markers)/hang-\(Self.cancelled)", contents: nil)
        try "doBias: true\ndoFlat: true\n".write(toFile: b.dir.path("isr.yaml"), atomically: true, encoding: .utf8)
        // The step: the demo's isr, made to fail (or hang) where a marker says so.
        let flaky = b.dir.path("isr-step.sh")
        try """
            #!/bin/bash
            [ -e "\(markers)/fail-$SLURM_ARRAY_TASK_ID" ] && { echo "isr: cannot read the flat" >&2; exit 3; }
            [ -e "\(markers)/hang-$SLURM_ARRAY_TASK_ID" ] && exec sleep 600
            exec "\(step)" isr "$@"

            """.write(toFile: flaky, atomically: true, encoding: .utf8)
        // The job script, as in the README.
        let script = b.dir.path("isr.sbatch")
        try """
            #!/bin/bash
            #SBATCH --job-name=isr
            #SBATCH --output=\(logs)/isr-%A_%a.out
            exec "\(butlerBinary)" run "\(b.repo)" --jobs "\(b.jobs)" --job "$SLURM_ARRAY_TASK_ID" --run u/batch/isr --task isr \\
              --config "\(b.dir.path("isr.yaml"))" --package ip_isr=30.0.1 -- "\(flaky)" {raw} {bias} {flat} {out} {metrics}

            """.write(toFile: script, atomically: true, encoding: .utf8)
        for file in [flaky, script] { chmod(file, 0o755) }

        let submitted = try Self.slurm("sbatch", ["--parsable", "--array=1-\(Self.tasks)", script])
        #expect(submitted.exitCode == 0, "\(submitted.stderr)")
        let jobId = submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ";").first.map(String.init) ?? ""
        defer { _ = try? Self.slurm("scancel", [jobId]) }
        // Everything but the hanging task ends; merge while it still runs: its folder has no record yet.
        try Self.wait("all but task \(Self.cancelled) to end", seconds: 600) {
            let active = try Self.activeTasks(jobId)
            return active.keys.sorted() == [Self.cancelled] && active[Self.cancelled] == "RUNNING"
        }
        try Self.wait("task \(Self.cancelled) to start its step", seconds: 60) { b.folders().count == Self.tasks }
        let first = try b.merge()
        #expect(first.result.exitCode == 0, "\(first.result.stderr)")
        #expect(first.summary["succeeded"] as? Int == Self.tasks - Self.failing.count - 1)
        #expect(first.summary["failed"] as? Int == Self.failing.count)
        #expect(first.summary["incomplete"] as? Int == 1)
        #expect((first.summary["failed_jobs"] as? [String: [Int]])?[b.jobs] == Self.failing.sorted())

        // Cancel the hanging task: it leaves a failed record (SIGTERM, 143), which the next merge registers.
        #expect(try Self.slurm("scancel", ["\(jobId)_\(Self.cancelled)"]).exitCode == 0)
        try Self.wait("the cancelled task to end", seconds: 120) { try Self.activeTasks(jobId).isEmpty }
        let second = try b.merge()
        #expect(second.summary["failed"] as? Int == 1)
        #expect(try b.count("SELECT COUNT(*) FROM quantum WHERE status = 'failed' AND exit_code = 143") == 1)
        #expect(try b.count("SELECT COUNT(*) FROM quantum WHERE status = 'failed' AND exit_code = 3 AND log_text LIKE '%cannot read the flat%'") == Self.failing.count)

        // Re-run the failed jobs through Slurm, as the merge listed them, and merge again.
        for name in try FileManager.default.contentsOfDirectory(atPath: markers) { try FileManager.default.removeItem(atPath: "\(markers)/\(name)") }
        let rerun = Butler.arraySpec(Array(Self.failing) + [Self.cancelled])
        let again = try Self.slurm("sbatch", ["--parsable", "--wait", "--array=\(rerun)", script])
        #expect(again.exitCode == 0, "\(again.stderr)")
        let third = try b.merge()
        #expect(third.result.exitCode == 0, "\(third.result.stderr)")
        #expect(third.summary["succeeded"] as? Int == Self.failing.count + 1)
        #expect(b.folders().isEmpty)

        // Every output once, every failure recorded, files clean, lineage complete.
        #expect(try b.count("SELECT COUNT(*) FROM quantum WHERE task_label = 'isr' AND status = 'succeeded'") == Self.tasks)
        #expect(try b.count("SELECT COUNT(*) FROM quantum WHERE task_label = 'isr' AND status = 'failed'") == Self.failing.count + 1)
        let outputs = try runButler(["query-datasets", b.repo, "postISRCCD", "--collections", "u/batch/isr", "--format", "csv"])
        #expect(outputs.stdout.split(separator: "\n").count == Self.tasks + 1)
        #expect(try b.count("SELECT COUNT(*) FROM quantum_input AS i JOIN quantum AS q ON q.id = i.quantum_id WHERE q.status = 'succeeded'") == 3 * Self.tasks)
        #expect(try b.count("SELECT COUNT(*) FROM dataset_metric WHERE name = 'background'") == Self.tasks)
        let verify = try runButler(["verify", b.repo, "--checksums"])
        #expect(verify.exitCode == 0, "\(verify.stdout)\(verify.stderr)")
        for detector in [0, 7] {
            let lineage = try runButler(["provenance", b.repo, "postISRCCD:instrument=LSSTCam,detector=\(detector),exposure=2025060100001",
                                         "--collections", "u/batch/isr"])
            #expect(lineage.exitCode == 0, "\(lineage.stderr)")
            for piece in ["raw:", "bias:", "flat:", "made by isr", "isr.yaml"] { #expect(lineage.stdout.contains(piece), "\(piece) in \(lineage.stdout)") }
        }
        // A fourth merge adds nothing.
        #expect(try b.merge().summary["steps"] as? Int == 0)
    }
}
