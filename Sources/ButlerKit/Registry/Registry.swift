import Foundation
public import Logging

/// The registry of a repository: dimensions, dataset types, collections and datasets, in one SQL database.
///
/// Reach it through ``Butler/registry``. Every method runs in its own transaction: a failure leaves the
/// registry as it was.
///
/// ## Topics
/// ### Dimensions
/// - ``insertDimensionRecords(_:_:)``
/// - ``syncDimensionRecord(_:update:)``
/// - ``fetchDimensionRecords(_:dataId:)``
/// - ``expandDataID(_:dimensions:)``
/// ### Dataset types
/// - ``registerDatasetType(_:)``
/// - ``removeDatasetTypes(_:)``
/// - ``queryDatasetTypes(_:)``
/// ### Collections
/// - ``registerCollection(_:type:doc:)``
/// - ``modifyChain(_:children:mode:doc:flatten:)``
/// - ``queryCollections(_:types:)``
/// ### Datasets
/// - ``insertDatasets(_:run:dataIds:idGenerationMode:)``
public final class Registry: @unchecked Sendable {
    // @unchecked: the database serializes access; the other properties are immutable (storageClasses is set once, by
    // the opening butler's initializer, before the registry is shared).
    package let database: any RegistryDatabase
    /// The dimension universe of the repository.
    public let universe: DimensionUniverse
    /// The storage classes the registry accepts: the built-in ones and those of the repository's configuration
    /// (``Butler/storageClasses``), set once when the butler that owns the registry opens it, before it is shared.
    public internal(set) var storageClasses: StorageClasses = .builtIn
    /// The repository's stable identity: a UUID and a name, given at create (see ``Butler/identity``).
    public let identity: RepositoryIdentity
    package let logger: Logger

    package static let universeAttribute = "config:dimensions.yaml"

    private init(database: any RegistryDatabase, universe: DimensionUniverse, identity: RepositoryIdentity, logger: Logger) {
        self.database = database
        self.universe = universe
        self.identity = identity
        self.logger = logger
    }

    /// Builds the schema in an empty database: migrations (which give the repository its identity, named
    /// `repositoryName`), the universe's dimension tables, the universe itself.
    package static func create(database: any RegistryDatabase, universe: DimensionUniverse, repositoryName: String,
                               logger: Logger) throws -> Registry {
        let identity = try database.write { c -> RepositoryIdentity? in
            if try c.tableExists("butler_attributes") {
                throw ButlerError(.alreadyExists, "the registry database already holds a butler schema")
            }
            try Migrations.migrate(c, repositoryName: repositoryName)
            for sql in DimensionSchema.createStatements(for: universe, dialect: c.dialect) + RegionIndex.createStatements(for: universe, dialect: c.dialect) {
                try c.execute(sql)
            }
            try c.execute("INSERT INTO butler_attributes (name, value) VALUES (?, ?)", [.text(universeAttribute), .text(universe.yaml)])
            return try readIdentity(c)
        }
        guard let identity else { throw ButlerError(.database, "the new registry holds no repository identity") }
        return Registry(database: database, universe: universe, identity: identity, logger: logger)
    }

    /// Opens the registry of an existing repository, bringing its schema up to date.
    ///
    /// - Parameter repositoryName: the name a repository made by an older butler is given with its identity.
    /// - Throws: ``ButlerError/Code/schemaTooNew`` when the database was written by a newer butler.
    package static func open(database: any RegistryDatabase, repositoryName: String = "repository", logger: Logger) throws -> Registry {
        let (applied, yaml, recorded) = try database.read { c -> ([String], String?, RepositoryIdentity?) in
            guard try c.tableExists("butler_migrations") else {
                throw ButlerError(.notARepository, "the registry database holds no butler schema")
            }
            let applied = try c.query("SELECT name FROM butler_migrations").compactMap { $0[0].string }
            let yaml = try c.queryOne("SELECT value FROM butler_attributes WHERE name = ?", [.text(universeAttribute)])?[0].string
            return (applied, yaml, try readIdentity(c))
        }
        try Migrations.checkNotNewer(applied)
        var identity = recorded
        if !Migrations.isCurrent(applied) {
            // Bringing the schema up to date is a write: a registry this process may only read is refused instead.
            if let reason = database.readOnlyReason {
                throw ButlerError(.readOnly, "repository is read-only: \(reason); its registry needs schema migrations that only a writer can apply (open it once with write access)")
            }
            identity = try database.write { c in
                try Migrations.migrate(c, repositoryName: repositoryName)
                return try readIdentity(c)
            }
        }
        guard let yaml else {
            throw ButlerError(.invalidConfig, "the registry holds no dimension configuration")
        }
        guard let identity else {
            throw ButlerError(.invalidConfig, "the registry holds no repository identity (butler_attributes \(RepositoryIdentity.idAttribute))")
        }
        let universe = try DimensionUniverse(yaml: yaml, source: "registry attribute \(universeAttribute)")
        return Registry(database: database, universe: universe, identity: identity, logger: logger)
    }

    /// The names of the schema migrations recorded in the database, in the order they were applied.
    public func appliedMigrations() throws -> [String] {
        try database.read { c in try Migrations.appliedMigrations(c) }
    }
}
