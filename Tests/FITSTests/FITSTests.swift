import Foundation
import Testing
@testable import FITS
import ButlerTestSupport

/// The FITS layer on real headers and on files derived from them.
@Suite("FITS")
struct FITSTests {
    static let latiss = fixturesDirectory.appendingPathComponent("raw/lsst/latiss-AT_O_20230321_000053.fits").path

    static var allFixtures: [String] {
        ["lsst", "other"].flatMap { folder -> [String] in
            let dir = fixturesDirectory.appendingPathComponent("raw/\(folder)")
            return (try? FileManager.default.contentsOfDirectory(atPath: dir.path))?.filter { $0.hasSuffix(".fits") }.sorted()
                .map { dir.appendingPathComponent($0).path } ?? []
        }
    }

    @Test("every fixture header reads, with typed values", arguments: allFixtures)
    func readsFixture(_ path: String) throws {
        let scan = try FITSScan.read(path)
        #expect(scan.hdus.count >= 1)
        let header = scan.hdus[0].header
        #expect(header.bool("SIMPLE") == true)
        #expect(header.int("NAXIS") == 2)
        #expect(header.cards.count > 50)
        #expect(scan.detectorHeaders.count == 1)
    }

    @Test("strings, numbers, HIERARCH cards, undefined values and commentary cards")
    func typedAccess() throws {
        let header = try FITSScan.read(Self.latiss).hdus[0].header
        #expect(header.string("OBSID") == "AT_O_20230321_000053")
        #expect(header.string("INSTRUME") == "LATISS")
        #expect(header.int("STUTTER ROWS") == 0)
        #expect(header["STUTTER DELAY"] == .float(0))
        #expect(header.double("RA")! > 142.4)
        #expect(header.isUndefined("FILTPOS"))
        #expect(header.string("FILTPOS") == nil)
        #expect(header.contains("FILTPOS"))
        #expect(header["NO-SUCH-KEY"] == nil)
        #expect(header.comments.contains { $0.contains("Checksums") })
        #expect(header.string("obsid") == "AT_O_20230321_000053", "keywords are case-insensitive")
    }

    @Test("card parser: quotes, long strings with CONTINUE, logicals, D exponents, complex")
    func cardParser() throws {
        func card(_ s: String) -> String { s.padding(toLength: 80, withPad: " ", startingAt: 0) }
        let text = [
            card("OBJECT  = 'O''Brien field'     / quoted quote"),
            card("LONGSTR = 'first part &'"),
            card("CONTINUE  'second part'  / the end"),
            card("FLAG    =                    T"),
            card("BIG     =              1.5D+03"),
            card("CPLX    = (1.0, 2.0)"),
            card("HIERARCH LSST BUTLER ID = 'abc' / Dataset ID"),
            card("HISTORY made by a test"),
            card("EMPTY   ="),
            card("END"),
        ].joined()
        let cards = try Array(text.utf8).withUnsafeBufferPointer { try CardParser.parse($0) }
        let header = Header(cards: cards)
        #expect(header.string("OBJECT") == "O'Brien field")
        #expect(header.card("OBJECT")?.comment == "quoted quote")
        #expect(header.string("LONGSTR") == "first part second part")
        #expect(header.bool("FLAG") == true)
        #expect(header.double("BIG") == 1500)
        #expect(header["CPLX"] == .complex("(1.0, 2.0)"))
        #expect(header.string("LSST BUTLER ID") == "abc")
        #expect(header.history == [" made by a test".trimmingCharacters(in: .whitespaces)] || header.history == ["made by a test"] || header.history.first?.contains("made by a test") == true)
        #expect(header.isUndefined("EMPTY"))
    }

