import Foundation

/// The formatter class names Rubin's butler records for a file (`lsst.obs.base.formatters.fitsExposure.FitsExposureFormatter`):
/// Rubin imports every formatter named in an export or a Zip, so we write only names its stack defines, and none when
/// there is no sure one (Rubin then uses its datastore's default for the storage class).
enum RubinFormatters {
    /// Raw formatters of the LSST cameras, by instrument name.
    static let rawFormatters: [String: String] = [
        "LATISS": "lsst.obs.lsst.rawFormatter.LatissRawFormatter",
        "LSSTCam": "lsst.obs.lsst.rawFormatter.LsstCamRawFormatter",
        "LSSTComCam": "lsst.obs.lsst.rawFormatter.LsstComCamRawFormatter",
    ]

        /// The formatters of Rubin's default datastore configuration (daf_butler 30.2026.4300), by storage class; those
    /// it has none for, or whose module is outside daf_butler and obs_base (pipe_base's config formatter), are absent.
    static let byStorageClass: [String: String] = {
        let base = "lsst.obs.base.formatters.", butler = "lsst.daf.butler.formatters."
        var table: [String: String] = [:]
        for name in ["Exposure", "ExposureF", "ExposureI", "DecoratedImageU"] { table[name] = base + "fitsExposure.FitsExposureFormatter" }
        for name in ["Image", "ImageF", "ImageU"] { table[name] = base + "fitsExposure.FitsImageFormatter" }
        table["MaskedImageF"] = base + "fitsExposure.FitsMaskedImageFormatter"
        for name in ["Mask", "MaskX"] { table[name] = base + "fitsExposure.FitsMaskFormatter" }
        for name in ["Defects", "SourceCatalog", "SimpleCatalog", "Catalog", "Camera"] { table[name] = base + "fitsGeneric.FitsGenericFormatter" }
        for name in ["ArrowAstropy", "ArrowTable", "DataFrame"] { table[name] = butler + "parquet.ParquetFormatter" }
        table["AstropyTable"] = butler + "astropyTable.AstropyTableFormatter"
        table["StructuredDataDict"] = butler + "yaml.YamlFormatter"
        table["Packages"] = butler + "packages.PackagesFormatter"
        table["TaskMetadata"] = butler + "json.JsonFormatter"
        table["ButlerLogRecords"] = butler + "logs.ButlerLogRecordsFormatter"
        return table
    }()

    /// The formatter to write for a file: the recorded one when it is a Python class path, else a raw formatter for a
    /// raw of an LSST camera, else the storage class's.
    static func formatter(recorded: String?, storageClass: String, datasetType: DatasetType, dataId: DataCoordinate) -> String? {
        if let recorded, recorded.hasPrefix("lsst."), recorded.contains(".") { return recorded }
        if datasetType.name == "raw", case .string(let instrument)? = dataId["instrument"], let raw = rawFormatters[instrument] { return raw }
        return byStorageClass[storageClass]
    }
}
