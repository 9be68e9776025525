internal import CFITSIO
import Foundation
internal import Glibc

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
    /// Files compressed as a whole (gzip, compress(1) `.Z`, pack, pkzip, bzip2) are recognised by their first bytes,
    /// whatever their name, and decompressed in memory; tile-compressed images (`.fz`) read as images. Only regular
    /// files are opened (a FIFO would block).
    /// The corresponding CFITSIO routines are `fits_open_diskfile` (`fits_open_file` for compressed files).
    /// - Throws: ``FITSError`` with code ``FITSError/Code/notFITS`` for a file that is empty or is not FITS (it does
    ///   not begin with `SIMPLE  =` and is not compressed), ``FITSError/Code/cannotOpen`` for a missing, unreadable
    ///   or irregular file.
    public static func withOpened<T>(_ path: String, _ body: (FITSFile) throws -> T) throws -> T {
        let file = try open(path)
        defer { file.close() }
        return try body(file)
    }

    /// How a file starts, read before CFITSIO opens it.
    enum Start: Equatable {
        /// Compressed as a whole (gzip, pack, pkzip or bzip2), whatever its name.
        case compressed
        /// Compressed by compress(1) (LZW), which CFITSIO decompresses only in a file whose name contains `.Z`.
        case lzw
        /// Begins with the `SIMPLE  =` card that every FITS file begins with.
        case fits
        /// Anything else.
        case other
    }

    /// Looks at the first bytes of a regular file: compression magic numbers, or the `SIMPLE  =` card.
    static func start(of path: String) throws(FITSError) -> Start {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw FITSError(code: .cannotOpen, message: errno == ENOENT || errno == ENOTDIR ? "no such file" : String(cString: strerror(errno)), path: path)
        }
        switch st.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw FITSError(code: .cannotOpen, message: "a folder, not a file", path: path)
        case S_IFIFO: throw FITSError(code: .cannotOpen, message: "not a regular file (a FIFO)", path: path)
        default: throw FITSError(code: .cannotOpen, message: "not a regular file", path: path)
        }
        if st.st_size == 0 { throw FITSError(code: .notFITS, message: "empty file", path: path) }
        // O_NONBLOCK: should the path have been replaced by a FIFO since, opening it does not wait for a writer.
        let fd = Glibc.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            throw FITSError(code: .cannotOpen, message: errno == EACCES ? "permission denied" : String(cString: strerror(errno)), path: path)
        }
        defer { Glibc.close(fd) }
        var fdStat = stat()
        guard fstat(fd, &fdStat) == 0, fdStat.st_mode & S_IFMT == S_IFREG else {
            throw FITSError(code: .cannotOpen, message: "not a regular file", path: path)
        }
        var bytes = [UInt8](repeating: 0, count: 9)
        let n = read(fd, &bytes, bytes.count)
        guard n >= 0 else { throw FITSError(code: .cannotOpen, message: String(cString: strerror(errno)), path: path) }
        let head = bytes.prefix(n)
        if head.starts(with: [0x1F, 0x9D]) { return .lzw }
        let magics: [[UInt8]] = [[0x1F, 0x8B], [0x1F, 0x1E], [0x50, 0x4B, 0x03, 0x04], [0x42, 0x5A, 0x68]]
        if magics.contains(where: { head.starts(with: $0) }) { return .compressed }
        return head.elementsEqual(Array("SIMPLE  =".utf8)) ? .fits : .other
    }

    static func open(_ path: String) throws(FITSError) -> FITSFile {
        let kind = try start(of: path)
        if kind == .other {
            throw FITSError(code: .notFITS, message: "it does not begin with a SIMPLE card, nor is it gzip or compress(1) compressed", path: path)
        }
        if kind == .lzw && !path.contains(".Z") {
            throw FITSError(code: .cannotOpen, message: "compress(1) (.Z) data, which CFITSIO decompresses only in a file whose name contains '.Z': rename it, or recompress it with gzip", path: path)
        }
        var status: Int32 = 0
        var fptr: UnsafeMutablePointer<fitsfile>?
        if kind == .compressed || kind == .lzw {
            // Compressed files go through the 'file://' driver, which decompresses them in memory, whatever their name.
            cfitsio_open_file(&fptr, "file://" + path, READONLY, &status)
        } else {
            // The disk-file driver reads the path literally (no extended file name syntax) and skips the
            // compression check, which would open the file a second time.
            ffdkopn(&fptr, path, READONLY, &status)
        }
        if status != 0 {
            if fptr != nil { var s: Int32 = 0; ffclos(fptr, &s) }
            throw FITSError.cfitsio(status, path: path, hdu: nil)
        }
        return FITSFile(pointer: fptr, path: path)
    }

    /// The size of the FITS data CFITSIO reads: the file's size, or for a compressed file the decompressed size.
    var logicalSize: Int64 {
        precondition(pointer != nil, "FITS file \(path) used after close")
        return Int64(pointer!.pointee.Fptr.pointee.logfilesize)
    }

    /// Closes the file; further calls fail.
    func close() {
        guard pointer != nil else { return }
        var status: Int32 = 0
        ffclos(pointer, &status)
        pointer = nil
    }

    /// The one choke point for CFITSIO calls: runs `body` with a status and turns a non-zero status into an error.
    func call(hdu: Int?, keyword: String? = nil, _ body: (UnsafeMutablePointer<fitsfile>?, inout Int32) -> Void) throws(FITSError) {
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
