import CallgateCallbacks
import CallgateExpressions
import CallgateWorkflow
import Crypto
import Foundation

/// Callbacks to waiting steps (`/cb/{id}` with owner kind `action`), answered per SPEC §5:
///
/// * first valid call: the step's outputs are committed and its continuation scheduled in the
///   same transaction, then `200 {"status":"resumed","runId":…}`;
/// * the same call again (same `Idempotency-Key`, or without one the same body): `200
///   {"status":"already-resumed"}`, nothing runs twice;
/// * a different call after the step ended: `409`; the step timed out or was cancelled: `410`;
/// * `Callgate-Outcome: failed` ends the step `Failed` with the body as its error;
///   `Callgate-Outcome: heartbeat` moves the deadline by `limit.heartbeat` and keeps waiting.
public struct ActionCallbackHandler: CallbackHandler {
    /// The owner kind waiting steps register their callback ids under.
    public static let ownerKind = "action"

    let engine: WorkflowEngine

    public init(engine: WorkflowEngine) {
        self.engine = engine
    }

    private enum Outcome: Sendable {
        case resumed(String)
        case alreadyResumed
        case heartbeat(deadline: Double?)
        case conflict
        case gone
    }

    public func handle(_ callback: InboundCallback) async throws -> CallbackReply {
        guard let runID = callback.registration.owner.runID, let key = callback.registration.owner.step else {
            return CallbackReply(status: 410)
        }
        let fingerprint = Self.fingerprint(callback)
        let kind = callback.header("Callgate-Outcome")?.lowercased() ?? "succeeded"
        let outputs: ExpressionValue = .object([
            "headers": HTTPContent.headers(callback.headers.map { ($0.name, $0.value) }),
            "body": HTTPContent.decode(callback.body, contentType: callback.header("Content-Type")),
            "statusCode": .integer(200),
        ])
        let outcome: Outcome? = try await engine.mutate(runID: runID) { mutation -> Outcome in
            guard var record = mutation.actions[key] else { return .gone }
            if record.status.isTerminal || mutation.run.status.isTerminal {
                // A repeat of the call that resumed the step is told so, even after the run ended.
                if record.state["callbackFingerprint"] == .string(fingerprint) { return .alreadyResumed }
                if mutation.run.status.isTerminal || [.timedOut, .cancelled].contains(record.status) { return .gone }
                return .conflict
            }
            let step = mutation.graph.steps[record.name]
            if kind == "heartbeat" {
                guard let extension_ = step?.heartbeat.flatMap({ ISODuration($0)?.seconds }) else { return .heartbeat(deadline: record.state["deadline"].flatMap(Self.seconds)) }
                let deadline = mutation.now.addingTimeInterval(extension_)
                record.state["deadline"] = .float(deadline.timeIntervalSince1970)
                try mutation.transaction.removeTimers(runID: runID, actionKey: key)
                try mutation.transaction.schedule(.timer, runID: runID, actionKey: key, at: deadline)
                mutation.noteWorkQueued()
                try mutation.save(record)
                return .heartbeat(deadline: deadline.timeIntervalSince1970)
            }
            record.state["callbackFingerprint"] = .string(fingerprint)
            if kind == "failed" {
                try mutation.endWaitingStep(&record, status: .failed, outputs: outputs, error: .object([
                    "code": "CallbackReportedFailure", "message": outputs["body"] ?? .null,
                ]))
            } else {
                try mutation.endWaitingStep(&record, status: .succeeded, outputs: outputs)
            }
            return .resumed(runID)
        }
        switch outcome {
        case .resumed(let runID)?:
            return .json(status: 200, ["status": "resumed", "runId": runID])
        case .alreadyResumed?:
            return .json(status: 200, ["status": "already-resumed", "runId": runID])
        case .heartbeat(let deadline)?:
            var body: [String: any Sendable] = ["status": "waiting", "runId": runID]
            if let deadline { body["deadline"] = RunExpressionContext.timestamp(Date(timeIntervalSince1970: deadline)) }
            return .json(status: 200, body)
        case .conflict?:
            return CallbackReply(status: 409)
        case .gone?, nil:
            return CallbackReply(status: 410)
        }
    }

    private static func seconds(_ value: ExpressionValue) -> Double? {
        if case .float(let seconds) = value { return seconds }
        return nil
    }

    /// What makes two calls "the same call": the `Idempotency-Key` when given, else the body.
    static func fingerprint(_ callback: InboundCallback) -> String {
        if let key = callback.header("Idempotency-Key") ?? callback.header("webhook-id") { return "key:" + key }
        let outcome = callback.header("Callgate-Outcome")?.lowercased() ?? ""
        return "body:" + outcome + ":" + Data(SHA256.hash(data: callback.body)).base64EncodedString()
    }
}
