import FITS
import Foundation

/// A tiny stand-in for pipeline steps, used by `make demo`: reads FITS headers and writes FITS images.
///
///   demo-step isr RAW BIAS FLAT OUT METRICS.json   instrument-signature removal
///   demo-step pvi POSTISR OUT METRICS.json         makes the processed visit image
/// Each writes OUT (the input's header with a HISTORY card and a 64x64 image) and a JSON file of QA metrics.
/// Options (anywhere), for reproduction and comparison tests: `--stamp-time` writes the time into the header (DATE and
/// a HISTORY card), `--noise` adds random noise to the pixels (and to the seeing), `--seeing V` sets the pvi step's seeing metric.
@main
struct DemoStep {
    static func main() throws {
        var args = Array(CommandLine.arguments.dropFirst())
        func flag(_ name: String) -> Bool {
            guard let i = args.firstIndex(of: name) else { return false }
            args.remove(at: i)
            return true
        }
        func value(_ name: String) -> String? {
            guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
            defer { args.removeSubrange(i...(i + 1)) }
            return args[i + 1]
        }
        stampTime = flag("--stamp-time")
        noise = flag("--noise")
        let seeing = value("--seeing") ?? "0.82"
        guard let step = args.first else { fail("usage: demo-step isr RAW BIAS FLAT OUT METRICS | pvi IN OUT METRICS") }
        switch step {
        case "isr" where args.count == 6:
            for path in args[2...3] { _ = try FITSScan.read(path) }  // the calibrations must be readable
            try write(from: args[1], to: args[4], history: "demo-step isr: bias and flat applied", level: 1000)
            try #"{"background": 1012.5, "saturated_fraction": 0.002}"#.write(toFile: args[5], atomically: true, encoding: .utf8)
        case "pvi" where args.count == 4:
            try write(from: args[1], to: args[2], history: "demo-step pvi: calibrated", level: 10)
            let measured = (Double(seeing) ?? 0.82) + (noise ? Double.random(in: 0.001..<0.01) : 0)
            try #"{"seeing": \#(measured), "zero_point": 27.1}"#.write(toFile: args[3], atomically: true, encoding: .utf8)
        default:
            fail("usage: demo-step isr RAW BIAS FLAT OUT METRICS | pvi IN OUT METRICS")
        }
        print("demo-step \(step): wrote \(args[step == "isr" ? 4 : 2])")
    }

    nonisolated(unsafe) static var stampTime = false
    nonisolated(unsafe) static var noise = false

    static func write(from input: String, to output: String, history: String, level: Int16) throws {
        let header = try FITSScan.read(input).hdus[0].header
        let skip: Set<String> = ["SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "EXTEND", "CHECKSUM", "DATASUM", "BZERO", "BSCALE"]
        var cards = header.cards.filter { !$0.isCommentary && !skip.contains($0.keyword) && !$0.keyword.hasPrefix("LSST BUTLER") }
        cards.append(HeaderCard(keyword: "HISTORY", value: nil, comment: history))
        if stampTime {
            let now = ISO8601DateFormatter().string(from: Date())
            cards.removeAll { $0.keyword == "DATE" }
            cards.append(HeaderCard(keyword: "DATE", value: .string(now), comment: "when this file was written"))
            cards.append(HeaderCard(keyword: "HISTORY", value: nil, comment: "processed at \(now) (\(UInt64(Date().timeIntervalSince1970 * 1e9)))"))
        }
        let pixels = (0..<(64 * 64)).map { Int16(truncatingIfNeeded: Int(level) + $0 % 37 + (noise ? Int.random(in: 0..<5) : 0)) }
        try FITSWriter.write(output, hdus: [FITSWriter.Image(cards: cards, size: (64, 64), pixels: pixels)], checksum: true)
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        exit(2)
    }
}
