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
        migrator.registerMigration("v2-plugins") { db in
            try db.execute(
                sql: """
                    -- Installed plugins. The library lives in the private plugin directory under
                    -- its id (bundled plugins are linked into the gateway instead); crashes counts
                    -- gateway deaths inside one of its hooks.
                    CREATE TABLE plugin (
                        id TEXT PRIMARY KEY NOT NULL,
                        version TEXT NOT NULL,
                        abi_major INTEGER NOT NULL,
                        abi_minor INTEGER NOT NULL,
                        library_sha256 TEXT NOT NULL,
                        manifest TEXT NOT NULL,
                        signed INTEGER NOT NULL,
                        installed_at REAL NOT NULL,
                        bundled INTEGER NOT NULL DEFAULT 0,
                        crashes INTEGER NOT NULL DEFAULT 0,
                        quarantined INTEGER NOT NULL DEFAULT 0
                    ) STRICT;

                    -- Per-plugin key-value state (host service state_get/put/delete).
                    CREATE TABLE plugin_state (
                        plugin_id TEXT NOT NULL,
                        key BLOB NOT NULL,
                        value BLOB NOT NULL,
                        PRIMARY KEY (plugin_id, key)
                    ) STRICT, WITHOUT ROWID;

                    -- Triggers fired by plugins (host service fire_trigger); the engine starts a
                    -- run for each. The dedupe key makes a repeated fire start nothing.
                    CREATE TABLE plugin_trigger_event (
                        run_id TEXT PRIMARY KEY NOT NULL,
                        plugin_id TEXT NOT NULL,
                        subscription TEXT NOT NULL,
                        dedupe_key BLOB,
                        request TEXT NOT NULL,
                        created_at REAL NOT NULL,
                        UNIQUE (plugin_id, subscription, dedupe_key)
                    ) STRICT;

                    -- Completions of operations a plugin answered PENDING for (complete_operation).
                    CREATE TABLE plugin_operation_result (
                        plugin_id TEXT NOT NULL,
                        operation_id TEXT NOT NULL,
                        status INTEGER NOT NULL,
                        outputs BLOB NOT NULL,
                        completed_at REAL NOT NULL,
                        PRIMARY KEY (plugin_id, operation_id)
                    ) STRICT;
                    """
            )
        }
        migrator.registerMigration("v3-workflows") { db in
            try db.execute(
                sql: """
                    -- A deployed workflow: its name, whether it is enabled, and which version is live.
                    CREATE TABLE workflow (
                        name TEXT PRIMARY KEY NOT NULL,
                        enabled INTEGER NOT NULL,
                        current_version INTEGER NOT NULL,
                        created_at REAL NOT NULL,
                        updated_at REAL NOT NULL
                    ) STRICT;

                    -- Every version ever deployed, kept after redeploys and deletes (runs refer to them).
                    CREATE TABLE workflow_version (
                        workflow TEXT NOT NULL,
                        version INTEGER NOT NULL,
                        definition TEXT NOT NULL,
                        deployed_at REAL NOT NULL,
                        PRIMARY KEY (workflow, version)
                    ) STRICT;
                    """
            )
        }
        migrator.registerMigration("v4-runs") { db in
            try db.execute(
                sql: """
                    -- One run of a workflow version. trigger_outputs, variables, outputs, error and
                    -- response are JSON text.
                    CREATE TABLE run (
                        id TEXT PRIMARY KEY NOT NULL,
                        workflow TEXT NOT NULL,
                        version INTEGER NOT NULL,
                        status TEXT NOT NULL,
                        trigger_name TEXT NOT NULL,
                        trigger_outputs TEXT NOT NULL,
                        variables TEXT NOT NULL DEFAULT '{}',
                        outputs TEXT,
                        error TEXT,
                        response TEXT,
                        created_at REAL NOT NULL,
                        ended_at REAL
                    ) STRICT;
                    CREATE INDEX run_by_workflow ON run(workflow, created_at);
                    CREATE INDEX run_by_status ON run(status, created_at);
                    CREATE INDEX run_by_created ON run(created_at);

                    -- One action of a run. key is the action's name prefixed by the Foreach
                    -- iterations it runs in ("Loop[2]/Send"); state is the engine's private JSON
                    -- (retry attempts, the waiting step's callback and subscription, deadlines).
                    CREATE TABLE run_action (
                        run_id TEXT NOT NULL,
                        key TEXT NOT NULL,
                        name TEXT NOT NULL,
                        type TEXT NOT NULL,
                        status TEXT NOT NULL,
                        started_at REAL,
                        ended_at REAL,
                        inputs TEXT,
                        outputs TEXT,
                        error TEXT,
                        state TEXT NOT NULL DEFAULT '{}',
                        PRIMARY KEY (run_id, key)
                    ) STRICT, WITHOUT ROWID;

                    -- Ready work and timers: an action to start, or a timer of an action (Wait, a
                    -- retry, a poll, a waiting step's deadline). Claimed work carries a lease.
                    CREATE TABLE run_work (
                        id INTEGER PRIMARY KEY,
                        run_id TEXT NOT NULL,
                        kind TEXT NOT NULL CHECK (kind IN ('start', 'timer')),
                        action_key TEXT NOT NULL,
                        due_at REAL NOT NULL,
                        lease_until REAL NOT NULL DEFAULT 0
                    ) STRICT;
                    CREATE INDEX run_work_by_due ON run_work(due_at);
                    CREATE INDEX run_work_by_run ON run_work(run_id, action_key);

                    -- Durable outbox of calls that must eventually be made (unsubscribes), retried
                    -- with backoff until they succeed or their attempts are spent.
                    CREATE TABLE run_outbox (
                        id INTEGER PRIMARY KEY,
                        run_id TEXT,
                        action_key TEXT,
                        workflow TEXT NOT NULL,
                        step_type TEXT NOT NULL,
                        operation TEXT NOT NULL,
                        request TEXT NOT NULL,
                        status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
                        attempts INTEGER NOT NULL DEFAULT 0,
                        max_attempts INTEGER NOT NULL,
                        next_attempt_at REAL NOT NULL,
                        lease_until REAL NOT NULL DEFAULT 0,
                        last_error TEXT,
                        created_at REAL NOT NULL,
                        completed_at REAL
                    ) STRICT;
                    CREATE INDEX run_outbox_by_due ON run_outbox(status, next_attempt_at);
                    CREATE INDEX run_outbox_by_run ON run_outbox(run_id);

                    -- Trigger callbacks seen with an Idempotency-Key or webhook-id (kept 24 hours).
                    CREATE TABLE trigger_dedupe (
                        workflow TEXT NOT NULL,
                        key TEXT NOT NULL,
                        run_id TEXT NOT NULL,
                        created_at REAL NOT NULL,
                        PRIMARY KEY (workflow, key)
                    ) STRICT, WITHOUT ROWID;

                    -- The callback id of each workflow's trigger, so its URL stays the same across
                    -- redeploys, key rotations and restarts (like Logic Apps' listCallbackUrl).
                    CREATE TABLE workflow_trigger (
                        workflow TEXT NOT NULL,
                        trigger TEXT NOT NULL,
                        callback_id TEXT NOT NULL,
                        PRIMARY KEY (workflow, trigger)
                    ) STRICT;
                    """
            )
        }
        migrator.registerMigration("v5-trigger-subscriptions") { db in
            try db.execute(
                sql: """
                    -- The subscription of a workflow whose trigger subscribes (HttpWebhook, plugin
                    -- triggers): one per workflow, replaced when the trigger changes. definition
                    -- holds the trigger's unevaluated inputs and the workflow's parameter values, so
                    -- the unsubscribe can be evaluated after the workflow itself is gone.
                    CREATE TABLE trigger_subscription (
                        workflow TEXT PRIMARY KEY NOT NULL,
                        trigger TEXT NOT NULL,
                        step_type TEXT NOT NULL,
                        version INTEGER NOT NULL,
                        fingerprint TEXT NOT NULL,
                        definition TEXT NOT NULL,
                        callback_id TEXT NOT NULL,
                        state TEXT NOT NULL CHECK (state IN ('subscribing', 'subscribed', 'failed')),
                        attempts INTEGER NOT NULL DEFAULT 0,
                        next_attempt_at REAL,
                        lease_until REAL NOT NULL DEFAULT 0,
                        subscription TEXT,
                        last_error TEXT,
                        subscribed_at REAL,
                        updated_at REAL NOT NULL
                    ) STRICT;
                    CREATE INDEX trigger_subscription_by_due ON trigger_subscription(next_attempt_at) WHERE next_attempt_at IS NOT NULL;
                    CREATE INDEX run_outbox_by_workflow ON run_outbox(workflow, created_at);

                    -- Work item ids are never reused: a worker still holding an item that a run's
                    -- end already deleted must not delete a newer item given the same rowid.
                    CREATE TABLE run_work_v5 (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        run_id TEXT NOT NULL,
                        kind TEXT NOT NULL CHECK (kind IN ('start', 'timer')),
                        action_key TEXT NOT NULL,
                        due_at REAL NOT NULL,
                        lease_until REAL NOT NULL DEFAULT 0
                    ) STRICT;
                    INSERT INTO run_work_v5 (id, run_id, kind, action_key, due_at, lease_until)
                        SELECT id, run_id, kind, action_key, due_at, lease_until FROM run_work;
                    DROP TABLE run_work;
                    ALTER TABLE run_work_v5 RENAME TO run_work;
                    CREATE INDEX run_work_by_due ON run_work(due_at);
                    CREATE INDEX run_work_by_run ON run_work(run_id, action_key);
                    """
            )
        }
        // fire_trigger starts runs through the engine (its dedupe is the engine's trigger_dedupe).
        migrator.registerMigration("v6-plugin-triggers-start-runs") { db in
            try db.execute(sql: "DROP TABLE plugin_trigger_event")
        }
        // The retention sweep finds ended runs and old dedupe keys by time. A plugin's trigger keys
        // (an event-hub batch) are kept as long as run history, not 24 hours, so a batch fired again
        // after any downtime shorter than that starts nothing.
        migrator.registerMigration("v7-retention") { db in
            try db.execute(
                sql: """
                    CREATE INDEX run_by_ended ON run(ended_at) WHERE ended_at IS NOT NULL;
                    ALTER TABLE trigger_dedupe ADD COLUMN kept_with_runs INTEGER NOT NULL DEFAULT 0;
                    CREATE INDEX trigger_dedupe_by_age ON trigger_dedupe(kept_with_runs, created_at);
                    """
            )
        }
        return migrator
    }
}
