package import Foundation
internal import ZIPFoundation

/// Writes a new Zip in one pass: each member's local header and bytes as they come, the central directory once at the
/// end, with ZIP64 records when a size, an offset or the member count needs them (as Python's zipfile, which Rubin's
/// butler reads Zips with, writes and reads them).
///
/// ZIPFoundation's `Archive` reads and rewrites the whole central directory after every member it adds, so a Zip of
/// n members costs O(n²): 100,000 members took 172 s (20,000 took 7 s). Here the central directory is held in memory
/// (about 100 bytes a member) and written once.
///
/// Stored members are streamed from an open file; their CRC-32 is computed on the way and written into the local
/// header afterwards (the file is seekable), so no data descriptor is needed. Small members (an index) are deflated.
package final class ZipArchiveWriter {
    private let fd: Int32
    private let path: String
    private var offset: UInt64 = 0
    private var centralDirectory = Data()
    private var count: UInt64 = 0
    private var finished = false

    /// Creates the file (which must not exist).
    package init(creating path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ButlerError(.io, "cannot create \(path): \(String(cString: strerror(errno)))") }
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    /// Adds a member whose bytes are `data`, deflated.
    package func addDeflated(_ name: String, _ data: Data, modified: Date = Date()) throws {
        var compressed = Data()
        let crc: UInt32
        do {
            crc = try Data.compress(size: Int64(data.count), bufferSize: 1 << 16, provider: { position, size in
                data.subdata(in: Int(position)..<Int(position) + size)
            }, consumer: { compressed.append($0) })
        } catch {
            throw ButlerError(.io, "cannot compress \(name) for \(path): \(error)")
        }
        let start = offset
        try write(localHeader(name, method: 8, crc: crc, compressed: UInt64(compressed.count), size: UInt64(data.count), modified: modified))
        try write(compressed)
        record(name, method: 8, crc: crc, compressed: UInt64(compressed.count), size: UInt64(data.count), modified: modified, at: start)
    }

    /// Adds a member stored as it is, its `size` bytes read from the open file `source` (from its start).
    ///
    /// - Throws: ``ButlerError/Code/io`` when the file is shorter or longer than `size`, or reading or writing fails.
    package func addStored(_ name: String, from source: Int32, size: Int64, shownAs sourceName: String, modified: Date) throws {
        let start = offset
        let header = localHeader(name, method: 0, crc: 0, compressed: UInt64(size), size: UInt64(size), modified: modified)
        try write(header)
        var crc: UInt32 = 0
        var done: Int64 = 0
        var buffer = [UInt8](repeating: 0, count: Int(min(max(size, 1), 1 << 20)))
        while done < size {
            let want = Int(min(Int64(buffer.count), size - done))
            let n = buffer.withUnsafeMutableBytes { pread(source, $0.baseAddress!, want, off_t(done)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ButlerError(.io, "cannot read \(sourceName): \(String(cString: strerror(errno)))")
            }
            if n == 0 { throw ButlerError(.io, "\(sourceName) became shorter while the Zip was written") }
            let chunk = Data(buffer[0..<n])
            crc = chunk.crc32(checksum: crc)
            try write(chunk)
            done += Int64(n)
        }
        var extra: UInt8 = 0
        guard pread(source, &extra, 1, off_t(size)) == 0 else { throw ButlerError(.io, "\(sourceName) became longer while the Zip was written") }
        // The CRC-32 goes into the local header written before the bytes (at offset 14 in it).
        var little = crc.littleEndian
        guard pwrite(fd, &little, 4, off_t(start + 14)) == 4 else {
            throw ButlerError(.io, "cannot write \(path): \(String(cString: strerror(errno)))")
        }
        record(name, method: 0, crc: crc, compressed: UInt64(size), size: UInt64(size), modified: modified, at: start)
    }

    /// Writes the central directory and the end records; the Zip is complete (not yet synced) when this returns.
    package func finish() throws {
        guard !finished else { return }
        finished = true
        let start = offset
        try write(centralDirectory)
        let size = UInt64(centralDirectory.count)
        var end = Data()
        if count >= 0xFFFF || start >= 0xFFFF_FFFF || size >= 0xFFFF_FFFF {
            let zip64End = offset
            end.append(le32(0x0606_4B50))
            end.append(le64(44))               // the size of the rest of this record
            end.append(le16(0x0300 | 45))      // made by: Unix, version 4.5
            end.append(le16(45))
            end.append(le32(0)); end.append(le32(0))
            end.append(le64(count)); end.append(le64(count))
            end.append(le64(size)); end.append(le64(start))
            end.append(le32(0x0706_4B50))      // the locator of the record above
            end.append(le32(0)); end.append(le64(zip64End)); end.append(le32(1))
        }
        end.append(le32(0x0605_4B50))
        end.append(le16(0)); end.append(le16(0))
        end.append(le16(UInt16(min(count, 0xFFFF)))); end.append(le16(UInt16(min(count, 0xFFFF))))
        end.append(le32(UInt32(min(size, 0xFFFF_FFFF)))); end.append(le32(UInt32(min(start, 0xFFFF_FFFF))))
        end.append(le16(0))
        try write(end)
    }

    // MARK: Records

    private func localHeader(_ name: String, method: UInt16, crc: UInt32, compressed: UInt64, size: UInt64, modified: Date) -> Data {
        let bytes = Array(name.utf8)
        let large = size >= 0xFFFF_FFFF || compressed >= 0xFFFF_FFFF
        var h = Data()
        h.append(le32(0x0403_4B50))
        h.append(le16(large ? 45 : 20))
        h.append(le16(Self.flags(bytes)))
        h.append(le16(method))
        let (time, date) = Self.dosTime(modified)
        h.append(le16(time)); h.append(le16(date))
        h.append(le32(crc))
        h.append(le32(large ? 0xFFFF_FFFF : UInt32(compressed))); h.append(le32(large ? 0xFFFF_FFFF : UInt32(size)))
        h.append(le16(UInt16(bytes.count))); h.append(le16(large ? 20 : 0))
        h.append(contentsOf: bytes)
        if large {
            h.append(le16(1)); h.append(le16(16)); h.append(le64(size)); h.append(le64(compressed))
        }
        return h
    }

    private func record(_ name: String, method: UInt16, crc: UInt32, compressed: UInt64, size: UInt64, modified: Date, at start: UInt64) {
        let bytes = Array(name.utf8)
        var extra = Data()
        if size >= 0xFFFF_FFFF { extra.append(le64(size)) }
        if compressed >= 0xFFFF_FFFF { extra.append(le64(compressed)) }
        if start >= 0xFFFF_FFFF { extra.append(le64(start)) }
        let zip64 = extra.isEmpty ? Data() : le16(1) + le16(UInt16(extra.count)) + extra
        var c = Data()
        c.append(le32(0x0201_4B50))
        c.append(le16(0x0300 | 45))
        c.append(le16(zip64.isEmpty ? 20 : 45))
        c.append(le16(Self.flags(bytes)))
        c.append(le16(method))
        let (time, date) = Self.dosTime(modified)
        c.append(le16(time)); c.append(le16(date))
        c.append(le32(crc))
        c.append(le32(compressed >= 0xFFFF_FFFF ? 0xFFFF_FFFF : UInt32(compressed)))
        c.append(le32(size >= 0xFFFF_FFFF ? 0xFFFF_FFFF : UInt32(size)))
        c.append(le16(UInt16(bytes.count))); c.append(le16(UInt16(zip64.count))); c.append(le16(0))
        c.append(le16(0)); c.append(le16(0))
        c.append(le32(UInt32(0o100644) << 16))  // a regular file, rw-r--r--
        c.append(le32(start >= 0xFFFF_FFFF ? 0xFFFF_FFFF : UInt32(start)))
        c.append(contentsOf: bytes)
        c.append(zip64)
        centralDirectory.append(c)
        count += 1
    }

    /// Bit 11: the name is UTF-8 (set when it is not plain ASCII, as Python's zipfile does).
    private static func flags(_ name: [UInt8]) -> UInt16 { name.contains { $0 >= 0x80 } ? 0x0800 : 0 }

    /// MS-DOS time and date (UTC), to the even second; 1980-01-01 for anything earlier.
    static func dosTime(_ date: Date) -> (UInt16, UInt16) {
        var t = time_t(max(date.timeIntervalSince1970, 315_532_800))
        var parts = tm()
        gmtime_r(&t, &parts)
        let time = UInt16(parts.tm_hour) << 11 | UInt16(parts.tm_min) << 5 | UInt16(parts.tm_sec / 2)
        let day = UInt16(max(parts.tm_year + 1900 - 1980, 0)) << 9 | UInt16(parts.tm_mon + 1) << 5 | UInt16(parts.tm_mday)
        return (time, day)
    }

    private func write(_ data: Data) throws {
        try ZipArchiveReader.writeAll(fd, data, path: path)
        offset += UInt64(data.count)
    }
}

private func le16(_ v: UInt16) -> Data { withUnsafeBytes(of: v.littleEndian) { Data($0) } }
private func le32(_ v: UInt32) -> Data { withUnsafeBytes(of: v.littleEndian) { Data($0) } }
private func le64(_ v: UInt64) -> Data { withUnsafeBytes(of: v.littleEndian) { Data($0) } }
