extension Migrations {
    /// Provenance in the registry: quanta (one execution of one step), their inputs and outputs with roles,
    /// content-addressed software environments and configs, parameters, QA metrics, and tombstones of removed
    /// datasets that others were derived from.
    static func provenanceTables(_ c: any SQLConnection) throws {
        let d = c.dialect
        let statements = [
            """
            CREATE TABLE software_environment (
                id VARCHAR(64) PRIMARY KEY,
                code_commit VARCHAR(64),
                code_dirty \(d.boolean),
                executable_hash VARCHAR(64))
            """,
            """
            CREATE TABLE environment_package (
                environment_id VARCHAR(64) NOT NULL REFERENCES software_environment (id) ON DELETE CASCADE,
                name VARCHAR(128) NOT NULL,
                version VARCHAR(128) NOT NULL,
                PRIMARY KEY (environment_id, name))
            """,
            "CREATE INDEX environment_package_version ON environment_package (name, version)",
            """
            CREATE TABLE config_blob (
                hash VARCHAR(64) PRIMARY KEY,
                format VARCHAR(16) NOT NULL,
                content \(d.blob) NOT NULL)
            """,
            """
            CREATE TABLE quantum (
                id \(d.uuid) PRIMARY KEY,
                task_label VARCHAR(128) NOT NULL,
                run_id \(d.bigint) NOT NULL REFERENCES collection (collection_id),
                data_id TEXT NOT NULL,
                host VARCHAR(256),
                user_name VARCHAR(128),
                command TEXT,
                start_time \(d.bigint),
                end_time \(d.bigint),
                status VARCHAR(16) NOT NULL,
                exit_code INTEGER,
                environment_id VARCHAR(64) REFERENCES software_environment (id),
                config_digest VARCHAR(64),
                log_dataset_id \(d.uuid))
            """,
            "CREATE INDEX quantum_task ON quantum (task_label, run_id)",
            "CREATE INDEX quantum_environment ON quantum (environment_id)",
            """
            CREATE TABLE quantum_config (
                quantum_id \(d.uuid) NOT NULL REFERENCES quantum (id) ON DELETE CASCADE,
                name VARCHAR(256) NOT NULL,
                config_hash VARCHAR(64) NOT NULL REFERENCES config_blob (hash),
                PRIMARY KEY (quantum_id, name))
            """,
            "CREATE INDEX quantum_config_hash ON quantum_config (config_hash)",
            """
            CREATE TABLE quantum_parameter (
                quantum_id \(d.uuid) NOT NULL REFERENCES quantum (id) ON DELETE CASCADE,
                name VARCHAR(128) NOT NULL,
                value TEXT NOT NULL,
                PRIMARY KEY (quantum_id, name))
            """,
            """
            CREATE TABLE quantum_input (
                quantum_id \(d.uuid) NOT NULL REFERENCES quantum (id) ON DELETE CASCADE,
                dataset_id \(d.uuid) NOT NULL,
                role VARCHAR(64) NOT NULL,
                PRIMARY KEY (quantum_id, dataset_id, role))
            """,
            "CREATE INDEX quantum_input_dataset ON quantum_input (dataset_id)",
            """
            CREATE TABLE quantum_output (
                quantum_id \(d.uuid) NOT NULL REFERENCES quantum (id) ON DELETE CASCADE,
                dataset_id \(d.uuid) NOT NULL UNIQUE,
                role VARCHAR(64) NOT NULL,
                PRIMARY KEY (quantum_id, dataset_id))
            """,
            """
            CREATE TABLE run_task_config (
                run_id \(d.bigint) NOT NULL REFERENCES collection (collection_id) ON DELETE CASCADE,
                task_label VARCHAR(128) NOT NULL,
                config_digest VARCHAR(64) NOT NULL,
                PRIMARY KEY (run_id, task_label))
            """,
            """
            CREATE TABLE dataset_metric (
                dataset_id \(d.uuid) NOT NULL REFERENCES dataset (id) ON DELETE CASCADE,
                name VARCHAR(64) NOT NULL,
                value \(d.double) NOT NULL,
                PRIMARY KEY (dataset_id, name))
            """,
            "CREATE INDEX dataset_metric_name ON dataset_metric (name, value)",
            """
            CREATE TABLE dataset_tombstone (
                dataset_id \(d.uuid) PRIMARY KEY,
                dataset_type VARCHAR(128) NOT NULL,
                data_id TEXT NOT NULL,
                run VARCHAR(64) NOT NULL,
                checksum VARCHAR(128),
                removed_at \(d.bigint) NOT NULL)
            """,
        ]
        for sql in statements { try c.execute(sql) }
    }

