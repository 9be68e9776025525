import Foundation

extension Butler {
    /// The file datastore of this repository.
    /// Where this process makes local working folders (a step's staging): the datastore folder, or the repository
    /// folder for a bucket. The journal lives there too.
    var localWorkRoot: URL { bucket == nil ? datastoreRoot : root }

    package var datastore: any Datastore {
        if let bucket {
            return BucketDatastore(location: bucket.location, client: bucket.client, journal: journal,
                                   scratch: root.appendingPathComponent(".butler-scratch"))
        }
        return FileDatastore(root: datastoreRoot, journal: journal)
    }

    /// The file template for a dataset type: `datastore.templates.<name>`, else the template whose dimension key
    /// (`physical_filter+detector+exposure`) best matches the dimensions, else `default`. Parsed once per dataset
    /// type and kept (a merge of 20,000 records asked it 40,000 times).
    package func fileTemplate(for datasetType: DatasetType) throws -> FileTemplate {
        let key = datasetType.name + "|" + datasetType.dimensions.names.joined(separator: ",")
        if let known = fileTemplates.value(for: key) { return known }
        let template = try chooseFileTemplate(for: datasetType)
        fileTemplates.set(template, for: key)
        return template
    }

    private func chooseFileTemplate(for datasetType: DatasetType) throws -> FileTemplate {
        let templates = config.strings("datastore.templates")
        if let exact = templates.first(where: { $0.key == datasetType.name }) { return try FileTemplate(exact.value) }
        let dims = Set(datasetType.dimensions.names)
        let candidates = templates.filter { $0.key.contains("+") || registry.universe[$0.key] != nil }
            .map { (keys: Set($0.key.split(separator: "+").map(String.init)), value: $0.value) }
            .filter { $0.keys.isSubset(of: dims) }
            .sorted { $0.keys.count > $1.keys.count }
        if let best = candidates.first { return try FileTemplate(best.value) }
        guard let fallback = templates.first(where: { $0.key == "default" }) else {
            throw ButlerError(.invalidConfig, "no datastore.templates.default in the configuration of \(root.path)")
        }
        return try FileTemplate(fallback.value)
    }

    /// Ingests raw FITS files: each file (or folder, searched recursively) is read, its headers translated
    /// (LATISS, LSSTCam, LSSTComCam, DECam, HSC, MegaPrime, or a camera registered from YAML), its exposure,
    /// day_obs and group records created, and the file placed in the datastore as one `raw` dataset per detector
    /// with a `DATAID_TYPE_RUN` id (the same id Rubin's butler gives it).
    ///
    /// Bad files do not stop the ingest: each is reported in ``IngestReport/failures`` and the good ones go in
    /// (unless ``RawIngestOptions/failFast``). Re-running the same ingest adds nothing.
    /// - Throws: only for problems that concern the whole ingest (bad options, registry unavailable).
    public func ingestRaws(_ locations: [String], options: RawIngestOptions = RawIngestOptions()) throws -> IngestReport {
        if let run = options.run { try Registry.validateCollectionName(run) }
        let custom = try registry.instrumentDefinitions().filter { $0.translation != nil }
        let rawType = try registry.makeDatasetType(Registry.rawDatasetTypeName, storageClass: "Exposure", dimensions: ["instrument", "detector", "exposure"])
        let ingester = RawIngester(butler: self, options: options, translators: try TranslatorSet(custom: custom), datastore: datastore,
                                   template: try fileTemplate(for: rawType), checksums: options.trackFileAttributes && checksumsEnabled)
        let report = try ingester.run(locations)
        logger.info("ingest finished", metadata: ["ingested": "\(report.ingested)", "skipped": "\(report.skippedFiles)", "failed": "\(report.failures.count)"])
        return report
    }

    /// Registers an instrument from its built-in definition (by name) or a YAML file: the instrument, its detectors
    /// and physical filters (with bands), and for YAML cameras the header translation used by ``ingestRaws(_:options:)``.
    ///
    /// - Parameter update: replace records that differ instead of failing.
    /// - Returns: the definition written.
    @discardableResult
    public func registerInstrument(_ nameOrFile: String, update: Bool = false) throws -> InstrumentDefinition {
        let definition: InstrumentDefinition
        if nameOrFile.hasSuffix(".yaml") || nameOrFile.hasSuffix(".yml") || nameOrFile.contains("/") {
            definition = try InstrumentDefinition(contentsOf: URL(fileURLWithPath: nameOrFile))
        } else if let builtIn = try InstrumentDefinition.builtIn(nameOrFile) {
            definition = builtIn
        } else {
            throw ButlerError(.notFound, "unknown instrument '\(nameOrFile)': built-in instruments are \(InstrumentDefinition.builtInNames.joined(separator: ", ")); a YAML file describes another")
        }
        try registry.registerInstrument(definition, update: update)
        return definition
    }
}
