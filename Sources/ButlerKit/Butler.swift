public import Foundation
internal import S3
public import Logging
internal import Yams

/// A data repository: its configuration, its registry and its file datastore.
///
/// ```swift
/// let butler = try Butler.create(at: "repo")
/// try butler.registry.registerDatasetType(
///     butler.registry.makeDatasetType("calexp", storageClass: "ExposureF", dimensions: ["instrument", "visit", "detector"]))
/// let reopened = try Butler(repository: "repo")
/// ```
///
/// ## Topics
/// ### Opening and creating
/// - ``init(repository:logger:)``
/// - ``create(at:seedConfig:dimensionConfig:override:logger:)``
/// ### Parts
/// - ``registry``
/// - ``config``
public final class Butler: Sendable {
    /// The repository folder.
    public let root: URL
    /// The repository configuration.
    public let config: ButlerConfig
    /// The registry.
    public let registry: Registry
    /// The folder that holds the repository's files.
    public let datastoreRoot: URL
    /// The repository's stable identity: a UUID and a name, given at create (a repository made by an older butler
    /// gets one, named after its folder, the first time it is opened by a process that may write it).
    public var identity: RepositoryIdentity { registry.identity }
    package let logger: Logger
    /// Whether checksums are recorded: `datastore.checksum` is `sha256` (the default) and not `none`/`false`.
    package let checksumsEnabled: Bool
    /// This process's notes of files it is about to create (see ``TransferJournal``): in the datastore folder, or
    /// in the repository folder for a bucket.
    package let journal: TransferJournal
    /// The bucket datastore's location and client; nil for a folder datastore.
    let bucket: (location: BucketLocation, client: S3Client)?
    /// File templates as parsed, by dataset type (the configuration does not change while the repository is open).
    let fileTemplates = LockedCache<String, FileTemplate>()

    /// Opens an existing repository.
    ///
    /// - Parameter repository: the repository folder (or its `butler.yaml`), as a path, a `file://` URI or a label of
    ///   the repository index (see ``RepositoryIndex``).
    /// - Throws: ``ButlerError/Code/notARepository`` for a path that is not a repository,
    ///   ``ButlerError/Code/invalidConfig`` for a corrupt `butler.yaml`, ``ButlerError/Code/schemaTooNew`` for a
    ///   registry written by a newer butler.
    public convenience init(repository: String, logger: Logger = Logger(label: "butler")) throws {
        let config = try ButlerConfig(repository: URL(fileURLWithPath: try RepositoryIndex.resolve(repository)))
        let database = try Self.openDatabase(config, create: false)
        let registry = try Registry.open(database: database, repositoryName: RepositoryIdentity.defaultName(for: config.root), logger: logger)
        try self.init(config: config, registry: registry, logger: logger)
        recoverInterruptedTransfers()
    }

    deinit { journal.close() }

    /// Finishes or undoes what writers killed mid-transfer left in the datastore (temporary files, files renamed aside
    /// by a removal, staging folders), as listed in their journals. Cheap when there is nothing to do: one look at a folder.
    package func recoverInterruptedTransfers() {
        // A repository this process may only read is left alone: its writers recover on their next open.
        if let reason = readOnlyReason {
            logger.debug("not recovering interrupted transfers in a read-only repository", metadata: ["reason": "\(reason)"])
            return
        }
        do {
            let removed: Int
            if let bucket {
                removed = try BucketDatastore.recover(client: bucket.client, location: bucket.location, journalRoot: root) { path in try registry.claimToken(of: path) }
            } else {
                removed = try TransferJournal.recover(datastoreRoot: datastoreRoot) { path in try registry.claimToken(of: path) }
            }
            if removed > 0 { logger.info("removed files of interrupted transfers", metadata: ["count": "\(removed)"]) }
        } catch {
            logger.warning("could not clean up after an interrupted transfer: \(error)")
        }
    }

