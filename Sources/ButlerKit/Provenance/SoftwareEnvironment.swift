public import Foundation
internal import Crypto
internal import Yams

/// The software a step ran with: package versions, and where known the source tree's commit (with a dirty flag) and
/// the hash of the executable. Stored once per distinct environment, content-addressed, shared by every quantum.
public struct SoftwareEnvironment: Sendable, Hashable {
    /// Package name -> version.
    public var packages: [String: String]
    /// The git commit of the source tree that ran, if given.
    public var codeCommit: String?
    /// Whether that tree had uncommitted changes.
    public var codeDirty: Bool?
    /// SHA-256 of the executable that ran, if known.
    public var executableHash: String?

    public init(packages: [String: String] = [:], codeCommit: String? = nil, codeDirty: Bool? = nil, executableHash: String? = nil) {
        self.packages = packages
        self.codeCommit = codeCommit
        self.codeDirty = codeDirty
        self.executableHash = executableHash
    }

    /// The content address: SHA-256 of the sorted `name==version` lines and the code fields.
    public var id: String {
        var text = packages.sorted { $0.key < $1.key }.map { "\($0.key)==\($0.value)\n" }.joined()
        text += "commit=\(codeCommit ?? "")\ndirty=\(codeDirty.map { $0 ? "1" : "0" } ?? "")\nexecutable=\(executableHash ?? "")\n"
        return hexDigest(SHA256.hash(data: Data(text.utf8)))
    }

    /// Refuses an environment whose content address could be that of another: a package name holding `=`, a
    /// newline or another control character, or a version, commit or executable hash holding a control character
    /// (the id hashes `name==version` lines, so `{a: "1\nb==2"}` would hash as `{a: 1, b: 2}`).
    ///
    /// - Throws: ``ButlerError/Code/invalidValue`` naming the value.
    package func checkUnambiguous() throws {
        func hasControl(_ text: String) -> Bool { text.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F } }
        for (name, version) in packages {
            if name.isEmpty || name.contains("=") || hasControl(name) {
                throw ButlerError(.invalidValue, "package name \(escapedForMessage(name, limit: 80)) is empty or holds '=' or a control character")
            }
            if hasControl(version) {
                throw ButlerError(.invalidValue, "version \(escapedForMessage(version, limit: 80)) of package \(name) holds a control character")
            }
        }
        for (what, text) in [("code commit", codeCommit), ("executable hash", executableHash)] where text.map(hasControl) == true {
            throw ButlerError(.invalidValue, "\(what) \(escapedForMessage(text!, limit: 80)) holds a control character")
        }
    }

    /// Reads a package listing: `pip freeze` output (`name==version`, `name @ url`), a conda `environment.yml`
    /// export (`dependencies: [name=version=build, {pip: [...]}]`), or plain `name version` / `name==version` lines.
    ///
    /// - Throws: ``ButlerError/Code/invalidValue`` naming the line that is neither form.
    public static func parsePackages(_ text: String, source: String) throws -> [String: String] {
        if text.contains("dependencies:") {
            return try parseConda(text, source: source)
        }
        var packages: [String: String] = [:]
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)?.trimmedSpaces ?? ""
            if line.isEmpty || line.hasPrefix("-") { continue }  // comments, -e/-r options
            if let range = line.range(of: "==") {
                packages[String(line[..<range.lowerBound]).trimmedSpaces] = String(line[range.upperBound...]).trimmedSpaces
            } else if let range = line.range(of: " @ ") {
                packages[String(line[..<range.lowerBound]).trimmedSpaces] = String(line[range.upperBound...]).trimmedSpaces
            } else {
                let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                guard parts.count == 2 else {
                    throw ButlerError(.invalidValue, "\(source), line \(number + 1): '\(line)' is not 'name==version', 'name @ url' or 'name version'")
                }
                packages[String(parts[0])] = String(parts[1])
            }
        }
        return packages
    }

    private static func parseConda(_ text: String, source: String) throws -> [String: String] {
        let node: Node?
        do { node = try YAMLLoader.compose(text) } catch {
            throw ButlerError(.invalidValue, "\(source): invalid conda environment file: \(describeYAMLError(error))")
        }
        guard let deps = node?.mapping?.value("dependencies")?.sequence else {
            throw ButlerError(.invalidValue, "\(source): a conda environment file needs a 'dependencies' list")
        }
        var packages: [String: String] = [:]
        for dep in deps {
            if let s = dep.string {
                let parts = s.split(separator: "=", omittingEmptySubsequences: true)
                guard let name = parts.first else { continue }
                packages[String(name)] = parts.count > 1 ? String(parts[1]) : ""
            } else if let pip = dep.mapping?.value("pip")?.sequence {
                let lines = pip.compactMap(\.string).joined(separator: "\n")
                for (k, v) in try parsePackages(lines, source: source) { packages[k] = v }
            }
        }
        return packages
    }
}

/// A config file of a step: its name, format and bytes, content-addressed by SHA-256.
public struct ConfigFile: Sendable, Hashable {
    /// The file name (as given, without folders).
    public let name: String
    /// `yaml`, `json`, `py`, `toml` or `text`, from the extension.
    public let format: String
    public let content: Data
    /// The path the file was read from (not part of its identity: two files with one name and content are one config).
    public private(set) var sourcePath: String?

    public init(name: String, content: Data) {
        self.name = name
        self.content = content
        switch (name as NSString).pathExtension.lowercased() {
        case "yaml", "yml": format = "yaml"
        case "json": format = "json"
        case "py": format = "py"
        case "toml": format = "toml"
        default: format = "text"
        }
    }

    /// Reads a config file.
    public init(contentsOf path: String) throws {
        do {
            self.init(name: (path as NSString).lastPathComponent, content: try Data(contentsOf: URL(fileURLWithPath: path)))
            sourcePath = path
        } catch {
            throw ButlerError(.io, "cannot read config file \(path): \(error.localizedDescription)")
        }
    }

    /// SHA-256 of the content, hex.
    public var hash: String {
        hexDigest(SHA256.hash(data: content))
    }

    public static func == (a: ConfigFile, b: ConfigFile) -> Bool { a.name == b.name && a.format == b.format && a.content == b.content }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        hasher.combine(content)
    }
}

/// Lower-case hex of a digest (without `String(format:)`, which is slow in bulk).
func hexDigest<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(64)
    for byte in digest { out.append(digits[Int(byte >> 4)]); out.append(digits[Int(byte & 15)]) }
    return String(decoding: out, as: UTF8.self)
}
