import CallgateExpressions
import CallgateStore
import Foundation
import GRDB

/// The narrow interface between the engine and the database (SPEC §7): claim ready work, commit a
/// step transition (which schedules timers and records callbacks inside it), and read runs.
///
/// Single-node SQLite: a claim is a lease the process holds until it completes the work; the
/// leases of a previous process are released at start-up. A shared PostgreSQL store would renew
/// leases with a heartbeat instead and let them expire when a node dies.
public struct RunStore: Sendable {
    let database: GatewayDatabase

    /// How long a claim is held. Work is completed (and its row deleted) long before; an expired
    /// lease only matters after a crash, and start-up releases those at once.
    static let leaseSeconds: Double = 6 * 3600

    public init(database: GatewayDatabase) {
        self.database = database
    }

    /// Commits one step transition: `body` runs inside a group-commit transaction and its result
    /// is returned only after COMMIT.
    public func transition<T: Sendable>(_ body: @escaping @Sendable (RunTransaction) throws -> T) async throws -> T {
        try await database.write { db in try body(RunTransaction(db: db, now: Date())) }
    }

    /// Reads from a consistent snapshot.
    public func read<T: Sendable>(_ body: @escaping @Sendable (RunTransaction) throws -> T) async throws -> T {
        try await database.read { db in try body(RunTransaction(db: db, now: Date())) }
    }

    /// Releases the claims of a previous process, so its unfinished work runs again.
    public func releaseStaleClaims() async throws {
        try await database.write { db in
            try db.execute(sql: "UPDATE run_work SET lease_until = 0 WHERE lease_until > 0")
            try db.execute(sql: "UPDATE run_outbox SET lease_until = 0 WHERE lease_until > 0")
            try db.execute(sql: "UPDATE trigger_subscription SET lease_until = 0 WHERE lease_until > 0")
        }
    }

    /// Claims up to `limit` work items that are due and unclaimed.
    public func claimWork(limit: Int) async throws -> [WorkItem] {
        guard limit > 0 else { return [] }
        return try await database.write { db in
            let now = Date().timeIntervalSince1970
            let rows = try Row.fetchAll(
                db.cachedStatement(sql: """
                    UPDATE run_work SET lease_until = ?
                    WHERE id IN (SELECT id FROM run_work WHERE due_at <= ? AND lease_until <= ? ORDER BY due_at LIMIT ?)
                    RETURNING id, run_id, kind, action_key
                    """),
                arguments: [now + Self.leaseSeconds, now, now, limit]
            )
            return rows.compactMap { row in
                WorkItem.Kind(rawValue: row["kind"]).map { WorkItem(id: row["id"], runID: row["run_id"], kind: $0, actionKey: row["action_key"]) }
            }
        }
    }

    /// Gives a claimed item back (the gateway is stopping before it ran).
    public func release(_ item: WorkItem) async throws {
        try await database.write { db in
            try db.execute(sql: "UPDATE run_work SET lease_until = 0 WHERE id = ?", arguments: [item.id])
        }
    }

    /// The earliest instant an unclaimed item falls due, or nil when there is none.
    public func nextDueDate() async throws -> Date? {
        try await database.read { db in
            // ORDER BY … LIMIT 1 walks the due_at index; MIN() with a WHERE would scan every timer.
            try Double.fetchOne(db.cachedStatement(sql: "SELECT due_at FROM run_work WHERE lease_until = 0 ORDER BY due_at LIMIT 1"))
                .map { Date(timeIntervalSince1970: $0) }
        }
    }

    /// Claims up to `limit` outbox calls that are due.
    public func claimOutbox(limit: Int) async throws -> [OutboxEntry] {
        guard limit > 0 else { return [] }
        return try await database.write { db in
            let now = Date().timeIntervalSince1970
            let rows = try Row.fetchAll(
                db.cachedStatement(sql: """
                    UPDATE run_outbox SET lease_until = ?
                    WHERE id IN (SELECT id FROM run_outbox WHERE status = 'pending' AND next_attempt_at <= ? AND lease_until <= ?
                                 ORDER BY next_attempt_at LIMIT ?)
                    RETURNING id, run_id, action_key, workflow, step_type, operation, request, attempts, max_attempts
                    """),
                arguments: [now + Self.leaseSeconds, now, now, limit]
            )
            return rows.map { row in
                OutboxEntry(
                    id: row["id"], runID: row["run_id"], actionKey: row["action_key"], workflow: row["workflow"],
                    stepType: row["step_type"], operation: row["operation"],
                    request: ExpressionValue(storedJSON: row["request"]) ?? .null,
                    attempts: row["attempts"], maxAttempts: row["max_attempts"]
                )
            }
        }
    }

    /// Records an outbox attempt: success ends the entry; failure retries at `retryAt`, or ends
    /// it `failed` when `retryAt` is nil (attempts spent, or an error that will never pass).
    public func recordOutboxAttempt(_ entry: OutboxEntry, error: String?, retryAt: Date?) async throws {
        try await database.write { db in
            let now = Date().timeIntervalSince1970
            let status = error == nil ? "succeeded" : (retryAt == nil ? "failed" : "pending")
            try db.execute(
                sql: """
                    UPDATE run_outbox SET status = ?, attempts = attempts + 1, last_error = ?, lease_until = 0,
                        next_attempt_at = ?, completed_at = ? WHERE id = ?
                    """,
                arguments: [status, error, (retryAt ?? Date()).timeIntervalSince1970, status == "pending" ? nil : now, entry.id]
            )
        }
    }

    /// The earliest instant a pending outbox call falls due, or nil.
    public func nextOutboxDate() async throws -> Date? {
        try await database.read { db in
            try Double.fetchOne(
                db.cachedStatement(sql: "SELECT next_attempt_at FROM run_outbox WHERE status = 'pending' AND lease_until = 0 ORDER BY next_attempt_at LIMIT 1")
            )
                .map { Date(timeIntervalSince1970: $0) }
        }
    }
}