    private init(config: ButlerConfig, registry: Registry, logger: Logger) throws {
        self.root = config.root
        self.config = config
        self.registry = registry
        self.datastoreRoot = try config.datastoreRoot
        registry.storageClasses = try Self.storageClasses(configuredBy: config)
        self.logger = logger
        let checksum = config.string("datastore.checksum")?.lowercased() ?? "sha256"
        self.checksumsEnabled = !["none", "false", "off", "no"].contains(checksum)
        if let location = try config.datastoreBucket {
            self.bucket = (location, S3Client(configuration: try s3 { try S3Configuration.fromEnvironment() }))
            self.journal = TransferJournal(datastoreRoot: config.root)
        } else {
            self.bucket = nil
            self.journal = TransferJournal(datastoreRoot: self.datastoreRoot)
        }
    }

    /// Creates a new repository: `butler.yaml`, the registry and the datastore root.
    ///
    /// The folder may exist if it holds no repository. Everything that can fail on the input (the seed config, the
    /// dimension universe, the text of `butler.yaml`) is checked before anything is made; on a later failure
    /// whatever was made is removed again (folders, the SQLite file, a PostgreSQL schema or the tables made in it),
    /// so that `create` can simply be run again.
    ///
    /// A password in a PostgreSQL registry URL (`postgresql://user:secret@host/db`, `?password=`) is used to connect
    /// but not written to `butler.yaml` unless `storePassword` is set; then `butler.yaml` is readable by its owner
    /// only (mode 0600). Either way `note` is told.
    /// - Parameters:
    ///   - path: the repository folder.
    ///   - seedConfig: a YAML file merged over the defaults.
    ///   - dimensionConfig: a YAML dimension universe to use instead of the default.
    ///   - override: let the seed configuration replace `registry.db` and `datastore.root`, which otherwise
    ///     stay the repository's own.
    ///   - registry: the registry database URL (`postgresql://[user@]host[:port]/dbname[?schema=NAME]`, or
    ///     `sqlite:///PATH`) instead of the repository's own SQLite file.
    ///   - storePassword: keep a password of the registry URL in `butler.yaml` (written mode 0600).
    ///   - datastore: where the files live instead of the repository's own folder: `s3://BUCKET[/PREFIX]` (the
    ///     bucket must exist and the prefix be empty; endpoint and credentials come from the environment, see
    ///     `S3Configuration`), or a folder.
    ///   - name: the repository's name, recorded with its new id (see ``identity``); by default the folder's name.
    ///   - note: receives one-line notes for the user (what happened to a password).
    /// - Throws: ``ButlerError/Code/alreadyExists`` when the folder holds a repository,
    ///   ``ButlerError/Code/invalidValue`` for a name that is empty, unprintable or longer than 64 characters.
    public static func create(at path: String, seedConfig: String? = nil, dimensionConfig: String? = nil,
                              override: Bool = false, registry registryOverride: String? = nil,
                              storePassword: Bool = false, datastore: String? = nil, name: String? = nil, note: (String) -> Void = { _ in },
                              logger: Logger = Logger(label: "butler")) throws -> Butler {
        let root = URL(fileURLWithPath: path).standardizedFileURL
        if let name { try RepositoryIdentity.validateName(name) }
        let repositoryName = name ?? RepositoryIdentity.defaultName(for: root)
        let fm = FileManager.default
        let configFile = root.appendingPathComponent(ButlerConfig.fileName)
        if fm.fileExists(atPath: configFile.path) {
            throw ButlerError(.alreadyExists, "a butler repository exists already at \(root.path); refusing to touch it")
        }
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: root.path, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw ButlerError(.alreadyExists, "\(root.path) exists and is not a folder")
        }
        let seedSource = seedConfig ?? "seed config"
        var seed: Node?
        if let seedConfig {
            let seedText: String
            do {
                seedText = try String(contentsOfFile: seedConfig, encoding: .utf8)
            } catch {
                throw ButlerError(.io, "cannot read seed config \(seedConfig): \(error.localizedDescription)")
            }
            let parsed = try ButlerConfig.parse(seedText, source: seedConfig)
            if !override {
                for key in ["registry.db", "datastore.root"] where ButlerConfig.sets(parsed, key) {
                    throw ButlerError(.invalidConfig, "seed config \(seedConfig) sets \(key), which belongs to the repository; pass --override to let it")
                }
            }
            seed = parsed
        }
        if let registryOverride {
            guard registryOverride.hasPrefix("postgresql://") || registryOverride.hasPrefix("postgres://") || registryOverride.hasPrefix("sqlite:///") else {
                throw ButlerError(.invalidValue, "--registry takes postgresql://[user@]host[:port]/dbname[?schema=NAME] or sqlite:///PATH, not '\(PostgresURL.mask(registryOverride))'")
            }
            seed = try registrySeed(registryOverride, over: seed)
        }
        if let datastore {
            guard datastore.hasPrefix("s3://") ? BucketLocation(datastore) != nil : !datastore.contains("://") || datastore.hasPrefix("file://") else {
                throw ButlerError(.invalidValue, "--datastore takes s3://BUCKET[/PREFIX] or a folder, not '\(SecretRedaction.redact(datastore))'")
            }
            let extra = try ButlerConfig.parse("datastore:\n  root: " + jsonString(datastore) + "\n", source: "--datastore")
            seed = seed.map { ButlerConfig.merge($0, extra) } ?? extra
        }
        let universe: DimensionUniverse
        if let dimensionConfig {
            universe = try DimensionUniverse(contentsOf: URL(fileURLWithPath: dimensionConfig))
        } else {
            universe = try DimensionUniverse.makeDefault()
        }
        // The configuration this process connects with, and the text of butler.yaml (without a registry password
        // unless asked to keep it), both made before anything is created.
        let seedText = try seed.map { try Yams.serialize(node: $0) } ?? ""
        let config = try ButlerConfig(root: root, text: seedText, source: seedSource)
        let datastoreRoot = try config.datastoreRoot
        let registryURL = try config.registryURL
        var stored = seed
        var privateFile = false
        if let stripped = PostgresURL.withoutPassword(registryURL) {
            if storePassword {
                privateFile = true
                note("butler.yaml holds the registry password and is written readable by its owner only (mode 0600)")
            } else {
                stored = try registrySeed(stripped, over: seed)
                note("the registry password was not stored in butler.yaml; give it to later commands with PGPASSWORD, ~/.pgpass or a service file (or create with --store-password to keep it in butler.yaml, mode 0600)")
            }
        }
        let written = try stored.map { try Yams.serialize(node: ButlerConfig.merge(
            try ButlerConfig.parse(try ButlerConfig.defaultsText(), source: "defaults"), $0)) } ?? ButlerConfig.defaultsText()

