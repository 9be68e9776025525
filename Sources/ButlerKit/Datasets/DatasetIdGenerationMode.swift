public import Foundation
internal import Crypto

/// How a new dataset's id is formed, with Rubin's three modes, so the same raw gets the same id in both butlers.
public enum DatasetIdGenerationMode: String, Sendable, CaseIterable {
    /// A random, time-ordered UUIDv7.
    case unique = "UNIQUE"
    /// UUIDv5 over the dataset type and the required data ID.
    case dataIdType = "DATAID_TYPE"
    /// UUIDv5 over the dataset type, the RUN and the required data ID (what raw ingest uses).
    case dataIdTypeRun = "DATAID_TYPE_RUN"

    /// Rubin's namespace for dataset ids: `uuid5(NAMESPACE_DNS, "lsst.org")`.
    public static let namespace = UUID(uuidString: "840b31d9-05cd-5161-b2c8-00d32b280d0f")!

    /// The id of a dataset of `datasetType` in `run` with data ID `dataId`.
    ///
    /// The deterministic modes hash `dataset_type=<name>[,run=<run>],<k1>=<v1>,...` with the required data ID
    /// keys sorted by name, exactly as Rubin's `DatasetIdFactory` does.
    public func makeId(datasetType: String, run: String, dataId: DataCoordinate) -> UUID {
        switch self {
        case .unique:
            return Self.uuid7()
        case .dataIdType, .dataIdTypeRun:
            var items = [("dataset_type", datasetType)]
            if self == .dataIdTypeRun { items.append(("run", run.normalizedName)) }
            items += dataId.required.map { ($0.0, $0.1.description) }.sorted { $0.0 < $1.0 }
            let name = items.map { "\($0.0)=\($0.1)" }.joined(separator: ",")
            return Self.uuid5(namespace: Self.namespace, name: name)
        }
    }

    /// A name-based (SHA-1) UUID, RFC 9562 version 5.
    public static func uuid5(namespace: UUID, name: String) -> UUID {
        var bytes = withUnsafeBytes(of: namespace.uuid) { Array($0) }
        bytes.append(contentsOf: Array(name.utf8))
        var hash = Array(Insecure.SHA1.hash(data: bytes).prefix(16))
        hash[6] = (hash[6] & 0x0F) | 0x50
        hash[8] = (hash[8] & 0x3F) | 0x80
        return UUID(uuid: (hash[0], hash[1], hash[2], hash[3], hash[4], hash[5], hash[6], hash[7],
                           hash[8], hash[9], hash[10], hash[11], hash[12], hash[13], hash[14], hash[15]))
    }

    /// A time-ordered random UUID, RFC 9562 version 7.
    public static func uuid7(date: Date = Date()) -> UUID {
        let ms = UInt64(max(0, date.timeIntervalSince1970 * 1000))
        func byte(_ x: UInt64, _ i: UInt64) -> UInt8 { UInt8(truncatingIfNeeded: x >> (8 * i)) }
        // 74 random bits from two draws of the system generator (one getrandom each, not one per byte).
        var rng = SystemRandomNumberGenerator()
        let a: UInt64 = rng.next(), b: UInt64 = rng.next()
        return UUID(uuid: (byte(ms, 5), byte(ms, 4), byte(ms, 3), byte(ms, 2), byte(ms, 1), byte(ms, 0),
                           (byte(a, 0) & 0x0F) | 0x70, byte(a, 1), (byte(a, 2) & 0x3F) | 0x80, byte(a, 3),
                           byte(a, 4), byte(a, 5), byte(a, 6), byte(a, 7), byte(b, 0), byte(b, 1)))
    }
}
