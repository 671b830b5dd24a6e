import CallgateCLI
import CallgateServer
import CallgateTesting
import Crypto
import Foundation
import GRDB
import Testing

/// The event-hub plugin (bundled, through the C ABI): hubs through the admin routes, ingest over
/// HTTPS with shared-access signatures, and `OnEvents` turning events into runs.
@Suite struct EventHubTests {
    /// A shared-access signature made the way the README documents it (not with the plugin's code).
    static func signature(resource: String, key: String, secret: String, expiry: Int64) -> String {
        func encoded(_ text: String) -> String {
            text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
        }
        let mac = HMAC<SHA256>.authenticationCode(for: Data((encoded(resource) + "\n" + String(expiry)).utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return "SharedAccessSignature sr=\(encoded(resource))&sig=\(encoded(Data(mac).base64EncodedString()))&se=\(expiry)&skn=\(encoded(key))"
    }

    /// Creates a hub; answers the secret of its `send` key.
    static func createHub(_ gateway: TestGateway, _ name: String, partitions: Int = 4) async throws -> String {
        let created = try await gateway.admin(.PUT, "/api/v1/plugins/event-hub/hubs/\(name)", body: Array(#"{"partitions": \#(partitions)}"#.utf8))
        #expect(created.status == 201, "\(created.text)")
        let keys = try #require(try created.json()["keys"] as? [[String: Any]])
        return try #require(keys.first?["secret"] as? String)
    }

    static func token(_ gateway: TestGateway, _ hub: String) async throws -> String {
        let issued = try await gateway.admin(.POST, "/api/v1/plugins/event-hub/hubs/\(hub)/tokens", body: Array(#"{"ttlSeconds": 600}"#.utf8))
        return try #require(try issued.json()["token"] as? String, "\(issued.text)")
    }

    /// Sends a batch; answers the status and where each event went (partition, offset).
    static func send(
        _ gateway: TestGateway, hub: String, token: String, _ events: [(body: String, key: String?)]
    ) async throws -> (status: Int, placements: [(partition: Int, offset: Int)]) {
        let batch = events.map { event -> String in
            let key = event.key.map { #", "BrokerProperties": {"PartitionKey": "\#($0)"}"# } ?? ""
            return #"{"Body": \#(event.body)\#(key)}"#
        }.joined(separator: ",")
        let answer = try await gateway.request(
            .POST, "/plugins/event-hub/hubs/\(hub)/messages",
            headers: [("Authorization", token), ("Content-Type", "application/vnd.microsoft.servicebus.json")], body: Array("[\(batch)]".utf8)
        )
        let placed = (try? answer.json()["events"] as? [[String: Any]]) ?? []
        return (answer.status, placed.map { ($0["partition"] as? Int ?? -1, $0["offset"] as? Int ?? -1) })
    }

    static func workflow(hub: String, group: String, batch: Int = 10, start: String = "earliest", splitOn: Bool) -> String {
        let split = splitOn ? #", "splitOn": "@triggerBody()""# : ""
        return """
        {"definition": {"triggers": {"events": {"type": "OnEvents", "inputs": {"hub": "\(hub)", "consumerGroup": "\(group)", "maxBatchSize": \(batch), "startPosition": "\(start)"}\(split)}},
         "actions": {"Seen": {"type": "Compose", "inputs": "@triggerBody()"}}}}
        """
    }

    /// The events each run of `workflow` started from, as (partition, offset), in run start order.
    static func delivered(_ gateway: TestGateway, workflow: String) throws -> [[(partition: Int, offset: Int)]] {
        try delivered(databasePath: gateway.directory.path + "/data/callgate.sqlite", workflow: workflow)
    }

    static func delivered(databasePath: String, workflow: String) throws -> [[(partition: Int, offset: Int)]] {
        var configuration = Configuration()
        configuration.readonly = true
        let queue = try DatabaseQueue(path: databasePath, configuration: configuration)
        return try queue.read { db in
            try String.fetchAll(db, sql: "SELECT trigger_outputs FROM run WHERE workflow = ? ORDER BY created_at, id", arguments: [workflow]).map { text in
                let outputs = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] ?? [:]
                // splitOn: the body is one event; otherwise a batch.
                let events = outputs["body"] as? [[String: Any]] ?? (outputs["body"] as? [String: Any]).map { [$0] } ?? []
                return events.map { ($0["partition"] as? Int ?? -1, $0["offset"] as? Int ?? -1) }
            }
        }
    }

    /// The ids of the runs of `workflow` still in progress.
    static func runsInProgress(_ gateway: TestGateway, workflow: String) throws -> [String] {
        var configuration = Configuration()
        configuration.readonly = true
        let queue = try DatabaseQueue(path: gateway.directory.path + "/data/callgate.sqlite", configuration: configuration)
        return try queue.read { db in
            try String.fetchAll(db, sql: "SELECT id FROM run WHERE workflow = ? AND status IN ('Running', 'Waiting')", arguments: [workflow])
        }
    }

    static func waitForRuns(_ gateway: TestGateway, workflow: String, events: Int, seconds: Double = 60) async throws -> [[(partition: Int, offset: Int)]] {
        try await WaitingStepTests.eventually(seconds: seconds) { () -> [[(partition: Int, offset: Int)]]? in
            let runs = (try? delivered(gateway, workflow: workflow)) ?? []
            return runs.reduce(0) { $0 + $1.count } >= events ? runs : nil
        }
    }

    static func startGateway() async throws -> TestGateway {
        try await TestGateway.start(bundledPlugins: BundledPlugins.all)
    }

    @Test func ingestTakesValidSignaturesOnlyAndAnswersAfterTheCommit() async throws {
        let gateway = try await Self.startGateway()
        let secret = try await Self.createHub(gateway, "orders", partitions: 2)
        _ = try await Self.createHub(gateway, "other", partitions: 1)
        let resource = "\(TestGateway.publicURL)/plugins/event-hub/hubs/orders/messages"
        let now = Int64(Date().timeIntervalSince1970)
        let good = Self.signature(resource: resource, key: "send", secret: secret, expiry: now + 300)
        let cases: [(String, String?, Int)] = [
            ("valid", good, 201),
            ("issued by the admin API", try await Self.token(gateway, "orders"), 201),
            ("expired", Self.signature(resource: resource, key: "send", secret: secret, expiry: now - 5), 401),
            ("forged", Self.signature(resource: resource, key: "send", secret: "not-the-secret", expiry: now + 300), 401),
            ("unknown key", Self.signature(resource: resource, key: "listen", secret: secret, expiry: now + 300), 401),
            ("another hub's", try await Self.token(gateway, "other"), 401),
            ("edited expiry", good.replacingOccurrences(of: "se=\(now + 300)", with: "se=\(now + 3000)"), 401),
            ("missing", nil, 401),
        ]
        for (name, token, status) in cases {
            var headers = [("Content-Type", "application/json")]
            if let token { headers.append(("Authorization", token)) }
            let answer = try await gateway.request(.POST, "/plugins/event-hub/hubs/orders/messages", headers: headers, body: Array(#"{"n": 1}"#.utf8))
            #expect(answer.status == status, "\(name): \(answer.status) \(answer.text)")
        }
        // Only the accepted events are in the hub.
        let show = try await gateway.admin(.GET, "/api/v1/plugins/event-hub/hubs/orders")
        let states = try #require(try show.json()["partitionStates"] as? [[String: Any]])
        #expect(states.reduce(0) { $0 + ($1["nextOffset"] as? Int ?? 0) } == 2)
        // Bad input is named.
        let bad = try await gateway.request(
            .POST, "/plugins/event-hub/hubs/orders/messages",
            headers: [("Authorization", good), ("Content-Type", "application/vnd.microsoft.servicebus.json")], body: Array(#"[{"Bodyy": 1}]"#.utf8)
        )
        #expect(bad.status == 400)
        #expect(bad.text.contains("$[0].Body is missing"))
        let badHub = try await gateway.admin(.PUT, "/api/v1/plugins/event-hub/hubs/huge", body: Array(#"{"partitions": 99}"#.utf8))
        #expect(badHub.status == 400)
        #expect(try badHub.json()["error"].map { ($0 as? [String: Any])?["path"] as? String } == "$.partitions")
        try await gateway.stopAndRemove()
    }

    @Test func aPartitionKeyAlwaysLandsInOnePartitionInOrder() async throws {
        let gateway = try await Self.startGateway()
        _ = try await Self.createHub(gateway, "keys", partitions: 4)
        let token = try await Self.token(gateway, "keys")
        let first = try await Self.send(gateway, hub: "keys", token: token, (0..<20).map { (#"{"n": \#($0)}"#, "customer-7") })
        let second = try await Self.send(gateway, hub: "keys", token: token, (20..<30).map { (#"{"n": \#($0)}"#, "customer-7") })
        #expect(first.status == 201 && second.status == 201)
        let placements = first.placements + second.placements
        #expect(Set(placements.map(\.partition)).count == 1)
        #expect(placements.map(\.offset) == Array(0..<30), "offsets follow the order sent")
        // Different keys spread over the partitions; no key goes round-robin.
        let spread = try await Self.send(gateway, hub: "keys", token: token, (0..<40).map { (#"{"k": \#($0)}"#, "key-\($0)") })
        #expect(Set(spread.placements.map(\.partition)).count > 1)
        let unkeyed = try await Self.send(gateway, hub: "keys", token: token, (0..<8).map { (#"{"u": \#($0)}"#, nil) })
        #expect(Set(unkeyed.placements.map(\.partition)).count == 4)
        try await gateway.stopAndRemove()
    }

    @Test func twoConsumerGroupsEachSeeEveryEventInOrderInBatchesOrSplit() async throws {
        let gateway = try await Self.startGateway()
        _ = try await Self.createHub(gateway, "stream", partitions: 3)
        let token = try await Self.token(gateway, "stream")
        try await gateway.deploy("split", Self.workflow(hub: "stream", group: "one", splitOn: true))
        try await gateway.deploy("batches", Self.workflow(hub: "stream", group: "two", batch: 7, splitOn: false))
        var sent: [(partition: Int, offset: Int)] = []
        for round in 0..<3 {
            let answer = try await Self.send(gateway, hub: "stream", token: token, (0..<30).map { (#"{"round": \#(round), "n": \#($0)}"#, "k\($0 % 5)") })
            #expect(answer.status == 201)
            sent += answer.placements
        }
        let expected = Set(sent.map { "\($0.partition)/\($0.offset)" })
        for (workflow, batch) in [("split", 1), ("batches", 7)] {
            let runs = try await Self.waitForRuns(gateway, workflow: workflow, events: sent.count)
            let seen = runs.flatMap { $0 }.map { "\($0.partition)/\($0.offset)" }
            #expect(seen.count == sent.count, "\(workflow): every event once")
            #expect(Set(seen) == expected)
            #expect(runs.allSatisfy { !$0.isEmpty && $0.count <= batch })
            // Per partition, runs started in offset order, each batch contiguous.
            for partition in 0..<3 {
                let offsets = runs.flatMap { $0 }.filter { $0.partition == partition }.map(\.offset)
                #expect(offsets == offsets.sorted(), "\(workflow) partition \(partition) in order")
                #expect(runs.allSatisfy { run in Set(run.map(\.partition)).count == 1 })
            }
        }
        // The lag of each group and partition is in /metrics (updated every two seconds).
        var metrics = ""
        for _ in 0..<50 where !metrics.contains("callgate_plugin_eventhub_lag{") {
            metrics = try await gateway.request(.GET, "/metrics").text
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(metrics.contains(#"consumer_group="two""#), "\(metrics.prefix(2000))")
        try await gateway.stopAndRemove()
    }

    @Test func disablingKeepsThePositionAndANewGroupStartsAtItsStartPosition() async throws {
        let gateway = try await Self.startGateway()
        _ = try await Self.createHub(gateway, "audit", partitions: 2)
        let token = try await Self.token(gateway, "audit")
        try await gateway.deploy("audit", Self.workflow(hub: "audit", group: "g1", splitOn: true))
        _ = try await Self.send(gateway, hub: "audit", token: token, (0..<6).map { (#"{"n": \#($0)}"#, nil) })
        _ = try await Self.waitForRuns(gateway, workflow: "audit", events: 6)

        #expect(try await gateway.admin(.POST, "/api/v1/workflows/audit:disable").status == 200)
        _ = try await Self.send(gateway, hub: "audit", token: token, (6..<10).map { (#"{"n": \#($0)}"#, nil) })
        try await Task.sleep(for: .seconds(1.5))
        #expect(try Self.delivered(gateway, workflow: "audit").count == 6, "a disabled workflow gets nothing")
        let lagging = try await gateway.admin(.GET, "/api/v1/plugins/event-hub/hubs/audit")
        let groups = try #require(try lagging.json()["consumerGroups"] as? [[String: Any]])
        let lag = (groups.first { $0["name"] as? String == "g1" }?["partitions"] as? [[String: Any]])?.reduce(0) { $0 + ($1["lag"] as? Int ?? 0) }
        #expect(lag == 4)

        #expect(try await gateway.admin(.POST, "/api/v1/workflows/audit:enable").status == 200)
        let resumed = try await Self.waitForRuns(gateway, workflow: "audit", events: 10)
        #expect(resumed.count == 10, "the four waiting events, once each, and nothing twice")

        // Redeployed with a new group reading from the latest position: the old events are not read again.
        try await gateway.deploy("audit", Self.workflow(hub: "audit", group: "g2", start: "latest", splitOn: true))
        try await Task.sleep(for: .seconds(1.5))
        #expect(try Self.delivered(gateway, workflow: "audit").count == 10)
        _ = try await Self.send(gateway, hub: "audit", token: token, [(#"{"n": 10}"#, nil)])
        _ = try await Self.waitForRuns(gateway, workflow: "audit", events: 11)
        // And a group starting at the earliest position reads everything the hub holds.
        try await gateway.deploy("replay", Self.workflow(hub: "audit", group: "g3", splitOn: true))
        #expect(try await Self.waitForRuns(gateway, workflow: "replay", events: 11).count == 11)
        // A group another workflow reads is refused, naming that workflow.
        try await gateway.deploy("intruder", Self.workflow(hub: "audit", group: "g2", splitOn: true))
        var refusal = ""
        for _ in 0..<600 where refusal.isEmpty {
            let subscription = try await gateway.admin(.GET, "/api/v1/workflows/intruder").json()["subscription"] as? [String: Any]
            if subscription?["state"] as? String == "failed" { refusal = subscription?["lastError"] as? String ?? "?" }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(refusal.contains("consumer group 'g2' of hub 'audit' is read by workflow 'audit'"), "\(refusal)")
        try await gateway.stopAndRemove()
    }

    /// A hub deleted and created again under its name restarts at offset 0; its events are new
    /// events, not repeats of the old hub's (their dedupe keys name the hub's creation).
    @Test func aHubCreatedAgainUnderItsNameHasItsEventsDelivered() async throws {
        let gateway = try await Self.startGateway()
        _ = try await Self.createHub(gateway, "reborn", partitions: 1)
        try await gateway.deploy("reborn", Self.workflow(hub: "reborn", group: "$Default", start: "earliest", splitOn: true))
        let first = try await Self.send(gateway, hub: "reborn", token: try await Self.token(gateway, "reborn"), [("1", nil), ("2", nil)])
        #expect(first.placements.map(\.offset) == [0, 1])
        _ = try await Self.waitForRuns(gateway, workflow: "reborn", events: 2)

        #expect(try await gateway.admin(.DELETE, "/api/v1/plugins/event-hub/hubs/reborn").status == 200)
        _ = try await Self.createHub(gateway, "reborn", partitions: 1)
        #expect(try await gateway.admin(.POST, "/api/v1/workflows/reborn:disable").status == 200)
        #expect(try await gateway.admin(.POST, "/api/v1/workflows/reborn:enable").status == 200)
        let second = try await Self.send(gateway, hub: "reborn", token: try await Self.token(gateway, "reborn"), [("3", nil), ("4", nil)])
        #expect(second.placements.map(\.offset) == [0, 1])
        let runs = try await Self.waitForRuns(gateway, workflow: "reborn", events: 4)
        #expect(runs.count == 4, "each event of both hubs started one run")
        try await gateway.stopAndRemove()
    }

    @Test func sendEventAppendsFromAWorkflow() async throws {
        let gateway = try await Self.startGateway()
        _ = try await Self.createHub(gateway, "outbound", partitions: 2)
        try await gateway.deploy("reader", Self.workflow(hub: "outbound", group: "r", splitOn: true))
        try await gateway.deploy("producer", """
        {"definition": {"triggers": {"manual": {"type": "Request", "kind": "Http"}},
         "actions": {"Send": {"type": "SendEvent", "inputs": {"hub": "outbound", "partitionKey": "@{triggerBody()?['customer']}", "body": {"order": "@triggerBody()?['order']"}}}}}}
        """)
        let (runID, _) = try await gateway.trigger("producer", json: #"{"customer": "c-1", "order": 42}"#)
        let run = try await gateway.waitForRun(runID)
        #expect(run.status == "Succeeded")
        let placed = try #require(run.outputs(of: "Send") as? [String: Any])
        #expect(placed["hub"] as? String == "outbound")
        #expect(placed["offset"] as? Int == 0)
        let delivered = try await Self.waitForRuns(gateway, workflow: "reader", events: 1)
        #expect(delivered.first?.first?.partition == placed["partition"] as? Int)
        try await gateway.stopAndRemove()
    }

    @Test func whenRunsDoNotKeepUpEventsWaitInTheHubAsLag() async throws {
        let gateway = try await TestGateway.start(bundledPlugins: BundledPlugins.all) { $0.engine.maxRunsInProgress = 2 }
        _ = try await Self.createHub(gateway, "slow", partitions: 1)
        let token = try await Self.token(gateway, "slow")
        try await gateway.deploy("slow", """
        {"definition": {"triggers": {"events": {"type": "OnEvents", "splitOn": "@triggerBody()",
           "inputs": {"hub": "slow", "consumerGroup": "g", "maxBatchSize": 1, "startPosition": "earliest"}}},
         "actions": {"Pause": {"type": "Wait", "inputs": {"interval": {"count": 1, "unit": "Hour"}}}}}}
        """)
        let sent = try await Self.send(gateway, hub: "slow", token: token, (0..<6).map { (#"{"n": \#($0)}"#, nil) })
        #expect(sent.status == 201, "ingest keeps accepting while runs are behind")
        // Two runs in progress at most: the other events wait in the hub, visible as lag.
        _ = try await Self.waitForRuns(gateway, workflow: "slow", events: 2)
        try await Task.sleep(for: .milliseconds(300))
        #expect(try Self.delivered(gateway, workflow: "slow").count == 2)
        let shown = try await gateway.admin(.GET, "/api/v1/plugins/event-hub/hubs/slow")
        let groups = try #require(try shown.json()["consumerGroups"] as? [[String: Any]])
        let lag = (groups.first?["partitions"] as? [[String: Any]])?.first?["lag"] as? Int
        #expect(lag == 4)
        // As runs end (cancelled here: their pause is an hour, so no timing decides the test), the
        // rest follow, in order and once each.
        for _ in 0..<300 where try Self.delivered(gateway, workflow: "slow").count < 6 {
            for run in try Self.runsInProgress(gateway, workflow: "slow") {
                _ = try await gateway.admin(.POST, "/api/v1/runs/\(run):cancel")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let runs = try Self.delivered(gateway, workflow: "slow")
        #expect(runs.flatMap { $0 }.map(\.offset) == Array(0..<6))
        try await gateway.stopAndRemove()
    }
}
