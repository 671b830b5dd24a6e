import CallgateCallbacks
import CallgateExpressions
import CallgateWorkflow
import Foundation

/// The life of a waiting step: subscribe, wait (as rows only), and end by callback, deadline or
/// cancel. The callback side is ``ActionCallbackHandler``.
struct CallbackStepExecution {
    let engine: WorkflowEngine

    /// The scope signed into a waiting step's URL.
    static let scope = "resume"

    /// Mints the step's URL and records it with the deadline (one transaction), subscribes, then
    /// records the subscription and starts waiting (a second one). A crash between the two
    /// subscribes again with the same URL after restart: subscribes are at-least-once, and the
    /// subscription id (`Callgate-Subscription-Id`) stays the same.
    func start(_ snapshot: ActionSnapshot) async throws {
        guard let step = engine.callbackSteps.step(for: snapshot.step.type) else { return }
        let key = snapshot.record.key
        let runID = snapshot.run.id
        var callbackID = snapshot.record.state["callbackId"]?.string
        if callbackID == nil {
            let id = CallbackSigner.newCallbackID()
            let timeout = snapshot.step.timeout.flatMap { ISODuration($0)?.seconds }
            let minted = try await engine.mutate(runID: runID, graph: snapshot.graph) { mutation -> Bool in
                guard var record = mutation.actions[key], record.status == .queued else { return false }
                try mutation.transaction.registerCallback(id: id, runID: runID, workflow: mutation.run.workflow, actionKey: key, scope: Self.scope)
                record.status = .running
                record.startedAt = mutation.now
                record.state["callbackId"] = .string(id)
                if let timeout {
                    let deadline = mutation.now.addingTimeInterval(timeout)
                    record.state["deadline"] = .float(deadline.timeIntervalSince1970)
                    try mutation.transaction.schedule(.timer, runID: runID, actionKey: key, at: deadline)
                }
                try mutation.save(record)
                try mutation.saveRun()
                return true
            }
            guard minted == true else {
                try await engine.store.transition { try $0.removeWork(snapshot.item.id) }
                return
            }
            callbackID = id
        }
        guard let callbackID else { return }
        guard let url = engine.signer(callbackID) else { throw EngineError.invalid("cannot sign the callback URL of '\(key)'") }

        var context = snapshot.context()
        context.callbackURL = url
        let request: CallbackStepRequest
        do {
            let inputs = try InputEvaluation.evaluate(snapshot.step.inputs, in: context, deferring: step.deferredInputs)
            request = CallbackStepRequest(
                workflow: snapshot.run.workflow, runID: runID, actionName: snapshot.step.name, actionKey: key,
                subscriptionID: callbackID, callbackURL: url, inputs: inputs
            )
        } catch {
            try await subscribed(snapshot, result: .failure(ActionFailure.template(snapshot.step.name, error)))
            return
        }
        do {
            let subscription = try await step.subscribe(request)
            try await subscribed(snapshot, result: .success((subscription, Redaction.storedInputs(request.inputs))))
        } catch {
            let error = error as? CallbackStepError ?? CallbackStepError("\(error)", retryable: false)
            var failure = ActionFailure.coded("SubscribeFailed", error.message).value
            if let detail = error.detail, case .object(var members) = failure {
                members["detail"] = detail
                failure = .object(members)
            }
            // A retryable failure is tried again per `inputs.subscribe.retryPolicy` (HttpWebhook),
            // else `inputs.retryPolicy` (SendApprovalEmail), else Logic Apps' default, on a durable
            // timer; the step keeps its callback URL.
            let attempts = (snapshot.record.state["subscribeAttempts"]?.integer ?? 0) + 1
            let declared = request.inputs["subscribe"]?["retryPolicy"] ?? request.inputs["retryPolicy"]
            let policy = (try? RetryPolicy.parse(declared).get()) ?? .standard
            if error.isRetryable, let delay = policy.delay(beforeRetry: attempts, retryAfter: nil) {
                try await subscribed(snapshot, result: .retry(at: Date().addingTimeInterval(delay), attempts: attempts, error: failure))
            } else {
                try await subscribed(snapshot, result: .failure(failure))
            }
        }
    }

