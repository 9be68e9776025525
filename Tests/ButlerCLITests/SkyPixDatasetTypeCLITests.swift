import Foundation
import Testing
import ButlerKit
import ButlerTestSupport

/// Dataset types with a sky pixel dimension (reference catalogs sharded by `htm7`, as Rubin's `gaia_dr3`):
/// registered, stored with the pixel in the path (the template's `{skypix}`), queried by pixel, found, and carried
/// both ways between our butler and Rubin's (Rubin's export computed by Rubin's butler at test time).
@Suite("Sky pixel dimensions in dataset types", .serialized)
struct SkyPixDatasetTypeCLITests {
    func check(_ arguments: [String], _ expected: Int32 = 0, sourceLocation: SourceLocation = #_sourceLocation) throws -> CommandResult {
        let result = try runButler(arguments)
        #expect(result.exitCode == expected, "butler \(arguments.joined(separator: " ")): \(result.stderr)", sourceLocation: sourceLocation)
        return result
    }

    func rows(_ result: CommandResult) throws -> [[String: Any]] {
        let text = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? [] : (try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]]) ?? []
    }

    func pixels(_ result: CommandResult) throws -> [Int] {
        try rows(result).compactMap { ($0["data_id"] as? [String: Any])?["htm7"] as? Int }.sorted()
    }

    @Test("register, put, query by pixel, find, and a pixel that does not exist refused; each pixel its own file")
    func ownRepository() throws {
        let dir = TemporaryDirectory("skypix-types")
        let repo = dir.path("repo")
        try check(try createArguments(repo))
        try check(["register-dataset-type", repo, "gaia_dr3", "SimpleCatalog", "htm7"])
        for pixel in [253952, 253954, 253955] {
            let file = dir.path("gaia_\(pixel).fits")
            try Data("gaia shard \(pixel)".utf8).write(to: URL(fileURLWithPath: file))
            try check(["put", repo, file, "--run", "refcats/gaia", "--dataset-type", "gaia_dr3", "--data-id", "htm7=\(pixel)"])
        }
        let bad = dir.path("bad.fits")
        try Data("gaia shard".utf8).write(to: URL(fileURLWithPath: bad))
        let refused = try check(["put", repo, bad, "--run", "refcats/gaia", "--dataset-type", "gaia_dr3", "--data-id", "htm7=3"], 1)
        #expect(refused.stderr.contains("htm7=3 is not a pixel of htm7"), "\(refused.stderr)")

        #expect(try pixels(try check(["query-datasets", repo, "gaia_dr3", "--format", "json"])) == [253952, 253954, 253955])
        #expect(try pixels(try check(["query-datasets", repo, "gaia_dr3", "--where", "htm7 = 253954", "--format", "json"])) == [253954])
        #expect(try pixels(try check(["query-datasets", repo, "gaia_dr3", "--where", "htm7 IN (253950..253954) AND htm7 != 253952", "--format", "json"])) == [253954])
        #expect(try pixels(try check(["query-datasets", repo, "gaia_dr3", "--where", "htm7 IN (:p)", "--bind", "p=253955,1", "--format", "json"])) == [253955])
        let found = try check(["find-dataset", repo, "gaia_dr3:htm7=253955", "--collections", "refcats/gaia", "--format", "json"])
        #expect(try rows(found).count == 1)
        // Three files, three paths, each naming its pixel.
        let uris = try rows(try check(["query-datasets", repo, "gaia_dr3", "--show-uri", "--format", "json"])).compactMap { $0["uri"] as? String }
        #expect(Set(uris).count == 3 && [253952, 253954, 253955].allSatisfy { p in uris.contains { $0.contains("_\(p)_") } }, "\(uris)")
        // What is not answered here yet is refused in one line, never answered wrongly: pixels as records, data IDs
        // over a dataset type's pixels, and shards related to a visit's region.
        for arguments in [["query-dimension-records", repo, "htm7"],
                          ["query-data-ids", repo, "--datasets", "gaia_dr3", "--collections", "refcats/gaia"],
                          ["query-datasets", repo, "gaia_dr3", "--where", "instrument = 'LSSTCam' AND visit = 1"]] {
            let refused = try check(arguments, 1)
            #expect(refused.stderr.split(separator: "\n").count == 1 && refused.stdout.isEmpty, "\(arguments): \(refused.stderr)")
        }
        try check(["verify", repo, "--checksums"])
    }

    @Test("Rubin's export of a reference catalog → our import → our export → Rubin's import: same ids and pixels; a Zip of them back in")
    func throughRubin() throws {
        let dir = TemporaryDirectory("skypix-rubin")
        let python = packageRoot.appendingPathComponent(".build/rubin-venv/bin/python").path
        let made = try runProcess(python, [packageRoot.appendingPathComponent("scripts/rubin/make_refcat_export.py").path,
                                           dir.path("rubin"), "253952", "253954"])
        try #require(made.exitCode == 0, "make_refcat_export.py failed: \(made.stderr)")
        let rubinIds = try #require(try JSONSerialization.jsonObject(with: Data(made.stdout.utf8)) as? [String: Int])

        let repo = dir.path("repo")
        try check(try createArguments(repo))
        try check(["import", repo, dir.path("rubin/export")])
        var ours: [String: Int] = [:]
        for row in try rows(try check(["query-datasets", repo, "gaia_dr3", "--format", "json"])) {
            if let id = row["id"] as? String, let pixel = (row["data_id"] as? [String: Any])?["htm7"] as? Int { ours[id] = pixel }
        }
        #expect(ours == rubinIds)
        try check(["verify", repo, "--checksums"])

        // A sender's export whose data ID names no pixel of htm7 is refused whole, naming it; nothing is added.
        let hostile = dir.path("hostile")
        try FileManager.default.copyItem(atPath: dir.path("rubin/export"), toPath: hostile)
        let yaml = try String(contentsOfFile: hostile + "/export.yaml", encoding: .utf8)
        try yaml.replacingOccurrences(of: "htm7: 253954", with: "htm7: 3").write(toFile: hostile + "/export.yaml", atomically: true, encoding: .utf8)
        let fresh = dir.path("fresh")
        try check(try createArguments(fresh))
        let refused = try check(["import", fresh, hostile], 1)
        #expect(refused.stderr.contains("htm7=3 is not a pixel of htm7"), "\(refused.stderr)")
        #expect(try rows(try runButler(["query-datasets", fresh, "--format", "json"])).isEmpty)
        try check(["verify", fresh, "--checksums"])

        try check(["export", repo, dir.path("ours"), "gaia_dr3", "--collections", "refcats/gaia", "-t", "copy"])
        let back = try runProcess(python, [packageRoot.appendingPathComponent("scripts/rubin/import_into_rubin.py").path,
                                           dir.path("ours"), dir.path("back")])
        try #require(back.exitCode == 0, "Rubin's import of our export failed: \(back.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(back.stdout.utf8)) as? [String: Any])
        let datasets = summary["datasets"] as? [String: [String: Any]] ?? [:]
        let rubinBack = datasets.compactMapValues { ($0["data_id"] as? [String: Any])?["htm7"] as? Int }
        #expect(rubinBack == rubinIds)
        #expect(datasets.values.allSatisfy { $0["file_exists"] as? Bool == true })

        // A Zip of them, ingested into a fresh repository of ours.
        try check(["retrieve-artifacts", repo, dir.path("zip"), "--zip", "--collections", "refcats/gaia"])
        let zip = try #require(try FileManager.default.contentsOfDirectory(atPath: dir.path("zip")).first { $0.hasSuffix(".zip") })
        let other = dir.path("other")
        try check(try createArguments(other))
        try check(["ingest-zip", other, dir.path("zip") + "/" + zip, "-t", "copy"])
        #expect(try pixels(try check(["query-datasets", other, "gaia_dr3", "--where", "htm7 = 253954", "--format", "json"])) == [253954])
        try check(["verify", other, "--checksums"])
    }
}
