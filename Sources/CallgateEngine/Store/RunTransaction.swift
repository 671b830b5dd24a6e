import CallgateCallbacks
import CallgateExpressions
import Foundation
import GRDB

/// The engine's view of one write transaction: every step transition is made of these typed
/// operations, never of SQL written elsewhere, so another store (PostgreSQL, several nodes) only
/// has to provide this type and ``RunStore``.
public struct RunTransaction {
    let db: Database
    /// The instant the transaction acts at (timers, timestamps).
    public let now: Date

    init(db: Database, now: Date) {
        self.db = db
        self.now = now
    }

    var nowSeconds: Double { now.timeIntervalSince1970 }

    // The engine runs the same few statements all the time: compile each once per connection.

    func execute(sql: String, arguments: StatementArguments = []) throws {
        try db.cachedStatement(sql: sql).execute(arguments: arguments)
    }

    func fetchRow(sql: String, arguments: StatementArguments = []) throws -> Row? {
        try Row.fetchOne(db.cachedStatement(sql: sql), arguments: arguments)
    }

    func fetchRows(sql: String, arguments: StatementArguments = []) throws -> [Row] {
        try Row.fetchAll(db.cachedStatement(sql: sql), arguments: arguments)
    }

    // MARK: Runs

    public func run(_ id: String) throws -> RunRecord? {
        try fetchRow(sql: "SELECT * FROM run WHERE id = ?", arguments: [id]).map(Self.runRecord)
    }

    static func runRecord(_ row: Row) -> RunRecord {
        let ended: Double? = row["ended_at"]
        let variables = ExpressionValue(storedJSON: row["variables"])
        var record = RunRecord(
            id: row["id"], workflow: row["workflow"], version: row["version"],
            status: RunStatus(rawValue: row["status"]) ?? .failed,
            triggerName: row["trigger_name"],
            triggerOutputs: ExpressionValue(storedJSON: row["trigger_outputs"]) ?? .null,
            variables: variables?["values"]?.members ?? [:],
            outputs: ExpressionValue(storedJSON: row["outputs"]),
            error: ExpressionValue(storedJSON: row["error"]),
            response: ExpressionValue(storedJSON: row["response"]),
            createdAt: Date(timeIntervalSince1970: row["created_at"]),
            endedAt: ended.map { Date(timeIntervalSince1970: $0) }
        )
        record.variableTypes = (variables?["types"]?.members ?? [:]).compactMapValues(\.string)
        return record
    }

    /// Variables and their types, as one JSON column.
    static func storedVariables(_ run: RunRecord) -> String {
        ExpressionValue.object(["values": .object(run.variables), "types": .object(run.variableTypes.mapValues { .string($0) })]).jsonText
    }

