import Foundation
import Testing
@testable import ButlerKit
import ButlerTestSupport

/// Zips made to mislead: two members of one name, an index or provenance member that claims or inflates to more
/// than the reader holds in memory, data IDs with keys their dataset type lacks, a universe newer than ours. Each is
/// refused with one line naming the Zip. The Zips are built with Python's `zipfile` (and their headers edited).
@Suite("hostile Zips")
struct ZipHostileTests {
    typealias Z = ZipInterchangeTests

    /// Writes a Zip of `members` (name, then the bytes of a file or `@index`, the Rubin index of the fixture raw,
    /// or `@spaces:N`, N spaces then that index), the index deflated, the rest stored.
    static func makeZip(_ url: URL, _ members: [(String, String)]) throws {
        let index = url.deletingLastPathComponent().appendingPathComponent("index-\(UUID().uuidString.prefix(6)).json")
        try Z.json(Z.rubinIndex(fileSize: try Z.fileSize(Z.latissRaw))).write(to: index)
        _ = try Z.python("""
            import sys, warnings, zipfile
            warnings.simplefilter("ignore")  # duplicate names are what is being made
            out, index, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
            text = open(index, "rb").read()
            with zipfile.ZipFile(out, "w") as z:
                for name, source in zip(rest[0::2], rest[1::2]):
                    if source == "@index":
                        z.writestr(name, text, compress_type=zipfile.ZIP_DEFLATED)
                    elif source.startswith("@spaces:"):
                        left = int(source[8:])
                        info = zipfile.ZipInfo(name)
                        info.compress_type = zipfile.ZIP_DEFLATED
                        with z.open(info, "w", force_zip64=left > 2**31) as f:
                            block = b" " * (1 << 20)
                            while left > 0:
                                f.write(block[:min(left, len(block))])
                                left -= min(left, len(block))
                            f.write(text)
                    else:
                        z.write(source, name)
            """, [url.path, index.path] + members.flatMap { [$0.0, $0.1] })
    }

    /// Sets the uncompressed size the Zip declares for `member` (local header and central directory) to `size`.
    static func declareSize(_ url: URL, member: String, size: Int64) throws {
        _ = try Z.python("""
            import struct, sys, zipfile
            path, name, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
            with zipfile.ZipFile(path) as z:
                offset, start = z.getinfo(name).header_offset, z.start_dir
            data = bytearray(open(path, "rb").read())
            struct.pack_into("<I", data, offset + 22, size)
            p = start
            while data[p:p + 4] == b"PK\\x01\\x02":
                n, e, c = struct.unpack_from("<HHH", data, p + 28)
                if data[p + 46:p + 46 + n].decode() == name:
                    struct.pack_into("<I", data, p + 24, size)
                p += 46 + n + e + c
            open(path, "wb").write(data)
            """, [url.path, member, String(size)])
    }

    func refusal(_ url: URL) throws -> String {
        let universe = try DimensionUniverse.makeDefault()
        let error = butlerError { try ButlerZip(contentsOf: url, universe: universe) }
        #expect(error?.code == .invalidValue, "\(url.lastPathComponent): \(error.map { "\($0)" } ?? "no error")")
        let text = error?.message ?? "no error"
        #expect(text.hasPrefix(url.path), "\(text) names the Zip")
        #expect(!text.contains("\n"))
        return text
    }

    @Test("two members of one name (Python and Rubin read the last, a first-match reader the first) are refused, naming the member")
    func duplicateNames() throws {
        let dir = TemporaryDirectory("zip-duplicates")
        let other = dir.path("other.fits")
        try Data(repeating: 7, count: 5760).write(to: URL(fileURLWithPath: other))
        let member = dir.url.appendingPathComponent("member.zip")
        try Self.makeZip(member, [(ZipIndex.memberName, "@index"), (Z.rubinMember, Z.latissRaw), (Z.rubinMember, other)])
        let text = try refusal(member)
        #expect(text.contains("two members named '\(Z.rubinMember)'"), "\(text)")
        // Two indexes: which datasets the Zip holds would depend on the reader.
        let index = dir.url.appendingPathComponent("index.zip")
        try Self.makeZip(index, [(ZipIndex.memberName, "@index"), (Z.rubinMember, Z.latissRaw), (ZipIndex.memberName, "@index")])
        #expect(try refusal(index).contains("two members named '\(ZipIndex.memberName)'"))
        // The same Zip without the second copy is read.
        let plain = dir.url.appendingPathComponent("plain.zip")
        try Self.makeZip(plain, [(ZipIndex.memberName, "@index"), (Z.rubinMember, Z.latissRaw)])
        #expect(try ButlerZip(contentsOf: plain, universe: try DimensionUniverse.makeDefault()).contents.datasets.count == 1)
    }

