internal import CFITSIO
import Foundation

/// Writes simple FITS images: a primary header-only HDU or image, optional image extensions, header cards,
/// int16 pixels and checksums. Used to make synthetic raws for benchmarks and bad files for tests.
public enum FITSWriter {
    /// One image HDU to write.
    public struct Image: Sendable {
        /// Header cards to write (values typed as HeaderValue); commentary cards become COMMENT/HISTORY.
        public var cards: [HeaderCard]
        /// Width and height; `nil` for a header-only HDU.
        public var size: (width: Int, height: Int)?
        /// Pixel values, row-major; zeros when empty.
        public var pixels: [Int16]

        public init(cards: [HeaderCard], size: (width: Int, height: Int)?, pixels: [Int16] = []) {
            self.cards = cards
            self.size = size
            self.pixels = pixels
        }
    }

    /// Writes `hdus` (the first is the primary HDU) to a new file at `path`, replacing any file there.
    ///
    /// - Parameters:
    ///   - tileCompress: write the image extensions Rice tile-compressed (a `.fz` file).
    ///   - checksum: write CHECKSUM and DATASUM into every HDU.
    /// The corresponding CFITSIO routines are `fits_create_file`, `fits_create_img`, `fits_write_key` and `fits_write_chksum`.
    public static func write(_ path: String, hdus: [Image], tileCompress: Bool = false, checksum: Bool = false) throws(FITSError) {
        unlink(path)
        var status: Int32 = 0
        var fptr: UnsafeMutablePointer<fitsfile>?
        ffinit(&fptr, "file://" + path + (tileCompress ? "[compress R]" : ""), &status)
        if status != 0 { throw FITSError.cfitsio(status, path: path, hdu: nil) }
        defer { var s: Int32 = 0; ffclos(fptr, &s) }
        for (index, image) in hdus.enumerated() {
            let hdu = index + 1
            var axes: [Int64] = image.size.map { [Int64($0.width), Int64($0.height)] } ?? []
            ffcrimll(fptr, 16, Int32(axes.count), &axes, &status)
            for card in image.cards where !["SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "EXTEND", "XTENSION", "PCOUNT", "GCOUNT", "END"].contains(card.keyword) {
                let name = card.keyword.count > 8 || card.keyword.contains(" ") ? "HIERARCH " + card.keyword : card.keyword
                switch card.value {
                case nil:
                    if card.keyword == "HISTORY" { ffphis(fptr, card.comment, &status) } else { ffpcom(fptr, card.comment, &status) }
                case .string(let s)?:
                    ffpkls(fptr, name, s, card.comment, &status)
                case .integer(let i)?:
                    ffpkyj(fptr, name, Int64(i), card.comment, &status)
                case .float(let d)?:
                    ffpkyd(fptr, name, d, -15, card.comment, &status)
                case .logical(let b)?:
                    ffpkyl(fptr, name, b ? 1 : 0, card.comment, &status)
                case .undefined?, .complex?:
                    ffpkyu(fptr, name, card.comment, &status)
                }
                if status != 0 { throw FITSError.cfitsio(status, path: path, hdu: hdu, keyword: card.keyword) }
            }
            if let size = image.size {
                var pixels = image.pixels.count == size.width * size.height ? image.pixels : [Int16](repeating: 0, count: size.width * size.height)
                ffppr(fptr, TSHORT, 1, Int64(pixels.count), &pixels, &status)
            }
            if checksum { ffpcks(fptr, &status) }
            if status != 0 { throw FITSError.cfitsio(status, path: path, hdu: hdu) }
        }
    }
}
