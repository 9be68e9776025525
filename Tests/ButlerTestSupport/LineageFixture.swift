public import ButlerKit
import Foundation

/// A small data release with real FITS files, recorded through `put`:
///
/// ```
/// raw53 ─┐            ┌─ isr (ip_isr 1.2.3, doBias: true)  → post53 → calibrate → calexp53 ─┐
/// bias ──┤ (cpBias)   │                                                                     ├─ coadd → stack
/// raw106 ┘            └─ isr (ip_isr 1.2.4, doBias: false, run drp/isr-rerun) → post106 → calibrate → calexp106 ┘
/// ```
public struct LineageFixture: Sendable {
    public let butler: Butler
    public let raw53: DatasetRef, raw106: DatasetRef, bias: DatasetRef
    public let post53: DatasetRef, post106: DatasetRef, calexp53: DatasetRef, calexp106: DatasetRef, stack: DatasetRef
    /// The SHA-256 of the isr config of exposure 106 (`doBias: false`).
    public let config106: String

    public init(in dir: TemporaryDirectory) throws {
        let butler = try makeRepository(in: dir, raws: [fixture("lsst/latiss-AT_O_20230321_000053.fits"), fixture("lsst/latiss-AT_O_20240624_000106_R00_S00.fits")])
        let r = butler.registry
        try r.registerDatasetType(try r.makeDatasetType("bias", storageClass: "ExposureF", dimensions: ["instrument", "detector"]))
        for name in ["postISRCCD", "calexp"] {
            try r.registerDatasetType(try r.makeDatasetType(name, storageClass: "ExposureF", dimensions: ["instrument", "detector", "exposure"]))
        }
        try r.registerDatasetType(try r.makeDatasetType("stack", storageClass: "ExposureF", dimensions: ["instrument", "detector"]))
        var fileNumber = 0
        func put(_ type: String, run: String, dataId: [String: String], task: String, inputs: [String], packages: [String: String],
                 config: (name: String, text: String)? = nil, parameters: [String: String] = [:]) throws -> DatasetRef {
            fileNumber += 1
            let file = dir.path("product-\(fileNumber).fits")
            try FileManager.default.copyItem(atPath: fixture("lsst/latiss-AT_O_20230321_000053.fits"), toPath: file)
            var request = PutRequest(file: file, run: run, datasetType: type, dataId: dataId)
            request.taskLabel = task
            request.inputs = inputs.map(Butler.parseInput)
            request.environment = SoftwareEnvironment(packages: packages, codeCommit: "c0ffee\(packages["ip_isr"] ?? "0")", codeDirty: false)
            if let config {
                let path = dir.path("config-\(fileNumber)/\(config.name)")
                try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try config.text.write(toFile: path, atomically: true, encoding: .utf8)
                request.configs = [try ConfigFile(contentsOf: path)]
            }
            request.parameters = parameters
            return try butler.put(request)
        }
        let raws = try r.queryDatasets(["raw"], collections: ["LATISS/raw/all"]).map(\.ref).sorted { "\($0.dataId)" < "\($1.dataId)" }
        let raw53 = raws.first { $0.dataId.keyValueString.contains("2023032100053") }!
        let raw106 = raws.first { $0.dataId.keyValueString.contains("2024062400106") }!
        let bias = try put("bias", run: "calib/bias", dataId: ["instrument": "LATISS", "detector": "0"], task: "cpBias", inputs: [], packages: ["cp_pipe": "1.0"])
        var posts: [DatasetRef] = [], calexps: [DatasetRef] = []
        var config106 = ""
        for (raw, exposure, version, doBias) in [(raw53, "2023032100053", "1.2.3", "true"), (raw106, "2024062400106", "1.2.4", "false")] {
            let dataId = ["instrument": "LATISS", "detector": "0", "exposure": exposure]
            let isrConfig = "doBias: \(doBias)\noverscan:\n  fit: median\n  order: 1\n"
            let post = try put("postISRCCD", run: doBias == "true" ? "drp/isr" : "drp/isr-rerun", dataId: dataId, task: "isr",
                               inputs: ["raw=\(raw.id.lowercasedString)", "bias=\(bias.id.lowercasedString)"],
                               packages: ["ip_isr": version, "numpy": "2.1.0"], config: ("isr.yaml", isrConfig), parameters: ["doFlat": "false"])
            if doBias == "false" { config106 = ConfigFile(name: "isr.yaml", content: Data(isrConfig.utf8)).hash }
            posts.append(post)
            calexps.append(try put("calexp", run: "drp/calibrate", dataId: dataId, task: "calibrate", inputs: ["exposure=\(post.id.lowercasedString)"],
                                   packages: ["pipe_tasks": "3.0", "numpy": "2.1.0"], config: ("calibrate.json", "{\"astrometry\": {\"refcat\": \"gaia_dr3\"}}")))
        }
        let stack = try put("stack", run: "drp/coadd", dataId: ["instrument": "LATISS", "detector": "0"], task: "coadd",
                            inputs: calexps.map { "calexp=\($0.id.lowercasedString)" }, packages: ["pipe_tasks": "3.0"])
        self.butler = butler
        self.raw53 = raw53
        self.raw106 = raw106
        self.bias = bias
        self.post53 = posts[0]
        self.post106 = posts[1]
        self.calexp53 = calexps[0]
        self.calexp106 = calexps[1]
        self.stack = stack
        self.config106 = config106
    }

}
