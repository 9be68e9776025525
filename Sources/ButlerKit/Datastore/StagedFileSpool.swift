import Foundation
internal import Glibc

/// The files a long write staged, kept in an unlinked temporary file rather than in memory, to publish after its
/// commit or discard after its rollback (a million staged files would otherwise take hundreds of megabytes).
///
/// Crash safety does not depend on it: the transfer journal lists every temporary file already.
final class StagedFileSpool {
    private var fd: Int32 = -1
    private var buffer: [UInt8] = []
    private(set) var count = 0

    deinit { if fd >= 0 { close(fd) } }

    func append(_ file: StagedFile) throws {
        // Only files with something to finish (a temporary name, a source to delete) need to be kept.
        guard file.temporaryName != nil || file.deleteSourceOnPublish != nil else { return }
        for field in [file.recordedPath, file.token, file.temporaryName, file.movedFrom, file.deleteSourceOnPublish, file.checksum] {
            guard let field else { put(UInt32.max); continue }
            put(UInt32(field.utf8.count))
            buffer.append(contentsOf: field.utf8)
        }
        put(UInt32(truncatingIfNeeded: file.size))
        put(UInt32(truncatingIfNeeded: file.size >> 32))
        count += 1
        if buffer.count >= 1 << 20 { try flush() }
    }

    private func put(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { buffer.append(contentsOf: $0) }
    }

    private func flush() throws {
        guard !buffer.isEmpty else { return }
        if fd < 0 {
            var template = Array((NSTemporaryDirectory() + "/butler-staged-XXXXXX").utf8CString)
            fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            guard fd >= 0 else { throw ButlerError(.io, "cannot create a temporary file in \(NSTemporaryDirectory()): \(String(cString: strerror(errno)))") }
            template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        }
        let written = buffer.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == buffer.count else { throw ButlerError(.io, "cannot write a temporary file: \(String(cString: strerror(errno)))") }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Hands every file to `body`, in the order appended.
    func forEach(_ body: (StagedFile) throws -> Void) throws {
        try flush()
        guard fd >= 0 else { return }
        var offset: off_t = 0
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var read = 0
        while true {
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
            guard n >= 0 else { throw ButlerError(.io, "cannot read a temporary file: \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            offset += off_t(n)
            pending.append(contentsOf: chunk[0..<n])
            var at = 0
            while let (file, next) = Self.decode(pending, at) {
                try body(file)
                read += 1
                at = next
            }
            pending.removeFirst(at)
        }
        guard read == count else { throw ButlerError(.io, "a temporary file lost staged files: \(read) of \(count) read back") }
    }

    /// Forgets every file (after they were published or discarded).
    func removeAll() {
        if fd >= 0 { ftruncate(fd, 0); lseek(fd, 0, SEEK_SET) }
        buffer.removeAll()
        count = 0
    }

    private static func decode(_ bytes: [UInt8], _ start: Int) -> (StagedFile, Int)? {
        var at = start
        func word() -> UInt32? {
            guard at + 4 <= bytes.count else { return nil }
            defer { at += 4 }
            return UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
        }
        var fields: [String?] = []
        for _ in 0..<6 {
            guard let length = word() else { return nil }
            if length == UInt32.max { fields.append(nil); continue }
            guard at + Int(length) <= bytes.count else { return nil }
            fields.append(String(decoding: bytes[at..<at + Int(length)], as: UTF8.self))
            at += Int(length)
        }
        guard let low = word(), let high = word() else { return nil }
        let file = StagedFile(recordedPath: fields[0] ?? "", token: fields[1] ?? "", temporaryName: fields[2], movedFrom: fields[3],
                              deleteSourceOnPublish: fields[4], size: Int64(high) << 32 | Int64(low), checksum: fields[5])
        return (file, at)
    }
}
