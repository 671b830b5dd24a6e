import CallgateExpressions
import Foundation
import GRDB

/// The subscription of a workflow whose trigger subscribes (HttpWebhook, plugin triggers).
public struct TriggerSubscriptionRecord: Sendable, Equatable {
    public enum State: String, Sendable {
        /// Not yet subscribed; an attempt is due at `nextAttemptAt` (or in flight).
        case subscribing
        case subscribed
        /// The subscribe failed past its retry policy; retried later with a longer backoff
        /// (`nextAttemptAt`), or only on enable/redeploy when the error cannot pass by itself.
        case failed
    }

    public var workflow: String
    public var trigger: String
    public var stepType: String
    /// The workflow version whose trigger this follows.
    public var version: Int
    /// Of the trigger's definition and parameters: a redeploy with the same keeps the subscription.
    public var fingerprint: String
    /// `{"inputs": <unevaluated trigger inputs>, "parameters": {...}}`.
    public var definition: ExpressionValue
    public var callbackID: String
    public var state: State
    /// Failed attempts since the last success.
    public var attempts: Int
    public var nextAttemptAt: Date?
    /// What the subscribe returned (for HttpWebhook, the subscriber's `{statusCode, headers, body}`).
    public var subscription: ExpressionValue?
    public var lastError: String?
    public var subscribedAt: Date?

    var parameters: [String: ExpressionValue] {
        if case .object(let members)? = definition["parameters"] { return members }
        return [:]
    }

    static let columns = """
        workflow, trigger, step_type, version, fingerprint, definition, callback_id, state, attempts, next_attempt_at,
        subscription, last_error, subscribed_at
        """

    init(
        workflow: String, trigger: String, stepType: String, version: Int, fingerprint: String, definition: ExpressionValue,
        callbackID: String, state: State = .subscribing, attempts: Int = 0, nextAttemptAt: Date? = nil
    ) {
        self.workflow = workflow
        self.trigger = trigger
        self.stepType = stepType
        self.version = version
        self.fingerprint = fingerprint
        self.definition = definition
        self.callbackID = callbackID
        self.state = state
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
    }

    init(row: Row) {
        self.init(
            workflow: row["workflow"], trigger: row["trigger"], stepType: row["step_type"], version: row["version"],
            fingerprint: row["fingerprint"], definition: ExpressionValue(storedJSON: row["definition"]) ?? .null,
            callbackID: row["callback_id"], state: State(rawValue: row["state"]) ?? .failed, attempts: row["attempts"],
            nextAttemptAt: (row["next_attempt_at"] as Double?).map(Date.init(timeIntervalSince1970:))
        )
        subscription = ExpressionValue(storedJSON: row["subscription"])
        lastError = row["last_error"]
        subscribedAt = (row["subscribed_at"] as Double?).map(Date.init(timeIntervalSince1970:))
    }
}

extension RunTransaction {
    /// The trigger subscription of `workflow`, if its trigger subscribes.
    public func triggerSubscription(of workflow: String) throws -> TriggerSubscriptionRecord? {
        try fetchRow(sql: "SELECT \(TriggerSubscriptionRecord.columns) FROM trigger_subscription WHERE workflow = ?", arguments: [workflow])
            .map(TriggerSubscriptionRecord.init(row:))
    }

    /// Inserts or updates the subscription row of its workflow. An attempt in flight keeps its
    /// claim unless `releasingLease` (the attempt recording its outcome).
    public func save(_ record: TriggerSubscriptionRecord, releasingLease: Bool) throws {
        try execute(
            sql: """
                INSERT INTO trigger_subscription (\(TriggerSubscriptionRecord.columns), lease_until, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)
                ON CONFLICT (workflow) DO UPDATE SET
                    trigger = excluded.trigger, step_type = excluded.step_type, version = excluded.version,
                    fingerprint = excluded.fingerprint, definition = excluded.definition, callback_id = excluded.callback_id,
                    state = excluded.state, attempts = excluded.attempts, next_attempt_at = excluded.next_attempt_at,
                    subscription = excluded.subscription, last_error = excluded.last_error, subscribed_at = excluded.subscribed_at,
                    updated_at = excluded.updated_at, lease_until = CASE WHEN ? THEN 0 ELSE lease_until END
                """,
            arguments: [
                record.workflow, record.trigger, record.stepType, record.version, record.fingerprint, record.definition.jsonText,
                record.callbackID, record.state.rawValue, record.attempts, record.nextAttemptAt?.timeIntervalSince1970,
                record.subscription?.jsonText, record.lastError, record.subscribedAt?.timeIntervalSince1970, nowSeconds, releasingLease,
            ]
        )
    }

    public func deleteTriggerSubscription(of workflow: String) throws {
        try execute(sql: "DELETE FROM trigger_subscription WHERE workflow = ?", arguments: [workflow])
    }
}

extension RunStore {
    /// Claims up to `limit` trigger subscriptions whose subscribe attempt is due.
    public func claimTriggerSubscriptions(limit: Int) async throws -> [TriggerSubscriptionRecord] {
        guard limit > 0 else { return [] }
        return try await database.write { db in
            let now = Date().timeIntervalSince1970
            return try Row.fetchAll(
                db.cachedStatement(sql: """
                    UPDATE trigger_subscription SET lease_until = ?
                    WHERE workflow IN (SELECT workflow FROM trigger_subscription
                                       WHERE next_attempt_at <= ? AND lease_until <= ? ORDER BY next_attempt_at LIMIT ?)
                    RETURNING \(TriggerSubscriptionRecord.columns)
                    """),
                arguments: [now + Self.leaseSeconds, now, now, limit]
            ).map(TriggerSubscriptionRecord.init(row:))
        }
    }

    /// The earliest instant an unclaimed subscribe attempt falls due, or nil.
    public func nextTriggerSubscriptionDate() async throws -> Date? {
        try await database.read { db in
            try Double.fetchOne(db.cachedStatement(sql: """
                SELECT next_attempt_at FROM trigger_subscription
                WHERE next_attempt_at IS NOT NULL AND lease_until = 0 ORDER BY next_attempt_at LIMIT 1
                """))
                .map { Date(timeIntervalSince1970: $0) }
        }
    }
}
