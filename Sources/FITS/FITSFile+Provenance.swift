internal import CFITSIO
import Foundation

extension FITSWriter {
    /// Replaces the `LSST BUTLER ...` HIERARCH cards of a file's primary header with `cards` (old ones are removed
    /// first, as Rubin does) and updates CHECKSUM/DATASUM.
    ///
    /// The corresponding CFITSIO routines are `fits_delete_key`, `fits_write_key` and `fits_write_chksum`.
    public static func stampProvenance(_ path: String, cards: [HeaderCard]) throws(FITSError) {
        var status: Int32 = 0
        var fptr: UnsafeMutablePointer<fitsfile>?
        ffdkopn(&fptr, path, READWRITE, &status)
        if status != 0 { throw FITSError.cfitsio(status, path: path, hdu: nil) }
        defer { var s: Int32 = 0; ffclos(fptr, &s) }
        var type: Int32 = 0
        ffmahd(fptr, 1, &type, &status)
        // Remove every existing LSST BUTLER card.
        var count: Int32 = 0, more: Int32 = 0
        ffghsp(fptr, &count, &more, &status)
        var names: [String] = []
        var record = [CChar](repeating: 0, count: 81)
        for i in 1...max(count, 1) where status == 0 && count > 0 {
            ffgrec(fptr, i, &record, &status)
            let card = String(cString: record)
            if card.hasPrefix("HIERARCH LSST BUTLER "), let eq = card.firstIndex(of: "=") {
                names.append(String(card[card.index(card.startIndex, offsetBy: 9)..<eq]).trimmingCharacters(in: .whitespaces))
            }
        }
        for name in names where status == 0 { ffdkey(fptr, name, &status) }
        for card in cards where status == 0 {
            let name = "HIERARCH " + card.keyword
            switch card.value {
            case .string(let s)?: ffpkys(fptr, name, s, card.comment, &status)
            case .integer(let i)?: ffpkyj(fptr, name, Int64(i), card.comment, &status)
            case .float(let d)?: ffpkyd(fptr, name, d, -15, card.comment, &status)
            case .logical(let b)?: ffpkyl(fptr, name, b ? 1 : 0, card.comment, &status)
            default: ffpkyu(fptr, name, card.comment, &status)
            }
        }
        ffpcks(fptr, &status)
        if status != 0 { throw FITSError.cfitsio(status, path: path, hdu: 1) }
    }

    /// Whether a file starts like FITS (`SIMPLE  =`).
    public static func looksLikeFITS(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: 9)).map { String(decoding: $0, as: UTF8.self) == "SIMPLE  =" } ?? false
    }
}
