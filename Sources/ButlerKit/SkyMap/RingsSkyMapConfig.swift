import Foundation

/// The parameters of a rings skymap, with Rubin's names and defaults (`lsst.skymap` `RingsSkyMapConfig` with its
/// `legacy` or `cells` tract builder).
///
/// Read from Rubin's pex_config override files (`config.skyMap["rings"].numRings = 120`, as obs_subaru's and
/// obs_lsst's `makeSkyMap.py`), from YAML (`numRings: 120`), or from `name=value` overrides. Rubin's named maps:
/// - `hsc_rings_v1`: numRings 120, projection TAN, tractOverlap 1/60, pixelScale 0.168, legacy builder with
///   patchInnerDimensions (4000, 4000) and patchBorder 100;
/// - `lsst_cells_v1`: numRings 120, projection TAN, tractOverlap 1/60, pixelScale 0.2, cells builder (cells of
///   150 pixels, border 50, 20 cells a patch, 1 cell of border).
public struct RingsSkyMapConfig: Sendable, Hashable {
    public enum TractBuilder: String, Sendable, Hashable { case legacy, cells }

    /// The skymap's name (the `skymap` dimension value).
    public var name = ""
    public var numRings = 0
    /// RA of the first tract of each ring, degrees.
    public var raStart = 0.0
    /// `TAN` or `STG` (Rubin's default).
    public var projection = "STG"
    /// Degrees added around each tract's inner area.
    public var tractOverlap = 1.0
    /// Arcseconds per pixel.
    public var pixelScale = 0.333
    /// Degrees.
    public var rotation = 0.0
    public var tractBuilder = TractBuilder.legacy
    public var legacyPatchInnerDimensions = (x: 4000, y: 4000)
    public var legacyPatchBorder = 100
    public var cellInnerDimensions = (x: 150, y: 150)
    public var cellBorder = 50
    public var numCellsPerPatchInner = 20
    public var numCellsInPatchBorder = 1

    public init() {}

    public static func == (a: Self, b: Self) -> Bool { a.description == b.description }
    public func hash(into h: inout Hasher) { h.combine(description) }

    var description: String {
        "\(name) \(numRings) \(raStart) \(projection) \(tractOverlap) \(pixelScale) \(rotation) \(tractBuilder) \(legacyPatchInnerDimensions) \(legacyPatchBorder) \(cellInnerDimensions) \(cellBorder) \(numCellsPerPatchInner) \(numCellsInPatchBorder)"
    }

    /// The patches' inner size in pixels: the legacy builder's, or cells × cells per patch.
    public var patchInnerDimensions: (x: Int, y: Int) {
        tractBuilder == .legacy ? legacyPatchInnerDimensions
            : (cellInnerDimensions.x * numCellsPerPatchInner, cellInnerDimensions.y * numCellsPerPatchInner)
    }

    /// The patches' border in pixels: the legacy builder's, or border cells and the cells' own border.
    public var patchBorder: Int {
        tractBuilder == .legacy ? legacyPatchBorder : numCellsInPatchBorder * cellInnerDimensions.x + cellBorder
    }

    func validate() throws {
        func bad(_ what: String) -> ButlerError { ButlerError(.invalidValue, "skymap config: \(what)") }
        guard !name.isEmpty else { throw bad("no name (config.name = \"...\" or --config name=...)") }
        guard numRings > 0 else { throw bad("numRings must be positive, not \(numRings)") }
        guard (0..<360).contains(raStart) else { throw bad("raStart \(raStart) is outside [0, 360)") }
        guard ["TAN", "STG"].contains(projection) else { throw bad("projection '\(projection)' is not TAN or STG") }
        guard tractOverlap >= 0, tractOverlap < 10 else { throw bad("tractOverlap \(tractOverlap) is outside [0, 10) degrees") }
        guard pixelScale > 0 else { throw bad("pixelScale must be positive, not \(pixelScale)") }
        let (x, y) = patchInnerDimensions
        guard x > 0, y > 0, patchBorder >= 0 else { throw bad("patch dimensions must be positive and the border not negative") }
        guard tractBuilder == .legacy || cellInnerDimensions.x == cellInnerDimensions.y else { throw bad("cells must be square") }
    }

