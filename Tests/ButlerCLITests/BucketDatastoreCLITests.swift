import ButlerKit
import ButlerTestSupport
import Foundation
import S3
import Testing

/// A repository whose datastore is an S3 bucket, against `rclone serve s3` with signature checking (started by
/// scripts/with-s3.sh, which `make test` runs): ingest, run, put, queries, verify and prune on a bucket.
@Suite("butler with an S3 bucket datastore")
struct BucketDatastoreCLITests {
    @Test("create --datastore s3://; ingest, run, put, query URIs, verify --checksums, prune and orphans on a bucket")
    func bucketRepository() throws {
        let (client, bucket) = try makeTestBucket()
        let dir = TemporaryDirectory()
        let repo = dir.path("repo")
        let created = try runButler(try createArguments(repo) + ["--datastore", "s3://\(bucket)/dr1"])
        try #require(created.exitCode == 0, "\(created.stderr)")
        #expect(try runButler(["config-dump", repo, "-s", ".datastore.root"]).stdout == "s3://\(bucket)/dr1\n")
        let dump = try runButler(["config-dump", repo])
        #expect(!dump.stdout.contains(ProcessInfo.processInfo.environment["AWS_SECRET_ACCESS_KEY"]!), "no secret in config-dump")

        let ingested = try runButler(["ingest-raws", repo, fixturesDirectory.appendingPathComponent("raw").path, "-t", "copy"])
        #expect(ingested.exitCode == 0, "\(ingested.stderr)")
        #expect(ingested.stdout.hasPrefix("Ingested 10 dataset(s) from 10 file(s): 10 ingested"))
        let again = try runButler(["ingest-raws", repo, fixturesDirectory.appendingPathComponent("raw").path, "-t", "copy"])
        #expect(again.stdout.hasPrefix("Ingested 0 dataset(s) from 10 file(s): 0 ingested, 10 already registered"))
        let listing = try runButler(["query-datasets", repo, "raw", "--show-uri", "--format", "json"])
        let rows = try JSONSerialization.jsonObject(with: Data(listing.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(rows.count == 10 && rows.allSatisfy { ($0["uri"] as? String ?? "").hasPrefix("s3://\(bucket)/dr1/") }, "\(listing.stdout)")
        #expect(try client.listObjects(bucket: bucket, prefix: "dr1/").count == 10, "one object per raw, no temporary left")

        // A step reads its input from the bucket and its output goes there, FITS provenance cards stamped first.
        #expect(try runButler(["register-dataset-type", repo, "postISRCCD", "ExposureF", "instrument", "detector", "exposure"]).exitCode == 0)
        let dataId = "instrument=LATISS,detector=0,exposure=2023032100053"
        let run = try runButler(["run", repo, "--run", "u/s3", "--task", "isr", "--collections", "LATISS/raw/all",
                                 "--input", "raw=raw:\(dataId)", "--output", "out=postISRCCD:\(dataId)", "--", "/bin/cp", "{raw}", "{out}"])
        #expect(run.exitCode == 0, "\(run.stderr)")
        let out = try runButler(["find-dataset", repo, "postISRCCD:\(dataId)", "--collections", "u/s3"])
        #expect(out.stdout.contains("s3://\(bucket)/dr1/u/s3/postISRCCD/"), "\(out.stdout)\(out.stderr)")
        let retrieved = dir.path("retrieved.fits")
        let outKey = try #require(try client.listObjects(bucket: bucket, prefix: "dr1/u/s3/postISRCCD/").first?.key)
        try client.downloadFile(bucket: bucket, key: outKey, to: retrieved)
        let header = try String(contentsOfFile: retrieved, encoding: .isoLatin1)
        #expect(header.contains("LSST BUTLER"), "the output carries Rubin's provenance cards")
        let cards = try runButler(["provenance", "s3://\(bucket)/\(outKey)"])
        #expect(cards.exitCode == 0 && cards.stdout.contains("\"LSST BUTLER RUN\": \"u/s3\""), "butler provenance reads an object's cards: \(cards.stdout)\(cards.stderr)")

        try "a small table\n".write(toFile: dir.path("notes.txt"), atomically: true, encoding: .utf8)
        #expect(try runButler(["register-dataset-type", repo, "notes", "TextFile", "instrument"]).exitCode == 0)
        let put = try runButler(["put", repo, dir.path("notes.txt"), "--run", "u/notes", "--dataset-type", "notes", "--data-id", "instrument=LATISS"])
        #expect(put.exitCode == 0, "\(put.stderr)")
        let verified = try runButler(["verify", repo, "--checksums"])
        #expect(verified.exitCode == 0, "\(verified.stdout)\(verified.stderr)")
        #expect(verified.stderr.contains("(13 checksums), 13 datastore file(s)"), "10 raws, an output, its log, the notes: \(verified.stderr)")

        // Removal deletes the object; nothing else.
        let pruned = try runButler(["prune-datasets", repo, "--collections", "u/notes", "--datasets", "notes", "--purge", "u/notes", "--no-confirm"])
        #expect(pruned.exitCode == 0, "\(pruned.stdout)\(pruned.stderr)")
        #expect(try client.listObjects(bucket: bucket, prefix: "dr1/u/notes/").isEmpty)
        #expect(try runButler(["verify", repo, "--checksums"]).exitCode == 0)

        // An object no row names is an orphan, named by its URI.
        try client.putObject(bucket: bucket, key: "dr1/stray/object.fits", data: Data("x".utf8))
        let orphan = try runButler(["verify", repo])
        #expect(orphan.exitCode == 1 && orphan.stdout.contains("orphan-file s3://\(bucket)/dr1/stray/object.fits"), "\(orphan.stdout)")
        try client.deleteObject(bucket: bucket, key: "dr1/stray/object.fits")

        // A missing object, and one whose bytes changed (same size), are named with their URIs.
        let raws = try client.listObjects(bucket: bucket, prefix: "dr1/LATISS/")
        try #require(raws.count == 2)
        let saved = dir.path("saved.fits")
        try client.downloadFile(bucket: bucket, key: raws[0].key, to: saved)
        try client.deleteObject(bucket: bucket, key: raws[0].key)
        var changed = try client.getObject(bucket: bucket, key: raws[1].key)
        changed[changed.count - 1] ^= 0xFF
        try client.putObject(bucket: bucket, key: raws[1].key, data: changed)
        let damaged = try runButler(["verify", repo, "--checksums"])
        #expect(damaged.exitCode == 1)
        #expect(damaged.stdout.contains("missing-file s3://\(bucket)/\(raws[0].key)"), "\(damaged.stdout)")
        #expect(damaged.stdout.contains("checksum-mismatch s3://\(bucket)/\(raws[1].key)"), "\(damaged.stdout)")
    }

    @Test("an object no row names, found at the key a new raw is given, is kept aside, never overwritten, and verify names it")
    func takenKeyKeptAside() throws {
        let (client, bucket) = try makeTestBucket()
        let dir = TemporaryDirectory()
        let repo = dir.path("repo")
        try #require(try runButler(try createArguments(repo) + ["--datastore", "s3://\(bucket)/taken"]).exitCode == 0)
        let raws = [fixture("lsst/latiss-AT_O_20230321_000053.fits"), fixture("lsst/latiss-AT_O_20240624_000106_R00_S00.fits")]
        #expect(try runButler(["ingest-raws", repo] + raws + ["-t", "copy"]).exitCode == 0)
        let listing = try runButler(["query-datasets", repo, "raw", "--show-uri", "--format", "json"])
        let uris = (try JSONSerialization.jsonObject(with: Data(listing.stdout.utf8)) as? [[String: Any]] ?? []).compactMap { $0["uri"] as? String }.sorted()
        try #require(uris.count == 2, "\(listing.stdout)")
        #expect(try runButler(["remove-runs", repo, "LATISS/raw/all", "--no-confirm"]).exitCode == 0)
        // Someone else's object at the first raw's key; the two raws are published together.
        let key = String(uris[0].dropFirst("s3://\(bucket)/".count))
        try client.putObject(bucket: bucket, key: key, data: Data("not a raw\n".utf8))
        let again = try runButler(["ingest-raws", repo] + raws + ["-t", "copy"])
        #expect(again.exitCode == 0, "\(again.stderr)")
        let sizes = try raws.map { try Int64(FileManager.default.attributesOfItem(atPath: $0)[.size] as! NSNumber) }
        #expect(Set(try uris.compactMap { try objectSize($0) }) == Set(sizes), "the raws are at their keys")
        let folder = (key as NSString).deletingLastPathComponent + "/"
        let aside = try client.listObjects(bucket: bucket, prefix: folder).filter { $0.key.contains(".butler-orphan-") }
        #expect(aside.count == 1 && aside.first?.size == 10, "\(aside)")
        let verified = try runButler(["verify", repo, "--checksums"])
        #expect(verified.exitCode == 1 && verified.stdout.contains("butler-orphan-") && !verified.stdout.contains("checksum"), "\(verified.stdout)")
    }

    @Test("between a folder and a bucket: transfer-datasets both ways, export and import, Zips, retrieve-artifacts")
    func interchange() throws {
        let (client, bucket) = try makeTestBucket()
        let dir = TemporaryDirectory()
        let folder = dir.path("folder"), cloud = dir.path("cloud"), back = dir.path("back")
        #expect(try runButler(try createArguments(folder, inFolder: true)).exitCode == 0)
        #expect(try runButler(try createArguments(cloud) + ["--datastore", "s3://\(bucket)/cloud"]).exitCode == 0)
        #expect(try runButler(try createArguments(back)).exitCode == 0)
        #expect(try runButler(["ingest-raws", folder, fixturesDirectory.appendingPathComponent("raw").path, "-t", "copy"]).exitCode == 0)
        let up = try runButler(["transfer-datasets", folder, cloud, "raw", "--register-dataset-types"])
        #expect(up.exitCode == 0, "\(up.stderr)")
        #expect(try client.listObjects(bucket: bucket, prefix: "cloud/").count == 10)
        let down = try runButler(["transfer-datasets", cloud, back, "raw", "--register-dataset-types"])
        #expect(down.exitCode == 0, "\(down.stderr)")
        #expect(try runButler(["query-datasets", back, "raw", "--format", "json"]).stdout == (try runButler(["query-datasets", folder, "raw", "--format", "json"])).stdout)
        for repo in [cloud, back] { #expect(try runButler(["verify", repo, "--checksums"]).exitCode == 0, "\(repo)") }

        // Export from the bucket, import into a new folder repository.
        let exported = try runButler(["export", cloud, dir.path("export"), "--collections", "LATISS/raw/all", "-t", "copy"])
        #expect(exported.exitCode == 0, "\(exported.stderr)")
        let fresh = dir.path("fresh")
        #expect(try runButler(try createArguments(fresh)).exitCode == 0)
        let imported = try runButler(["import", fresh, dir.path("export")])
        #expect(imported.exitCode == 0, "\(imported.stderr)")
        #expect(try runButler(["verify", fresh, "--checksums"]).exitCode == 0)

        // A Zip out of the bucket and into another bucket repository.
        let zipped = try runButler(["retrieve-artifacts", cloud, dir.path("zips"), "--collections", "LATISS/raw/all", "--zip"])
        #expect(zipped.exitCode == 0, "\(zipped.stderr)")
        let zip = try #require(try FileManager.default.contentsOfDirectory(atPath: dir.path("zips")).first { $0.hasSuffix(".zip") })
        let cloud2 = dir.path("cloud2")
        #expect(try runButler(try createArguments(cloud2) + ["--datastore", "s3://\(bucket)/cloud2"]).exitCode == 0)
        let ingested = try runButler(["ingest-zip", cloud2, dir.path("zips/" + zip), "--transfer-dimensions"])
        #expect(ingested.exitCode == 0, "\(ingested.stderr)")
        // Stored whole, as one object; its members read from inside it (downloaded once).
        let objects = try client.listObjects(bucket: bucket, prefix: "cloud2/").map(\.key)
        #expect(objects.count == 1 && objects.allSatisfy { $0.hasPrefix("cloud2/zips/") && $0.hasSuffix(".zip") }, "\(objects)")
        #expect(try runButler(["verify", cloud2, "--checksums"]).exitCode == 0)
        let fromZip = try runButler(["retrieve-artifacts", cloud2, dir.path("out-zip"), "--collections", "LATISS/raw/all", "--no-preserve-path"])
        #expect(fromZip.exitCode == 0, "\(fromZip.stderr)")
        let members = try FileManager.default.contentsOfDirectory(atPath: dir.path("out-zip")).filter { $0.hasSuffix(".fits") }
        #expect(members.count == 2, "\(members)")
        // --extract: each member an object of its own.
        let cloud3 = dir.path("cloud3")
        #expect(try runButler(try createArguments(cloud3) + ["--datastore", "s3://\(bucket)/cloud3"]).exitCode == 0)
        let extracted = try runButler(["ingest-zip", cloud3, dir.path("zips/" + zip), "--transfer-dimensions", "--extract"])
        #expect(extracted.exitCode == 0, "\(extracted.stderr)")
        #expect(try client.listObjects(bucket: bucket, prefix: "cloud3/").count == 2)
        #expect(try runButler(["verify", cloud3, "--checksums"]).exitCode == 0)

        // Files out of the bucket, in the datastore's layout.
        let retrieved = try runButler(["retrieve-artifacts", cloud, dir.path("out"), "--collections", "LATISS/raw/all"])
        #expect(retrieved.exitCode == 0, "\(retrieved.stderr)")
        let files = FileManager.default.enumerator(atPath: dir.path("out"))?.allObjects.compactMap { $0 as? String }.filter { $0.hasSuffix(".fits") } ?? []
        #expect(files.count == 2 && files.allSatisfy { $0.hasPrefix("LATISS/raw/all/") }, "\(files)")
    }

    @Test("batch jobs on a bucket datastore: inputs resolved as s3:// URIs, downloaded by each staged job, outputs merged into the bucket")
    func batch() throws {
        let (client, bucket) = try makeTestBucket()
        let b = try BatchRepository(raws: 10, datastore: ["--datastore", "s3://\(bucket)/batch"])
        let jobs = try String(contentsOfFile: b.jobs, encoding: .utf8)
        #expect(jobs.contains("s3://\(bucket)/batch/LSSTCam/raw/all/"), "the jobs file names the raws' objects")
        for n in 1...10 { #expect(try b.stagedRun(n).exitCode == 0) }
        let (merged, summary) = try b.merge()
        #expect(merged.exitCode == 0 && summary["succeeded"] as? Int == 10 && summary["datasets"] as? Int == 20, "\(merged.stdout)\(merged.stderr)")
        #expect(try client.listObjects(bucket: bucket, prefix: "batch/u/batch/isr/postISRCCD/").count == 10)
        let verified = try runButler(["verify", b.repo, "--checksums"])
        #expect(verified.exitCode == 0, "\(verified.stdout)\(verified.stderr)")
    }

    @Test("raws already in a bucket: direct records them where they are, copy copies them on the service; a folder repository refuses them")
    func rawsInABucket() throws {
        let (client, bucket) = try makeTestBucket()
        for name in ["latiss-AT_O_20230321_000053.fits", "latiss-AT_O_20240624_000106_R00_S00.fits"] {
            try client.putObject(bucket: bucket, key: "incoming/night1/\(name)", data: try Data(contentsOf: URL(fileURLWithPath: fixture("lsst/" + name))))
        }
        try client.putObject(bucket: bucket, key: "incoming/night1/notes.txt", data: Data("not a raw".utf8))
        let dir = TemporaryDirectory()
        let repo = dir.path("repo")
        #expect(try runButler(try createArguments(repo) + ["--datastore", "s3://\(bucket)/repo"]).exitCode == 0)
        let direct = try runButler(["ingest-raws", repo, "s3://\(bucket)/incoming", "-t", "direct"])
        #expect(direct.exitCode == 0, "\(direct.stderr)")
        #expect(direct.stdout.hasPrefix("Ingested 2 dataset(s) from 2 file(s): 2 ingested"), "\(direct.stdout)")
        let uris = try runButler(["query-datasets", repo, "raw", "--show-uri", "--format", "json"])
        let rows = try JSONSerialization.jsonObject(with: Data(uris.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(Set(rows.compactMap { $0["uri"] as? String }) == [
            "s3://\(bucket)/incoming/night1/latiss-AT_O_20230321_000053.fits", "s3://\(bucket)/incoming/night1/latiss-AT_O_20240624_000106_R00_S00.fits"])
        #expect(try runButler(["ingest-raws", repo, "s3://\(bucket)/incoming", "-t", "direct"]).stdout.contains("0 ingested, 2 already registered"))
        #expect(try runButler(["verify", repo, "--checksums"]).exitCode == 0)

        let copied = dir.path("copied")
        #expect(try runButler(try createArguments(copied) + ["--datastore", "s3://\(bucket)/copied"]).exitCode == 0)
        let copy = try runButler(["ingest-raws", copied, "s3://\(bucket)/incoming/night1/latiss-AT_O_20230321_000053.fits"])
        #expect(copy.exitCode == 0, "\(copy.stderr)")
        #expect(try client.listObjects(bucket: bucket, prefix: "copied/").count == 1)
        #expect(try runButler(["verify", copied, "--checksums"]).exitCode == 0)

        let folder = dir.path("folder")
        #expect(try runButler(try createArguments(folder, inFolder: true)).exitCode == 0)
        let refused = try runButler(["ingest-raws", folder, "s3://\(bucket)/incoming"])
        #expect(refused.exitCode == 1 && refused.stderr.contains("raws in a bucket are ingested into a repository whose datastore is a bucket"), "\(refused.stderr)")
    }

    @Test("bad buckets and modes: one line each, nothing made")
    func refusals() throws {
        let (client, bucket) = try makeTestBucket()
        let dir = TemporaryDirectory()
        try client.putObject(bucket: bucket, key: "taken/x", data: Data("x".utf8))
        let taken = try runButler(try createArguments(dir.path("a")) + ["--datastore", "s3://\(bucket)/taken"])
        #expect(taken.exitCode == 1 && taken.stderr.contains("s3://\(bucket)/taken already holds objects"), "\(taken.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("a/butler.yaml")))
        let missing = try runButler(try createArguments(dir.path("b")) + ["--datastore", "s3://no-such-bucket-\(UUID().uuidString.prefix(8).lowercased())/x"])
        #expect(missing.exitCode == 1 && missing.stderr.contains("no-such-bucket"), "\(missing.stderr)")
        let repo = dir.path("c")
        #expect(try runButler(try createArguments(repo) + ["--datastore", "s3://\(bucket)/c"]).exitCode == 0)
        let linked = try runButler(["ingest-raws", repo, fixture("lsst/latiss-AT_O_20230321_000053.fits"), "-t", "symlink"])
        #expect(linked.exitCode == 1 && linked.stderr.contains("cannot symlink"), "\(linked.stderr)")
        var environment = ProcessInfo.processInfo.environment
        environment["AWS_SECRET_ACCESS_KEY"] = "wrong-secret-\(UUID().uuidString)"
        let wrong = try runButler(["ingest-raws", repo, fixture("lsst/latiss-AT_O_20230321_000053.fits")], environment: environment)
        #expect(wrong.exitCode == 1 && wrong.stderr.contains("s3://\(bucket)/c/") && wrong.stderr.contains("HTTP 403"), "\(wrong.stderr)")
        #expect(!wrong.stderr.contains(environment["AWS_SECRET_ACCESS_KEY"]!))
        #expect(try runButler(["verify", repo, "--checksums"]).exitCode == 0)
    }

    @Test("datastore.root: s3://BUCKET/PREFIX in a seed config (with --override, as Rubin's butler asks) makes a bucket repository")
    func seedConfigRoot() throws {
        let (client, bucket) = try makeTestBucket()
        let dir = TemporaryDirectory()
        let seed = dir.path("seed.yaml")
        try "datastore:\n  root: s3://\(bucket)/seeded\n".write(toFile: seed, atomically: true, encoding: .utf8)
        let repo = dir.path("repo")
        let created = try runButler(["create", repo, "--seed-config", seed, "--override"] + (try testRegistryURL().map { ["--registry", $0] } ?? []))
        try #require(created.exitCode == 0, "\(created.stderr)")
        #expect(try runButler(["config-dump", repo, "-s", ".datastore.root"]).stdout == "s3://\(bucket)/seeded\n")
        let ingested = try runButler(["ingest-raws", repo, fixture("lsst/latiss-AT_O_20230321_000053.fits")])
        #expect(ingested.exitCode == 0, "\(ingested.stderr)")
        #expect(try client.listObjects(bucket: bucket, prefix: "seeded/").count == 1)
        #expect(try runButler(["verify", repo, "--checksums"]).exitCode == 0)
    }
}
