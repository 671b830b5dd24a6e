import CallgateCallbacks
import CallgateExpressions
import CallgateWorkflow
import Crypto
import Foundation
import GRDB

/// A workflow's trigger, kept true to its deployed definition: a `Request` trigger's stable URL,
/// and the subscription of a trigger that subscribes (HttpWebhook, plugin triggers) — subscribed
/// on deploy and enable, unsubscribed through the outbox on disable, delete or a redeploy that
/// changes the trigger, after which the old URL answers `410`.
extension WorkflowEngine {
    /// The outbox operation of a trigger's unsubscribe (an action's is `unsubscribe`).
    static let triggerUnsubscribeOperation = "unsubscribe-trigger"

    /// Signs trigger URLs from their callback ids.
    var triggerSigner: @Sendable (String) -> String? {
        { [callbacks] id in
            try? callbacks.signer.sign(id: id, scope: TriggerCallbackHandler.scope).url(publicBaseURL: callbacks.publicBaseURL)
        }
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
            try transaction.registerTriggerCallback(id: candidate, workflow: workflow, trigger: trigger.name)
            try transaction.db.execute(
                sql: "INSERT INTO workflow_trigger (workflow, trigger, callback_id) VALUES (?, ?, ?)", arguments: [workflow, trigger.name, candidate]
            )
            return candidate
        }
        return try callbacks.signer.sign(id: id, scope: TriggerCallbackHandler.scope).url(publicBaseURL: callbacks.publicBaseURL)
    }

    /// Keeps a workflow's trigger true to it after it was deployed, enabled, disabled or deleted:
    /// a deleted workflow's trigger URLs answer `410` and its unfinished runs are cancelled; a
    /// Request trigger that was renamed or replaced loses its URL; a subscribing trigger is
    /// subscribed, kept, or unsubscribed (see ``reconcileSubscription(of:live:definition:)``).
    public func workflowChanged(_ workflow: String) async throws {
        let live = try await store.read { transaction -> LiveWorkflow? in
            try transaction.fetchRow(sql: "SELECT enabled, current_version FROM workflow WHERE name = ?", arguments: [workflow])
                .map { LiveWorkflow(enabled: $0[0], version: $0[1]) }
        }
        var definition: WorkflowDefinition?
        if let live { definition = try await definitions.graph(workflow: workflow, version: live.version).definition }
        let keep = definition?.trigger.type == "Request" ? definition?.trigger.name : nil
        try await store.transition { [keep] transaction in
            let rows = try Row.fetchAll(transaction.db, sql: "SELECT trigger, callback_id FROM workflow_trigger WHERE workflow = ?", arguments: [workflow])
            for row in rows where (row["trigger"] as String) != keep {
                try transaction.closeCallback(id: row["callback_id"])
                try transaction.db.execute(sql: "DELETE FROM workflow_trigger WHERE workflow = ? AND trigger = ?", arguments: [workflow, row["trigger"] as String])
            }
        }
        try await reconcileSubscription(of: workflow, live: live, definition: definition)
        guard live == nil else { return }
        let unfinished = try await store.read { transaction in
            try String.fetchAll(transaction.db, sql: "SELECT id FROM run WHERE workflow = ? AND status IN ('Running', 'Waiting')", arguments: [workflow])
        }
        for runID in unfinished {
            try await mutate(runID: runID) { mutation in
                try mutation.endRun(status: .cancelled, error: .object(["code": "WorkflowDeleted", "message": .string("the workflow '\(workflow)' was deleted")]))
            }
        }
    }

    struct LiveWorkflow: Sendable, Equatable {
        var enabled: Bool
        var version: Int
    }

    /// Makes the stored subscription match the workflow: none when it is deleted, disabled or its
    /// trigger does not subscribe; else one for its trigger. A subscription whose trigger
    /// definition and parameters are unchanged is kept across redeploys (and a failed one is
    /// retried at once); any other is ended — URL closed, unsubscribe queued — and a new one with
    /// a new URL is due at once.
    func reconcileSubscription(of workflow: String, live: LiveWorkflow?, definition: WorkflowDefinition?) async throws {
        var desired: TriggerSubscriptionRecord?
        if let live, live.enabled, let definition, definition.trigger.type != "Request" {
            let trigger = definition.trigger
            let stored: ExpressionValue = [
                "inputs": trigger.inputs, "parameters": .object(TriggerExpressionContext.parameterValues(of: definition)),
            ]
            let digest = SHA256.hash(data: Data("\(trigger.name)\n\(trigger.type)\n\(stored.jsonText)".utf8))
            desired = TriggerSubscriptionRecord(
                workflow: workflow, trigger: trigger.name, stepType: trigger.type, version: live.version,
                fingerprint: digest.map { String(format: "%02x", $0) }.joined(), definition: stored,
                callbackID: CallbackSigner.newCallbackID()
            )
        }
        let steps = callbackSteps
        let sign = triggerSigner
        let unsubscribed = try await store.transition { [desired] transaction -> Bool in
            let now = transaction.now
            // A concurrent deploy changed the workflow since it was read: that call reconciles.
            let current = try transaction.fetchRow(sql: "SELECT enabled, current_version FROM workflow WHERE name = ?", arguments: [workflow])
                .map { LiveWorkflow(enabled: $0[0], version: $0[1]) }
            guard current == live else { return false }
            let existing = try transaction.triggerSubscription(of: workflow)
            if var kept = existing, let desired, kept.fingerprint == desired.fingerprint {
                kept.version = desired.version
                if kept.state == .failed {
                    // Enable or redeploy retries at once, with the retry policy anew.
                    kept.state = .subscribing
                    kept.attempts = 0
                    kept.nextAttemptAt = now
                }
                try transaction.save(kept, releasingLease: false)
                return false
            }
            var unsubscribed = false
            if let existing {
                try transaction.closeCallback(id: existing.callbackID)
                try transaction.deleteTriggerSubscription(of: workflow)
                if existing.state == .subscribed, let subscription = existing.subscription {
                    try Self.queueUnsubscribe(existing, subscription: subscription, steps: steps, sign: sign, in: transaction)
                    unsubscribed = true
                }
            }
            if var desired {
                try transaction.registerTriggerCallback(id: desired.callbackID, workflow: workflow, trigger: desired.trigger)
                desired.nextAttemptAt = now
                try transaction.save(desired, releasingLease: true)
            }
            return unsubscribed
        }
        triggerSignal.signal()
        if unsubscribed { apply([.outboxQueued]) }
    }

    /// Puts a trigger's unsubscribe in the outbox, its inputs evaluated now with
    /// `subscribeResponse()` (and the old `listCallbackUrl()`) available.
    static func queueUnsubscribe(
        _ record: TriggerSubscriptionRecord, subscription: ExpressionValue, steps: CallbackStepRegistry,
        sign: @Sendable (String) -> String?, in transaction: RunTransaction
    ) throws {
        var context = record.expressionContext(callbackURL: sign(record.callbackID))
        context.subscribeResponse = subscription
        let inputs: ExpressionValue
        do {
            inputs = try InputEvaluation.evaluate(record.definition["inputs"] ?? .null, in: context)
        } catch {
            inputs = .object(["error": .string("unsubscribe inputs failed to evaluate: \(error)")])
        }
        let request = record.stepRequest(inputs: inputs, callbackURL: nil, subscription: subscription)
        try transaction.enqueueOutbox(
            runID: nil, actionKey: nil, workflow: record.workflow, stepType: record.stepType, operation: triggerUnsubscribeOperation,
            request: request.stored, maxAttempts: steps.trigger(for: record.stepType)?.unsubscribeAttempts ?? 8
        )
    }

    // MARK: Subscribe attempts

    /// Longest pause between subscribe attempts once the trigger's retry policy is spent.
    static let longestSubscribeBackoff: Double = 3600

    /// One subscribe attempt of a claimed trigger subscription. Success records the
    /// subscription; a retryable failure is tried again per `inputs.subscribe.retryPolicy`, then
    /// (state `failed`) every minute, doubling up to an hour; an error that cannot pass by itself
    /// (a 4xx, a bad expression) waits for enable or redeploy. A subscription that was replaced
    /// or removed while this attempt ran is unsubscribed at once.
    func attemptSubscription(_ record: TriggerSubscriptionRecord) async {
        let context = record.expressionContext(callbackURL: triggerSigner(record.callbackID))
        var policy = RetryPolicy.standard
        let outcome: Result<ExpressionValue, CallbackStepError>
        if let step = callbackSteps.trigger(for: record.stepType) {
            do {
                let inputs = try InputEvaluation.evaluate(record.definition["inputs"] ?? .null, in: context, deferring: step.deferredInputs)
                policy = (try? RetryPolicy.parse(inputs["subscribe"]?["retryPolicy"]).get()) ?? .standard
                outcome = .success(try await step.subscribe(record.stepRequest(inputs: inputs, callbackURL: context.callbackURL)))
            } catch let error as CallbackStepError {
                outcome = .failure(error)
            } catch {
                outcome = .failure(CallbackStepError("the trigger's inputs failed to evaluate: \(error)", retryable: false))
            }
        } else {
            outcome = .failure(CallbackStepError("no loaded plugin provides the trigger type '\(record.stepType)'", retryable: true))
        }

        let attempts = record.attempts + 1
        var state = TriggerSubscriptionRecord.State.subscribed
        var nextAttempt: Date?
        if case .failure(let error) = outcome {
            if error.isRetryable, let delay = policy.delay(beforeRetry: attempts, retryAfter: nil) {
                state = .subscribing
                nextAttempt = Date().addingTimeInterval(delay)
            } else {
                state = .failed
                let beyondPolicy = Double(max(0, attempts - 1 - policy.count))
                nextAttempt = error.isRetryable ? Date().addingTimeInterval(min(Self.longestSubscribeBackoff, 60 * pow(2, beyondPolicy))) : nil
            }
            logger.warning("trigger subscribe failed", metadata: [
                "workflow": "\(record.workflow)", "attempt": "\(attempts)", "error": "\(error.message)",
                "next": "\(nextAttempt.map { "in \(Int($0.timeIntervalSinceNow)) s" } ?? "on enable or redeploy")",
            ])
        } else {
            logger.info("trigger subscribed", metadata: ["workflow": "\(record.workflow)", "trigger": "\(record.trigger)"])
        }
        let steps = callbackSteps
        let sign = triggerSigner
        do {
            let unsubscribed = try await store.transition { [state, nextAttempt] transaction -> Bool in
                guard var current = try transaction.triggerSubscription(of: record.workflow), current.callbackID == record.callbackID else {
                    guard case .success(let subscription) = outcome else { return false }
                    try Self.queueUnsubscribe(record, subscription: subscription, steps: steps, sign: sign, in: transaction)
                    return true
                }
                current.state = state
                switch outcome {
                case .success(let subscription):
                    current.subscription = subscription
                    current.subscribedAt = transaction.now
                    current.attempts = 0
                    current.lastError = nil
                    current.nextAttemptAt = nil
                case .failure(let error):
                    current.attempts = attempts
                    current.lastError = error.message
                    current.nextAttemptAt = nextAttempt
                }
                try transaction.save(current, releasingLease: true)
                return false
            }
            if unsubscribed { apply([.outboxQueued]) }
        } catch {
            logger.error("recording a trigger subscribe failed: \(error)", metadata: ["workflow": "\(record.workflow)"])
        }
    }

    // MARK: Status

    /// A workflow's trigger subscription as `workflow show` reports it, with its recent
    /// unsubscribe calls; nil when the trigger does not subscribe and never did.
    public func triggerStatus(workflow: String) async throws -> TriggerSubscriptionStatus? {
        try await store.read { transaction -> TriggerSubscriptionStatus? in
            let record = try transaction.triggerSubscription(of: workflow)
            let unsubscribes = try transaction.fetchRows(
                sql: """
                    SELECT status, attempts, last_error, created_at, completed_at FROM run_outbox
                    WHERE workflow = ? AND run_id IS NULL ORDER BY created_at DESC, id DESC LIMIT 5
                    """,
                arguments: [workflow]
            ).map { row in
                TriggerSubscriptionStatus.Unsubscribe(
                    status: row["status"], attempts: row["attempts"], lastError: row["last_error"],
                    queuedAt: Date(timeIntervalSince1970: row["created_at"]),
                    completedAt: (row["completed_at"] as Double?).map(Date.init(timeIntervalSince1970:))
                )
            }
            guard record != nil || !unsubscribes.isEmpty else { return nil }
            return TriggerSubscriptionStatus(
                trigger: record?.trigger, type: record?.stepType, state: record?.state.rawValue ?? "unsubscribed",
                version: record?.version, attempts: record?.attempts ?? 0, subscribedAt: record?.subscribedAt,
                nextAttemptAt: record?.state == .subscribed ? nil : record?.nextAttemptAt, lastError: record?.lastError,
                subscription: record?.subscription, unsubscribes: unsubscribes
            )
        }
    }
}

