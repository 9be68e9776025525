public import Foundation
public import FITS

/// Rubin's per-file provenance (`DatasetProvenance.to_flat_dict` with prefix `LSST BUTLER`): the cards an output's
/// FITS header carries so a file that travelled away from its repository still tells where it came from.
public struct HeaderProvenance: Sendable {
    /// Inputs beyond this many are not listed (N_INPUTS still is), as in Rubin.
    public static let maxInputs = 3000

    /// The cards for a dataset made by a quantum from inputs.
    public static func cards(for ref: DatasetRef, quantum: UUID?, inputs: [DatasetRef]) -> [HeaderCard] {
        cards(id: ref.id, run: ref.run, datasetType: ref.datasetType.name, dataId: ref.dataId.required, quantum: quantum,
              inputs: inputs.map { (id: $0.id, run: $0.run, datasetType: $0.datasetType.name) })
    }

    /// The cards from plain values, for a job that writes its outputs without a registry (a staged run).
    /// - Parameter dataId: the required dimensions' values.
    public static func cards(id: UUID, run: String, datasetType: String, dataId: [(String, DataIDValue)], quantum: UUID?,
                             inputs: [(id: UUID, run: String, datasetType: String)]) -> [HeaderCard] {
        var cards = [
            HeaderCard(keyword: "LSST BUTLER ID", value: .string(id.lowercasedString), comment: "Dataset ID"),
            HeaderCard(keyword: "LSST BUTLER RUN", value: .string(run), comment: "Run collection"),
            HeaderCard(keyword: "LSST BUTLER DATASETTYPE", value: .string(datasetType), comment: "Dataset type"),
        ]
        for (dim, value) in dataId.sorted(by: { $0.0 < $1.0 }) {
            let v: HeaderValue
            switch value { case .int(let i): v = .integer(i); case .string(let s): v = .string(s) }
            cards.append(HeaderCard(keyword: "LSST BUTLER DATAID \(dim.uppercased())", value: v, comment: "Data identifier"))
        }
        if let quantum { cards.append(HeaderCard(keyword: "LSST BUTLER QUANTUM", value: .string(quantum.lowercasedString))) }
        cards.append(HeaderCard(keyword: "LSST BUTLER N_INPUTS", value: .integer(inputs.count)))
        if inputs.count <= maxInputs {
            for (n, input) in inputs.enumerated() {
                cards.append(HeaderCard(keyword: "LSST BUTLER INPUT \(n) ID", value: .string(input.id.lowercasedString)))
                cards.append(HeaderCard(keyword: "LSST BUTLER INPUT \(n) RUN", value: .string(input.run)))
                cards.append(HeaderCard(keyword: "LSST BUTLER INPUT \(n) DATASETTYPE", value: .string(input.datasetType)))
            }
        }
        return cards
    }

    /// The `LSST BUTLER` cards of a FITS file's primary header, in order.
    public static func read(_ path: String) throws -> [HeaderCard] {
        let scan = try FITSScan.read(path, verifyChecksums: false)
        return scan.hdus.first?.header.cards.filter { $0.keyword.hasPrefix("LSST BUTLER ") } ?? []
    }
}