    /// v7: a failed step keeps the tail of its log in its own row (`log_text`) rather than as a `<task>_log` dataset,
    /// which would take the data ID slot that the re-run's log needs in the same RUN.
    static func quantumLogText(_ c: any SQLConnection) throws {
        try c.execute("ALTER TABLE quantum ADD COLUMN log_text TEXT")
    }

    /// v9: what `butler reproduce` needs and records. A step run by `butler run` keeps its command as written, before
    /// paths were put in (`command_template`, JSON: the arguments with `{ROLE}`, `{metrics}` and `{config:NAME}` for a
    /// config file given by path, and the folder it ran in), and each reproduction links its new step to the step it reproduced, with the verdict.
    static func reproductions(_ c: any SQLConnection) throws {
        let d = c.dialect
        try c.execute("ALTER TABLE quantum ADD COLUMN command_template TEXT")
        try c.execute("""
            CREATE TABLE quantum_reproduction (
                quantum_id \(d.uuid) PRIMARY KEY REFERENCES quantum (id) ON DELETE CASCADE,
                original_id \(d.uuid) NOT NULL,
                verdict VARCHAR(32) NOT NULL,
                detail TEXT,
                checked_at \(d.bigint) NOT NULL)
            """)
        try c.execute("CREATE INDEX quantum_reproduction_original ON quantum_reproduction (original_id)")
    }

    /// v10: a step that arrived from another repository (import, transfer, Zip) keeps where it was made
    /// (`origin_id`, `origin_name`: the repository that ran it, as the sender says) and which repository sent it here
    /// (`received_from_id`, `received_from_name`). Both are NULL for a step made here; a step with an origin is
    /// foreign, and `butler reproduce` does not run it unless the user says so.
    static func foreignSteps(_ c: any SQLConnection) throws {
        for column in ["origin_id", "origin_name", "received_from_id", "received_from_name"] {
            try c.execute("ALTER TABLE quantum ADD COLUMN \(column) TEXT")
        }
        // Steps that arrived before this migration: those with an output copied here (origin: the latest sender), and
        // those none of whose outputs is here or was removed here (they were made elsewhere; origin unknown).
        let sender = """
            (SELECT dc.source_repository_id FROM quantum_output AS o JOIN dataset_copy AS dc ON dc.dataset_id = o.dataset_id
             WHERE o.quantum_id = quantum.id ORDER BY dc.copied_at DESC LIMIT 1)
            """
        let senderName = sender.replacingOccurrences(of: "SELECT dc.source_repository_id", with: "SELECT dc.source_repository_name")
        // A copy without a source was recorded with an empty id: such a step is foreign all the same (fail closed).
        let senderId = "COALESCE(NULLIF(\(sender), ''), '00000000-0000-0000-0000-000000000000')"
        try c.execute("""
            UPDATE quantum SET origin_id = \(senderId), origin_name = \(senderName), received_from_id = \(senderId), received_from_name = \(senderName)
            WHERE EXISTS (SELECT 1 FROM quantum_output AS o JOIN dataset_copy AS dc ON dc.dataset_id = o.dataset_id WHERE o.quantum_id = quantum.id)
            """)
        try c.execute("""
            UPDATE quantum SET origin_id = '00000000-0000-0000-0000-000000000000', origin_name = 'unknown'
            WHERE origin_id IS NULL AND EXISTS (SELECT 1 FROM quantum_output AS o WHERE o.quantum_id = quantum.id)
              AND NOT EXISTS (SELECT 1 FROM quantum_output AS o JOIN dataset AS d ON d.id = o.dataset_id WHERE o.quantum_id = quantum.id)
              AND NOT EXISTS (SELECT 1 FROM quantum_output AS o JOIN dataset_tombstone AS t ON t.dataset_id = o.dataset_id WHERE o.quantum_id = quantum.id)
            """)
    }
}
