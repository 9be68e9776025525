import ArgumentParser
import ButlerKit
import Foundation

extension ButlerCommand {
    struct RegisterSkymap: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "register-skymap",
            abstract: "Register a rings skymap: its skymap record, every tract and patch with its sky region, indexed for spatial queries.",
            discussion: """
                The parameters are Rubin's (lsst.skymap RingsSkyMapConfig): a pex_config override file as Rubin's \
                makeSkyMap.py (config.name = "hsc_rings_v1"; config.skyMap["rings"].numRings = 120; \
                config.skyMap["rings"].projection = "TAN"; config.skyMap["rings"].tractOverlap = 1.0/60; \
                config.skyMap["rings"].pixelScale = 0.168), a YAML file of the same fields, or name=value \
                overrides. Tract and patch ids and regions follow Rubin's, so tract 9813 of hsc_rings_v1 is COSMOS \
                here too. Registering the same skymap again changes nothing; other parameters under a registered \
                name are refused.
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument
        @Option(name: [.customShort("C"), .long], help: ArgumentHelp("Skymap config file (pex_config overrides or YAML).", valueName: "file"))
        var configFile: [String] = []
        @Option(name: [.customShort("c"), .long], help: ArgumentHelp("A config file, or one override field=value (repeatable; applied in order, after --config-file).", valueName: "file|field=value"))
        var config: [String] = []
        @OptionGroup var output: FormatOption

        func validate() throws {
            if configFile.isEmpty && config.isEmpty { throw ValidationError("give the skymap's parameters with --config FILE or --config field=value") }
        }

        func run() throws {
            var parameters = RingsSkyMapConfig()
            for file in configFile { try parameters.apply(file: file) }
            for item in config {
                if let eq = item.firstIndex(of: "="), !FileManager.default.fileExists(atPath: item) {
                    try parameters.set(String(item[..<eq]), String(item[item.index(after: eq)...]))
                } else {
                    try parameters.apply(file: item)
                }
            }
            let butler = try Butler(repository: repository.repo)
            let bar = ProgressBar(unit: "tracts")
            let done = try butler.registerSkyMap(parameters, progress: bar.report)
            bar.finish()
            switch output.format {
            case .json:
                emit("{\"skymap\": \(jsonString(done.name)), \"hash\": \(jsonString(done.hash)), \"tracts\": \(done.tracts), \"patches\": \(done.patches), \"inserted\": \(done.inserted)}\n")
            default:
                emit(done.inserted
                     ? "Registered skymap \(done.name): \(done.tracts) tract(s), \(done.patches) patch(es), hash \(done.hash)\n"
                     : "Skymap \(done.name) is already registered with these parameters (hash \(done.hash)): nothing to do\n")
            }
        }
    }
}
