public import FITS

/// Every translator a repository can use: the instruments registered from YAML first (so a definition can
/// override a built-in camera), then the built-in cameras.
package struct TranslatorSet: Sendable {
    package let translators: [any MetadataTranslator]

    /// The built-in translators plus those of the given YAML definitions.
    package init(custom: [InstrumentDefinition]) throws {
        var list: [any MetadataTranslator] = custom.compactMap { ConfigTranslator($0) }
        for name in InstrumentDefinition.builtInNames {
            guard let definition = try InstrumentDefinition.builtIn(name) else { continue }
            switch name {
            case "LATISS": list.append(LSSTTranslator(camera: .latiss, definition: definition))
            case "LSSTCam": list.append(LSSTTranslator(camera: .lsstCam, definition: definition))
            case "LSSTComCam": list.append(LSSTTranslator(camera: .comCam, definition: definition))
            case "DECam": list.append(DECamTranslator(definition: definition))
            case "HSC": list.append(HSCTranslator(definition: definition))
            case "MegaPrime": list.append(MegaPrimeTranslator(definition: definition))
            default: break
            }
        }
        translators = list
    }

    /// Translates a header with the first translator that understands it.
    ///
    /// - Throws: ``TranslationError`` naming the instrument when no translator understands the header.
    package func translate(_ header: Header) throws(TranslationError) -> ObservationInfo {
        guard let translator = translators.first(where: { $0.canTranslate(header) }) else {
            let instrume = header.string("INSTRUME").map { "INSTRUME = '\($0)'" } ?? "no INSTRUME card"
            throw TranslationError("unknown instrument", "\(instrume): no built-in or registered translator understands this header (describe the camera in YAML and register it with register-instrument)")
        }
        return try translator.translate(header)
    }
}
