import ConnectorKit
import Synchronization

/// http-webhook: the `HttpWebhook` trigger and action of Logic Apps (both subscribe the same way;
/// the gateway decides when: a trigger when its workflow is deployed or enabled, an action when a
/// run reaches it). Subscribe sends the step's `inputs.subscribe` request (with the callback URL
/// the gateway minted) through the host's outbound HTTP; unsubscribe sends `inputs.unsubscribe`,
/// or `DELETE {Location}` when it is omitted and the subscribe was answered `201` with a
/// `Location`. Both answer pending and finish when the HTTP call completes.
final class HTTPWebhookConnector: Connector {
    let host: ConnectorHost
    /// Outbound request id → the operation it completes.
    private let operations = Mutex<[UInt64: String]>([:])

    init(host: ConnectorHost) throws(ConnectorError) {
        self.host = host
    }

    func describe() -> JSONValue {
        let inputs: JSONValue = [
            "type": "object", "required": ["subscribe"],
            "properties": ["subscribe": ["type": "object", "required": ["method", "uri"]], "unsubscribe": ["type": "object"]],
        ]
        return [
            "id": "http-webhook", "version": "1.0.0",
            "triggers": [["type": "HttpWebhook", "inputs": inputs]],
            "actions": [["type": "HttpWebhook", "inputs": inputs]],
        ]
    }

    func makeInstance(configuration: JSONValue) throws(ConnectorError) -> any ConnectorInstance {
        HTTPWebhookInstance(connector: self)
    }

    /// Sends one evaluated Logic Apps request (`method`, `uri`, `headers`, `body`,
    /// `authentication`) with the `Callgate-*` headers; the operation completes with
    /// `{statusCode, headers, body}` when the answer comes.
    func send(_ request: OutboundRequest, operation: String) throws(ConnectorError) {
        let id = try host.sendHTTP(
            method: request.method, url: request.url, headers: request.headers, body: request.body,
            authentication: request.authentication, timeoutMilliseconds: 100_000
        )
        operations.withLock { $0[id] = operation }
    }

    func httpCompleted(requestID: UInt64, result: Result<ConnectorHTTPResponse, ConnectorError>) {
        guard let operation = operations.withLock({ $0.removeValue(forKey: requestID) }) else { return }
        switch result {
        case .success(let response):
            let status = response.metadata["status"].flatMap { if case .number(let code) = $0 { Int(code) } else { nil } } ?? 0
            let outputs: JSONValue = [
                "statusCode": .number(Double(status)),
                "headers": response.metadata["headers"] ?? [:],
                "body": JSONValue(parsing: response.body) ?? .string(String(decoding: response.body, as: UTF8.self)),
            ]
            if (200..<300).contains(status) {
                try? host.completeOperation(id: operation, outputs: outputs)
            } else {
                // 408, 429 and 5xx may pass on a later attempt; anything else will not.
                let retryable = status == 408 || status == 429 || status >= 500
                let error = retryable ? ConnectorError.retryable("") : ConnectorError.invalid("")
                try? host.completeOperation(id: operation, status: error.status, outputs: [
                    "message": .string("the subscriber answered \(status)"), "response": outputs,
                ])
            }
        case .failure(let error):
            try? host.completeOperation(id: operation, status: error.status, outputs: ["message": .string(error.message)])
        }
    }
}

final class HTTPWebhookInstance: ConnectorInstance {
    let connector: HTTPWebhookConnector

    init(connector: HTTPWebhookConnector) {
        self.connector = connector
    }

    func subscribe(_ request: JSONValue) throws(ConnectorError) -> HookOutcome {
        guard let operation = request["operation"]?.string else { throw .invalid("request lacks \"operation\"") }
        guard let subscribe = request["inputs"]?["subscribe"] else { throw .invalid("inputs.subscribe is missing") }
        let outbound = try OutboundRequest(subscribe, context: request, operation: "subscribe")
        try connector.send(outbound, operation: operation)
        return .pending(["requestUrl": .string(outbound.url)])
    }

