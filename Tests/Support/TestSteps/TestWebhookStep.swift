import AsyncHTTPClient
import CallgateEngine
import CallgateExpressions
import CallgateWorkflow
import Foundation
import NIOCore

/// The minimal plugin-free waiting step the engine's callback mechanism is proven with
/// (`TestWebhook`): subscribe POSTs `{"callbackUrl", "subscriptionId"}` to `inputs.subscribe.uri`;
/// unsubscribe POSTs the subscribe answer to `inputs.unsubscribe.uri`. Both are real HTTP calls
/// to an ``OutsideService``; a 5xx answer is a retryable failure.
public struct TestWebhookStep: CallbackStep {
    public static let type = "TestWebhook"

    public init() {}

    public var stepType: StepType {
        StepType(requiredInputs: ["subscribe.uri"], callbackInputs: ["subscribe", "unsubscribe"], subscribeResponseInputs: ["unsubscribe"])
    }

    public var unsubscribeAttempts: Int { 5 }

    public func subscribe(_ request: CallbackStepRequest) async throws(CallbackStepError) -> ExpressionValue {
        guard let uri = request.inputs["subscribe"]?["uri"]?.string else {
            throw CallbackStepError("inputs.subscribe.uri is missing", retryable: false)
        }
        let body: ExpressionValue = [
            "callbackUrl": .string(request.callbackURL ?? ""), "subscriptionId": .string(request.subscriptionID),
            "extra": request.inputs["subscribe"]?["body"] ?? .null,
        ]
        return try await post(uri, body, request)
    }

    public func unsubscribe(_ request: CallbackStepRequest) async throws(CallbackStepError) {
        guard let uri = request.inputs["unsubscribe"]?["uri"]?.string else { return }
        let body = request.inputs["unsubscribe"]?["body"] ?? request.subscription ?? .null
        _ = try await post(uri, body, request)
    }

    private func post(_ uri: String, _ body: ExpressionValue, _ request: CallbackStepRequest) async throws(CallbackStepError) -> ExpressionValue {
        do {
            var http = HTTPClientRequest(url: uri)
            http.method = .POST
            http.headers.add(name: "Content-Type", value: "application/json")
            http.headers.add(name: "Callgate-Subscription-Id", value: request.subscriptionID)
            http.headers.add(name: "Callgate-Run-Id", value: request.runID)
            http.body = .bytes(ByteBuffer(string: body.jsonText))
            let response = try await HTTPClient.shared.execute(http, timeout: .seconds(10))
            let data = try await response.body.collect(upTo: 1 << 20)
            let answer: ExpressionValue = [
                "statusCode": .integer(Int64(response.status.code)),
                "body": (try? ExpressionValue(json: Data(data.readableBytesView))) ?? .null,
            ]
            guard response.status.code < 300 else {
                throw CallbackStepError("the subscriber answered \(response.status.code)", retryable: response.status.code >= 500, detail: answer)
            }
            return answer
        } catch let error as CallbackStepError {
            throw error
        } catch {
            throw CallbackStepError("\(error)", retryable: true)
        }
    }
}
