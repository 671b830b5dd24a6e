import AsyncHTTPClient
import CallgateExpressions
import CallgateOutbound
import CallgateWorkflow
import Foundation
import NIOCore
import NIOHTTP1

/// The `Http` action: one outbound request with the Logic Apps retry policy and the asynchronous
/// 202 + `Location` polling pattern. Retries and polls are durable timers, so a restart neither
/// forgets nor repeats more than the attempt in flight (which carries the same
/// `Callgate-Attempt-Id` when it is sent again).
struct HttpAction {
    let engine: WorkflowEngine

    /// Longest wait for one response.
    static let requestTimeout: TimeAmount = .seconds(100)
    /// Poll interval when a 202 has no `Retry-After`.
    static let defaultPollSeconds: Double = 5
    /// How long a 202 operation may take when the action sets no `limit.timeout`.
    static let defaultAsyncTimeout: Double = 86_400

    /// What the attempt led to.
    private enum Decision: Sendable {
        case retry(at: Date, attempts: Int, lastOutputs: ExpressionValue?)
        case poll(url: String, at: Date, attempts: Int, since: Double)
        case finished(ActionStatus, outputs: ExpressionValue?, error: ExpressionValue?)
    }

    func start(_ snapshot: ActionSnapshot) async throws {
        let key = snapshot.record.key
        let inputs: ExpressionValue
        do {
            inputs = try InputEvaluation.evaluate(snapshot.step.inputs, in: snapshot.context())
        } catch {
            try await finish(snapshot, .finished(.failed, outputs: nil, error: ActionFailure.template(snapshot.step.name, error)))
            return
        }
        if snapshot.record.status == .queued {
            try await engine.mutate(runID: snapshot.run.id, graph: snapshot.graph) { mutation in
                guard var record = mutation.actions[key], record.status == .queued else { return }
                record.status = .running
                record.startedAt = mutation.now
                record.inputs = Redaction.storedInputs(inputs)
                try mutation.save(record)
                try mutation.saveRun()
            }
        }
        try await finish(snapshot, await attempt(snapshot, inputs: inputs))
    }

