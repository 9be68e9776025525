/// A named kind of dataset: its storage class, its dimensions, and whether it is a calibration.
public struct DatasetType: Sendable, Hashable, CustomStringConvertible {
    /// The name (`raw`, `calexp`, `bias`).
    public let name: String
    /// The storage class (`Exposure`, `ExposureF`, `SourceCatalog`, ...).
    public let storageClass: String
    /// The dimensions of its data IDs.
    public let dimensions: DimensionGroup
    /// Whether datasets of this type may be certified into CALIBRATION collections.
    public let isCalibration: Bool

    public init(name: String, storageClass: String, dimensions: DimensionGroup, isCalibration: Bool = false) {
        self.name = name
        self.storageClass = storageClass
        self.dimensions = dimensions
        self.isCalibration = isCalibration
    }

    /// `DatasetType('raw', {instrument, detector, exposure}, Exposure)`, as Rubin prints it.
    public var description: String {
        "DatasetType('\(name)', \(dimensions), \(storageClass)\(isCalibration ? ", isCalibration=True" : ""))"
    }

    /// Checks a dataset type name: letters, digits and underscores, not starting with a digit;
    /// a dot marks a component, which cannot be registered.
    package static func validate(name: String) throws {
        if name.contains(".") {
            throw ButlerError(.invalidName, "invalid dataset type name '\(name)': component dataset types (with '.') cannot be registered")
        }
        let scalars = name.unicodeScalars
        let isWordCharacter = { (c: Unicode.Scalar) in
            c == "_" || ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c)
        }
        guard let first = scalars.first, !("0"..."9").contains(first), scalars.allSatisfy(isWordCharacter) else {
            throw ButlerError(.invalidName, "invalid dataset type name '\(name)': use letters, digits and '_', not starting with a digit")
        }
        if name.count > 128 {
            throw ButlerError(.invalidName, "invalid dataset type name '\(name)': longer than 128 characters")
        }
    }
}