    private enum SubscribeResult: Sendable {
        case success((subscription: ExpressionValue, inputs: ExpressionValue))
        case retry(at: Date, attempts: Int, error: ExpressionValue)
        case failure(ExpressionValue)
    }

    private func subscribed(_ snapshot: ActionSnapshot, result: SubscribeResult) async throws {
        let key = snapshot.record.key
        let itemID = snapshot.item.id
        let steps = engine.callbackSteps
        try await engine.mutate(runID: snapshot.run.id, graph: snapshot.graph) { mutation in
            try mutation.transaction.removeWork(itemID)
            guard var record = mutation.actions[key] else { return }
            switch result {
            case .success(let (subscription, inputs)):
                record.state["subscription"] = subscription
                record.state["retrySubscribeAt"] = nil
                record.error = nil
                record.inputs = inputs
                if subscription["completed"] == .bool(true), record.status == .running {
                    // An action that does its work in the subscribe and waits for nothing (SendEvent).
                    try mutation.endUnsubscribedStep(record, status: .succeeded, outputs: subscription["outputs"] ?? .object([:]))
                } else if record.status == .running {
                    record.status = .waiting
                    record.state["waitingSince"] = .float(mutation.now.timeIntervalSince1970)
                    try mutation.save(record)
                } else {
                    // The step ended while subscribing (a fast callback, a cancel): finish the
                    // unsubscribe it could not queue without the subscription.
                    try mutation.save(record)
                    if record.state["unsubscribeWhenSubscribed"] == .bool(true), let step = steps.step(for: record.type) {
                        try mutation.queueUnsubscribe(record, subscription: subscription, step: step)
                    }
                }
            case .retry(let at, let attempts, let error):
                guard !record.status.isTerminal else { return }
                record.state["subscribeAttempts"] = .integer(Int64(attempts))
                record.state["retrySubscribeAt"] = .float(at.timeIntervalSince1970)
                record.error = error
                try mutation.save(record)
                try mutation.transaction.schedule(.timer, runID: record.runID, actionKey: key, at: at)
                mutation.noteWorkQueued()
            case .failure(let error):
                guard !record.status.isTerminal else { return }
                try mutation.endUnsubscribedStep(record, status: .failed, error: error)
            }
            try mutation.saveRun()
        }
    }

    /// One of the step's timers fell due: its deadline (`TimedOut`), or a subscribe retry.
    func timerFired(_ snapshot: ActionSnapshot) async throws {
        let now = Date().timeIntervalSince1970
        let state = snapshot.record.state
        let deadlinePassed = state["deadline"].map { if case .float(let at) = $0 { at <= now + 0.001 } else { false } } ?? false
        if !deadlinePassed, snapshot.record.status == .running, state["subscription"] == nil,
           case .float(let retryAt)? = state["retrySubscribeAt"], retryAt <= now + 0.001 {
            try await start(snapshot)
            return
        }
        try await deadlineReached(snapshot)
    }

    /// The deadline timer fell due: `TimedOut` unless a heartbeat moved the deadline (then the
    /// timer for the new deadline is already scheduled).
    private func deadlineReached(_ snapshot: ActionSnapshot) async throws {
        let key = snapshot.record.key
        let itemID = snapshot.item.id
        try await engine.mutate(runID: snapshot.run.id, graph: snapshot.graph) { mutation in
            try mutation.transaction.removeWork(itemID)
            guard var record = mutation.actions[key], !record.status.isTerminal else { return }
            if case .float(let deadline)? = record.state["deadline"], deadline > mutation.now.timeIntervalSince1970 + 0.001 { return }
            guard record.state["deadline"] != nil else { return }
            try mutation.unsubscribeIfSubscribed(&record)
            try mutation.save(record)
            let limit = mutation.graph.steps[record.name]?.timeout ?? "its limit"
            try mutation.finish(key: key, status: .timedOut, error: ActionFailure.coded(
                "ActionTimedOut", "no callback arrived within \(limit)"
            ).value)
            try mutation.saveRun()
        }
    }
}
