import CallgateCallbacks
import CallgateExpressions
import Foundation
import GRDB

extension WorkflowEngine {
    /// Starts the runs of a trigger that a plugin fires itself (`fire_trigger`: EventHub's
    /// `OnEvents`), named by the subscription id its subscribe was given. The trigger's splitOn and
    /// conditions apply; a `dedupeKey` already seen for the workflow starts nothing and answers the
    /// first runs, so a plugin that fires again after a crash never starts a run twice. Its keys
    /// are kept as long as run history (`engine.run_retention_days`), not 24 hours: a batch left
    /// pending by a gateway that was down for days is still recognised.
    ///
    /// - Throws: ``EngineError`` `notFound` when the subscription ended (workflow disabled, deleted
    ///   or its trigger redeployed: stop delivering for it), `busy` when the workflow already has
    ///   ``Configuration/maxRunsInProgress`` runs in progress (try again later).
    public func fireTrigger(subscriptionID: String, outputs: ExpressionValue, dedupeKey: String?) async throws -> StartedRun {
        guard let registration = try await callbacks.registration(id: subscriptionID),
              registration.owner.kind == TriggerCallbackHandler.ownerKind, let workflow = registration.owner.workflow
        else { throw EngineError.notFound("no trigger subscription '\(subscriptionID)'") }
        guard registration.state == .active else {
            throw EngineError.notFound("the subscription of workflow '\(workflow)' ended (disabled, deleted or its trigger redeployed)")
        }
        let limit = configuration.maxRunsInProgress
        let inProgress = try await store.read { transaction in
            try Int.fetchOne(
                transaction.db,
                sql: "SELECT COUNT(*) FROM (SELECT 1 FROM run WHERE status IN ('Running', 'Waiting') AND workflow = ? LIMIT ?)",
                arguments: [workflow, limit]
            ) ?? 0
        }
        guard inProgress < limit else {
            throw EngineError.busy("workflow '\(workflow)' has \(limit) runs in progress; events wait until they end")
        }
        do {
            return try await startRun(workflow: workflow, triggerOutputs: outputs, dedupeKey: dedupeKey, waitsForResponse: false, keyKeptWithRuns: true)
        } catch let error as EngineError where error.kind == .conflict {
            // Disabled between the lookup and the start: the subscription is ending.
            throw EngineError.notFound(error.description)
        }
    }
}
