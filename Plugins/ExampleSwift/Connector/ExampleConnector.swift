import ConnectorKit

/// example-swift: the Swift twin of the C example, written with ConnectorKit. It uses every host
/// service the same way, so one conformance runner checks both.
final class ExampleConnector: Connector {
    let host: ConnectorHost

    init(host: ConnectorHost) throws(ConnectorError) {
        self.host = host
    }

    func describe() -> JSONValue {
        [
            "id": "example-swift", "version": "1.0.0",
            "triggers": [["type": "ExampleTrigger", "inputs": ["type": "object"]]],
            "actions": [["type": "ExampleAction", "inputs": ["type": "object"]]],
        ]
    }

    func makeInstance(configuration: JSONValue) throws(ConnectorError) -> any ConnectorInstance {
        if configuration["mode"]?.string == "fail" { throw .invalid("configuration asked to fail") }
        return ExampleInstance(host: host)
    }

    func httpCompleted(requestID: UInt64, result: Result<ConnectorHTTPResponse, ConnectorError>) {
        // Count deliveries in state, so the conformance suite can prove "exactly once".
        let key = "completions:\(requestID)"
        let previous = (try? host.state(key)).flatMap { $0.flatMap { Int(String(decoding: $0, as: UTF8.self)) } } ?? 0
        try? host.setState(key, Array(String(previous + 1).utf8))
        switch result {
        case .success(let response):
            try? host.completeOperation(id: "http-\(requestID)", outputs: ["response": response.metadata, "bodyLength": .number(Double(response.body.count))])
        case .failure(let error):
            try? host.completeOperation(id: "http-\(requestID)", status: error.status, outputs: .string(error.message))
        }
    }
}

final class ExampleInstance: ConnectorInstance {
    let host: ConnectorHost

    init(host: ConnectorHost) {
        self.host = host
    }

    func subscribe(_ request: JSONValue) throws(ConnectorError) -> HookOutcome {
        guard let subscription = request["subscription"]?.string else { throw .invalid("request lacks \"subscription\"") }
        if let fail = request["fail"]?.string { throw fail == "retryable" ? .retryable("asked to fail") : .invalid("asked to fail") }
        host.log(.info, "subscribe \(subscription)")
        let now = host.nowMilliseconds()
        let minted = try host.mintCallbackURL(subscription: subscription, scope: "resume")
        let callback: JSONValue = ["id": .string(minted.id), "url": .string(minted.url)]
        try host.setState("sub:\(subscription)", callback.bytes)
        if let url = request["http"]?.string {
            let timeout = request["timeoutMs"]?.string.flatMap(Int.init) ?? 10_000
            let id = try host.sendHTTP(url: url, timeoutMilliseconds: timeout)
            if request["cancel"] != nil { host.cancelHTTP(id) }
            return .pending(["requestId": .number(Double(id))])
        }
        return .done(["callback": callback, "now": .number(Double(now))])
    }

    func unsubscribe(_ request: JSONValue) throws(ConnectorError) -> HookOutcome {
        guard let subscription = request["subscription"]?.string else { throw .invalid("request lacks \"subscription\"") }
        try host.deleteState("sub:\(subscription)")
        return .done(["unsubscribed": .string(subscription)])
    }

    func handleCallback(_ request: JSONValue, body: [UInt8]) throws(ConnectorError) -> HookOutcome {
        guard let subscription = request["subscription"]?.string else { throw .invalid("request lacks \"subscription\"") }
        guard try host.state("sub:\(subscription)") != nil else { throw .notFound("unknown subscription") }
        let run = try host.fireTrigger(subscription: subscription, outputs: ["bodyLength": .number(Double(body.count))], dedupeKey: body)
        return .done([
            "decision": "resume",
            "outputs": ["bodyLength": .number(Double(body.count)), "run": ["runId": .string(run.runID), "duplicate": .bool(run.duplicate)]],
            "reply": ["status": 200, "headers": ["Content-Type": "application/json"], "body": "{\"ok\":true}"],
        ])
    }
}

/// The plugin's entry point. The shared library exports it as `callgate_plugin_negotiate`
/// (Plugins/ExampleSwift/Export); the gateway calls it directly when the plugin is bundled.
public func exampleSwiftNegotiate(_ offer: OpaquePointer?, _ answer: OpaquePointer?) -> Int32 {
    negotiate(offer: offer, answer: answer) { startConnector(ExampleConnector.self, $0, $1, $2, $3) }
}
