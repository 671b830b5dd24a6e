import AsyncHTTPClient
import CallgateTesting
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization
import Testing

/// Kills a gateway process with SIGKILL while callbacks are in flight, restarts it on the same
/// data directory, and checks SPEC §7: every callback answered 200 was resumed, exactly once, and
/// every run completes.
@Suite(.serialized) struct CrashRecoveryTests {
    static let runs = 120

    static func definition(subscriber: String) -> String {
        """
        {"definition": {"triggers": {"manual": {"type": "Request", "kind": "Http"}},
         "actions": {
           "Init": {"type": "InitializeVariable", "inputs": {"variables": [{"name": "continuations", "type": "integer", "value": 0}]}},
           "Wait": {"type": "TestWebhook", "runAfter": {"Init": ["Succeeded"]},
                    "inputs": {"subscribe": {"uri": "\(subscriber)/subscribe"}}},
           "Continue": {"type": "SetVariable", "runAfter": {"Wait": ["Succeeded"]},
                        "inputs": {"name": "continuations", "value": "@add(variables('continuations'), 1)"}},
           "Count": {"type": "Compose", "runAfter": {"Continue": ["Succeeded"]},
                     "inputs": {"continuations": "@variables('continuations')", "got": "@body('Wait')?['n']"}}
         }}}
        """
    }

    /// What each run's callback delivery got, shared by the delivering tasks.
    final class Outcomes: Sendable {
        let map = Mutex<[String: Delivery]>([:])
    }

    /// Outcome of one callback delivery attempt.
    enum Delivery: Equatable, Sendable {
        case resumed
        case alreadyResumed
        case failed(String)
    }

    @Test func everyAcknowledgedCallbackSurvivesAKillAndEveryRunCompletesOnce() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let subscriber = try await OutsideService.start()
        let port = try CLITests.freePort()
        let flags = ["--listen", "127.0.0.1:\(port)", "--public-url", "https://127.0.0.1:\(port)", "--log-level", "error"]
        let environment = ["CALLGATE_ADMIN_TOKEN": "t"]
        let first = try CLITests.Server(flags, in: directory.path, environment: environment, program: "callgate-test-gateway")
        _ = try await first.port()
        let base = "https://127.0.0.1:\(port)"

        let client = FreshHTTPSClient(caFile: directory.path + "/certs/ca.pem")
        @Sendable func send(_ method: HTTPMethod, _ url: String, body: String = "{}", admin: Bool = false) async throws -> (Int, Data) {
            let headers = [("Content-Type", "application/json")] + (admin ? [("Authorization", "Bearer t")] : [])
            return try await client.send(method, url, headers: headers, body: body)
        }

        let (deployed, _) = try await send(.PUT, base + "/api/v1/workflows/crash", body: Self.definition(subscriber: subscriber.baseURL), admin: true)
        #expect(deployed == 201)
        let (_, urlAnswer) = try await send(.POST, base + "/api/v1/workflows/crash/triggers/manual/callback-url", admin: true)
        let triggerURL = try #require((try JSONSerialization.jsonObject(with: urlAnswer) as? [String: Any])?["value"] as? String)
        for _ in 0..<Self.runs {
            let (status, _) = try await send(.POST, triggerURL)
            #expect(status == 202)
        }
        // Every run subscribed: the subscriber holds one callback URL per run.
        let subscriptions = try await WaitingStepTests.eventually(seconds: 60) {
            let requests = subscriber.requests("/subscribe")
            return Set(requests.compactMap { $0.headers["callgate-run-id"] }).count == Self.runs ? requests : nil
        }
        var callbacks: [String: String] = [:]  // run id → callback URL
        for request in subscriptions {
            if let run = request.headers["callgate-run-id"], let url = request.json["callbackUrl"] as? String { callbacks[run] = url }
        }
        let ordered = callbacks.sorted { $0.key < $1.key }

        // Deliver callbacks 16 at a time and kill the gateway halfway through.
        let outcomes = Outcomes()
        await withTaskGroup(of: Void.self) { group in
            // The kill lands once a third of the deliveries were answered, with others in flight.
            group.addTask {
                while outcomes.map.withLock({ $0.count }) < Self.runs / 3 { try? await Task.sleep(for: .milliseconds(5)) }
                kill(first.process.processIdentifier, SIGKILL)
            }
            for (index, (run, url)) in ordered.enumerated() {
                group.addTask {
                    let outcome: Delivery
                    do {
                        let (status, body) = try await send(.POST, url, body: #"{"n": \#(index)}"#)
                        let text = String(decoding: body, as: UTF8.self)
                        outcome = status == 200 && text.contains("already-resumed") ? .alreadyResumed
                            : status == 200 && text.contains("\"resumed\"") ? .resumed : .failed("\(status) \(text)")
                    } catch {
                        outcome = .failed("\(error)")
                    }
                    outcomes.map.withLock { $0[run] = outcome }
                }
                if index % 16 == 15 { await group.next() }
            }
        }
        _ = await first.waitForExit()
        let acknowledged = outcomes.map.withLock { $0.filter { $0.value == .resumed }.map(\.key) }
        #expect(!acknowledged.isEmpty, "some callbacks were answered before the kill")
        #expect(acknowledged.count < Self.runs, "the kill interrupted deliveries")
        print("crash test: \(acknowledged.count) of \(Self.runs) callbacks acknowledged before SIGKILL")

        // Restart on the same directory and port; deliver what was not acknowledged again.
        let second = try CLITests.Server(flags, in: directory.path, environment: environment, program: "callgate-test-gateway")
        _ = try await second.port()
        for (index, (run, url)) in ordered.enumerated() where outcomes.map.withLock({ $0[run] }) != .resumed {
            let (status, body) = try await send(.POST, url, body: #"{"n": \#(index)}"#)
            #expect(status == 200, "run \(run): \(String(decoding: body, as: UTF8.self))")
        }
        // A repeat of an acknowledged callback resumes nothing.
        if let (run, url) = ordered.first(where: { acknowledged.contains($0.key) }), let index = ordered.firstIndex(where: { $0.key == run }) {
            let (_, body) = try await send(.POST, url, body: #"{"n": \#(index)}"#)
            #expect(String(decoding: body, as: UTF8.self).contains("already-resumed"))
        }

        // Every run completes, its continuation ran once, with the body its callback carried.
        let deadline = Date().addingTimeInterval(60)
        var finished: [String: [String: Any]] = [:]
        while finished.count < Self.runs && Date() < deadline {
            for (index, (run, _)) in ordered.enumerated() where finished[run] == nil {
                let (_, body) = try await send(.GET, base + "/api/v1/runs/\(run)", admin: true)
                guard let detail = try JSONSerialization.jsonObject(with: body) as? [String: Any],
                      let status = (detail["run"] as? [String: Any])?["status"] as? String, status != "Running", status != "Waiting"
                else { continue }
                #expect(status == "Succeeded", "run \(run) ended \(status)")
                let count = (detail["actions"] as? [[String: Any]])?.first { $0["name"] as? String == "Count" }?["outputs"] as? [String: Any]
                #expect(count?["continuations"] as? Int == 1, "run \(run) continued \(count?["continuations"] ?? "?") times")
                #expect(count?["got"] as? Int == index, "run \(run) resumed with its own callback")
                finished[run] = detail
            }
            if finished.count < Self.runs { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(finished.count == Self.runs, "\(Self.runs - finished.count) runs did not complete")
        #expect(await second.terminate() == 0)
        await subscriber.stop()
    }
}
