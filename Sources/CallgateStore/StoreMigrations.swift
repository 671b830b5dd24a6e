import GRDB

/// The versioned schema. A shipped migration is frozen: change the schema by appending one.
enum StoreMigrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-foundation") { db in
            // Small named values: the admin token's hash, and later gateway-wide settings.
            try db.execute(
                sql: """
                    CREATE TABLE gateway_setting (
                        name TEXT PRIMARY KEY NOT NULL,
                        value TEXT NOT NULL
                    ) STRICT;

                    -- Callback-URL signing keys. The secret is sealed (AES-GCM) with the master key
                    -- file, so a copy of the database alone cannot mint URLs.
                    CREATE TABLE signing_key (
                        id TEXT PRIMARY KEY NOT NULL,
                        sealed_secret BLOB NOT NULL,
                        status TEXT NOT NULL CHECK (status IN ('primary', 'active', 'retired')),
                        created_at REAL NOT NULL,
                        retired_at REAL
                    ) STRICT;
                    CREATE UNIQUE INDEX signing_key_one_primary ON signing_key(status) WHERE status = 'primary';

                    -- Who owns a callback id: a trigger, a waiting action step, an approval link.
                    CREATE TABLE callback_registration (
                        id TEXT PRIMARY KEY NOT NULL,
                        owner_kind TEXT NOT NULL,
                        workflow TEXT,
                        run_id TEXT,
                        step TEXT,
                        scope TEXT NOT NULL,
                        state TEXT NOT NULL CHECK (state IN ('active', 'closed')),
                        created_at REAL NOT NULL,
                        closed_at REAL
                    ) STRICT;
                    CREATE INDEX callback_registration_owner ON callback_registration(workflow, run_id, step);
                    """
            )
        }
        return migrator
    }
}