    /// Applies a config file: Rubin's pex_config override form (`config.` assignments; `import` lines and comments
    /// ignored, nothing executed) or, for `.yaml`/`.yml`, `field: value` lines.
    ///
    /// - Throws: ``ButlerError/Code/invalidValue`` naming the file, the line and the field for anything not understood.
    public mutating func apply(file path: String) throws {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ButlerError(.io, "cannot read skymap config \(path): \(error.localizedDescription)")
        }
        let yaml = path.hasSuffix(".yaml") || path.hasSuffix(".yml")
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "").trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line == "---" || line.hasPrefix("import ") || line.hasPrefix("from ") { continue }
            let separator: Character = yaml ? ":" : "="
            let parts = line.split(separator: separator, maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { throw ButlerError(.invalidValue, "\(path):\(index + 1): cannot read '\(line)'") }
            do {
                try set(parts[0], parts[1])
            } catch let error as ButlerError {
                throw ButlerError(.invalidValue, "\(path):\(index + 1): \(error.message)")
            }
        }
    }

    /// Sets one field from its Rubin spelling (`config.skyMap["rings"].numRings`, `skyMap.active.numRings`,
    /// `numRings`, `tractBuilder["legacy"].patchBorder`, ...) and a Python or YAML literal.
    public mutating func set(_ key: String, _ valueText: String) throws {
        var path = key.replacingOccurrences(of: " ", with: "")
        if path.hasPrefix("config.") { path.removeFirst("config.".count) }
        let prefixes = ["skyMap[\"rings\"].", "skyMap['rings'].", "skyMap.active.", "tractBuilder[\"legacy\"].", "tractBuilder['legacy'].",
                        "tractBuilder[\"cells\"].", "tractBuilder['cells'].", "tractBuilder.active."]
        var stripped = true
        while stripped {
            stripped = false
            for prefix in prefixes where path.hasPrefix(prefix) {
                path.removeFirst(prefix.count)
                stripped = true
            }
        }
        let value = try Self.literal(valueText)
        func number() throws -> Double {
            guard case .number(let v) = value else { throw ButlerError(.invalidValue, "\(key) takes a number, not \(valueText)") }
            return v
        }
        func integer() throws -> Int {
            let v = try number()
            guard v == v.rounded(), v.magnitude < 1e9 else { throw ButlerError(.invalidValue, "\(key) takes an integer, not \(valueText)") }
            return Int(v)
        }
        func text() throws -> String {
            guard case .text(let s) = value else { throw ButlerError(.invalidValue, "\(key) takes a string, not \(valueText)") }
            return s
        }
        func pair() throws -> (x: Int, y: Int) {
            guard case .pair(let a, let b) = value, a == a.rounded(), b == b.rounded() else {
                throw ButlerError(.invalidValue, "\(key) takes two integers, as (4000, 4000), not \(valueText)")
            }
            return (Int(a), Int(b))
        }
        switch path {
        case "name": name = try text()
        case "skyMap", "skyMap.name":
            guard try text() == "rings" else { throw ButlerError(.invalidValue, "only the rings skymap is built here, not '\(valueText)'") }
        case "numRings": numRings = try integer()
        case "raStart": raStart = try number()
        case "projection": projection = try text().uppercased()
        case "tractOverlap": tractOverlap = try number()
        case "pixelScale": pixelScale = try number()
        case "rotation": rotation = try number()
        case "tractBuilder", "tractBuilder.name":
            guard let builder = TractBuilder(rawValue: try text()) else { throw ButlerError(.invalidValue, "tractBuilder is legacy or cells, not \(valueText)") }
            tractBuilder = builder
        case "patchInnerDimensions": legacyPatchInnerDimensions = try pair()
        case "patchBorder": legacyPatchBorder = try integer()
        case "cellInnerDimensions": cellInnerDimensions = try pair()
        case "cellBorder": cellBorder = try integer()
        case "numCellsPerPatchInner": numCellsPerPatchInner = try integer()
        case "numCellsInPatchBorder": numCellsInPatchBorder = try integer()
        default:
            throw ButlerError(.invalidValue, "unknown skymap config field '\(key)' (fields: name, numRings, raStart, projection, tractOverlap, pixelScale, rotation, tractBuilder, patchInnerDimensions, patchBorder, cellInnerDimensions, cellBorder, numCellsPerPatchInner, numCellsInPatchBorder)")
        }
    }

    enum Literal { case number(Double), text(String), pair(Double, Double) }

    /// A Python/YAML literal: a quoted or bare string, a number or a quotient/product of numbers (`1.0/60`), or a
    /// pair `(4000, 4000)` / `[4000, 4000]`.
    static func literal(_ text: String) throws -> Literal {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t.count >= 2, let q = t.first, q == "\"" || q == "'", t.last == q { return .text(String(t.dropFirst().dropLast())) }
        if let open = t.first, open == "(" || open == "[" {
            let items = t.dropFirst().dropLast().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard items.count == 2, case .number(let a) = try literal(items[0]), case .number(let b) = try literal(items[1]) else {
                throw ButlerError(.invalidValue, "'\(text)' is not a pair of numbers")
            }
            return .pair(a, b)
        }
        for op: Character in ["/", "*"] where t.contains(op) {
            let sides = t.split(separator: op, maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard sides.count == 2, let a = Double(sides[0]), let b = Double(sides[1]) else { throw ButlerError(.invalidValue, "cannot read '\(text)'") }
            return .number(op == "/" ? a / b : a * b)
        }
        if let v = Double(t) { return .number(v) }
        return .text(t)
    }
}
