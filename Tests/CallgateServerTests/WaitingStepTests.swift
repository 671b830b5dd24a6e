import CallgateEngine
import CallgateTestSteps
import Foundation
import Testing

/// The engine's waiting step, proven with the plugin-free ``TestWebhookStep`` against a real
/// subscriber service: subscribe, wait as rows only, resume once, and unsubscribe through the
/// outbox on completion, timeout and cancel.
@Suite struct WaitingStepTests {
    static func definition(
        _ service: OutsideService, timeout: String? = nil, heartbeat: String? = nil, unsubscribeFailures: Int = 0, pauseAfter: Bool = false
    ) -> String {
        var limit: [String] = []
        if let timeout { limit.append(#""timeout": "\#(timeout)""#) }
        if let heartbeat { limit.append(#""heartbeat": "\#(heartbeat)""#) }
        let pause = pauseAfter
            ? #", "Pause": {"type": "Wait", "inputs": {"interval": {"count": 1, "unit": "Hour"}}, "runAfter": {"Decision": ["Succeeded"]}}"#
            : ""
        return """
        {"definition": {"triggers": {"manual": {"type": "Request", "kind": "Http"}},
         "actions": {
           "Approval": {"type": "TestWebhook",
                        "inputs": {"subscribe": {"uri": "\(service.baseURL)/subscribe", "body": {"order": "@triggerBody()?['order']"}},
                                   "unsubscribe": {"uri": "\(service.baseURL)/unsubscribe?fail=\(unsubscribeFailures)",
                                                   "body": {"subscription": "@subscribeResponse()?['body']?['subscription']"}}},
                        "limit": {\(limit.joined(separator: ", "))}},
           "Decision": {"type": "Compose", "inputs": "@body('Approval')?['decision']", "runAfter": {"Approval": ["Succeeded"]}}\(pause)
         }}}
        """
    }

    /// Starts a run and waits until its step is subscribed and waiting; answers the run id and
    /// the callback URL the subscriber received.
    static func startWaiting(_ gateway: TestGateway, _ service: OutsideService, workflow: String) async throws -> (runID: String, callbackURL: String) {
        let (runID, _) = try await gateway.trigger(workflow, json: #"{"order": 42}"#)
        _ = try await gateway.waitForRun(runID) { $0.status(of: "Approval") == "Waiting" }
        let subscribe = try #require(service.requests("/subscribe").last { $0.headers["callgate-run-id"] == runID })
        #expect((subscribe.json["extra"] as? [String: Any])?["order"] as? Int == 42)
        return (runID, try #require(subscribe.json["callbackUrl"] as? String))
    }

    static func start() async throws -> (OutsideService, TestGateway) {
        let service = try await OutsideService.start()
        let gateway = try await TestGateway.start(callbackSteps: [TestWebhookStep.type: TestWebhookStep()])
        return (service, gateway)
    }

    @Test func aCallbackResumesTheStepOnceAndRepeatsAreAnsweredPerSpec() async throws {
        let (service, gateway) = try await Self.start()
        try await gateway.deploy("approve", Self.definition(service, timeout: "PT1H", pauseAfter: true))
        let (runID, url) = try await Self.startWaiting(gateway, service, workflow: "approve")

        let waiting = try await gateway.run(runID)
        #expect(waiting.status == "Waiting")
        let shown = try #require(waiting.action("Approval")?["waiting"] as? [String: Any])
        let callbackID = try #require(shown["callbackId"] as? String)
        #expect(url.contains("/cb/\(callbackID)?"))
        #expect(shown["deadline"] != nil && shown["since"] != nil)
        let history = String(decoding: try JSONSerialization.data(withJSONObject: waiting.json), as: UTF8.self)
        let signature = try #require(url.components(separatedBy: "sig=").last)
        #expect(!history.contains(signature), "run history never shows the signature")
        #expect(try await gateway.admin(.GET, "/api/v1/runs?status=Waiting").json()["runs"].map { ($0 as? [[String: Any]])?.count } == 1)

        let body = Array(#"{"decision": "approved"}"#.utf8)
        let first = try await gateway.request(.POST, url, headers: [("Content-Type", "application/json")], body: body)
        #expect(first.status == 200)
        #expect(try first.json()["status"] as? String == "resumed")
        #expect(try first.json()["runId"] as? String == runID)
        let again = try await gateway.request(.POST, url, headers: [("Content-Type", "application/json")], body: body)
        #expect(again.status == 200)
        #expect(try again.json()["status"] as? String == "already-resumed")
        // Another call while the run goes on (paused for an hour after the step): a conflict.
        let different = try await gateway.request(.POST, url, headers: [("Content-Type", "application/json")], body: Array(#"{"decision": "no"}"#.utf8))
        #expect(different.status == 409)

        // The run is ended by a cancel (a short pause could end under load before the call above).
        _ = try await gateway.waitForRun(runID) { $0.status(of: "Decision") == "Succeeded" }
        #expect(try await gateway.admin(.POST, "/api/v1/runs/\(runID):cancel").status == 200)
        let run = try await gateway.waitForRun(runID)
        #expect(run.status == "Cancelled")
        #expect(run.status(of: "Decision") == "Succeeded")
        #expect(run.outputs(of: "Decision") as? String == "approved")
        #expect((run.outputs(of: "Approval") as? [String: Any])?["statusCode"] as? Int == 200)
        // The unsubscribe after completion carries what subscribe answered.
        let unsubscribed = try await Self.eventually { service.requests("/unsubscribe").first { $0.headers["callgate-run-id"] == runID } }
        #expect(unsubscribed.json["subscription"] as? Int == 1, "the first subscribe answered subscription 1")
        // After the run ended, the call that resumed it is still recognised; any other is gone.
        let late = try await gateway.request(.POST, url, headers: [("Content-Type", "application/json")], body: body)
        #expect(try late.json()["status"] as? String == "already-resumed")
        #expect(try await gateway.request(.POST, url, body: Array(#"{"decision": "late"}"#.utf8)).status == 410)
        await service.stop()
        try await gateway.stopAndRemove()
    }

    @Test func idempotencyKeysMakeRepeatsHarmlessEvenWithAnotherBody() async throws {
        let (service, gateway) = try await Self.start()
        try await gateway.deploy("approve", Self.definition(service))
        let (runID, url) = try await Self.startWaiting(gateway, service, workflow: "approve")
        // Two concurrent deliveries of the same call: exactly one resumes.
        async let one = gateway.request(.POST, url, headers: [("Idempotency-Key", "delivery-1")], body: Array(#"{"decision": "a"}"#.utf8))
        async let two = gateway.request(.POST, url, headers: [("Idempotency-Key", "delivery-1")], body: Array(#"{"decision": "b"}"#.utf8))
        let answers = try await [one, two].map { try $0.json()["status"] as? String }
        #expect(answers.sorted { ($0 ?? "") < ($1 ?? "") } == ["already-resumed", "resumed"])
        let run = try await gateway.waitForRun(runID)
        #expect(run.status == "Succeeded")
        await service.stop()
        try await gateway.stopAndRemove()
    }

    @Test func aTimeoutEndsTheStepTimedOutUnsubscribesAndLateCallbacksGet410() async throws {
        let (service, gateway) = try await Self.start()
        try await gateway.deploy("approve", Self.definition(service, timeout: "PT1S"))
        // Not waited for as Waiting: on a busy machine the second may pass first.
        let (runID, _) = try await gateway.trigger("approve", json: #"{"order": 42}"#)
        let run = try await gateway.waitForRun(runID)
        let subscribe = try #require(service.requests("/subscribe").last { $0.headers["callgate-run-id"] == runID })
        let url = try #require(subscribe.json["callbackUrl"] as? String)
        #expect(run.status(of: "Approval") == "TimedOut")
        #expect(run.status(of: "Decision") == "Skipped")
        #expect(run.status == "Failed")
        #expect(try await gateway.request(.POST, url, body: Array("{}".utf8)).status == 410)
        let unsubscribed = try await Self.eventually { service.requests("/unsubscribe").first { $0.headers["callgate-run-id"] == runID } }
        #expect(unsubscribed.json["subscription"] as? Int != nil)
        await service.stop()
        try await gateway.stopAndRemove()
    }

    @Test func cancellingTheRunCancelsTheStepAndUnsubscribes() async throws {
        let (service, gateway) = try await Self.start()
        try await gateway.deploy("approve", Self.definition(service))
        let (runID, url) = try await Self.startWaiting(gateway, service, workflow: "approve")
        let cancelled = try await gateway.admin(.POST, "/api/v1/runs/\(runID):cancel")
        #expect(cancelled.status == 200)
        #expect((try cancelled.json()["run"] as? [String: Any])?["status"] as? String == "Cancelled")
        let run = try await gateway.run(runID)
        #expect(run.status(of: "Approval") == "Cancelled")
        #expect(try await gateway.request(.POST, url, body: Array("{}".utf8)).status == 410)
        #expect(try await gateway.admin(.POST, "/api/v1/runs/\(runID):cancel").status == 409)
        _ = try await Self.eventually { service.requests("/unsubscribe").first { $0.headers["callgate-run-id"] == runID } }
        await service.stop()
        try await gateway.stopAndRemove()
    }

    @Test func aFailingUnsubscribeIsRetriedThroughTheOutboxUntilItSucceeds() async throws {
        let (service, gateway) = try await Self.start()
        try await gateway.deploy("approve", Self.definition(service, unsubscribeFailures: 2))
        let (runID, _) = try await Self.startWaiting(gateway, service, workflow: "approve")
        #expect(try await gateway.admin(.POST, "/api/v1/runs/\(runID):cancel").status == 200)
        let run = try await gateway.waitForRun(runID) { $0.outbox.first?["status"] as? String == "succeeded" }
        let call = try #require(run.outbox.first)
        #expect(call["operation"] as? String == "unsubscribe")
        #expect(call["attempts"] as? Int == 3)
        #expect(service.requests("/unsubscribe").count == 3)
        await service.stop()
        try await gateway.stopAndRemove()
    }

    @Test func heartbeatsMoveTheDeadlineAndAFailedOutcomeFailsTheStep() async throws {
        let (service, gateway) = try await Self.start()
        // The deadline is read, not waited for: the test holds on a loaded 2-core machine.
        try await gateway.deploy("approve", Self.definition(service, timeout: "PT5M", heartbeat: "PT2H"))
        let (runID, url) = try await Self.startWaiting(gateway, service, workflow: "approve")
        func deadline() async throws -> Date? {
            let waiting = try await gateway.run(runID).action("Approval")?["waiting"] as? [String: Any]
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            return (waiting?["deadline"] as? String).flatMap { formatter.date(from: $0) ?? ISO8601DateFormatter().date(from: $0) }
        }
        let before = try #require(try await deadline())
        #expect(before < Date().addingTimeInterval(5 * 60 + 1))
        let beat = try await gateway.request(.POST, url, headers: [("Callgate-Outcome", "heartbeat")], body: Array("{}".utf8))
        #expect(beat.status == 200)
        #expect(try beat.json()["status"] as? String == "waiting")
        let after = try #require(try await deadline())
        #expect(after > Date().addingTimeInterval(110 * 60), "the heartbeat moved the deadline by limit.heartbeat")
        #expect(try await gateway.run(runID).status(of: "Approval") == "Waiting")
        let failed = try await gateway.request(.POST, url, headers: [("Callgate-Outcome", "failed"), ("Content-Type", "application/json")],
                                               body: Array(#"{"reason": "rejected upstream"}"#.utf8))
        #expect(try failed.json()["status"] as? String == "resumed")
        let run = try await gateway.waitForRun(runID)
        #expect(run.status(of: "Approval") == "Failed")
        #expect(((run.action("Approval")?["error"] as? [String: Any])?["message"] as? [String: Any])?["reason"] as? String == "rejected upstream")
        #expect(run.status == "Failed")
        await service.stop()
        try await gateway.stopAndRemove()
    }

    /// Polls `probe` until it gives a value, for effects that happen after a reply (outbox calls).
    static func eventually<T>(seconds: Double = 60, _ probe: () -> T?) async throws -> T {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let value = probe() { return value }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("nothing happened within \(seconds) s")
    }

    static func flakySubscribe(_ service: OutsideService, key: String, failures: Int, retries: Int) -> String {
        """
        {"definition": {"triggers": {"manual": {"type": "Request", "kind": "Http"}},
         "actions": {"Approval": {"type": "TestWebhook",
                                  "inputs": {"subscribe": {"uri": "\(service.baseURL)/flaky/\(key)?fail=\(failures)&code=503",
                                                           "retryPolicy": {"type": "fixed", "count": \(retries), "interval": "PT1S"}}}}}}}
        """
    }

    @Test func aSubscribeThatFailsRetryablyIsRetriedOnADurableTimer() async throws {
        let (service, gateway) = try await Self.start()
        try await gateway.deploy("flaky", Self.flakySubscribe(service, key: "a", failures: 2, retries: 3))
        let (runID, _) = try await gateway.trigger("flaky")
        let waiting = try await gateway.waitForRun(runID) { $0.status(of: "Approval") == "Waiting" }
        #expect(service.requests("/flaky/a").count == 3)
        #expect(waiting.action("Approval")?["error"] == nil, "the step no longer shows the failed attempts' error")
        let ids = Set(service.requests("/flaky/a").compactMap { $0.headers["callgate-subscription-id"] })
        #expect(ids.count == 1, "every attempt subscribes the same callback")

        try await gateway.deploy("hopeless", Self.flakySubscribe(service, key: "b", failures: 9, retries: 1))
        let (failedID, _) = try await gateway.trigger("hopeless")
        let failed = try await gateway.waitForRun(failedID)
        #expect(failed.status(of: "Approval") == "Failed")
        #expect((failed.action("Approval")?["error"] as? [String: Any])?["code"] as? String == "SubscribeFailed")
        #expect(service.requests("/flaky/b").count == 2)
        await service.stop()
        try await gateway.stopAndRemove()
    }
}
