import CallgateEngine
import CallgateTestSteps
import Foundation
import Testing

/// The retention sweep against a real gateway: ended runs go after `engine.run_retention_days`,
/// runs in progress never, dedupe keys after their day; callback URLs of deleted runs answer 410.
/// The sweep is called with a clock moved ahead instead of waiting days.
@Suite struct RetentionTests {
    static let quick = #"{"definition": {"triggers": {"manual": {"type": "Request", "kind": "Http"}}, "actions": {"Echo": {"type": "Compose", "inputs": "@triggerBody()"}}}}"#

    @Test func endedRunsGoAfterTheRetentionPeriodAndRunsInProgressStay() async throws {
        let service = try await OutsideService.start()
        let gateway = try await TestGateway.start(callbackSteps: [TestWebhookStep.type: TestWebhookStep()]) {
            $0.engine.runRetentionDays = 7
        }
        try await gateway.deploy("quick", Self.quick)
        var ended: [String] = []
        for index in 0..<3 {
            let (runID, _) = try await gateway.trigger("quick", json: #"{"n": \#(index)}"#, headers: [("Idempotency-Key", "key-\(index)")])
            ended.append(runID)
        }
        for runID in ended { #expect(try await gateway.waitForRun(runID).status == "Succeeded") }

        // One run cancelled while it waited (its unsubscribe made), one still waiting.
        try await gateway.deploy("approve", WaitingStepTests.definition(service))
        let (cancelledID, cancelledURL) = try await WaitingStepTests.startWaiting(gateway, service, workflow: "approve")
        #expect(try await gateway.admin(.POST, "/api/v1/runs/\(cancelledID):cancel").status == 200)
        _ = try await gateway.waitForRun(cancelledID) { $0.outbox.first?["status"] as? String == "succeeded" }
        ended.append(cancelledID)
        let (waitingID, waitingURL) = try await WaitingStepTests.startWaiting(gateway, service, workflow: "approve")

        // Six days on: the runs are kept; the dedupe keys are past their day.
        let engine = gateway.gateway.engine
        let early = try await engine.sweepRetention(now: Date().addingTimeInterval(6 * 86_400))
        #expect(early == RetentionSweep(runs: 0, dedupeKeys: 3, outboxCalls: 0))
        for runID in ended { #expect(try await gateway.admin(.GET, "/api/v1/runs/\(runID)").status == 200) }

        // Eight days on: the four ended runs and the finished unsubscribe go; the waiting run stays.
        let late = try await engine.sweepRetention(now: Date().addingTimeInterval(8 * 86_400))
        #expect(late == RetentionSweep(runs: 4, dedupeKeys: 0, outboxCalls: 1))
        for runID in ended { #expect(try await gateway.admin(.GET, "/api/v1/runs/\(runID)").status == 404) }
        let listed = try await gateway.admin(.GET, "/api/v1/runs").json()["runs"] as? [[String: Any]]
        #expect(listed?.compactMap { $0["id"] as? String } == [waitingID])
        #expect(try await engine.sweepRetention(now: Date().addingTimeInterval(8 * 86_400)) == RetentionSweep())

        // The deleted run's URL is still gone (410), not unknown; the waiting run still resumes.
        #expect(try await gateway.request(.POST, cancelledURL, body: Array("{}".utf8)).status == 410)
        let resumed = try await gateway.request(
            .POST, waitingURL, headers: [("Content-Type", "application/json")], body: Array(#"{"decision": "approved"}"#.utf8)
        )
        #expect(resumed.status == 200)
        let run = try await gateway.waitForRun(waitingID)
        #expect(run.outputs(of: "Decision") as? String == "approved")

        // An expired dedupe key starts a new run.
        let (again, response) = try await gateway.trigger("quick", headers: [("Idempotency-Key", "key-0")])
        #expect(response.headers.first(name: "Callgate-Duplicate") == nil)
        #expect(!ended.contains(again))
        await service.stop()
        try await gateway.stopAndRemove()
    }
}