/// A trigger subscription as operators see it (`workflow show`).
public struct TriggerSubscriptionStatus: Sendable, Codable, Equatable {
    /// One unsubscribe call of the trigger, through the outbox.
    public struct Unsubscribe: Sendable, Codable, Equatable {
        /// `pending`, `succeeded` or `failed`.
        public var status: String
        public var attempts: Int
        public var lastError: String?
        public var queuedAt: Date
        public var completedAt: Date?
    }

    public var trigger: String?
    public var type: String?
    /// `subscribing`, `subscribed`, `failed`, or `unsubscribed` (disabled or deleted).
    public var state: String
    public var version: Int?
    /// Failed attempts since the last success.
    public var attempts: Int
    public var subscribedAt: Date?
    public var nextAttemptAt: Date?
    public var lastError: String?
    /// What the subscribe returned (for HttpWebhook, the subscriber's answer).
    public var subscription: ExpressionValue?
    /// The most recent unsubscribe calls, newest first.
    public var unsubscribes: [Unsubscribe]
}

extension TriggerSubscriptionRecord {
    /// What the trigger's expressions see: its workflow, parameters and URL.
    func expressionContext(callbackURL: String?) -> TriggerExpressionContext {
        var context = TriggerExpressionContext(workflow: workflow, version: version, triggerName: trigger, parameters: parameters)
        context.callbackURL = callbackURL
        return context
    }

    /// The subscription as its step sees it: a trigger has no run, and its name stands for the
    /// action's.
    func stepRequest(inputs: ExpressionValue, callbackURL: String?, subscription: ExpressionValue? = nil) -> CallbackStepRequest {
        CallbackStepRequest(
            workflow: workflow, runID: "", actionName: trigger, actionKey: trigger, subscriptionID: callbackID,
            callbackURL: callbackURL, inputs: inputs, subscription: subscription
        )
    }
}