    @Test("an index or provenance member declared larger than the limit is refused before it is read")
    func declaredTooLarge() throws {
        let dir = TemporaryDirectory("zip-declared")
        let index = dir.url.appendingPathComponent("index.zip")
        try Self.makeZip(index, [(ZipIndex.memberName, "@index"), (Z.rubinMember, Z.latissRaw)])
        try Self.declareSize(index, member: ZipIndex.memberName, size: 1_500_000_000)
        let text = try refusal(index)
        #expect(text.contains("member \(ZipIndex.memberName) is 1500000000 bytes uncompressed, more than the 256 MiB"), "\(text)")

        let provenance = dir.url.appendingPathComponent("provenance.zip")
        let bundle = dir.path("bundle.json")
        try Data("{}".utf8).write(to: URL(fileURLWithPath: bundle))
        try Self.makeZip(provenance, [(ZipIndex.memberName, "@index"), (Z.rubinMember, Z.latissRaw), (ProvenanceBundle.zipMemberName, bundle)])
        try Self.declareSize(provenance, member: ProvenanceBundle.zipMemberName, size: ButlerZip.memberReadLimit + 1)
        #expect(try refusal(provenance).contains("member \(ProvenanceBundle.zipMemberName) is \(ButlerZip.memberReadLimit + 1) bytes uncompressed"))
    }

    @Test("an index that inflates past the size it declares is refused as soon as it does")
    func inflatesPastDeclared() throws {
        let dir = TemporaryDirectory("zip-lying")
        let url = dir.url.appendingPathComponent("lying.zip")
        // 8 MiB of spaces before the JSON, declared as 4 KiB.
        try Self.makeZip(url, [(ZipIndex.memberName, "@spaces:\(8 << 20)"), (Z.rubinMember, Z.latissRaw)])
        #expect(try ButlerZip(contentsOf: url, universe: try DimensionUniverse.makeDefault()).contents.datasets.count == 1, "honest, it is read")
        try Self.declareSize(url, member: ZipIndex.memberName, size: 4096)
        let text = try refusal(url)
        #expect(text.contains("member \(ZipIndex.memberName) inflates past the 4096 bytes the Zip declares for it"), "\(text)")
    }

    @Test("a data ID key that is not a dimension of the dataset type is refused, naming it")
    func extraDataIdKeys() throws {
        let dir = TemporaryDirectory("zip-extra-key")
        let extra = try Z.rubinZip(in: dir, name: "extra.zip") { index in
            Z.edit(&index, ["refs", "compact_refs", Z.rubinId]) { ref in
                var dataId = ref["data_id"] as! [String: Any]
                dataId["visit"] = 42
                ref["data_id"] = dataId
            }
        }
        let text = try refusal(extra)
        #expect(text.contains("data ID of dataset \(Z.rubinId) has the key 'visit', which is not a dimension of dataset type 'raw'"), "\(text)")
        // Implied values (band, day_obs, group, physical_filter) are dimensions of raw: Rubin writes them.
        let rubin = try Z.rubinZip(in: dir, name: "rubin.zip")
        #expect(try ButlerZip(contentsOf: rubin, universe: try DimensionUniverse.makeDefault()).contents.datasets.count == 1)
    }

    @Test("a universe version newer than ours is refused; Rubin's older ones are read")
    func universeVersion() throws {
        let dir = TemporaryDirectory("zip-universe")
        let universe = try DimensionUniverse.makeDefault()
        let newer = try Z.rubinZip(in: dir, name: "newer.zip") { index in Z.edit(&index, ["refs"]) { $0["universe_version"] = 99 } }
        #expect(try refusal(newer).contains("universe_version is 99, which this butler does not know"))
        for version in [6, 7] {
            let older = try Z.rubinZip(in: dir, name: "v\(version).zip") { index in Z.edit(&index, ["refs"]) { $0["universe_version"] = version } }
            #expect(try ButlerZip(contentsOf: older, universe: universe).contents.universeVersion == version)
        }
    }
}
