import Foundation

/// One named step of the registry schema. Migrations are append-only: a shipped one is never edited.
package struct Migration: Sendable {
    package let name: String
    package let apply: @Sendable (any SQLConnection, MigrationContext) throws -> Void

    init(name: String, apply: @escaping @Sendable (any SQLConnection) throws -> Void) {
        self.name = name
        self.apply = { c, _ in try apply(c) }
    }

    init(name: String, applyInContext: @escaping @Sendable (any SQLConnection, MigrationContext) throws -> Void) {
        self.name = name
        self.apply = applyInContext
    }
}

/// What a migration may need to know about the repository beyond its database.
package struct MigrationContext: Sendable {
    /// The name a repository is given when it gets its identity (see ``RepositoryIdentity``).
    package var repositoryName: String
}

/// The registry schema, built by named, append-only migrations recorded in `butler_migrations`.
package enum Migrations {
    /// Every migration this binary knows, in order.
    package static let all: [Migration] = [
        Migration(name: "v1-core", apply: coreTables),
        Migration(name: "v2-datastore-source", apply: datastoreSource),
        Migration(name: "v3-provenance", apply: provenanceTables),
        Migration(name: "v4-datastore-paths", apply: datastorePaths),
        Migration(name: "v5-repository-identity", applyInContext: repositoryIdentity),
        Migration(name: "v6-dataset-copies", apply: datasetCopies),
        Migration(name: "v7-quantum-log-text", apply: quantumLogText),
        Migration(name: "v8-sky-region-index", apply: skyRegionIndex),
        Migration(name: "v9-reproductions", apply: reproductions),
        Migration(name: "v10-foreign-steps", apply: foreignSteps),
    ]

    /// Applies the migrations missing from the database, in one transaction.
    ///
    /// - Throws: ``ButlerError/Code/schemaTooNew`` when the database records a migration this binary does not know.
    /// - Parameter repositoryName: the name given to a repository that gets its identity now.
    package static func migrate(_ connection: any SQLConnection, repositoryName: String) throws {
        let applied = try appliedMigrations(connection)
        try checkNotNewer(applied)
        let context = MigrationContext(repositoryName: repositoryName)
        for migration in all where !applied.contains(migration.name) {
            try migration.apply(connection, context)
            try connection.execute("INSERT INTO butler_migrations (name, applied_at) VALUES (?, ?)",
                                   [.text(migration.name), .text(ISO8601DateFormatter().string(from: Date()))])
        }
    }

    /// The names of the migrations recorded in the database (empty for a new database).
    package static func appliedMigrations(_ connection: any SQLConnection) throws -> [String] {
        if !(try connection.tableExists("butler_migrations")) {
            try connection.execute("CREATE TABLE butler_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
            return []
        }
        // In the order this binary applies them (names such as v10 do not sort after v9), unknown ones last.
        let names = try connection.query("SELECT name FROM butler_migrations ORDER BY applied_at, name").compactMap { $0[0].string }
        let position = Dictionary(uniqueKeysWithValues: all.enumerated().map { ($0.element.name, $0.offset) })
        return names.enumerated().sorted { (position[$0.element] ?? Int.max, $0.offset) < (position[$1.element] ?? Int.max, $1.offset) }.map(\.element)
    }

    /// Whether every migration of this binary is recorded.
    package static func isCurrent(_ applied: [String]) -> Bool {
        Set(all.map(\.name)).isSubset(of: Set(applied))
    }

    package static func checkNotNewer(_ applied: [String]) throws {
        let known = Set(all.map(\.name))
        let unknown = applied.filter { !known.contains($0) }
        if !unknown.isEmpty {
            throw ButlerError(.schemaTooNew,
                "the registry schema is newer than this butler: it has migration(s) \(unknown.map { "'\($0)'" }.joined(separator: ", ")) that this binary does not know; use a newer butler")
        }
    }

    /// The index of sky regions (``RegionIndex``) for a repository made before it: its tables, filled from the
    /// regions already stored. A new repository has no dimension universe yet when migrations run; its tables are
    /// made with the dimension tables.
    private static func skyRegionIndex(_ c: any SQLConnection) throws {
        guard let yaml = try c.queryOne("SELECT value FROM butler_attributes WHERE name = ?", [.text(Registry.universeAttribute)])?[0].string else { return }
        let universe = try DimensionUniverse(yaml: yaml, source: "registry attribute \(Registry.universeAttribute)")
        guard let visit = universe["visit"], visit.isSpatial, !(try c.tableExists(RegionIndex.overlapTable("visit"))) else { return }
        for sql in RegionIndex.createStatements(for: universe, dialect: c.dialect) { try c.execute(sql) }
        try RegionIndex.indexAll(c, universe: universe)
    }

    /// Where an ingested file came from (Rubin's copy mode forgets it) and which HDU holds a dataset
    /// (several detectors can share one file).
    private static func datastoreSource(_ c: any SQLConnection) throws {
        try c.execute("ALTER TABLE file_datastore_records ADD COLUMN source_path TEXT")
        try c.execute("ALTER TABLE file_datastore_records ADD COLUMN hdu INTEGER")
        try c.execute("CREATE INDEX file_datastore_records_source ON file_datastore_records (source_path)")
    }

    private static func coreTables(_ c: any SQLConnection) throws {
        let d = c.dialect
        let statements = [
            "CREATE TABLE butler_attributes (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
            """
            CREATE TABLE collection (
                collection_id \(d.autoIncrementPrimaryKey),
                name VARCHAR(64) NOT NULL UNIQUE,
                type SMALLINT NOT NULL,
                doc TEXT)
            """,
            """
            CREATE TABLE run (
                collection_id \(d.bigint) PRIMARY KEY REFERENCES collection (collection_id) ON DELETE CASCADE,
                host VARCHAR(128),
                timespan_begin \(d.bigint),
                timespan_end \(d.bigint))
            """,
            """
            CREATE TABLE collection_chain (
                parent \(d.bigint) NOT NULL REFERENCES collection (collection_id) ON DELETE CASCADE,
                position SMALLINT NOT NULL,
                child \(d.bigint) NOT NULL REFERENCES collection (collection_id),
                PRIMARY KEY (parent, position))
            """,
            "CREATE INDEX collection_chain_child ON collection_chain (child)",
            """
            CREATE TABLE dimension_group (
                id \(d.autoIncrementPrimaryKey),
                required TEXT NOT NULL UNIQUE)
            """,
            """
            CREATE TABLE dataset_type (
                id \(d.autoIncrementPrimaryKey),
                name VARCHAR(128) NOT NULL UNIQUE,
                storage_class VARCHAR(64) NOT NULL,
                dimension_group_id \(d.bigint) NOT NULL REFERENCES dimension_group (id),
                is_calibration \(d.boolean) NOT NULL,
                tag_association_table VARCHAR(128) NOT NULL,
                calibration_association_table VARCHAR(128))
            """,
            """
            CREATE TABLE dataset (
                id \(d.uuid) PRIMARY KEY,
                dataset_type_id \(d.bigint) NOT NULL REFERENCES dataset_type (id),
                run_id \(d.bigint) NOT NULL REFERENCES collection (collection_id),
                ingest_date \(d.bigint) NOT NULL)
            """,
            "CREATE INDEX dataset_run ON dataset (run_id, dataset_type_id)",
            """
            CREATE TABLE collection_summary_dataset_type (
                collection_id \(d.bigint) NOT NULL REFERENCES collection (collection_id) ON DELETE CASCADE,
                dataset_type_id \(d.bigint) NOT NULL REFERENCES dataset_type (id) ON DELETE CASCADE,
                PRIMARY KEY (collection_id, dataset_type_id))
            """,
            """
            CREATE TABLE collection_summary_governor (
                collection_id \(d.bigint) NOT NULL REFERENCES collection (collection_id) ON DELETE CASCADE,
                governor VARCHAR(32) NOT NULL,
                value VARCHAR(64) NOT NULL,
                PRIMARY KEY (collection_id, governor, value))
            """,
            """
            CREATE TABLE file_datastore_records (
                dataset_id \(d.uuid) NOT NULL REFERENCES dataset (id) ON DELETE CASCADE,
                component VARCHAR(32) NOT NULL DEFAULT '',
                path TEXT NOT NULL,
                formatter VARCHAR(128),
                storage_class VARCHAR(64),
                checksum VARCHAR(128),
                file_size \(d.bigint),
                PRIMARY KEY (dataset_id, component))
            """,
            "CREATE INDEX file_datastore_records_path ON file_datastore_records (path)",
        ]
        for sql in statements { try c.execute(sql) }
    }
}
