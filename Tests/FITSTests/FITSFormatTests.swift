import Foundation
import Testing
@testable import FITS
import ButlerTestSupport

/// Files are recognised by their contents, not their names: compressed files without the usual suffix, tile-compressed
/// HDUs in a file named `.fits`, and files that are not FITS at all.
@Suite("FITS formats by content")
struct FITSFormatTests {
    static let latiss = fixturesDirectory.appendingPathComponent("raw/lsst/latiss-AT_O_20230321_000053.fits").path

    func error(_ path: String) -> FITSError? {
        do { _ = try FITSScan.read(path); return nil } catch let e as FITSError { return e } catch { return nil }
    }

    func shell(_ command: String) throws {
        let result = try runProcess("/bin/sh", ["-c", command])
        #expect(result.exitCode == 0, "\(command): \(result.stderr)")
    }

    @Test("gzip files read whatever their name; a truncated gzip file is truncated, checked against the decompressed size")
    func gzip() throws {
        let dir = TemporaryDirectory()
        for name in ["raw.fits", "raw", "raw.fits.gz"] {
            try shell("gzip -c '\(Self.latiss)' > '\(dir.path(name))'")
            let scan = try FITSScan.read(dir.path(name))
            #expect(scan.hdus[0].header.string("OBSID") == "AT_O_20230321_000053", "\(name)")
        }
        let good = try Data(contentsOf: URL(fileURLWithPath: Self.latiss))
        try good.prefix(good.count - 2880 + 10).write(to: URL(fileURLWithPath: dir.path("cut.fits")))
        try shell("gzip -c '\(dir.path("cut.fits"))' > '\(dir.path("cut-gz.fits"))'")
        let e = error(dir.path("cut-gz.fits"))
        #expect(e?.code == .truncated, "\(e.map { "\($0)" } ?? "no error")")
    }

    @Test("compress(1) .Z files read when named *.Z; otherwise the error says why")
    func lzw() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/compress") else {
            Issue.record("/usr/bin/compress is missing: install Debian's ncompress (make deps)")
            return
        }
        let dir = TemporaryDirectory()
        try shell("compress -c '\(Self.latiss)' > '\(dir.path("raw.fits.Z"))'")
        #expect(try FITSScan.read(dir.path("raw.fits.Z")).hdus[0].header.string("OBSID") == "AT_O_20230321_000053")
        try shell("cp '\(dir.path("raw.fits.Z"))' '\(dir.path("raw.fits"))'")
        let e = error(dir.path("raw.fits"))
        #expect(e?.code == .cannotOpen)
        #expect(e?.description.contains("compress(1) (.Z) data, which CFITSIO decompresses only in a file whose name contains '.Z'") == true, "\(e.map { "\($0)" } ?? "no error")")
    }

    @Test("tile-compressed HDUs read in a file of any name, with checksums")
    func tileCompressed() throws {
        let dir = TemporaryDirectory()
        let source = try FITSScan.read(Self.latiss).hdus[0].header
        let primary = FITSWriter.Image(cards: source.cards.filter { ["INSTRUME", "OBSID", "DATE-OBS", "EXPTIME"].contains($0.keyword) }, size: nil)
        let image = FITSWriter.Image(cards: [HeaderCard(keyword: "EXTNAME", value: .string("R00_S00"))], size: (64, 32),
                                     pixels: (0..<2048).map { Int16($0 % 300) })
        for name in ["tile.fits", "tile", "tile.fits.fz"] {
            try FITSWriter.write(dir.path(name), hdus: [primary, image], tileCompress: true, checksum: true)
            let scan = try FITSScan.read(dir.path(name))
            #expect(scan.warnings.isEmpty, "\(name): \(scan.warnings)")
            #expect(scan.detectorHeaders.count == 1)
            #expect(scan.detectorHeaders[0].header.int("NAXIS1") == 64)
            #expect(scan.detectorHeaders[0].header.string("EXTNAME") == "R00_S00")
            #expect(scan.detectorHeaders[0].header.string("OBSID") == "AT_O_20230321_000053")
        }
        // gzip over tile compression, without a suffix.
        try shell("gzip -c '\(dir.path("tile.fits"))' > '\(dir.path("tile-gz"))'")
        #expect(try FITSScan.read(dir.path("tile-gz")).detectorHeaders[0].header.int("NAXIS2") == 32)
    }

    @Test("files that are not FITS say so, whatever their size; truncated FITS files say truncated")
    func notFITS() throws {
        let dir = TemporaryDirectory()
        let good = try Data(contentsOf: URL(fileURLWithPath: Self.latiss))
        let cases: [(String, Data)] = [
            ("short.fits", Data("hello\n".utf8)),
            ("text.fits", Data(String(repeating: "this is not FITS at all ", count: 200).utf8)),
            ("html.fits", Data("<html><body>404</body></html>".utf8)),
            ("random.fits", Data((0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7919 &+ 13) })),
            ("simple-lowercase.fits", Data("simple  = T".utf8) + Data(repeating: 0x20, count: 2880)),
        ]
        for (name, data) in cases {
            try data.write(to: URL(fileURLWithPath: dir.path(name)))
            let e = error(dir.path(name))
            #expect(e?.code == .notFITS, "\(name): \(e.map { "\($0)" } ?? "no error")")
            #expect(e?.description.contains("does not begin with a SIMPLE card") == true, "\(name): \(e.map { "\($0)" } ?? "no error")")
        }
        try good.prefix(1000).write(to: URL(fileURLWithPath: dir.path("cut-header.fits")))
        let cut = error(dir.path("cut-header.fits"))
        #expect(cut?.description.contains("truncated") == true, "\(cut.map { "\($0)" } ?? "no error")")
        #expect(cut?.code != .notFITS)
        // Not regular files: refused before CFITSIO opens them (a FIFO would block).
        #expect(mkfifo(dir.path("pipe.fits"), 0o644) == 0)
        #expect(error(dir.path("pipe.fits"))?.description.contains("not a regular file (a FIFO)") == true)
        #expect(error(dir.path(""))?.description.contains("a folder, not a file") == true)
    }
}