    @Test("write an image with checksums, a tile-compressed (.fz) copy and a gzip copy; all read back")
    func writeAndCompress() throws {
        let dir = TemporaryDirectory()
        let source = try FITSScan.read(Self.latiss).hdus[0].header
        let keep = source.cards.filter { ["INSTRUME", "OBSID", "DATE-OBS", "EXPTIME", "FILTPOS"].contains($0.keyword) }
        let primary = FITSWriter.Image(cards: keep, size: nil)
        let image = FITSWriter.Image(cards: [HeaderCard(keyword: "EXTNAME", value: .string("R00_S00"))], size: (32, 16),
                                     pixels: (0..<512).map { Int16($0 % 100) })
        let plain = dir.path("plain.fits")
        try FITSWriter.write(plain, hdus: [primary, image], checksum: true)
        let scan = try FITSScan.read(plain)
        #expect(scan.warnings.isEmpty)
        #expect(scan.hdus.count == 2)
        #expect(scan.detectorHeaders.count == 1)
        #expect(scan.detectorHeaders[0].header.string("OBSID") == "AT_O_20230321_000053")
        #expect(scan.detectorHeaders[0].header.string("EXTNAME") == "R00_S00")
        #expect(scan.hdus[0].header.isUndefined("FILTPOS"))

        let fz = dir.path("tile.fits.fz")
        try FITSWriter.write(fz, hdus: [primary, image], tileCompress: true)
        let fzScan = try FITSScan.read(fz)
        #expect(fzScan.detectorHeaders.count == 1)
        #expect(fzScan.detectorHeaders[0].header.int("NAXIS1") == 32)
        #expect(fzScan.detectorHeaders[0].header.string("OBSID") == "AT_O_20230321_000053")

        let gz = dir.path("plain.fits.gz")
        let result = try runProcess("/bin/sh", ["-c", "gzip -c '\(plain)' > '\(gz)'"])
        #expect(result.exitCode == 0)
        let gzScan = try FITSScan.read(gz)
        #expect(gzScan.detectorHeaders[0].header.string("OBSID") == "AT_O_20230321_000053")
    }

    @Test("a stale checksum is a warning, not an error")
    func staleChecksum() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("sum.fits")
        try FITSWriter.write(path, hdus: [FITSWriter.Image(cards: [HeaderCard(keyword: "OBJECT", value: .string("field A"))], size: (8, 8))], checksum: true)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let range = bytes.range(of: Data("field A".utf8))!
        bytes.replaceSubrange(range, with: Data("field B".utf8))
        try bytes.write(to: URL(fileURLWithPath: path))
        let scan = try FITSScan.read(path)
        #expect(scan.warnings.count == 1)
        #expect(scan.warnings[0].contains("stale checksum"))
        #expect(scan.hdus[0].header.string("OBJECT") == "field B")
    }

    @Test("bad files: each error names the file and the reason")
    func badFiles() throws {
        let dir = TemporaryDirectory()
        let good = try Data(contentsOf: URL(fileURLWithPath: Self.latiss))
        func write(_ name: String, _ data: Data) throws -> String {
            let path = dir.path(name)
            try data.write(to: URL(fileURLWithPath: path))
            return path
        }
        let cases: [(String, String)] = [
            (try write("empty.fits", Data()), "empty"),
            (try write("text.fits", Data(String(repeating: "this is not FITS at all ", count: 200).utf8)), ""),
            (try write("truncated-header.fits", good.prefix(2880)), ""),
            (try write("truncated-data.fits", good.prefix(good.count - 2880 + 10)), "truncated"),
            (dir.path("missing.fits"), "no such file"),
        ]
        // No END card: cut the header just before END and pad with blanks.
        let endRange = good.range(of: Data(("END" + String(repeating: " ", count: 77)).utf8))!
        var noEnd = good.prefix(endRange.lowerBound)
        noEnd.append(Data(repeating: 0x20, count: 2880 * 3))
        // A byte outside printable ASCII in a value.
        var illegal = good
        let objectRange = illegal.range(of: Data("OBJECT  = '".utf8))!
        illegal[objectRange.upperBound] = 0xC3
        let more = [(try write("no-end.fits", noEnd), ""), (try write("illegal.fits", illegal), "0xC3")]
        for (path, reason) in cases + more {
            do {
                _ = try FITSScan.read(path)
                Issue.record("\(path) was read without error")
            } catch let error as FITSError {
                #expect(error.description.contains(path), "\(error)")
                if !reason.isEmpty { #expect(error.description.contains(reason), "\(error)") }
            }
        }
    }

    @Test("CFITSIO is reentrant, so files are read from several threads at once")
    func reentrant() {
        #expect(FITSLibrary.isReentrant)
        #expect(FITSLibrary.version > 3)
    }
}