    func unsubscribe(_ request: JSONValue) throws(ConnectorError) -> HookOutcome {
        guard let operation = request["operation"]?.string else { throw .invalid("request lacks \"operation\"") }
        var outbound: OutboundRequest
        if let unsubscribe = request["inputs"]?["unsubscribe"] {
            outbound = try OutboundRequest(unsubscribe, context: request, operation: "unsubscribe")
        } else if let answer = request["subscribeResponse"], answer["statusCode"] == .number(201),
                  let location = OutboundRequest.header("Location", in: answer["headers"]) {
            // Logic Apps leaves this case alone; a 201 + Location names the subscription to delete,
            // at the same service, so with the subscribe's authentication.
            let delete: JSONValue = [
                "method": "DELETE", "uri": .string(location), "authentication": request["inputs"]?["subscribe"]?["authentication"] ?? .null,
            ]
            outbound = try OutboundRequest(delete, context: request, operation: "unsubscribe")
        } else {
            return .done(["sent": false])
        }
        outbound.headers["Callgate-Operation"] = "unsubscribe"
        try connector.send(outbound, operation: operation)
        return .pending(["requestUrl": .string(outbound.url)])
    }

    func handleCallback(_ request: JSONValue, body: [UInt8]) throws(ConnectorError) -> HookOutcome {
        // The gateway answers callbacks of webhook steps itself (SPEC §5).
        .done(["decision": "resume"])
    }
}

/// An outbound request built from evaluated Logic Apps inputs.
struct OutboundRequest {
    var method: String
    var url: String
    var headers: [String: String]
    var body: [UInt8]
    /// Logic Apps `authentication`, as string fields for the host's `http_send`.
    var authentication: [String: String]?

    init(_ inputs: JSONValue, context: JSONValue, operation: String) throws(ConnectorError) {
        guard let method = inputs["method"]?.string, !method.isEmpty else { throw .invalid("\(operation).method must be a string such as POST") }
        guard let uri = inputs["uri"]?.string, uri.hasPrefix("http://") || uri.hasPrefix("https://") else {
            throw .invalid("\(operation).uri must be an absolute http or https URL")
        }
        self.method = method.uppercased()
        self.url = uri
        var headers: [String: String] = [:]
        if case .object(let given)? = inputs["headers"] {
            for (name, value) in given { headers[name] = value.string ?? String(decoding: value.bytes, as: UTF8.self) }
        }
        if let workflow = context["workflow"]?.string { headers["Callgate-Workflow"] = workflow }
        if let run = context["runId"]?.string, !run.isEmpty { headers["Callgate-Run-Id"] = run }
        headers["Callgate-Operation"] = operation
        if let subscription = context["subscription"]?.string { headers["Callgate-Subscription-Id"] = subscription }
        if let attempt = context["attemptId"]?.string { headers["Callgate-Attempt-Id"] = attempt }
        // The gateway applies authentication (Basic, Raw, client certificates, OAuth2 tokens).
        switch inputs["authentication"] {
        case nil, .null?:
            authentication = nil
        case .object(let fields)?:
            authentication = fields.mapValues { $0.string ?? String(decoding: $0.bytes, as: UTF8.self) }
        case _?:
            throw .invalid("\(operation).authentication must be an object with a type")
        }
        switch inputs["body"] {
        case nil, .null?:
            body = []
        case .string(let text)?:
            body = Array(text.utf8)
            if headers.keys.first(where: { $0.lowercased() == "content-type" }) == nil { headers["Content-Type"] = "text/plain; charset=utf-8" }
        case let value?:
            body = value.bytes
            if headers.keys.first(where: { $0.lowercased() == "content-type" }) == nil { headers["Content-Type"] = "application/json" }
        }
        self.headers = headers
    }

    /// A header of a `{"Name": "value"}` object, matched case-insensitively.
    static func header(_ name: String, in headers: JSONValue?) -> String? {
        guard case .object(let fields)? = headers else { return nil }
        return fields.first { $0.key.lowercased() == name.lowercased() }?.value.string
    }
}

/// The plugin's entry point, exported as `callgate_plugin_negotiate` by the shared library and
/// called directly when the plugin is bundled into the gateway.
public func httpWebhookNegotiate(_ offer: OpaquePointer?, _ answer: OpaquePointer?) -> Int32 {
    negotiate(offer: offer, answer: answer) { startConnector(HTTPWebhookConnector.self, $0, $1, $2, $3) }
}
