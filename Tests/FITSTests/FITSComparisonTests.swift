import ButlerTestSupport
import FITS
import Foundation
import Testing

/// FITSComparison: header cards by keyword and data units byte for byte, HDU by HDU.
@Suite("Comparing FITS files")
struct FITSComparisonTests {
    func write(_ path: String, object: String, pixels: [Int16], extra: [HeaderCard] = [], hdus: Int = 2) throws {
        let primary = FITSWriter.Image(cards: [HeaderCard(keyword: "OBJECT", value: .string(object))] + extra, size: nil)
        let images = (1..<hdus).map { _ in FITSWriter.Image(cards: [HeaderCard(keyword: "EXTNAME", value: .string("IMAGE"))], size: (8, 8), pixels: pixels) }
        try FITSWriter.write(path, hdus: [primary] + images, checksum: true)
    }

    @Test("same data with other cards; other pixels in one HDU; another number of HDUs; ignored keywords")
    func differences() throws {
        let dir = TemporaryDirectory()
        let pixels = (0..<64).map { Int16($0) }
        try write(dir.path("a.fits"), object: "M31", pixels: pixels)
        try write(dir.path("b.fits"), object: "M31", pixels: pixels, extra: [HeaderCard(keyword: "LSST BUTLER ID", value: .string("x"))])
        try write(dir.path("c.fits"), object: "M33", pixels: pixels)
        var changed = pixels
        changed[10] = 99
        changed[11] = 98
        try write(dir.path("d.fits"), object: "M31", pixels: changed)
        try write(dir.path("e.fits"), object: "M31", pixels: pixels, hdus: 3)

        let ignored = try FITSComparison.compare(dir.path("a.fits"), dir.path("b.fits")) { $0.hasPrefix("LSST BUTLER ") || $0 == "CHECKSUM" || $0 == "DATASUM" }
        #expect(ignored.sameData && ignored.headerDifferences.isEmpty, "\(ignored.headerDifferences)")
        let header = try FITSComparison.compare(dir.path("a.fits"), dir.path("c.fits")) { $0 == "CHECKSUM" || $0 == "DATASUM" }
        #expect(header.sameData)
        #expect(header.headerDifferences.map(\.description) == ["HDU 1 OBJECT: M31 → M33"])
        let data = try FITSComparison.compare(dir.path("a.fits"), dir.path("d.fits"))
        #expect(!data.sameData)
        #expect(data.dataDifference?.hdu == 2 && data.dataDifference?.differingBytes == 2 && data.dataDifference?.totalBytes == 2880,
                "two Int16 pixels whose high bytes stay 0: 2 bytes of one 2880-byte block: \(String(describing: data.dataDifference))")
        let count = try FITSComparison.compare(dir.path("a.fits"), dir.path("e.fits"))
        #expect(count.hduCounts == (2, 3) && !count.sameData)
        #expect(throws: FITSError.self) { try FITSComparison.compare(dir.path("a.fits"), dir.path("missing.fits")) }
    }
}
