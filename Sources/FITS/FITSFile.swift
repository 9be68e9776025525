internal import CFITSIO
import Foundation

/// An open FITS file. It is never shared between threads: open one per task (CFITSIO is built reentrant).
///
/// ```swift
/// let headers = try FITSFile.withOpened("raw.fits") { file in try file.readHeaders() }
/// ```
public final class FITSFile {
    private var pointer: UnsafeMutablePointer<fitsfile>?
    /// The path the file was opened with.
    public let path: String

    private init(pointer: UnsafeMutablePointer<fitsfile>?, path: String) {
        self.pointer = pointer
        self.path = path
    }

    deinit {
        if pointer != nil {
            var status: Int32 = 0
            ffclos(pointer, &status)
        }
    }

    /// Opens a file read-only, runs `body`, and closes the file on every path.
    ///
    /// Gzip-compressed files (`.fits.gz`) are decompressed in memory; tile-compressed images (`.fz`) read as images.
    /// The corresponding CFITSIO routines are `fits_open_diskfile` (`fits_open_file` for gzip files).
    /// - Throws: ``FITSError`` with code ``FITSError/Code/notFITS`` for a file that is not FITS.
    public static func withOpened<T>(_ path: String, _ body: (FITSFile) throws -> T) throws -> T {
        let file = try open(path)
        defer { file.close() }
        return try body(file)
    }

