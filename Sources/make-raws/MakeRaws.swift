import FITS
import Foundation

/// Writes synthetic LSSTCam raws with realistic headers through the FITS layer, for `make bench`.
///
/// Usage: make-raws TEMPLATE.fits OUTDIR COUNT [SIZE] [DETECTORS_PER_EXPOSURE] [EXPOSURES_PER_NIGHT]
/// Headers are the template's cards with DAYOBS, SEQNUM, OBSID, GROUPID, RAFTBAY, CCDSLOT, dates and pixels
/// varied per file: COUNT files over several nights (one folder each), exposures and detectors.
@main
struct MakeRaws {
    static func main() throws {
        let args = CommandLine.arguments
        guard args.count >= 4, let count = Int(args[3]) else {
            FileHandle.standardError.write(Data("usage: make-raws TEMPLATE.fits OUTDIR COUNT [SIZE] [DETECTORS] [EXPOSURES_PER_NIGHT]\n".utf8))
            exit(2)
        }
        let template = args[1], out = args[2]
        let size = args.count > 4 ? Int(args[4]) ?? 256 : 256
        let detectorsPerExposure = args.count > 5 ? Int(args[5]) ?? 9 : 9
        let exposuresPerNight = args.count > 6 ? Int(args[6]) ?? 100 : 100
        let base = try FITSScan.read(template).hdus[0].header.cards.filter {
            !$0.isCommentary && !["CHECKSUM", "DATASUM"].contains($0.keyword)
        }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let rafts = ["R01", "R02", "R03", "R10", "R11", "R12", "R13", "R14", "R20", "R21", "R22", "R23", "R24", "R30", "R31", "R32", "R33", "R34", "R41", "R42", "R43"]
        let slots = ["S00", "S01", "S02", "S10", "S11", "S12", "S20", "S21", "S22"]
        let pixels = (0..<(size * size)).map { Int16(truncatingIfNeeded: 1000 + ($0 * 7919) % 500) }
        for i in 0..<count {
            let detector = i % detectorsPerExposure
            let exposure = i / detectorsPerExposure
            let night = exposure / exposuresPerNight
            let seq = exposure % exposuresPerNight + 1
            let day = 20250601 + night  // stays a valid date for up to 29 nights
            let dayText = String(day)
            let obsid = "MC_O_\(dayText)_\(String(format: "%06d", seq))"
            let raft = rafts[(detector / 9) % rafts.count], slot = slots[detector % 9]
            let iso = "\(dayText.prefix(4))-\(dayText.dropFirst(4).prefix(2))-\(dayText.suffix(2))T\(String(format: "%02d:%02d:%02d", 23 - (seq / 3600) % 24, (seq / 60) % 60, seq % 60)).000"
            var cards: [HeaderCard] = []
            for card in base {
                switch card.keyword {
                case "DAYOBS": cards.append(HeaderCard(keyword: "DAYOBS", value: .string(dayText), comment: card.comment))
                case "SEQNUM": cards.append(HeaderCard(keyword: "SEQNUM", value: .integer(seq), comment: card.comment))
                case "OBSID": cards.append(HeaderCard(keyword: "OBSID", value: .string(obsid), comment: card.comment))
                case "GROUPID": cards.append(HeaderCard(keyword: "GROUPID", value: .string(iso), comment: card.comment))
                case "RAFTBAY": cards.append(HeaderCard(keyword: "RAFTBAY", value: .string(raft), comment: card.comment))
                case "CCDSLOT": cards.append(HeaderCard(keyword: "CCDSLOT", value: .string(slot), comment: card.comment))
                case "DATE-BEG", "DATE-OBS": cards.append(HeaderCard(keyword: card.keyword, value: .string(iso), comment: card.comment))
                case "MJD-BEG", "MJD-OBS", "DATE-END", "MJD-END": continue
                default: cards.append(card)
                }
            }
            // One folder per night, as raws arrive from a camera.
            let folder = "\(out)/\(dayText)"
            if seq == 1 && detector == 0 { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
            let path = "\(folder)/\(obsid)_\(raft)_\(slot).fits"
            try FITSWriter.write(path, hdus: [FITSWriter.Image(cards: cards, size: (size, size), pixels: pixels)])
        }
    }
}
