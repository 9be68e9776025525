import Foundation
internal import FITS

/// The comparison of a reproduced file with the recorded one: bytes, then (for FITS) data HDU by HDU and headers.
enum OutputComparison {
    /// Keywords that name the dataset rather than describe its content: ours (`LSST BUTLER ...`, written into every
    /// FITS output) and the checksums that cover them.
    static func isProvenanceCard(_ keyword: String) -> Bool {
        keyword.hasPrefix("LSST BUTLER ") || keyword == "CHECKSUM" || keyword == "DATASUM"
    }

    /// Cards that hold the time a file was written (`DATE`, `DATE-MOD`...), not the observation's times.
    static func isDateCard(_ keyword: String) -> Bool {
        keyword == "DATE" || keyword == "DATE-MOD" || keyword == "DATE-MAP" || keyword == "DATE-HDU" || keyword == "IRAF-TLM"
    }

    /// The verdict and a one-line detail.
    static func compare(recorded: String, reproduced: String) throws -> (ReproductionVerdict, String) {
        let (sizeA, sumA) = try FileDatastore.measure(recorded, checksum: true)
        let (sizeB, sumB) = try FileDatastore.measure(reproduced, checksum: true)
        if sumA == sumB { return (.identical, "same bytes") }
        // Anything FITSComparison cannot read as two uncompressed FITS files is compared by its bytes only.
        guard let fits = try? FITSComparison.compare(recorded, reproduced, ignoring: isProvenanceCard) else {
            return (.differs, sizeA == sizeB ? "the bytes differ (same size, \(sizeA) bytes)" : "the bytes differ (\(sizeA) bytes recorded, \(sizeB) now)")
        }
        if fits.hduCounts.first != fits.hduCounts.second {
            return (.differs, "\(fits.hduCounts.first) HDUs recorded, \(fits.hduCounts.second) now")
        }
        if let data = fits.dataDifference {
            let percent = data.totalBytes > 0 ? Double(data.differingBytes) * 100 / Double(data.totalBytes) : 100
            return (.differs, "HDU \(data.hdu): \(data.differingBytes) of \(data.totalBytes) data bytes differ (\(String(format: "%.2f", percent))%)")
        }
        let listed = fits.headerDifferences.filter { !isDateCard($0.keyword) }
        let dates = fits.headerDifferences.count - listed.count
        if fits.headerDifferences.isEmpty { return (.identical, "same data and headers, apart from the provenance cards") }
        var detail = listed.isEmpty ? "same data; headers differ only in date cards" : "same data; header differences: " + listed.map(\.description).joined(separator: "; ")
        if dates > 0 && !listed.isEmpty { detail += " (and \(dates) date card(s))" }
        return (.sameData, detail)
    }
}
