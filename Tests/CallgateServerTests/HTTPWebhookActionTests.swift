import CallgateCLI
import Foundation
import Testing

/// The HttpWebhook action through the bundled http-webhook plugin (its hooks reached through the
/// C ABI), against a real subscriber service.
@Suite struct HTTPWebhookActionTests {
    static func definition(_ service: OutsideService, unsubscribe: Bool) -> String {
        let unsubscribeInputs = unsubscribe
            ? #", "unsubscribe": {"method": "POST", "uri": "\#(service.baseURL)/unsubscribe", "body": {"id": "@{subscribeResponse()?['body']?['subscription']}"}}"#
            : ""
        return """
        {"definition": {"triggers": {"manual": {"type": "Request", "kind": "Http"}},
         "actions": {
           "Ask": {"type": "HttpWebhook",
                   "inputs": {"subscribe": {"method": "POST", "uri": "\(service.baseURL)/subscribe",
                                            "headers": {"X-Order": "@{triggerBody()?['order']}"},
                                            "body": {"callbackUrl": "@{listCallbackUrl()}", "order": "@triggerBody()?['order']"}}\(unsubscribeInputs)},
                   "limit": {"timeout": "PT1H"}},
           "Decision": {"type": "Compose", "inputs": "@body('Ask')?['decision']", "runAfter": {"Ask": ["Succeeded"]}}
         }}}
        """
    }

    @Test func theActionSubscribesWaitsResumesOnItsCallbackAndUnsubscribes() async throws {
        let service = try await OutsideService.start()
        let gateway = try await TestGateway.start(bundledPlugins: BundledPlugins.all)
        try await gateway.deploy("approve", Self.definition(service, unsubscribe: true))
        let (runID, _) = try await gateway.trigger("approve", json: #"{"order": 42}"#)
        _ = try await gateway.waitForRun(runID) { $0.status(of: "Ask") == "Waiting" }

        let subscribe = try #require(service.requests("/subscribe").first)
        #expect(subscribe.method == "POST")
        #expect(subscribe.headers["x-order"] == "42")
        #expect(subscribe.headers["callgate-workflow"] == "approve")
        #expect(subscribe.headers["callgate-run-id"] == runID)
        #expect(subscribe.headers["callgate-operation"] == "subscribe")
        #expect(subscribe.json["order"] as? Int == 42)
        let url = try #require(subscribe.json["callbackUrl"] as? String)
        let subscriptionID = try #require(subscribe.headers["callgate-subscription-id"])
        #expect(url.contains("/cb/\(subscriptionID)?"))

        let resumed = try await gateway.request(.POST, url, headers: [("Content-Type", "application/json")], body: Array(#"{"decision": "approved"}"#.utf8))
        #expect(resumed.status == 200)
        #expect(try resumed.json()["status"] as? String == "resumed")
        let run = try await gateway.waitForRun(runID)
        #expect(run.status == "Succeeded")
        #expect(run.outputs(of: "Decision") as? String == "approved")

        let unsubscribe = try await WaitingStepTests.eventually { service.requests("/unsubscribe").first }
        #expect(unsubscribe.json["id"] as? String == "1")
        #expect(unsubscribe.headers["callgate-operation"] == "unsubscribe")
        #expect(unsubscribe.headers["callgate-subscription-id"] == subscriptionID)
        await service.stop()
        try await gateway.stopAndRemove()
    }

    @Test func withoutAnUnsubscribeTheCreatedSubscriptionIsDeletedAtItsLocation() async throws {
        let service = try await OutsideService.start()
        let gateway = try await TestGateway.start(bundledPlugins: BundledPlugins.all)
        try await gateway.deploy("approve", Self.definition(service, unsubscribe: false))
        let (runID, _) = try await gateway.trigger("approve", json: #"{"order": 7}"#)
        _ = try await gateway.waitForRun(runID) { $0.status(of: "Ask") == "Waiting" }
        #expect(try await gateway.admin(.POST, "/api/v1/runs/\(runID):cancel").status == 200)
        let deleted = try await WaitingStepTests.eventually { service.requests("/subscriptions/").first }
        #expect(deleted.method == "DELETE")
        #expect(deleted.path == "/subscriptions/1")
        let run = try await gateway.waitForRun(runID) { $0.outbox.first?["status"] as? String == "succeeded" }
        #expect(run.status(of: "Ask") == "Cancelled")
        await service.stop()
        try await gateway.stopAndRemove()
    }
}
