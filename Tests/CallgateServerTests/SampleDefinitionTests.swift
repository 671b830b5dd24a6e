import CallgateCLI
import Foundation
import Testing

/// The realistic Logic Apps definitions under `Tests/Samples/` deploy and run against a real
/// outside service (their `parameters` pointed at it).
@Suite struct SampleDefinitionTests {
    /// A sample's text with every parameter value naming `http://127.0.0.1:9000` moved to `service`.
    static func sample(_ name: String, service: OutsideService) throws -> String {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Samples/\(name).json")
        return try String(contentsOf: path, encoding: .utf8).replacingOccurrences(of: "http://127.0.0.1:9000", with: service.baseURL)
    }

    @Test func aGitHubStyleWebhookSubscriptionDeploysOnlyPushesToMain() async throws {
        let service = try await OutsideService.start()
        let gateway = try await TestGateway.start(bundledPlugins: BundledPlugins.all)
        try await gateway.deploy("github-push", try Self.sample("github-push", service: service))
        let hook = try await WaitingStepTests.eventually { service.requests("/api/github/repos/acme/widgets/hooks").first }
        #expect(hook.headers["authorization"] == "Bearer ghp-example-token")
        #expect(hook.json["events"] as? [String] == ["push", "ping"])
        let config = try #require(hook.json["config"] as? [String: Any])
        let url = try #require(config["url"] as? String)
        _ = try await HTTPWebhookTriggerTests.waitForSubscription(gateway, "github-push") { $0["state"] as? String == "subscribed" }

        // GitHub's ping after creating a hook: not a push, so no run.
        let ping = try await HTTPWebhookTriggerTests.deliver(gateway, url, #"{"zen": "Keep it logically awesome."}"#, headers: [("X-GitHub-Event", "ping")])
        #expect(try ping.json()["status"] as? String == "skipped")

        func push(_ branch: String, after: String) -> String {
            #"{"ref": "refs/heads/\#(branch)", "after": "\#(after)", "repository": {"full_name": "acme/widgets"}, "pusher": {"name": "ada"}, "commits": [{"id": "1"}, {"id": "2"}]}"#
        }
        let main = try await HTTPWebhookTriggerTests.deliver(gateway, url, push("main", after: "abc123"), headers: [("X-GitHub-Event", "push"), ("X-GitHub-Delivery", "d-1")])
        let mainRun = try await gateway.waitForRun(try #require(try main.json()["runId"] as? String))
        #expect(mainRun.status == "Succeeded")
        #expect((mainRun.outputs(of: "Summary") as? [String: Any])?["commits"] as? Int == 2)
        let deployment = try #require(service.requests("/api/deployments").first)
        #expect(deployment.json["commit"] as? String == "abc123")
        #expect(deployment.headers["idempotency-key"] == "abc123")

        let feature = try await HTTPWebhookTriggerTests.deliver(gateway, url, push("feature/x", after: "def456"), headers: [("X-GitHub-Event", "push")])
        let featureRun = try await gateway.waitForRun(try #require(try feature.json()["runId"] as? String))
        #expect(featureRun.outputs(of: "Not_deployed") as? String == "branch feature/x is not deployed")
        #expect(featureRun.status(of: "Deploy") == "Skipped")
        #expect(service.requests("/api/deployments").count == 1)

        // Deleting the workflow deletes the hook by the id GitHub gave.
        #expect(try await gateway.admin(.DELETE, "/api/v1/workflows/github-push").status == 204)
        let deleted = try await WaitingStepTests.eventually { service.requests("/api/github/repos/acme/widgets/hooks/").first }
        #expect(deleted.method == "DELETE")
        #expect(deleted.path == "/api/github/repos/acme/widgets/hooks/1")
        await service.stop()
        try await gateway.stopAndRemove()
    }

    @Test func anApprovalThroughAnOutsideServiceFulfilsTheOrder() async throws {
        let service = try await OutsideService.start()
        let gateway = try await TestGateway.start(bundledPlugins: BundledPlugins.all)
        try await gateway.deploy("approval", try Self.sample("approval-via-service", service: service))
        for (order, decision) in [(1001, "approve"), (1002, "reject")] {
            let (runID, _) = try await gateway.trigger("approval", json: #"{"orderId": \#(order), "amount": 2500}"#)
            _ = try await gateway.waitForRun(runID) { $0.status(of: "Ask_for_approval") == "Waiting" }
            let request = try #require(service.requests("/api/approvals").first { $0.json["orderId"] as? Int == order })
            #expect(request.json["approver"] as? String == "finance@example.com")
            let callback = try #require(request.json["callbackUrl"] as? String)
            let answer = try await gateway.request(
                .POST, callback, headers: [("Content-Type", "application/json")], body: Array(#"{"decision": "\#(decision)", "by": "fin"}"#.utf8)
            )
            #expect(answer.status == 200)
            let run = try await gateway.waitForRun(runID)
            #expect(run.status == (decision == "approve" ? "Succeeded" : "Cancelled"))
        }
        let fulfilments = service.requests("/api/fulfilments")
        #expect(fulfilments.count == 1)
        #expect(fulfilments.first?.json["orderId"] as? Int == 1001)
        #expect(fulfilments.first?.json["approvedBy"] as? String == "fin")
        // Each resumed approval is withdrawn at the service by its id.
        let withdrawn = try await WaitingStepTests.eventually { () -> [OutsideService.Recorded]? in
            let calls = service.requests("/api/approvals/").filter { $0.method == "DELETE" }
            return calls.count == 2 ? calls : nil
        }
        #expect(Set(withdrawn.map(\.path)) == ["/api/approvals/1", "/api/approvals/2"])
        await service.stop()
        try await gateway.stopAndRemove()
    }

    @Test func aLongRunningJobReportsHeartbeatsThenItsResult() async throws {
        let service = try await OutsideService.start()
        let gateway = try await TestGateway.start(bundledPlugins: BundledPlugins.all)
        try await gateway.deploy("report", try Self.sample("long-running-job", service: service))

        let (runID, _) = try await gateway.trigger("report", json: #"{"month": "2026-10"}"#)
        _ = try await gateway.waitForRun(runID) { $0.status(of: "Run_report") == "Waiting" }
        let job = try #require(service.requests("/api/jobs").first)
        let notify = try #require(job.json["notify"] as? String)
        let heartbeat = try await gateway.request(.POST, notify, headers: [("Callgate-Outcome", "heartbeat")])
        #expect(heartbeat.status == 200)
        #expect(try await gateway.run(runID).status(of: "Run_report") == "Waiting")
        let done = try await gateway.request(
            .POST, notify, headers: [("Content-Type", "application/json")], body: Array(#"{"location": "s3://reports/2026-10.csv", "rows": 1200}"#.utf8)
        )
        #expect(done.status == 200)
        let run = try await gateway.waitForRun(runID)
        #expect(run.status == "Succeeded")
        let published = try #require(service.requests("/api/reports").first)
        #expect(published.json["location"] as? String == "s3://reports/2026-10.csv")
        #expect(published.json["rows"] as? Int == 1200)
        #expect(run.status(of: "Report_failure") == "Skipped")

        // A job that fails says so; the failure branch runs and the run is handled.
        let (failedID, _) = try await gateway.trigger("report", json: #"{"month": "2026-11"}"#)
        _ = try await gateway.waitForRun(failedID) { $0.status(of: "Run_report") == "Waiting" }
        let second = try #require(service.requests("/api/jobs").first { $0.json["month"] as? String == "2026-11" })
        let failed = try await gateway.request(
            .POST, try #require(second.json["notify"] as? String), headers: [("Callgate-Outcome", "failed"), ("Content-Type", "application/json")],
            body: Array(#"{"reason": "warehouse offline"}"#.utf8)
        )
        #expect(failed.status == 200)
        let failedRun = try await gateway.waitForRun(failedID)
        #expect(failedRun.status(of: "Run_report") == "Failed")
        #expect(failedRun.status(of: "Report_failure") == "Succeeded")
        #expect(failedRun.status(of: "Publish") == "Skipped")
        await service.stop()
        try await gateway.stopAndRemove()
    }
}