    private func attempt(_ snapshot: ActionSnapshot, inputs: ExpressionValue) async -> Decision {
        let state = snapshot.record.state
        let attempts = state["attempts"]?.integer ?? 0
        let policy: RetryPolicy
        switch RetryPolicy.parse(inputs["retryPolicy"]) {
        case .success(let parsed): policy = parsed
        case .failure(let problem): return .finished(.failed, outputs: nil, error: ActionFailure.coded("InvalidRetryPolicy", problem.message).value)
        }
        let pollURL = state["pollUrl"]?.string
        var request: HTTPClientRequest
        let authentication: OutboundAuthentication?
        do {
            if let pollURL { request = OutboundRequest.poll(url: pollURL) } else { request = try OutboundRequest.make(inputs) }
            authentication = try OutboundRequest.authentication(inputs["authentication"])
        } catch {
            return .finished(.failed, outputs: nil, error: ActionFailure.coded("InvalidRequest", error.message).value)
        }
        do {
            try await engine.authenticator.apply(authentication, to: &request)
        } catch {
            // A token endpoint that is down is retried like the service itself would be.
            if error.isRetryable, let delay = policy.delay(beforeRetry: attempts + 1, retryAfter: nil), pollURL == nil {
                return .retry(at: Date().addingTimeInterval(delay), attempts: attempts + 1, lastOutputs: nil)
            }
            return .finished(.failed, outputs: nil, error: ActionFailure.coded("AuthenticationFailed", error.message).value)
        }
        let attemptID = "\(snapshot.run.id):\(snapshot.record.key):\(attempts + 1)"
        request.headers.replaceOrAdd(name: "Callgate-Attempt-Id", value: attemptID)
        request.headers.replaceOrAdd(name: "Callgate-Workflow", value: snapshot.run.workflow)
        request.headers.replaceOrAdd(name: "Callgate-Run-Id", value: snapshot.run.id)

        let response: OutboundResponse
        do {
            response = try await OutboundRequest.send(request, client: engine.httpClient, egress: engine.egress, timeout: Self.requestTimeout)
        } catch {
            if error.isRefusal {
                return .finished(.failed, outputs: nil, error: ActionFailure.coded("EgressDenied", error.message).value)
            }
            if let delay = policy.delay(beforeRetry: attempts + 1, retryAfter: nil), pollURL == nil {
                return .retry(at: Date().addingTimeInterval(delay), attempts: attempts + 1, lastOutputs: nil)
            }
            return .finished(.failed, outputs: nil, error: ActionFailure.coded("RequestFailed", error.message).value)
        }
        let outputs = response.outputs
        if response.status == 202, let location = response.header("Location"), !Self.asyncDisabled(snapshot), let next = URL(string: location, relativeTo: URL(string: request.url)) {
            let since = state["pollSince"].flatMap { if case .float(let t) = $0 { t } else { nil } } ?? Date().timeIntervalSince1970
            let limit = snapshot.step.timeout.flatMap(ISODuration.init)?.seconds ?? Self.defaultAsyncTimeout
            if Date().timeIntervalSince1970 - since > limit {
                return .finished(.timedOut, outputs: outputs, error: ActionFailure.coded("ActionTimedOut", "the asynchronous operation did not finish within \(Int(limit)) s").value)
            }
            let wait = response.retryAfterSeconds ?? Self.defaultPollSeconds
            return .poll(url: next.absoluteString, at: Date().addingTimeInterval(wait), attempts: attempts + 1, since: since)
        }
        if RetryPolicy.isRetryable(status: response.status), let delay = policy.delay(beforeRetry: attempts + 1, retryAfter: response.retryAfterSeconds) {
            return .retry(at: Date().addingTimeInterval(delay), attempts: attempts + 1, lastOutputs: outputs)
        }
        if response.status >= 400 {
            return .finished(.failed, outputs: outputs, error: ActionFailure.coded(
                "HttpStatus\(response.status)", "the request failed with status \(response.status)"
            ).value)
        }
        return .finished(.succeeded, outputs: outputs, error: nil)
    }

    /// `operationOptions: DisableAsyncPattern` turns polling off: a 202 is the final answer.
    private static func asyncDisabled(_ snapshot: ActionSnapshot) -> Bool {
        snapshot.step.operationOptions.lowercased().contains("disableasyncpattern")
    }

    private func finish(_ snapshot: ActionSnapshot, _ decision: Decision) async throws {
        let item = snapshot.item
        let key = snapshot.record.key
        try await engine.mutate(runID: snapshot.run.id, graph: snapshot.graph) { mutation in
            try mutation.transaction.removeWork(item.id)
            guard var record = mutation.actions[key], !record.status.isTerminal else { return }
            if record.status == .queued {
                record.status = .running
                record.startedAt = mutation.now
            }
            switch decision {
            case .retry(let at, let attempts, let lastOutputs):
                record.state["attempts"] = .integer(Int64(attempts))
                if let lastOutputs { record.outputs = lastOutputs }
                try mutation.save(record)
                try mutation.transaction.schedule(.timer, runID: mutation.run.id, actionKey: key, at: at)
                mutation.noteWorkQueued()
            case .poll(let url, let at, let attempts, let since):
                record.state["attempts"] = .integer(Int64(attempts))
                record.state["pollUrl"] = .string(url)
                record.state["pollSince"] = .float(since)
                try mutation.save(record)
                try mutation.transaction.schedule(.timer, runID: mutation.run.id, actionKey: key, at: at)
                mutation.noteWorkQueued()
            case .finished(let status, let outputs, let error):
                try mutation.save(record)
                try mutation.finish(key: key, status: status, outputs: outputs, error: error)
            }
            try mutation.saveRun()
        }
    }
}
