import AsyncHTTPClient
import CallgateTesting
import Foundation
import GRDB
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization
import Testing

/// Kills the real `callgate` binary with SIGKILL while 10,000 events stream into a hub and an
/// `OnEvents` workflow turns them into runs, restarts it on the same data directory, and proves
/// that every event the hub holds started exactly one run, and that every acknowledged event is held.
@Suite(.serialized) struct EventHubCrashTests {
    static let batches = 100
    static let batchSize = 100

    @Test func everyEventStartsExactlyOneRunAcrossAKill() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let port = try CLITests.freePort()
        let flags = ["--listen", "127.0.0.1:\(port)", "--public-url", "https://127.0.0.1:\(port)", "--log-level", "error"]
        let environment = ["CALLGATE_ADMIN_TOKEN": "t"]
        var server = try CLITests.Server(flags, in: directory.path, environment: environment)
        _ = try await server.port()
        let base = "https://127.0.0.1:\(port)"

        let client = FreshHTTPSClient(caFile: directory.path + "/certs/ca.pem")
        @Sendable func send(_ method: HTTPMethod, _ path: String, headers: [(String, String)] = [], body: String = "") async throws -> (Int, Data) {
            try await client.send(method, base + path, headers: headers, body: body)
        }
        let admin = [("Authorization", "Bearer t"), ("Content-Type", "application/json")]
        let (created, _) = try await send(.PUT, "/api/v1/plugins/event-hub/hubs/crash", headers: admin, body: #"{"partitions": 4}"#)
        #expect(created == 201)
        let definition = """
        {"definition": {"triggers": {"events": {"type": "OnEvents", "inputs": {"hub": "crash", "consumerGroup": "runs", "maxBatchSize": 5, "startPosition": "earliest"}}},
         "actions": {"Count": {"type": "Compose", "inputs": "@length(triggerBody())"}}}}
        """
        let (deployed, deployAnswer) = try await send(.PUT, "/api/v1/workflows/crash", headers: admin, body: definition)
        #expect(deployed == 201 || deployed == 200, "\(String(decoding: deployAnswer, as: UTF8.self))")
        let (_, issued) = try await send(.POST, "/api/v1/plugins/event-hub/hubs/crash/tokens", headers: admin, body: #"{"ttlSeconds": 3600}"#)
        let token = try #require((try JSONSerialization.jsonObject(with: issued) as? [String: Any])?["token"] as? String)

        // The producer sends batches one after another and retries a batch that got no answer;
        // the gateway is killed three times in the middle of the stream, while its pumps fire
        // small batches (five events a run keeps them busy, so a kill lands mid-delivery).
        let acknowledged = Mutex<Set<Int>>([])
        let kills: Set<Int> = [Self.batches / 4, Self.batches / 2, 3 * Self.batches / 4]
        var killed = 0
        for batch in 0..<Self.batches {
            let ids = (batch * Self.batchSize)..<((batch + 1) * Self.batchSize)
            let body = "[" + ids.map { #"{"Body": {"id": \#($0)}, "BrokerProperties": {"PartitionKey": "k\#($0 % 13)"}}"# }.joined(separator: ",") + "]"
            if kills.contains(batch) {
                // Mid-stream: one batch goes out while the process dies.
                async let inFlight = try? send(.POST, "/plugins/event-hub/hubs/crash/messages",
                                               headers: [("Authorization", token), ("Content-Type", "application/vnd.microsoft.servicebus.json")], body: body)
                try await Task.sleep(for: .milliseconds(5))
                kill(server.process.processIdentifier, SIGKILL)
                _ = await server.waitForExit()
                killed += 1
                if let (status, _) = await inFlight, status == 201 { acknowledged.withLock { $0.formUnion(ids) } }
                server = try CLITests.Server(flags, in: directory.path, environment: environment)
                _ = try await server.port()
            }
            while true {
                if let (status, _) = try? await send(.POST, "/plugins/event-hub/hubs/crash/messages",
                                                     headers: [("Authorization", token), ("Content-Type", "application/vnd.microsoft.servicebus.json")], body: body),
                   status == 201 {
                    acknowledged.withLock { $0.formUnion(ids) }
                    break
                }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        #expect(killed == kills.count)

        // Wait until the group has read everything the hub holds, then stop the gateway.
        var lag = -1
        for _ in 0..<1200 where lag != 0 {
            let (_, shown) = try await send(.GET, "/api/v1/plugins/event-hub/hubs/crash", headers: admin)
            let groups = (try JSONSerialization.jsonObject(with: shown) as? [String: Any])?["consumerGroups"] as? [[String: Any]] ?? []
            let partitions = groups.first { $0["name"] as? String == "runs" }?["partitions"] as? [[String: Any]] ?? []
            lag = partitions.isEmpty ? -1 : partitions.reduce(0) { $0 + ($1["lag"] as? Int ?? 0) }
            if lag != 0 { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(lag == 0)
        #expect(await server.terminate() == 0)

        // Every event the hub holds started exactly one run; every acknowledged event is held.
        let hub = try DatabaseQueue(path: directory.path + "/data/plugin-data/event-hub/eventhub.sqlite")
        let held = try await hub.read { db in
            try Row.fetchAll(db, sql: "SELECT partition, offset, body FROM event WHERE hub = 'crash'").map { row -> (String, Int) in
                let body = try JSONSerialization.jsonObject(with: row["body"] as Data) as? [String: Any]
                return ("\(row["partition"] as Int)/\(row["offset"] as Int)", body?["id"] as? Int ?? -1)
            }
        }
        let runs = try EventHubTests.delivered(databasePath: directory.path + "/data/callgate.sqlite", workflow: "crash")
        var started: [String: Int] = [:]
        for run in runs {
            for event in run { started["\(event.partition)/\(event.offset)", default: 0] += 1 }
        }
        let twice = started.filter { $0.value > 1 }
        let never = held.filter { started[$0.0] == nil }
        #expect(twice.isEmpty, "\(twice.count) events started more than one run")
        #expect(never.isEmpty, "\(never.count) events started no run")
        #expect(Set(started.keys).isSubset(of: Set(held.map(\.0))))
        let heldIDs = Set(held.map(\.1))
        let lost = acknowledged.withLock { $0 }.subtracting(heldIDs)
        #expect(lost.isEmpty, "\(lost.count) acknowledged events are not in the hub")
        #expect(acknowledged.withLock { $0.count } == Self.batches * Self.batchSize)
    }
}