    static func open(_ path: String) throws(FITSError) -> FITSFile {
        var status: Int32 = 0
        var fptr: UnsafeMutablePointer<fitsfile>?
        let lower = path.lowercased()
        if lower.hasSuffix(".gz") || lower.hasSuffix(".z") || lower.hasSuffix(".zip") || lower.hasSuffix(".bz2") {
            // Compressed files go through the 'file://' driver, which decompresses them in memory.
            cfitsio_open_file(&fptr, "file://" + path, READONLY, &status)
        } else {
            // The disk-file driver reads the path literally (no extended file name syntax) and skips the
            // compression check, which would open the file a second time.
            ffdkopn(&fptr, path, READONLY, &status)
        }
        if status != 0 {
            if fptr != nil { var s: Int32 = 0; ffclos(fptr, &s) }
            var error = FITSError.cfitsio(status, path: path, hdu: nil)
            if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size == 0 {
                error = FITSError(code: .notFITS, message: "empty file", path: path)
            } else if !FileManager.default.isReadableFile(atPath: path) {
                error = FITSError(code: .cannotOpen, message: FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file", path: path)
            }
            throw error
        }
        return FITSFile(pointer: fptr, path: path)
    }

    /// Closes the file; further calls fail.
    func close() {
        guard pointer != nil else { return }
        var status: Int32 = 0
        ffclos(pointer, &status)
        pointer = nil
    }

    /// The one choke point for CFITSIO calls: runs `body` with a status and turns a non-zero status into an error.
    private func call(hdu: Int?, keyword: String? = nil, _ body: (UnsafeMutablePointer<fitsfile>?, inout Int32) -> Void) throws(FITSError) {
        precondition(pointer != nil, "FITS file \(path) used after close")
        var status: Int32 = 0
        body(pointer, &status)
        if status != 0 { throw FITSError.cfitsio(status, path: path, hdu: hdu, keyword: keyword) }
    }

    /// The number of HDUs.
    ///
    /// The corresponding CFITSIO routine is `fits_get_num_hdus`.
    public func hduCount() throws(FITSError) -> Int {
        var n: Int32 = 0
        try call(hdu: nil) { f, s in ffthdu(f, &n, &s) }
        return Int(n)
    }

    /// What an HDU holds.
    public struct HDUInfo: Sendable {
        /// The HDU number, from 1.
        public let number: Int
        /// Whether it is an image (including a tile-compressed one).
        public let isImage: Bool
        /// Whether it is a tile-compressed image.
        public let isCompressed: Bool
        /// The image axes (empty for a header-only HDU or a table).
        public let axes: [Int]
        /// Whether this image HDU holds pixels.
        public var hasPixels: Bool { isImage && !axes.isEmpty && axes.allSatisfy { $0 > 0 } }
    }

    /// Moves to HDU `number` (from 1) and describes it.
    ///
    /// The corresponding CFITSIO routines are `fits_movabs_hdu`, `fits_get_img_dim` and `fits_get_img_size`.
    public func moveTo(hdu number: Int) throws(FITSError) -> HDUInfo {
        var type: Int32 = 0
        try call(hdu: number) { f, s in ffmahd(f, Int32(number), &type, &s) }
        var compressed: Int32 = 0
        try call(hdu: number) { f, s in compressed = fits_is_compressed_image(f, &s) }
        let isImage = type == IMAGE_HDU || compressed != 0
        var axes: [Int] = []
        if isImage {
            var naxis: Int32 = 0
            try call(hdu: number) { f, s in ffgidm(f, &naxis, &s) }
            if naxis > 0 {
                var sizes = [Int64](repeating: 0, count: Int(naxis))
                try call(hdu: number) { f, s in ffgiszll(f, naxis, &sizes, &s) }
                axes = sizes.map(Int.init)
            }
        }
        return HDUInfo(number: number, isImage: isImage, isCompressed: compressed != 0, axes: axes)
    }

    /// Reads every card of the current HDU (for a tile-compressed image, the header of the image it holds).
    ///
    /// The corresponding CFITSIO routines are `fits_hdr2str` and `fits_convert_hdr2str`.
    public func readHeader(hdu number: Int) throws(FITSError) -> Header {
        try readHeader(try moveTo(hdu: number))
    }

    /// Reads every card of the current HDU, described by `info` (from ``moveTo(hdu:)``).
    public func readHeader(_ info: HDUInfo) throws(FITSError) -> Header {
        let number = info.number
        var text: UnsafeMutablePointer<CChar>?
        var count: Int32 = 0
        try call(hdu: number) { f, s in
            if info.isCompressed {
                ffcnvthdr2str(f, 0, nil, 0, &text, &count, &s)
            } else {
                ffhdr2str(f, 0, nil, 0, &text, &count, &s)
            }
        }
        defer { if text != nil { var s: Int32 = 0; fffree(text, &s) } }
        guard let text else { return Header(cards: []) }
        let length = strlen(text)
        let result: Result<[HeaderCard], CardParser.Problem> = text.withMemoryRebound(to: UInt8.self, capacity: length) { p in
            do { return .success(try CardParser.parse(UnsafeBufferPointer(start: p, count: length))) } catch let problem as CardParser.Problem { return .failure(problem) } catch { fatalError("unexpected \(error)") }
        }
        switch result {
        case .success(let cards): return Header(cards: cards)
        case .failure(let problem):
            throw FITSError(code: .badCard, message: problem.message, path: path, hdu: number, keyword: problem.keyword)
        }
    }

    /// Checks that the data of the current HDU are all in the file (catches files truncated in the data).
    ///
    /// The corresponding CFITSIO routine is `fits_get_hduaddrll`.
    public func checkComplete(_ info: HDUInfo, fileSize: Int64) throws(FITSError) {
        let number = info.number
        if info.isCompressed || !info.isImage || info.axes.isEmpty { return }
        var head: Int64 = 0, dataStart: Int64 = 0, dataEnd: Int64 = 0
        try call(hdu: number) { f, s in ffghadll(f, &head, &dataStart, &dataEnd, &s) }
        // The last HDU may omit its fill to a multiple of 2880 bytes; the data themselves must be there.
        var bitpix: Int32 = 0
        try call(hdu: number) { f, s in ffgidt(f, &bitpix, &s) }
        let bytes = Int64(abs(Int(bitpix)) / 8) * info.axes.reduce(1) { Int64($0) * Int64($1) }
        if dataStart + bytes > fileSize {
            throw FITSError(code: .truncated, message: "truncated: the data need \(bytes) bytes from offset \(dataStart), but the file has \(fileSize) bytes",
                            path: path, hdu: number)
        }
    }

    /// The result of checking CHECKSUM and DATASUM.
    public enum ChecksumStatus: Sendable, Equatable {
        /// Both keywords are present and match the contents.
        case valid
        /// Neither keyword is present.
        case absent
        /// A keyword does not match: the header (CHECKSUM) or the data (DATASUM) changed since they were computed.
        case mismatch(String)
    }

    /// Verifies the CHECKSUM and DATASUM keywords of an HDU when present.
    ///
    /// The corresponding CFITSIO routine is `fits_verify_chksum`.
    public func verifyChecksum(hdu number: Int) throws(FITSError) -> ChecksumStatus {
        _ = try moveTo(hdu: number)
        var dataStatus: Int32 = 0, hduStatus: Int32 = 0
        try call(hdu: number, keyword: "CHECKSUM") { f, s in ffvcks(f, &dataStatus, &hduStatus, &s) }
        if dataStatus == 0 && hduStatus == 0 { return .absent }
        var problems: [String] = []
        if dataStatus < 0 { problems.append("DATASUM does not match the data") }
        if hduStatus < 0 { problems.append("CHECKSUM does not match the HDU") }
        return problems.isEmpty ? .valid : .mismatch(problems.joined(separator: "; "))
    }
}

@available(*, unavailable, message: "A FITS file handle belongs to one task; open one per task.")
extension FITSFile: Sendable {}
