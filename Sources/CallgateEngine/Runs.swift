import CallgateCallbacks
import CallgateExpressions
import CallgateWorkflow
import Crypto
import Foundation
import GRDB

extension WorkflowEngine {
    /// The runs a trigger callback started (or found, for a repeated delivery).
    public struct StartedRun: Sendable {
        /// The runs started: one, several with `splitOn`, none when the trigger's `conditions`
        /// were not met.
        public var runIDs: [String]
        /// True when the dedupe key was seen before and no run was started.
        public var duplicate: Bool
        /// Signalled when the run's `Response` is stored or the run ends (nil when nobody waits).
        var responseWaiter: WakeSignal?

        /// The first run started, if any.
        public var runID: String? { runIDs.first }
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

    /// Starts runs of the workflow's live version from one trigger firing, committing them with
    /// their first actions queued: one run, or one per element with the trigger's `splitOn`, each
    /// only if the trigger's `conditions` hold. A `dedupeKey` seen in the last 24 hours starts
    /// nothing and gives back the runs it started then.
    public func startRun(workflow: String, triggerOutputs: ExpressionValue, dedupeKey: String? = nil) async throws -> StartedRun {
        try await startRun(workflow: workflow, triggerOutputs: triggerOutputs, dedupeKey: dedupeKey, waitsForResponse: false)
    }

    /// - Parameter keyKeptWithRuns: Honour `dedupeKey` as long as run history is kept rather than
    ///   24 hours (a plugin's own trigger, which fires a pending batch again after a restart).
    func startRun(
        workflow: String, triggerOutputs: ExpressionValue, dedupeKey: String?, waitsForResponse: Bool, keyKeptWithRuns: Bool = false
    ) async throws -> StartedRun {
        let found = try await store.read { transaction -> (enabled: Bool, version: Int)? in
            guard let row = try Row.fetchOne(transaction.db, sql: "SELECT enabled, current_version FROM workflow WHERE name = ?", arguments: [workflow]) else {
                return nil
            }
            return (row[0], row[1])
        }
        guard let found else { throw EngineError.notFound("no workflow '\(workflow)'") }
        guard found.enabled else { throw EngineError.conflict("workflow '\(workflow)' is disabled") }
        let graph = try await definitions.graph(workflow: workflow, version: found.version)
        let firings = try TriggerFiring.outputs(of: graph.definition, workflow: workflow, version: found.version, triggerOutputs: triggerOutputs)
        // Sorted, so the runs of one splitOn call list in the order of their elements (ids begin
        // with the start time, and these share it).
        let runIDs = firings.map { _ in Self.newRunID() }.sorted()
        // Only a single run can answer the caller (splitOn with a Response is refused at deploy).
        let waiter = waitsForResponse && graph.hasResponse && runIDs.count == 1 ? runIDs.first.map { responses.register(runID: $0) } : nil
        let steps = callbackSteps
        let sign = signer
        let outcome: (runIDs: [String], duplicate: Bool, effects: [TransitionEffect])
        do {
            outcome = try await store.transition { transaction in
                let now = transaction.now.timeIntervalSince1970
                if let dedupeKey {
                    if let earlier = try String.fetchOne(
                        transaction.db,
                        sql: "SELECT run_id FROM trigger_dedupe WHERE workflow = ? AND key = ? AND (created_at > ? OR kept_with_runs = 1)",
                        arguments: [workflow, dedupeKey, now - Self.dedupeWindow]
                    ) {
                        return (earlier.split(separator: ",").map(String.init), true, [])
                    }
                    try transaction.db.execute(
                        sql: "INSERT OR REPLACE INTO trigger_dedupe (workflow, key, run_id, created_at, kept_with_runs) VALUES (?, ?, ?, ?, ?)",
                        arguments: [workflow, dedupeKey, runIDs.joined(separator: ","), now, keyKeptWithRuns]
                    )
                }
                var effects: [TransitionEffect] = []
                for (runID, outputs) in zip(runIDs, firings) {
                    let run = RunRecord(
                        id: runID, workflow: workflow, version: found.version, status: .running, triggerName: graph.definition.trigger.name,
                        triggerOutputs: outputs, variables: [:], createdAt: transaction.now
                    )
                    try transaction.insert(run)
                    var mutation = try RunMutation(transaction: transaction, graph: graph, callbackSteps: steps, callbackURL: sign, run: run)
                    try mutation.startRun()
                    effects += mutation.effects
                }
                return (runIDs, false, effects)
            }
        } catch {
            if let runID = runIDs.first, waiter != nil { responses.remove(runID: runID) }
            throw error
        }
        apply(outcome.effects)
        if outcome.duplicate, let runID = runIDs.first, waiter != nil { responses.remove(runID: runID) }
        return StartedRun(runIDs: outcome.runIDs, duplicate: outcome.duplicate, responseWaiter: outcome.duplicate ? nil : waiter)
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
}
