@testable import ButlerKit
import ButlerTestSupport
import Foundation
import Testing

/// Our Zip writer (one pass, the central directory written once) against two readers: ours (ZIPFoundation) and
/// Python's zipfile, which Rubin's butler reads Zips with, including the ZIP64 records a Zip of more than 65,535
/// members needs.
@Suite("Zip writer")
struct ZipArchiveWriterTests {
    /// Python's zipfile: every member's name, size and CRC (testzip reads every byte), as JSON.
    static func pythonRead(_ zip: String) throws -> [String: Any] {
        let script = """
            import json, sys, zipfile
            z = zipfile.ZipFile(sys.argv[1])
            bad = z.testzip()
            infos = z.infolist()
            print(json.dumps({"bad": bad, "count": len(infos), "first": infos[0].filename, "last": infos[-1].filename,
                              "sizes": sum(i.file_size for i in infos), "methods": sorted({i.compress_type for i in infos}),
                              "index": z.read("index.json").decode()}))
            """
        let result = try runProcess("/usr/bin/python3", ["-c", script, zip])
        #expect(result.exitCode == 0, "\(result.stderr)")
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] ?? [:]
    }

    @Test("70,000 stored members and a deflated one: ZIP64 end records; both readers find every member, its bytes and CRC")
    func manyMembers() throws {
        let dir = TemporaryDirectory()
        let source = dir.path("member.fits")
        let payload = Data((0..<3000).map { UInt8($0 % 251) })
        try payload.write(to: URL(fileURLWithPath: source))
        let zip = dir.path("many.zip")
        let writer = try ZipArchiveWriter(creating: zip)
        let index = Data(String(repeating: "{\"a\": 1}\n", count: 1000).utf8)
        try writer.addDeflated("index.json", index)
        let fd = open(source, O_RDONLY)
        defer { close(fd) }
        let count = 70_000
        for i in 0..<count {
            try writer.addStored(String(format: "%08x-member.fits", i), from: fd, size: Int64(payload.count), shownAs: source, modified: Date())
        }
        try writer.finish()

        let python = try Self.pythonRead(zip)
        #expect(python["bad"] is NSNull, "\(python)")
        #expect(python["count"] as? Int == count + 1)
        #expect(python["sizes"] as? Int == count * payload.count + index.count)
        #expect(python["methods"] as? [Int] == [0, 8])
        #expect(python["index"] as? String == String(decoding: index, as: UTF8.self))

        let reader = try ZipArchiveReader(url: URL(fileURLWithPath: zip))
        #expect(reader.holdsFile(String(format: "%08x-member.fits", count - 1)))
        var read = Data()
        try reader.stream(member: String(format: "%08x-member.fits", 12345)) { read.append($0) }
        #expect(read == payload)
        #expect(try reader.readWhole(member: "index.json", limit: 1 << 20) == index)
    }

    @Test("a member whose file is not the size given is refused, naming the file; an existing Zip is not replaced")
    func badSizes() throws {
        let dir = TemporaryDirectory()
        let source = dir.path("member.fits")
        try Data(count: 100).write(to: URL(fileURLWithPath: source))
        let fd = open(source, O_RDONLY)
        defer { close(fd) }
        let short = try ZipArchiveWriter(creating: dir.path("short.zip"))
        #expect(butlerError { try short.addStored("m", from: fd, size: 200, shownAs: source, modified: Date()) }?.message
                == "\(source) became shorter while the Zip was written")
        let long = try ZipArchiveWriter(creating: dir.path("long.zip"))
        #expect(butlerError { try long.addStored("m", from: fd, size: 50, shownAs: source, modified: Date()) }?.message
                == "\(source) became longer while the Zip was written")
        #expect(errorCode { try ZipArchiveWriter(creating: dir.path("short.zip")) } == .io)
    }

    @Test("MS-DOS times are UTC, to the even second, never before 1980")
    func dosTimes() {
        let (time, date) = ZipArchiveWriter.dosTime(Date(timeIntervalSince1970: 1_700_000_001))  // 2023-11-14T22:13:21Z
        #expect(time == (22 << 11 | 13 << 5 | 10))
        #expect(date == (43 << 9 | 11 << 5 | 14))
        #expect(ZipArchiveWriter.dosTime(Date(timeIntervalSince1970: 0)) == (0, 1 << 5 | 1))
    }
}
