import CallgateCLI
import Foundation
import Testing

/// The HttpWebhook trigger through the bundled http-webhook plugin, against a real subscriber
/// service: subscribed on deploy and enable, unsubscribed on disable, delete and a changed
/// redeploy (through the outbox), each callback a run.
@Suite struct HTTPWebhookTriggerTests {
    /// A GitHub-style subscription: the subscriber is told where to deliver, and gives back the
    /// id the unsubscribe names.
    static func definition(
        _ service: OutsideService, subscribePath: String = "/subscribe", retryPolicy: String? = nil,
        unsubscribe: Bool = true, events: String = "push", extra: String = ""
    ) -> String {
        let retry = retryPolicy.map { #", "retryPolicy": \#($0)"# } ?? ""
        let unsubscribeInputs = unsubscribe
            ? #", "unsubscribe": {"method": "POST", "uri": "\#(service.baseURL)/unsubscribe", "body": {"id": "@{subscribeResponse()?['body']?['subscription']}"}}"#
            : ""
        return """
        {"definition": {
           "parameters": {"events": {"type": "String", "defaultValue": "\(events)"}},
           "triggers": {"onPush": {"type": "HttpWebhook",
             "inputs": {"subscribe": {"method": "POST", "uri": "\(service.baseURL)\(subscribePath)",
                                      "body": {"callbackUrl": "@{listCallbackUrl()}", "events": "@parameters('events')"}\(retry)}\(unsubscribeInputs)}\(extra)}},
           "actions": {"Repo": {"type": "Compose", "inputs": {"repo": "@triggerBody()?['repository']", "event": "@triggerOutputs()?['headers']?['X-Event']",
                                                             "status": "@triggerOutputs()?['statusCode']"}}}}}
        """
    }

    /// The subscription section of `GET /workflows/{name}`.
    static func subscription(_ gateway: TestGateway, _ workflow: String) async throws -> [String: Any]? {
        let answer = try await gateway.admin(.GET, "/api/v1/workflows/\(workflow)")
        guard answer.status == 200 else { throw TestFailure("show \(workflow) answered \(answer.status)") }
        return try answer.json()["subscription"] as? [String: Any]
    }

    static func waitForSubscription(_ gateway: TestGateway, _ workflow: String, seconds: Double = 60, until condition: ([String: Any]) -> Bool) async throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let found = try await subscription(gateway, workflow)
            if let found, condition(found) { return found }
            if Date() > deadline { throw TestFailure("the subscription of \(workflow) did not get there: \(String(describing: found))") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Posts a JSON event to a trigger URL.
    static func deliver(_ gateway: TestGateway, _ url: String, _ json: String, headers: [(String, String)] = []) async throws -> TestResponse {
        try await gateway.request(.POST, url, headers: [("Content-Type", "application/json")] + headers, body: Array(json.utf8))
    }

    @Test func theTriggerLifecycleFromDeployToDelete() async throws {
        let service = try await OutsideService.start()
        let gateway = try await TestGateway.start(bundledPlugins: BundledPlugins.all)
        try await gateway.deploy("github", Self.definition(service))

        // Deploy subscribes, with the Callgate-* headers and the minted URL.
        let subscribe = try await WaitingStepTests.eventually { service.requests("/subscribe").first }
        #expect(subscribe.headers["callgate-workflow"] == "github")
        #expect(subscribe.headers["callgate-operation"] == "subscribe")
        #expect(subscribe.headers["callgate-run-id"] == nil)
        #expect(subscribe.json["events"] as? String == "push")
        let url = try #require(subscribe.json["callbackUrl"] as? String)
        let subscriptionID = try #require(subscribe.headers["callgate-subscription-id"])
        #expect(url.contains("/cb/\(subscriptionID)?"))
        let subscribed = try await Self.waitForSubscription(gateway, "github") { $0["state"] as? String == "subscribed" }
        #expect(((subscribed["subscription"] as? [String: Any])?["statusCode"] as? Int) == 201)

        // Three callbacks, three runs, each with the callback's headers, body and statusCode.
        var runs: [String] = []
        for repository in ["a", "b", "c"] {
            let answer = try await Self.deliver(gateway, url, #"{"repository": "\#(repository)"}"#, headers: [("X-Event", "push")])
            #expect(answer.status == 202)
            let runID = try #require(try answer.json()["runId"] as? String)
            #expect(answer.headers.first(name: "Callgate-Run-Id") == runID)
            runs.append(runID)
        }
        for (runID, repository) in zip(runs, ["a", "b", "c"]) {
            let run = try await gateway.waitForRun(runID)
            #expect(run.status == "Succeeded")
            let outputs = try #require(run.outputs(of: "Repo") as? [String: Any])
            #expect(outputs["repo"] as? String == repository)
            #expect(outputs["event"] as? String == "push")
            #expect(outputs["status"] as? Int == 200)
        }

        // Disable: unsubscribed with the subscribe answer's id, and the URL is gone.
        #expect(try await gateway.admin(.POST, "/api/v1/workflows/github:disable").status == 200)
        let unsubscribe = try await WaitingStepTests.eventually { service.requests("/unsubscribe").first }
        #expect(unsubscribe.json["id"] as? String == "1")
        #expect(unsubscribe.headers["callgate-operation"] == "unsubscribe")
        #expect(unsubscribe.headers["callgate-subscription-id"] == subscriptionID)
        #expect(try await Self.deliver(gateway, url, "{}").status == 410)
        let disabled = try await Self.waitForSubscription(gateway, "github") {
            ($0["unsubscribes"] as? [[String: Any]])?.first?["status"] as? String == "succeeded"
        }
        #expect(disabled["state"] as? String == "unsubscribed")

        // Enable: a new subscription with a new URL, which starts runs.
        #expect(try await gateway.admin(.POST, "/api/v1/workflows/github:enable").status == 200)
        let again = try await WaitingStepTests.eventually { service.requests("/subscribe").dropFirst().first }
        let newURL = try #require(again.json["callbackUrl"] as? String)
        #expect(newURL != url)
        _ = try await Self.waitForSubscription(gateway, "github") { $0["state"] as? String == "subscribed" }
        let fourth = try await Self.deliver(gateway, newURL, #"{"repository": "d"}"#)
        #expect(fourth.status == 202)
        #expect(try await gateway.waitForRun(try #require(try fourth.json()["runId"] as? String)).status == "Succeeded")
        #expect(try await Self.deliver(gateway, url, "{}").status == 410)

        // Delete: unsubscribed again (the second subscription's id), the URL gone.
        #expect(try await gateway.admin(.DELETE, "/api/v1/workflows/github").status == 204)
        let second = try await WaitingStepTests.eventually { service.requests("/unsubscribe").dropFirst().first }
        #expect(second.json["id"] as? String == "2")
        #expect(try await Self.deliver(gateway, newURL, "{}").status == 410)
        await service.stop()
        try await gateway.stopAndRemove()
    }

    @Test func aRedeployKeepsAnUnchangedTriggerAndReplacesAChangedOne() async throws {
        let service = try await OutsideService.start()
        let gateway = try await TestGateway.start(bundledPlugins: BundledPlugins.all)
        try await gateway.deploy("hooks", Self.definition(service, unsubscribe: false))
        let first = try await WaitingStepTests.eventually { service.requests("/subscribe").first }
        let url = try #require(first.json["callbackUrl"] as? String)
        _ = try await Self.waitForSubscription(gateway, "hooks") { $0["state"] as? String == "subscribed" }

        // Same trigger, other actions: nothing is sent, the URL keeps working.
        try await gateway.deploy("hooks", Self.definition(service, unsubscribe: false).replacingOccurrences(of: "\"Repo\"", with: "\"Repository\""))
        try await Task.sleep(for: .milliseconds(300))
        #expect(service.requests("/subscribe").count == 1)
        #expect(try await Self.deliver(gateway, url, "{}").status == 202)
        #expect(try await Self.subscription(gateway, "hooks")?["version"] as? Int == 2)

        // A changed trigger (other events): the old subscription is deleted at its Location
        // (unsubscribe omitted, subscribe answered 201), a new one is made.
        try await gateway.deploy("hooks", Self.definition(service, unsubscribe: false, events: "push,release"))
        let deleted = try await WaitingStepTests.eventually { service.requests("/subscriptions/").first }
        #expect(deleted.method == "DELETE")
        #expect(deleted.path == "/subscriptions/1")
        let second = try await WaitingStepTests.eventually { service.requests("/subscribe").dropFirst().first }
        #expect(second.json["events"] as? String == "push,release")
        #expect(try await Self.deliver(gateway, url, "{}").status == 410)
        await service.stop()
        try await gateway.stopAndRemove()
    }

    @Test func aFailedSubscribeIsVisibleAndRetried() async throws {
        let service = try await OutsideService.start()
        let gateway = try await TestGateway.start(bundledPlugins: BundledPlugins.all)
        // 503 three times; the policy allows one retry, so the trigger ends up failed.
        try await gateway.deploy("flaky", Self.definition(
            service, subscribePath: "/flaky/sub?fail=3&code=503", retryPolicy: #"{"type": "fixed", "count": 1, "interval": "PT1S"}"#
        ))
        let failed = try await Self.waitForSubscription(gateway, "flaky") { $0["state"] as? String == "failed" }
        #expect(failed["attempts"] as? Int == 2)
        #expect((failed["lastError"] as? String)?.contains("503") == true)
        #expect(failed["nextAttemptAt"] != nil)
        #expect(service.requests("/flaky/").count == 2)
        let listed = try await gateway.admin(.GET, "/api/v1/workflows")
        #expect(try (listed.json()["workflows"] as? [[String: Any]])?.first?["enabled"] as? Bool == true)

        // Enable retries at once: a third 503, then (one policy retry later) success.
        #expect(try await gateway.admin(.POST, "/api/v1/workflows/flaky:enable").status == 200)
        let subscribed = try await Self.waitForSubscription(gateway, "flaky") { $0["state"] as? String == "subscribed" }
        #expect(subscribed["lastError"] == nil)
        #expect(service.requests("/flaky/").count == 4)

        // A 4xx cannot pass by itself: failed at once, no retry scheduled.
        try await gateway.deploy("refused", Self.definition(service, subscribePath: "/status/400"))
        let refused = try await Self.waitForSubscription(gateway, "refused") { $0["state"] as? String == "failed" }
        #expect(refused["nextAttemptAt"] == nil)
        #expect((refused["lastError"] as? String)?.contains("400") == true)
        await service.stop()
        try await gateway.stopAndRemove()
    }

    @Test func anUnsubscribeWaitsInTheOutboxForASubscriberThatIsDownAcrossARestart() async throws {
        var service = try await OutsideService.start()
        let port = service.port
        var gateway = try await TestGateway.start(bundledPlugins: BundledPlugins.all)
        try await gateway.deploy("github", Self.definition(service))
        _ = try await Self.waitForSubscription(gateway, "github") { $0["state"] as? String == "subscribed" }

        // The subscriber goes down; the disable's unsubscribe fails and stays pending. An attempt
        // on a refused port ends only when the outbound client's 10 s connect timeout passes
        // (it retries the connection until then), so the wait is long.
        await service.stop()
        #expect(try await gateway.admin(.POST, "/api/v1/workflows/github:disable").status == 200)
        let pending = try await Self.waitForSubscription(gateway, "github", seconds: 90) {
            (($0["unsubscribes"] as? [[String: Any]])?.first?["attempts"] as? Int ?? 0) >= 1
        }
        let call = try #require((pending["unsubscribes"] as? [[String: Any]])?.first)
        #expect(call["status"] as? String == "pending")
        #expect(call["lastError"] != nil)

        // The gateway restarts, the subscriber comes back on its port: the call is made.
        let directory = gateway.directory
        try await gateway.stop()
        service = try await OutsideService.start(port: port)
        gateway = try await TestGateway.start(directory: directory, bundledPlugins: BundledPlugins.all)
        let unsubscribe = try await WaitingStepTests.eventually(seconds: 90) { service.requests("/unsubscribe").first }
        #expect(unsubscribe.json["id"] as? String == "1")
        _ = try await Self.waitForSubscription(gateway, "github") {
            ($0["unsubscribes"] as? [[String: Any]])?.first?["status"] as? String == "succeeded"
        }
        await service.stop()
        try await gateway.stopAndRemove()
    }

    @Test func splitOnConditionsAndDedupe() async throws {
        let service = try await OutsideService.start()
        let gateway = try await TestGateway.start(bundledPlugins: BundledPlugins.all)
        let extra = #", "splitOn": "@triggerBody()?['events']", "conditions": [{"expression": "@equals(triggerBody()?['kind'], 'push')"}]"#
        try await gateway.deploy("batch", Self.definition(service, extra: extra))
        let subscribe = try await WaitingStepTests.eventually { service.requests("/subscribe").first }
        let url = try #require(subscribe.json["callbackUrl"] as? String)

        let batch = #"{"events": [{"kind": "push", "repository": "a"}, {"kind": "ping"}, {"kind": "push", "repository": "b"}]}"#
        let answer = try await Self.deliver(gateway, url, batch, headers: [("webhook-id", "msg_1")])
        #expect(answer.status == 202)
        let runIDs = try #require(try answer.json()["runIds"] as? [String])
        #expect(runIDs.count == 2)
        var repositories: [String] = []
        for runID in runIDs {
            let run = try await gateway.waitForRun(runID)
            repositories.append(try #require((run.outputs(of: "Repo") as? [String: Any])?["repo"] as? String))
        }
        #expect(repositories.sorted() == ["a", "b"])

        // The same delivery again starts nothing and names the same runs.
        let repeated = try await Self.deliver(gateway, url, batch, headers: [("webhook-id", "msg_1")])
        #expect(repeated.status == 202)
        #expect(try repeated.json()["runIds"] as? [String] == runIDs)
        #expect(repeated.headers.first(name: "Callgate-Duplicate") == "true")

        // Nothing passes the conditions: skipped, no run.
        let skipped = try await Self.deliver(gateway, url, #"{"events": [{"kind": "ping"}]}"#)
        #expect(skipped.status == 202)
        #expect(try skipped.json()["status"] as? String == "skipped")
        #expect(skipped.headers.first(name: "Callgate-Run-Id") == nil)

        // splitOn on something that is not an array: the caller is told why.
        let wrong = try await Self.deliver(gateway, url, #"{"events": "none"}"#)
        #expect(wrong.status == 400)
        #expect(wrong.text.contains("splitOn"))
        await service.stop()
        try await gateway.stopAndRemove()
    }
}
