import CallgateEngine
import CallgateTestSteps
import CallgateTesting
import Foundation
import GRDB
import Testing

/// End-to-end runs over the real HTTPS listener, against a real local HTTP service.
@Suite struct WorkflowRunTests {
    static let sum = #"""
    {"definition": {"triggers": {"manual": {"type": "Request", "kind": "Http"}},
     "actions": {
       "Init": {"type": "InitializeVariable", "inputs": {"variables": [{"name": "total", "type": "integer", "value": 0}]}},
       "Loop": {"type": "Foreach", "foreach": "@triggerBody()?['items']", "runAfter": {"Init": ["Succeeded"]},
                "actions": {"Add": {"type": "SetVariable", "inputs": {"name": "total", "value": "@add(variables('total'), item())"}}}},
       "Check": {"type": "If", "expression": {"and": [{"greater": ["@variables('total')", 5]}]}, "runAfter": {"Loop": ["Succeeded"]},
                 "actions": {"Big": {"type": "Compose", "inputs": "big @{variables('total')}"}},
                 "else": {"actions": {"Small": {"type": "Compose", "inputs": "small"}}}},
       "Reply": {"type": "Response", "runAfter": {"Check": ["Succeeded"]},
                 "inputs": {"statusCode": 201, "headers": {"X-Total": "@{variables('total')}"},
                            "body": {"total": "@variables('total')", "branch": "@coalesce(outputs('Big'), outputs('Small'))"}}}
     }}}
    """#

    @Test func requestTriggerRepliesWithTheResponseAction() async throws {
        let gateway = try await TestGateway.start()
        try await gateway.deploy("sum", Self.sum)
        let (runID, big) = try await gateway.trigger("sum", json: #"{"items": [1, 2, 3, 4]}"#)
        #expect(big.status == 201)
        #expect(big.headers.first(name: "X-Total") == "10")
        #expect(try big.json()["branch"] as? String == "big 10")
        #expect(try big.json()["total"] as? Int == 10)
        let run = try await gateway.waitForRun(runID)
        #expect(run.status == "Succeeded")
        #expect(run.status(of: "Loop[3]/Add") == "Succeeded")
        #expect(run.status(of: "Small") == "Skipped")

        let (_, small) = try await gateway.trigger("sum", json: #"{"items": [2]}"#)
        #expect(try small.json()["branch"] as? String == "small")
        let (_, empty) = try await gateway.trigger("sum", json: #"{"items": []}"#)
        #expect(try empty.json()["total"] as? Int == 0)
        try await gateway.stopAndRemove()
    }

    static let echo = #"""
    {"definition": {"triggers": {"manual": {"type": "Request", "kind": "Http"}},
                    "actions": {"Echo": {"type": "Compose", "inputs": "@triggerBody()?['order']"}}}}
    """#

    @Test func requestTriggerWithoutResponseAnswers202AndDeduplicates() async throws {
        let gateway = try await TestGateway.start()
        try await gateway.deploy("echo", Self.echo)
        let (first, accepted) = try await gateway.trigger("echo", json: #"{"order": 7}"#, headers: [("Idempotency-Key", "k-1")])
        #expect(accepted.status == 202)
        #expect(try accepted.json()["runId"] as? String == first)
        let run = try await gateway.waitForRun(first)
        #expect(run.status == "Succeeded")
        #expect(run.outputs(of: "Echo") as? Int == 7)

        let (repeated, duplicate) = try await gateway.trigger("echo", json: #"{"order": 7}"#, headers: [("Idempotency-Key", "k-1")])
        #expect(repeated == first)
        #expect(duplicate.headers.first(name: "Callgate-Duplicate") == "true")
        let (other, _) = try await gateway.trigger("echo", json: #"{"order": 8}"#, headers: [("webhook-id", "msg-2")])
        #expect(other != first)

        let url = try await gateway.triggerURL("echo")
        #expect(try await gateway.triggerURL("echo") == url, "the trigger URL is stable")
        #expect(try await gateway.admin(.POST, "/api/v1/workflows/echo:disable").status == 200)
        #expect(try await gateway.request(.POST, url, body: Array("{}".utf8)).status == 409)
        #expect(try await gateway.admin(.POST, "/api/v1/workflows/echo:enable").status == 200)
        #expect(try await gateway.request(.POST, url, body: Array("{}".utf8)).status == 202)
        #expect(try await gateway.admin(.DELETE, "/api/v1/workflows/echo").status == 204)
        #expect(try await gateway.request(.POST, url, body: Array("{}".utf8)).status == 410)
        try await gateway.stopAndRemove()
    }

    @Test func runAfterFollowsEachStatus() async throws {
        let service = try await OutsideService.start()
        let gateway = try await TestGateway.start(callbackSteps: [TestWebhookStep.type: TestWebhookStep()])
        let definition = """
        {"definition": {"triggers": {"manual": {"type": "Request", "kind": "Http"}},
         "actions": {
           "Fails": {"type": "Http", "inputs": {"method": "GET", "uri": "\(service.baseURL)/status/500", "retryPolicy": {"type": "none"}}},
           "OnFailure": {"type": "Compose", "inputs": "handled", "runAfter": {"Fails": ["Failed"]}},
           "OnSuccess": {"type": "Compose", "inputs": "not run", "runAfter": {"Fails": ["Succeeded"]}},
           "OnSkipped": {"type": "Compose", "inputs": "ran after a skip", "runAfter": {"OnSuccess": ["Skipped"]}},
           "Waits": {"type": "TestWebhook", "inputs": {"subscribe": {"uri": "\(service.baseURL)/subscribe"}}, "limit": {"timeout": "PT1S"}},
           "OnTimeout": {"type": "Compose", "inputs": "timed out", "runAfter": {"Waits": ["TimedOut"]}},
           "Both": {"type": "Compose", "inputs": "@concat(outputs('OnFailure'), ' / ', outputs('OnTimeout'))",
                    "runAfter": {"OnFailure": ["Succeeded"], "OnTimeout": ["Succeeded"]}}
         }}}
        """
        try await gateway.deploy("statuses", definition)
        let (runID, _) = try await gateway.trigger("statuses")
        let run = try await gateway.waitForRun(runID)
        #expect(run.status(of: "Fails") == "Failed")
        #expect((run.outputs(of: "Fails") as? [String: Any])?["statusCode"] as? Int == 500)
        #expect(run.status(of: "OnFailure") == "Succeeded")
        #expect(run.status(of: "OnSuccess") == "Skipped")
        #expect(run.status(of: "OnSkipped") == "Succeeded")
        #expect(run.status(of: "Waits") == "TimedOut")
        #expect(run.outputs(of: "Both") as? String == "handled / timed out")
        // Every failure had a successor that ran for it.
        #expect(run.status == "Succeeded")
        await service.stop()
        try await gateway.stopAndRemove()
    }

    @Test func httpRetriesOn500And429AndHonoursTheRetryPolicy() async throws {
        let service = try await OutsideService.start()
        let gateway = try await TestGateway.start()
        let base = service.baseURL
        let definition = """
        {"definition": {"triggers": {"manual": {"type": "Request", "kind": "Http"}},
         "actions": {
           "ServerError": {"type": "Http", "inputs": {"method": "POST", "uri": "\(base)/flaky/a?fail=2&code=500", "body": {"n": 1},
                           "retryPolicy": {"type": "fixed", "count": 3, "interval": "PT1S"}}},
           "Throttled": {"type": "Http", "inputs": {"method": "GET", "uri": "\(base)/flaky/b?fail=1&code=429&retryAfter=1",
                         "retryPolicy": {"type": "exponential", "count": 2, "interval": "PT1S", "minimumInterval": "PT1S", "maximumInterval": "PT2S"}}},
           "GivesUp": {"type": "Http", "inputs": {"method": "GET", "uri": "\(base)/flaky/c?fail=5&code=503",
                       "retryPolicy": {"type": "fixed", "count": 1, "interval": "PT1S"}}},
           "NotRetried": {"type": "Http", "inputs": {"method": "GET", "uri": "\(base)/flaky/d?fail=5&code=400",
                          "retryPolicy": {"type": "fixed", "count": 3, "interval": "PT1S"}}}
         }}}
        """
        try await gateway.deploy("retries", definition)
        let (runID, _) = try await gateway.trigger("retries")
        let run = try await gateway.waitForRun(runID)
        #expect(run.status(of: "ServerError") == "Succeeded")
        #expect(((run.outputs(of: "ServerError") as? [String: Any])?["body"] as? [String: Any])?["attempt"] as? Int == 3)
        #expect(run.action("ServerError")?["attempts"] as? Int == 2)
        #expect(run.status(of: "Throttled") == "Succeeded")
        #expect(run.status(of: "GivesUp") == "Failed")
        #expect(service.requests("/flaky/c").count == 2)
        #expect(run.status(of: "NotRetried") == "Failed")
        #expect(service.requests("/flaky/d").count == 1, "a 400 is not retried")
        #expect(run.status == "Failed")

        let attempts = service.requests("/flaky/a")
        #expect(attempts.count == 3)
        let ids = attempts.compactMap { $0.headers["callgate-attempt-id"] }
        #expect(Set(ids).count == 3, "each attempt carries its own Callgate-Attempt-Id")
        #expect(attempts.allSatisfy { $0.json["n"] as? Int == 1 })
        await service.stop()
        try await gateway.stopAndRemove()
    }

    @Test func httpPollsA202LocationUntilTheOperationEnds() async throws {
        let service = try await OutsideService.start()
        let gateway = try await TestGateway.start()
        let definition = """
        {"definition": {"triggers": {"manual": {"type": "Request", "kind": "Http"}},
         "actions": {
           "Job": {"type": "Http", "inputs": {"method": "POST", "uri": "\(service.baseURL)/async/job1"}},
           "NoPolling": {"type": "Http", "inputs": {"method": "POST", "uri": "\(service.baseURL)/async/job2"}, "operationOptions": "DisableAsyncPattern"}
         }}}
        """
        try await gateway.deploy("async", definition)
        let (runID, _) = try await gateway.trigger("async")
        let run = try await gateway.waitForRun(runID)
        #expect(run.status == "Succeeded")
        let outputs = try #require(run.outputs(of: "Job") as? [String: Any])
        #expect(outputs["statusCode"] as? Int == 200)
        #expect((outputs["body"] as? [String: Any])?["done"] as? Bool == true)
        #expect(service.requests("/async/job1/status").count == 3)
        #expect((run.outputs(of: "NoPolling") as? [String: Any])?["statusCode"] as? Int == 202)
        #expect(service.requests("/async/job2/status").isEmpty)
        await service.stop()
        try await gateway.stopAndRemove()
    }

    @Test func waitScopeAndTerminate() async throws {
        let gateway = try await TestGateway.start()
        let definition = #"""
        {"definition": {"triggers": {"manual": {"type": "Request", "kind": "Http"}},
         "actions": {
           "Pause": {"type": "Wait", "inputs": {"interval": {"count": 1, "unit": "Second"}}},
           "Block": {"type": "Scope", "runAfter": {"Pause": ["Succeeded"]}, "actions": {
             "Note": {"type": "Compose", "inputs": "inside"},
             "Stop": {"type": "Terminate", "runAfter": {"Note": ["Succeeded"]},
                      "inputs": {"runStatus": "Failed", "runError": {"code": "Rejected", "message": "@{outputs('Note')} said no"}}}
           }},
           "After": {"type": "Compose", "inputs": "never", "runAfter": {"Block": ["Succeeded", "Failed"]}}
         }}}
        """#
        try await gateway.deploy("stop", definition)
        let started = Date()
        let (runID, _) = try await gateway.trigger("stop")
        let run = try await gateway.waitForRun(runID)
        #expect(Date().timeIntervalSince(started) >= 1)
        #expect(run.status == "Failed")
        #expect(run.error?["code"] as? String == "Rejected")
        #expect(run.error?["message"] as? String == "inside said no")
        #expect(run.status(of: "Pause") == "Succeeded")
        #expect(run.status(of: "Stop") == "Succeeded")
        #expect(run.status(of: "Block") == "Cancelled")
        #expect(run.status(of: "After") == nil)
        try await gateway.stopAndRemove()
    }

    @Test func timersSurviveARestart() async throws {
        let directory = try TemporaryDirectory()
        let first = try await TestGateway.start(directory: directory)
        let definition = #"""
        {"definition": {"triggers": {"manual": {"type": "Request", "kind": "Http"}},
         "actions": {"Pause": {"type": "Wait", "inputs": {"interval": {"count": 2, "unit": "Second"}}},
                     "Done": {"type": "Compose", "inputs": "after the pause", "runAfter": {"Pause": ["Succeeded"]}}}}}
        """#
        try await first.deploy("pause", definition)
        let (runID, _) = try await first.trigger("pause")
        _ = try await first.waitForRun(runID) { $0.status(of: "Pause") == "Running" }
        try await first.stop()

        let second = try await TestGateway.start(directory: directory)
        let run = try await second.waitForRun(runID)
        #expect(run.status == "Succeeded")
        #expect(run.outputs(of: "Done") as? String == "after the pause")
        try await second.stopAndRemove()
    }

    @Test func runsAreListedWithFiltersAndPages() async throws {
        let gateway = try await TestGateway.start()
        try await gateway.deploy("a", Self.echo)
        try await gateway.deploy("b", Self.echo)
        var ids: [String] = []
        for _ in 0..<3 { ids.append(try await gateway.trigger("a").runID) }
        let other = try await gateway.trigger("b").runID
        for id in ids + [other] { _ = try await gateway.waitForRun(id) }

        let page1 = try await gateway.admin(.GET, "/api/v1/runs?workflow=a&limit=2").json()
        let runs1 = try #require(page1["runs"] as? [[String: Any]])
        #expect(runs1.compactMap { $0["id"] as? String } == [ids[2], ids[1]])
        let next = try #require(page1["next"] as? String)
        let page2 = try await gateway.admin(.GET, "/api/v1/runs?workflow=a&limit=2&after=\(next)").json()
        #expect((page2["runs"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [ids[0]])
        #expect(page2["next"] == nil || page2["next"] is NSNull)
        let succeeded = try await gateway.admin(.GET, "/api/v1/runs?status=Succeeded").json()
        #expect((succeeded["runs"] as? [[String: Any]])?.count == 4)
        #expect((try await gateway.admin(.GET, "/api/v1/runs?status=Running").json()["runs"] as? [[String: Any]])?.isEmpty == true)
        let bad = try await gateway.admin(.GET, "/api/v1/runs?status=Done")
        #expect(bad.status == 400)
        #expect(try bad.errorCode() == "bad_request")
        #expect(try await gateway.admin(.GET, "/api/v1/runs/nope").status == 404)
        try await gateway.stopAndRemove()
    }

    @Test func secretsAndSecureDataStayOutOfRunHistory() async throws {
        let service = try await OutsideService.start()
        let gateway = try await TestGateway.start()
        let definition = """
        {"definition": {"triggers": {"manual": {"type": "Request", "kind": "Http"}},
         "actions": {
           "Call": {"type": "Http", "inputs": {"method": "GET", "uri": "\(service.baseURL)/status/200",
                    "authentication": {"type": "Basic", "username": "ops", "password": "s3cret-pass"}}},
           "Hidden": {"type": "Compose", "inputs": {"token": "@triggerBody()?['token']"}, "runAfter": {"Call": ["Succeeded"]},
                      "runtimeConfiguration": {"secureData": {"properties": ["inputs", "outputs"]}}},
           "Uses": {"type": "Compose", "inputs": "@length(outputs('Hidden')?['token'])", "runAfter": {"Hidden": ["Succeeded"]}}
         }}}
        """
        try await gateway.deploy("secure", definition)
        let (runID, _) = try await gateway.trigger("secure", json: #"{"token": "tok-123456"}"#)
        let run = try await gateway.waitForRun(runID)
        #expect(run.status == "Succeeded")
        // The subscriber saw the real credentials; history shows none of them.
        #expect(service.requests("/status/200").first?.headers["authorization"] == "Basic " + Data("ops:s3cret-pass".utf8).base64EncodedString())
        let authentication = (run.action("Call")?["inputs"] as? [String: Any])?["authentication"] as? [String: Any]
        #expect(authentication?["username"] as? String == "ops")
        #expect(authentication?["password"] as? String == "<redacted>")
        #expect(run.action("Hidden")?["inputs"] as? String == "<redacted>")
        #expect(run.action("Hidden")?["outputs"] as? String == "<redacted>")
        #expect(run.outputs(of: "Uses") as? Int == 10, "later steps still see secure outputs")
        let history = String(decoding: try JSONSerialization.data(withJSONObject: run.json), as: UTF8.self)
        #expect(!history.contains("s3cret-pass"))
        // Nor do the stored action rows (the definition itself holds the password, as in Logic Apps).
        let stored = try await gateway.gateway.database.read { db in
            try String.fetchAll(db, sql: "SELECT COALESCE(inputs, '') || COALESCE(outputs, '') || state FROM run_action")
        }
        #expect(!stored.joined().contains("s3cret-pass"))
        await service.stop()
        try await gateway.stopAndRemove()
    }

    @Test func aResponseThatComesTooLateLeavesTheCallerWith202() async throws {
        let gateway = try await TestGateway.start { $0.engine.responseWaitSeconds = 0.5 }
        let definition = #"""
        {"definition": {"triggers": {"manual": {"type": "Request", "kind": "Http"}},
         "actions": {"Slow": {"type": "Wait", "inputs": {"interval": {"count": 5, "unit": "Second"}}},
                     "Reply": {"type": "Response", "inputs": {"statusCode": 200, "body": "late"}, "runAfter": {"Slow": ["Succeeded"]}}}}}
        """#
        try await gateway.deploy("slow", definition)
        let (runID, answer) = try await gateway.trigger("slow")
        #expect(answer.status == 202)
        let run = try await gateway.waitForRun(runID)
        #expect(run.status == "Succeeded")
        #expect((run.outputs(of: "Reply") as? [String: Any])?["body"] as? String == "late")
        try await gateway.stopAndRemove()
    }
}
