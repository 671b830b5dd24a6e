import CallgateCallbacks
import CallgateExpressions
import Foundation
import GRDB

/// Callbacks to workflow triggers (`/cb/{id}` with owner kind `trigger`): each valid call starts
/// a run and answers `202` with `Callgate-Run-Id` once the run is committed — or, when the
/// workflow has a `Response` action, that action's reply if it comes within the configured wait.
///
/// A call carrying an `Idempotency-Key` or a Standard Webhooks `webhook-id` seen in the last
/// 24 hours starts nothing and answers with the original run id. A disabled workflow answers `409`.
/// With `splitOn`, one call starts a run per element (`runIds`, and every id in `Callgate-Run-Id`);
/// when the trigger's `conditions` are not met it starts nothing and says so (`202`, `skipped`).
public struct TriggerCallbackHandler: CallbackHandler {
    /// The owner kind trigger callback ids are registered under.
    public static let ownerKind = "trigger"
    /// The scope signed into trigger URLs.
    public static let scope = "trigger"

    let engine: WorkflowEngine

    public init(engine: WorkflowEngine) {
        self.engine = engine
    }

    public func handle(_ callback: InboundCallback) async throws -> CallbackReply {
        guard let workflow = callback.registration.owner.workflow else { return CallbackReply(status: 410) }
        let outputs: ExpressionValue = .object([
            "headers": HTTPContent.headers(callback.headers.map { ($0.name, $0.value) }),
            "body": HTTPContent.decode(callback.body, contentType: callback.header("Content-Type")),
            "queries": .object(Self.queries(callback.query)),
            "method": .string(callback.method),
            // As on the HttpWebhook action's outputs: the callback was accepted.
            "statusCode": .integer(200),
        ])
        let dedupeKey = callback.header("Idempotency-Key") ?? callback.header("webhook-id")
        let started: WorkflowEngine.StartedRun
        do {
            started = try await engine.startRun(workflow: workflow, triggerOutputs: outputs, dedupeKey: dedupeKey, waitsForResponse: true)
        } catch let error as EngineError {
            switch error.kind {
            case .conflict: return CallbackReply(status: 409)
            case .notFound: return CallbackReply(status: 410)
            // The caller holds a valid URL: tell it why its call started nothing (splitOn, conditions).
            case .invalid: return CallbackReply.json(status: 400, ["error": ["code": "InvalidTrigger", "message": error.description]])
            case .busy: return CallbackReply(status: 429, headers: [.init(name: "Retry-After", value: "1")])
            }
        }
        guard let runID = started.runID else {
            return CallbackReply.json(status: 202, ["status": "skipped", "reason": "the trigger conditions were not met", "runIds": [String]()])
                .adding(header: "Callgate-Trigger-Status", "Skipped")
        }
        var body: [String: any Sendable] = ["runId": runID]
        if started.runIDs.count > 1 { body["runIds"] = started.runIDs }
        var accepted = CallbackReply.json(status: 202, body).adding(header: "Callgate-Run-Id", started.runIDs.joined(separator: ", "))
        if started.duplicate { accepted = accepted.adding(header: "Callgate-Duplicate", "true") }
        guard let waiter = started.responseWaiter else { return accepted }
        defer { engine.responses.remove(runID: runID) }
        let deadline = Date().addingTimeInterval(engine.configuration.responseWaitSeconds)
        while Date() < deadline {
            let run = try await engine.store.read { try $0.run(runID) }
            if let response = run?.response { return Self.reply(response, runID: runID) }
            if run?.status.isTerminal ?? true { return accepted }
            await waiter.wait(upTo: deadline.timeIntervalSinceNow)
        }
        return accepted
    }

    /// The `Response` action's reply as HTTP.
    static func reply(_ response: ExpressionValue, runID: String) -> CallbackReply {
        let status: Int
        if case .integer(let code)? = response["statusCode"] { status = Int(code) } else { status = 200 }
        var headers: [InboundCallback.Header] = [.init(name: "Callgate-Run-Id", value: runID)]
        if case .object(let fields)? = response["headers"] {
            for name in fields.keys.sorted() { headers.append(.init(name: name, value: fields[name]?.stringValue ?? "")) }
        }
        let (bytes, contentType) = HTTPContent.encode(response["body"] ?? .null)
        if let contentType, !headers.contains(where: { $0.name.caseInsensitiveCompare("Content-Type") == .orderedSame }) {
            headers.append(.init(name: "Content-Type", value: contentType))
        }
        return CallbackReply(status: status, headers: headers, body: bytes)
    }

    /// The query parameters other than the signed ones.
    static func queries(_ query: String) -> [String: ExpressionValue] {
        let signed: Set<String> = ["sv", "sp", "kid", "sig", "exp"]
        var result: [String: ExpressionValue] = [:]
        for item in URLComponents(string: "?" + query)?.queryItems ?? [] where !signed.contains(item.name) {
            result[item.name] = .string(item.value ?? "")
        }
        return result
    }
}

extension CallbackReply {
    func adding(header name: String, _ value: String) -> CallbackReply {
        var copy = self
        copy.headers.append(.init(name: name, value: value))
        return copy
    }
}