    public func insert(_ run: RunRecord) throws {
        try execute(
            sql: """
                INSERT INTO run (id, workflow, version, status, trigger_name, trigger_outputs, variables, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                run.id, run.workflow, run.version, run.status.rawValue, run.triggerName, run.triggerOutputs.jsonText,
                Self.storedVariables(run), run.createdAt.timeIntervalSince1970,
            ]
        )
    }

    /// Saves the run's mutable fields (status, variables, outputs, error, response, end).
    public func update(_ run: RunRecord) throws {
        try execute(
            sql: "UPDATE run SET status = ?, variables = ?, outputs = ?, error = ?, response = ?, ended_at = ? WHERE id = ?",
            arguments: [
                run.status.rawValue, Self.storedVariables(run), run.outputs?.jsonText, run.error?.jsonText,
                run.response?.jsonText, run.endedAt?.timeIntervalSince1970, run.id,
            ]
        )
    }

    // MARK: Actions

    public func actions(of runID: String) throws -> [String: ActionRecord] {
        let rows = try fetchRows(sql: "SELECT * FROM run_action WHERE run_id = ?", arguments: [runID])
        var records: [String: ActionRecord] = [:]
        for row in rows {
            let record = Self.actionRecord(row)
            records[record.key] = record
        }
        return records
    }

    public func action(_ runID: String, key: String) throws -> ActionRecord? {
        try fetchRow(sql: "SELECT * FROM run_action WHERE run_id = ? AND key = ?", arguments: [runID, key]).map(Self.actionRecord)
    }

    static func actionRecord(_ row: Row) -> ActionRecord {
        var record = ActionRecord(
            runID: row["run_id"], key: row["key"], name: row["name"], type: row["type"],
            status: ActionStatus(rawValue: row["status"]) ?? .failed,
            state: ExpressionValue(storedJSON: row["state"])?.members ?? [:]
        )
        let started: Double? = row["started_at"]
        let ended: Double? = row["ended_at"]
        record.startedAt = started.map { Date(timeIntervalSince1970: $0) }
        record.endedAt = ended.map { Date(timeIntervalSince1970: $0) }
        record.inputs = ExpressionValue(storedJSON: row["inputs"])
        record.outputs = ExpressionValue(storedJSON: row["outputs"])
        record.error = ExpressionValue(storedJSON: row["error"])
        return record
    }

    /// Inserts or replaces an action's row.
    public func save(_ action: ActionRecord) throws {
        try execute(
            sql: """
                INSERT OR REPLACE INTO run_action (run_id, key, name, type, status, started_at, ended_at, inputs, outputs, error, state)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                action.runID, action.key, action.name, action.type, action.status.rawValue,
                action.startedAt?.timeIntervalSince1970, action.endedAt?.timeIntervalSince1970,
                action.inputs?.jsonText, action.outputs?.jsonText, action.error?.jsonText, ExpressionValue.object(action.state).jsonText,
            ]
        )
    }

    // MARK: Work and timers

    /// Queues work for the worker pool, due now or at `dueAt` (a timer).
    public func schedule(_ kind: WorkItem.Kind, runID: String, actionKey: String, at dueAt: Date? = nil) throws {
        try execute(
            sql: "INSERT INTO run_work (run_id, kind, action_key, due_at) VALUES (?, ?, ?, ?)",
            arguments: [runID, kind.rawValue, actionKey, (dueAt ?? now).timeIntervalSince1970]
        )
    }

    /// Removes one work item (the one being completed).
    public func removeWork(_ id: Int64) throws {
        try execute(sql: "DELETE FROM run_work WHERE id = ?", arguments: [id])
    }

    /// Removes an action's timers (a heartbeat moves the deadline; a resume ends it).
    public func removeTimers(runID: String, actionKey: String) throws {
        try execute(sql: "DELETE FROM run_work WHERE run_id = ? AND action_key = ? AND kind = 'timer'", arguments: [runID, actionKey])
    }

    /// Removes every pending work item and timer of a run (it ended).
    public func removeWork(ofRun runID: String) throws {
        try execute(sql: "DELETE FROM run_work WHERE run_id = ?", arguments: [runID])
    }

    // MARK: Outbox

    /// Queues a call in the durable outbox, to be made after this transaction commits.
    public func enqueueOutbox(
        runID: String?, actionKey: String?, workflow: String, stepType: String, operation: String,
        request: ExpressionValue, maxAttempts: Int
    ) throws {
        try execute(
            sql: """
                INSERT INTO run_outbox (run_id, action_key, workflow, step_type, operation, request, status, max_attempts, next_attempt_at, created_at)
                VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)
                """,
            arguments: [runID, actionKey, workflow, stepType, operation, request.jsonText, maxAttempts, nowSeconds, nowSeconds]
        )
    }

    // MARK: Callbacks

    /// Registers a callback id owned by a run's action.
    public func registerCallback(id: String, runID: String, workflow: String, actionKey: String, scope: String) throws {
        try CallbackRegistry.insert(id: id, owner: CallbackOwner(kind: ActionCallbackHandler.ownerKind, workflow: workflow, runID: runID, step: actionKey), scope: scope, in: db)
    }

    /// Registers a callback id owned by a workflow's trigger.
    public func registerTriggerCallback(id: String, workflow: String, trigger: String) throws {
        try CallbackRegistry.insert(
            id: id, owner: CallbackOwner(kind: TriggerCallbackHandler.ownerKind, workflow: workflow, step: trigger),
            scope: TriggerCallbackHandler.scope, in: db
        )
    }

    /// Closes one callback id: its URL answers `410` from now on.
    public func closeCallback(id: String) throws {
        try CallbackRegistry.close(id: id, in: db)
    }
}
