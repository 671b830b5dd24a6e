import Foundation
import NIOHTTP1

/// Workflow helpers over the admin API and the callback route.
extension TestGateway {
    static let terminalStatuses: Set<String> = ["Succeeded", "Failed", "Cancelled", "TimedOut"]

    /// Deploys a definition; fails the test with the gateway's problems when it is refused.
    func deploy(_ name: String, _ definition: String) async throws {
        let answer = try await admin(.PUT, "/api/v1/workflows/\(name)", body: Array(definition.utf8))
        guard answer.status == 200 || answer.status == 201 else { throw TestFailure("deploy of \(name) answered \(answer.status): \(answer.text)") }
    }

    /// The Request trigger's signed URL.
    func triggerURL(_ workflow: String, trigger: String = "manual") async throws -> String {
        let answer = try await admin(.POST, "/api/v1/workflows/\(workflow)/triggers/\(trigger)/callback-url")
        guard answer.status == 200, let url = try answer.json()["value"] as? String else { throw TestFailure("callback-url answered \(answer.status): \(answer.text)") }
        return url
    }

    /// Calls a workflow's Request trigger with a JSON body; answers the run id and the response.
    func trigger(_ workflow: String, json: String = "{}", headers: [(String, String)] = []) async throws -> (runID: String, response: TestResponse) {
        let url = try await triggerURL(workflow)
        let response = try await request(.POST, url, headers: [("Content-Type", "application/json")] + headers, body: Array(json.utf8))
        guard let runID = response.headers.first(name: "Callgate-Run-Id") else { throw TestFailure("trigger answered \(response.status) without a run id: \(response.text)") }
        return (runID, response)
    }

    /// `GET /api/v1/runs/{id}`.
    func run(_ id: String) async throws -> RunView {
        let answer = try await admin(.GET, "/api/v1/runs/\(id)")
        guard answer.status == 200 else { throw TestFailure("run \(id) answered \(answer.status): \(answer.text)") }
        return RunView(json: try answer.json())
    }

    /// Polls the run until `condition` holds (by default: it ended), or fails after `seconds`.
    func waitForRun(_ id: String, seconds: Double = 60, until condition: (RunView) -> Bool = { TestGateway.terminalStatuses.contains($0.status) }) async throws -> RunView {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let view = try await run(id)
            if condition(view) { return view }
            if Date() > deadline { throw TestFailure("run \(id) did not get there in \(seconds) s; it is \(view.status): \(view.actionStatuses)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}

/// A run as the admin API shows it.
struct RunView {
    let json: [String: Any]

    var status: String { (json["run"] as? [String: Any])?["status"] as? String ?? "?" }
    var error: [String: Any]? { (json["run"] as? [String: Any])?["error"] as? [String: Any] }
    var actions: [[String: Any]] { json["actions"] as? [[String: Any]] ?? [] }
    var outbox: [[String: Any]] { json["outbox"] as? [[String: Any]] ?? [] }
    var actionStatuses: [String: String] {
        Dictionary(actions.map { ($0["key"] as? String ?? "?", $0["status"] as? String ?? "?") }, uniquingKeysWith: { a, _ in a })
    }

    func action(_ key: String) -> [String: Any]? { actions.first { $0["key"] as? String == key } }
    func status(of key: String) -> String? { action(key)?["status"] as? String }
    func outputs(of key: String) -> Any? { action(key)?["outputs"] }
}
