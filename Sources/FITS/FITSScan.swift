import Foundation

/// Everything an ingest needs from one file: the header of every HDU, which HDUs hold pixels, and warnings.
public struct FITSScan: Sendable {
    /// One HDU of the file.
    public struct HDU: Sendable {
        /// The HDU number, from 1.
        public let number: Int
        /// Whether it is an image with pixels.
        public let hasPixels: Bool
        /// Its own header.
        public let header: Header
    }

    /// The file.
    public let path: String
    /// Every HDU, in file order.
    public let hdus: [HDU]
    /// Problems that do not stop an ingest (stale checksums).
    public let warnings: [String]

    /// The headers a raw translator sees: for each image HDU with pixels, the primary header overlaid with the
    /// HDU's own; for a file whose only image is the primary HDU (or that has no pixels at all), the primary header.
    public var detectorHeaders: [(hdu: Int, header: Header)] {
        guard let primary = hdus.first else { return [] }
        let images = hdus.dropFirst().filter(\.hasPixels)
        if images.isEmpty { return [(primary.number, primary.header)] }
        return images.map { ($0.number, primary.header.merging($0.header)) }
    }

    /// Opens a file and reads every header.
    ///
    /// - Parameter verifyChecksums: check CHECKSUM/DATASUM where present; a mismatch is a warning, never an error.
    /// - Throws: ``FITSError`` for a file that is not FITS, is empty, truncated, unreadable or has a bad card.
    public static func read(_ path: String, verifyChecksums: Bool = true) throws -> FITSScan {
        return try FITSFile.withOpened(path) { file in
            // Checked against what CFITSIO reads: for a gzip or .Z file, the decompressed size.
            let size = file.logicalSize
            let count = try file.hduCount()
            var hdus: [HDU] = []
            var warnings: [String] = []
            for number in 1...max(count, 1) {
                let info = try file.moveTo(hdu: number)
                let header = try file.readHeader(info)
                try file.checkComplete(info, fileSize: size)
                if verifyChecksums && (header.contains("CHECKSUM") || header.contains("DATASUM")) {
                    if case .mismatch(let why) = try file.verifyChecksum(hdu: number) {
                        warnings.append("\(path)[HDU \(number)]: stale checksum: \(why)")
                    }
                }
                hdus.append(HDU(number: number, hasPixels: info.hasPixels, header: header))
            }
            return FITSScan(path: path, hdus: hdus, warnings: warnings)
        }
    }
}
