import CallgateCallbacks
import CallgateExpressions
import CallgateWorkflow
import Crypto
import Foundation
import GRDB

extension WorkflowEngine {
    /// A run a trigger started (or found, for a repeated delivery).
    public struct StartedRun: Sendable {
        public var runID: String
        /// True when the dedupe key was seen before and no run was started.
        public var duplicate: Bool
        /// Signalled when the run's `Response` is stored or the run ends (nil when nobody waits).
        var responseWaiter: WakeSignal?
    }

    /// How long a trigger's dedupe key is remembered.
    static let dedupeWindow: Double = 24 * 3600

    /// A new run id: 12 hex digits of milliseconds then 20 random ones, so ids sort by start.
    static func newRunID(now: Date = Date()) -> String {
        let milliseconds = UInt64(now.timeIntervalSince1970 * 1000)
        var random = SystemRandomNumberGenerator()
        let tail = (0..<10).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &random)) }.joined()
        return String(format: "%012llx", milliseconds) + tail
    }

    /// Starts a run of the workflow's live version with the given trigger outputs, committing it
    /// with its first actions queued. A `dedupeKey` seen in the last 24 hours starts nothing.
    public func startRun(workflow: String, triggerOutputs: ExpressionValue, dedupeKey: String? = nil) async throws -> StartedRun {
        try await startRun(workflow: workflow, triggerOutputs: triggerOutputs, dedupeKey: dedupeKey, waitsForResponse: false)
    }

    func startRun(workflow: String, triggerOutputs: ExpressionValue, dedupeKey: String?, waitsForResponse: Bool) async throws -> StartedRun {
        let found = try await store.read { transaction -> (enabled: Bool, version: Int)? in
            guard let row = try Row.fetchOne(transaction.db, sql: "SELECT enabled, current_version FROM workflow WHERE name = ?", arguments: [workflow]) else {
                return nil
            }
            return (row[0], row[1])
        }
        guard let found else { throw EngineError.notFound("no workflow '\(workflow)'") }
        guard found.enabled else { throw EngineError.conflict("workflow '\(workflow)' is disabled") }
        let graph = try await definitions.graph(workflow: workflow, version: found.version)
        let runID = Self.newRunID()
        let waiter = waitsForResponse && graph.hasResponse ? responses.register(runID: runID) : nil
        let steps = callbackSteps
        let sign = signer
        let outcome: (runID: String, duplicate: Bool, effects: [TransitionEffect])
        do {
            outcome = try await store.transition { transaction in
                let now = transaction.now.timeIntervalSince1970
                if let dedupeKey {
                    if let earlier = try String.fetchOne(
                        transaction.db, sql: "SELECT run_id FROM trigger_dedupe WHERE workflow = ? AND key = ? AND created_at > ?",
                        arguments: [workflow, dedupeKey, now - Self.dedupeWindow]
                    ) {
                        return (earlier, true, [])
                    }
                    try transaction.db.execute(
                        sql: "INSERT OR REPLACE INTO trigger_dedupe (workflow, key, run_id, created_at) VALUES (?, ?, ?, ?)",
                        arguments: [workflow, dedupeKey, runID, now]
                    )
                }
                let run = RunRecord(
                    id: runID, workflow: workflow, version: found.version, status: .running, triggerName: graph.definition.trigger.name,
                    triggerOutputs: triggerOutputs, variables: [:], createdAt: transaction.now
                )
                try transaction.insert(run)
                var mutation = try RunMutation(transaction: transaction, graph: graph, callbackSteps: steps, callbackURL: sign, run: run)
                try mutation.startRun()
                return (runID, false, mutation.effects)
            }
        } catch {
            if waiter != nil { responses.remove(runID: runID) }
            throw error
        }
        apply(outcome.effects)
        if outcome.duplicate, waiter != nil { responses.remove(runID: runID) }
        return StartedRun(runID: outcome.runID, duplicate: outcome.duplicate, responseWaiter: outcome.duplicate ? nil : waiter)
    }

    /// Cancels a run: waiting steps end `Cancelled` and are unsubscribed through the outbox, and
    /// the run's callback URLs answer `410`.
    public func cancel(runID: String) async throws -> RunSummary {
        let ended = try await mutate(runID: runID) { mutation -> Bool in
            guard !mutation.run.status.isTerminal else { return false }
            try mutation.endRun(status: .cancelled, error: .object(["code": "Cancelled", "message": "the run was cancelled"]))
            return true
        }
        guard let ended else { throw EngineError.notFound("no run '\(runID)'") }
        guard ended else { throw EngineError.conflict("run '\(runID)' has already ended") }
        guard let summary = try await runSummary(runID) else { throw EngineError.notFound("no run '\(runID)'") }
        return summary
    }

    /// The signed URL of a workflow's `Request` trigger (like Logic Apps' listCallbackUrl). The
    /// callback id is made once and kept, so the URL stays the same across redeploys and restarts.
    public func triggerCallbackURL(workflow: String, trigger requested: String?) async throws -> String {
        let found = try await store.read { transaction -> Int? in
            try Int.fetchOne(transaction.db, sql: "SELECT current_version FROM workflow WHERE name = ?", arguments: [workflow])
        }
        guard let version = found else { throw EngineError.notFound("no workflow '\(workflow)'") }
        let trigger = try await definitions.graph(workflow: workflow, version: version).definition.trigger
        if let requested, requested != trigger.name { throw EngineError.notFound("workflow '\(workflow)' has no trigger '\(requested)'; its trigger is '\(trigger.name)'") }
        guard trigger.type == "Request" else {
            throw EngineError.invalid("the trigger '\(trigger.name)' is of type \(trigger.type); only Request triggers have a URL to list (webhook triggers get theirs when they subscribe)")
        }
        let candidate = CallbackSigner.newCallbackID()
        let id = try await store.transition { transaction -> String in
            if let existing = try String.fetchOne(
                transaction.db, sql: "SELECT callback_id FROM workflow_trigger WHERE workflow = ? AND trigger = ?", arguments: [workflow, trigger.name]
            ) {
                return existing
            }
            try CallbackRegistry.insert(
                id: candidate, owner: CallbackOwner(kind: TriggerCallbackHandler.ownerKind, workflow: workflow, step: trigger.name),
                scope: TriggerCallbackHandler.scope, in: transaction.db
            )
            try transaction.db.execute(
                sql: "INSERT INTO workflow_trigger (workflow, trigger, callback_id) VALUES (?, ?, ?)", arguments: [workflow, trigger.name, candidate]
            )
            return candidate
        }
        return try callbacks.signer.sign(id: id, scope: TriggerCallbackHandler.scope).url(publicBaseURL: callbacks.publicBaseURL)
    }

    /// Keeps trigger URLs true to a workflow after it changed: a deleted workflow's trigger URLs
    /// answer `410` and its unfinished runs are cancelled; a trigger that was renamed or is no
    /// longer a Request trigger loses its URL.
    public func workflowChanged(_ workflow: String) async throws {
        let current = try await store.read { transaction -> Int? in
            try Int.fetchOne(transaction.db, sql: "SELECT current_version FROM workflow WHERE name = ?", arguments: [workflow])
        }
        var keep: String?
        if let current {
            let trigger = try await definitions.graph(workflow: workflow, version: current).definition.trigger
            if trigger.type == "Request" { keep = trigger.name }
        }
        try await store.transition { [keep] transaction in
            let rows = try Row.fetchAll(transaction.db, sql: "SELECT trigger, callback_id FROM workflow_trigger WHERE workflow = ?", arguments: [workflow])
            for row in rows where (row["trigger"] as String) != keep {
                try transaction.closeCallback(id: row["callback_id"])
                try transaction.db.execute(sql: "DELETE FROM workflow_trigger WHERE workflow = ? AND trigger = ?", arguments: [workflow, row["trigger"] as String])
            }
        }
        guard current == nil else { return }
        let unfinished = try await store.read { transaction in
            try String.fetchAll(transaction.db, sql: "SELECT id FROM run WHERE workflow = ? AND status IN ('Running', 'Waiting')", arguments: [workflow])
        }
        for runID in unfinished {
            try await mutate(runID: runID) { mutation in
                try mutation.endRun(status: .cancelled, error: .object(["code": "WorkflowDeleted", "message": .string("the workflow '\(workflow)' was deleted")]))
            }
        }
    }
}