        // Build everything, and undo whatever we made if a step fails.
        var created: [URL] = []
        var database: (any RegistryDatabase)?
        var tablesBefore: Set<String> = []
        var registryMade = false
        do {
            if let made = try makeFolder(root) { created.append(made) }
            if let dbPath = try sqlitePath(registryURL), fm.fileExists(atPath: dbPath) {
                throw ButlerError(.alreadyExists, "registry database \(dbPath) exists already; refusing to touch it")
            }
            if let bucket = try config.datastoreBucket {
                // The bucket must exist and take our credentials; its prefix must hold no objects.
                let client = S3Client(configuration: try s3 { try S3Configuration.fromEnvironment() })
                let present = try s3 { try client.listObjects(bucket: bucket.bucket, prefix: bucket.prefix.isEmpty ? "" : bucket.prefix + "/", limit: 1) }
                guard present.isEmpty else {
                    throw ButlerError(.alreadyExists, "datastore \(bucket) already holds objects (\(present[0].key)); refusing to share it")
                }
            } else if let made = try makeFolder(datastoreRoot) {
                created.append(made)
            }
            if let dbPath = try sqlitePath(registryURL) {
                for suffix in ["", "-wal", "-shm"] { created.append(URL(fileURLWithPath: dbPath + suffix)) }
            }
            let opened = try openDatabase(config, create: true)
            database = opened
            if try opened.read({ try $0.tableExists("butler_migrations") }) {
                throw ButlerError(.alreadyExists, "the registry at \(PostgresURL.mask(registryURL)) holds a repository already; refusing to touch it")
            }
            tablesBefore = Set(try opened.read { try $0.tableNames() })
            registryMade = true
            let registry = try Registry.create(database: opened, universe: universe, repositoryName: repositoryName, logger: logger)
            // butler.yaml last: its presence is what makes the folder a repository.
            let tmp = root.appendingPathComponent(".\(ButlerConfig.fileName).tmp-\(ProcessInfo.processInfo.processIdentifier)")
            try writeNewFile(tmp, written, mode: privateFile ? 0o600 : 0o644)
            created.append(tmp)
            try fm.moveItem(at: tmp, to: configFile)
            created.append(configFile)
            logger.info("created repository", metadata: ["root": "\(root.path)"])
            return try Butler(config: config, registry: registry, logger: logger)
        } catch {
            if registryMade, let postgres = database as? PostgresDatabase {
                // The tables this create made (a transaction that failed made none), or the schema it made.
                _ = try? postgres.write { c in
                    if postgres.createdSchema {
                        try c.execute("DROP SCHEMA IF EXISTS \(q(postgres.schema)) CASCADE")
                    } else {
                        for table in try c.tableNames() where !tablesBefore.contains(table) {
                            try c.execute("DROP TABLE IF EXISTS \(q(table)) CASCADE")
                        }
                    }
                }
            } else if let postgres = database as? PostgresDatabase, postgres.createdSchema {
                _ = try? postgres.write { c in try c.execute("DROP SCHEMA IF EXISTS \(q(postgres.schema)) CASCADE") }
            }
            database = nil
            for url in created.reversed() { try? fm.removeItem(at: url) }
            if let e = error as? ButlerError { throw e }
            throw ButlerError(.io, "cannot create repository at \(root.path): \(error.localizedDescription)")
        }
    }

    /// `registry.db: url` over a seed configuration.
    private static func registrySeed(_ url: String, over seed: Node?) throws -> Node {
        let extra = try ButlerConfig.parse("registry:\n  db: " + jsonString(url) + "\n", source: "--registry")
        return seed.map { ButlerConfig.merge($0, extra) } ?? extra
    }

    /// Creates a folder with its missing parents; returns the topmost folder it made (nil when it existed).
    private static func makeFolder(_ url: URL) throws -> URL? {
        let fm = FileManager.default
        var top: URL?
        var probe = url
        while !fm.fileExists(atPath: probe.path) && probe.path != "/" {
            top = probe
            probe = probe.deletingLastPathComponent()
        }
        guard let top else { return nil }
        try fm.createDirectory(at: url, withIntermediateDirectories: true)
        return top
    }

    /// Writes a file that must not exist yet, created with `mode` (so a private file is never readable by others,
    /// not even for a moment); a file it could not finish is removed.
    private static func writeNewFile(_ url: URL, _ text: String, mode: mode_t) throws {
        let fd = open(url.path, O_WRONLY | O_CREAT | O_EXCL, mode)
        guard fd >= 0 else { throw ButlerError(.io, "cannot create \(url.path): \(String(cString: strerror(errno)))") }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        do {
            try handle.write(contentsOf: Data(text.utf8))
            try handle.close()
        } catch {
            try? FileManager.default.removeItem(at: url)
            throw ButlerError(.io, "cannot write \(url.path): \(error.localizedDescription)")
        }
    }

    /// The SQLite file of a `sqlite:///PATH` URL, or `nil` for another engine.
    private static func sqlitePath(_ url: String) throws -> String? {
        if url.hasPrefix("sqlite:///") { return String(url.dropFirst("sqlite://".count)) }
        if url.hasPrefix("sqlite://") { return String(url.dropFirst("sqlite://".count)) }
        return nil
    }

    private static func openDatabase(_ config: ButlerConfig, create: Bool) throws -> any RegistryDatabase {
        let url = try config.registryURL
        if let path = try sqlitePath(url) {
            return try SQLiteDatabase(path: path, create: create)
        }
        if url.hasPrefix("postgresql://") || url.hasPrefix("postgres://") {
            return try PostgresDatabase(url: url, create: create)
        }
        throw ButlerError(.invalidConfig, "unsupported registry.db '\(SecretRedaction.redact(url))': expected sqlite:///PATH or postgresql://...")
    }

    /// Removes RUN collections with their datasets, their steps and the datastore files of those datasets.
    ///
    /// The files are renamed aside inside the removing transaction and deleted once it commits (put back if it
    /// fails), with the folders they leave empty; files ingested in place with `direct` are never deleted.
    ///
    /// - Parameter progress: told of the files set aside as the removal goes.
    @discardableResult
    public func removeRuns(_ patterns: [String], unlinkFromChains: Bool = false, progress: ProgressReport? = nil) throws -> RemovedRuns {
        try removingFiles(progress: progress) { release in
            try registry.removeRuns(patterns, unlinkFromChains: unlinkFromChains, releasing: release)
        }
    }

    /// Runs a removal transaction whose released files are renamed aside inside it (by `release`, called once per
    /// attempt of the transaction), deleted after it commits, and put back if it fails: the second phase of the
    /// datastore's removal (see ``FileDatastore``).
    func removingFiles<T>(progress: ProgressReport? = nil,
                          _ removal: (_ release: ([(path: String, token: String)]) throws -> Void) throws -> T) throws -> T {
        let datastore = self.datastore
        var trashed: [String: TrashedFile] = [:]
        do {
            let result = try removal { released in
                // A retried transaction may release a different set: put back what this attempt keeps.
                let now = Set(released.map(\.path))
                for (path, file) in trashed where !now.contains(path) {
                    datastore.restore(file)
                    trashed[path] = nil
                }
                for (n, (path, token)) in released.enumerated() {
                    defer { progress?(n + 1, released.count) }
                    guard trashed[path] == nil else { continue }
                    if let file = try datastore.trash(path, claimToken: token) { trashed[path] = file }
                }
            }
            for file in trashed.values { datastore.emptyTrash(file) }
            return result
        } catch {
            for file in trashed.values { datastore.restore(file) }
            throw error
        }
    }

    /// The full configuration as YAML, with the repository's identity under `repository` and the dimension universe
    /// under `dimensions`, or one part of it.
    public func configDump(subset: String? = nil) throws -> String {
        let key = subset.map { $0.hasPrefix(".") ? String($0.dropFirst()) : $0 } ?? ""
        if key == "dimensions" || key.hasPrefix("dimensions.") {
            if key == "dimensions" { return registry.universe.yaml }
            throw ButlerError(.invalidValue, "only the whole 'dimensions' section can be shown; use --subset dimensions")
        }
        let identityFields = ["id: \(identity.id.lowercasedString)", "name: \(jsonString(identity.name))"]
        let identityLines = identityFields.map { "  \($0)\n" }.joined()
        switch key {
        case "repository": return identityFields.map { "\($0)\n" }.joined()
        case "repository.id": return identity.id.lowercasedString + "\n"
        case "repository.name": return identity.name + "\n"
        default: break
        }
        if key.isEmpty {
            return try Self.maskPasswords(config.yaml()) + "repository:\n" + identityLines + "dimensions:\n" + registry.universe.yaml.split(separator: "\n", omittingEmptySubsequences: false)
                .filter { !$0.hasPrefix("#") }.map { $0.isEmpty ? "" : "  " + $0 }.joined(separator: "\n")
        }
        return Self.maskPasswords(try config.yaml(subset: key))
    }

    /// `scheme://user:secret@host` becomes `scheme://user:***@host`, `password=secret` `password=***`: passwords
    /// are never printed.
    static func maskPasswords(_ text: String) -> String {
        let urls = text.split(whereSeparator: { $0.isWhitespace }).filter { $0.contains("://") }
        return SecretRedaction.redact(text, secrets: urls.flatMap { PostgresURL.passwords(in: String($0)) })
    }
}
