import CallgateCLI
import CallgateEngine
import CallgateTestSteps
import Foundation
import GRDB
import Testing

/// The retention sweep against a real gateway: ended runs go after `engine.run_retention_days`,
/// runs in progress never, dedupe keys after their day; callback URLs of deleted runs answer 410.
/// The sweep is called with a clock moved ahead instead of waiting days.
@Suite struct RetentionTests {
    @Test func endedRunsGoAfterTheRetentionPeriodAndRunsInProgressStay() async throws {
        let service = try await OutsideService.start()
        let gateway = try await TestGateway.start(callbackSteps: [TestWebhookStep.type: TestWebhookStep()]) {
            $0.engine.runRetentionDays = 7
        }
        try await gateway.deploy("quick", WorkflowRunTests.echo)
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

extension RetentionTests {
    /// An event-hub batch fired again after a long outage (a pending batch is fired again at
    /// start-up with the same key) starts nothing: a plugin trigger's dedupe key lives as long as
    /// the runs it started, where a webhook's Idempotency-Key lives 24 hours.
    @Test func aPluginTriggersKeyOutlivesTheDayUntilItsRunsAreDeleted() async throws {
        let gateway = try await TestGateway.start(bundledPlugins: BundledPlugins.all) { $0.engine.runRetentionDays = 7 }
        _ = try await EventHubTests.createHub(gateway, "audit", partitions: 1)
        try await gateway.deploy("audit", EventHubTests.workflow(hub: "audit", group: "$Default", splitOn: false))
        let token = try await EventHubTests.token(gateway, "audit")
        #expect(try await EventHubTests.send(gateway, hub: "audit", token: token, [(#"{"n": 1}"#, nil)]).status == 201)
        let runs = try await EventHubTests.waitForRuns(gateway, workflow: "audit", events: 1)
        #expect(runs.count == 1)
        try await gateway.deploy("hooks", WorkflowRunTests.echo)
        let (hookRun, _) = try await gateway.trigger("hooks", headers: [("Idempotency-Key", "once")])

        // Two days pass (the keys are made two days older).
        let database = gateway.gateway.database
        let (key, subscription, firstRuns) = try await database.write { db in
            try db.execute(sql: "UPDATE trigger_dedupe SET created_at = created_at - 2 * 86400")
            let row = try #require(try Row.fetchOne(db, sql: "SELECT key, run_id FROM trigger_dedupe WHERE workflow = 'audit'"))
            let subscription = try #require(try String.fetchOne(db, sql: "SELECT callback_id FROM trigger_subscription WHERE workflow = 'audit'"))
            return (row["key"] as String, subscription, row["run_id"] as String)
        }
        // The pump fires the same batch again, as it does for a batch left pending by a crash.
        let again = try await gateway.gateway.engine.fireTrigger(
            subscriptionID: subscription, outputs: .object(["body": .array([])]), dedupeKey: key
        )
        #expect(again.duplicate)
        #expect(again.runIDs == firstRuns.split(separator: ",").map(String.init))
        // The webhook's key is past its day.
        let (repeatedRun, repeated) = try await gateway.trigger("hooks", headers: [("Idempotency-Key", "once")])
        #expect(repeated.headers.first(name: "Callgate-Duplicate") == nil)
        #expect(repeatedRun != hookRun)
        for runID in [hookRun, repeatedRun] + firstRuns.split(separator: ",").map(String.init) {
            _ = try await gateway.waitForRun(runID)
        }

        // The sweep keeps the plugin's key while its run is kept, and deletes both after.
        let engine = gateway.gateway.engine
        #expect(try await engine.sweepRetention().dedupeKeys == 0)
        let late = try await engine.sweepRetention(now: Date().addingTimeInterval(8 * 86_400))
        #expect(late.runs == 3)
        #expect(late.dedupeKeys == 2)
        try await gateway.stopAndRemove()
    }
}
