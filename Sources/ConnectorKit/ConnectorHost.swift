import CCallgatePlugin
import CallgatePluginBuffers
import Foundation

/// The gateway's services, as a connector sees them. Thread-safe; callable from inside hooks.
public struct ConnectorHost: @unchecked Sendable {
    // The host's table lives until shutdown returns; its functions are thread-safe (ABI contract).
    private let api: UnsafePointer<callgate_host_api>

    init(api: UnsafePointer<callgate_host_api>) {
        self.api = api
    }

    /// Log levels of ``log(_:_:)``.
    public enum LogLevel: Int32, Sendable {
        case trace = 0, debug, info, warning, error
    }

    /// Writes a log line attributed to the plugin.
    public func log(_ level: LogLevel, _ message: String) {
        guard let log = api.pointee.log else { return }
        withBorrowedBytes(Array(message.utf8)) { log(api.pointee.host, level.rawValue, $0) }
    }

    /// The gateway's clock, Unix milliseconds.
    public func nowMilliseconds() -> Int64 {
        api.pointee.clock_now_ms?(api.pointee.host) ?? 0
    }

    /// The gateway's clock as a date.
    public var now: Date {
        Date(timeIntervalSince1970: Double(nowMilliseconds()) / 1000)
    }

    /// The plugin's state value for `key`, or nil.
    public func state(_ key: String) throws(ConnectorError) -> [UInt8]? {
        guard let get = api.pointee.state_get else { throw .unsupported("state_get") }
        let sink = ByteSink()
        let status = withBorrowedBytes(Array(key.utf8)) { key in sink.withWriter { get(api.pointee.host, key, $0) } }
        if status == CALLGATE_ERR_NOT_FOUND { return nil }
        try check(status, "")
        return sink.bytes
    }

    /// Stores a state value (durably, in the gateway's database).
    public func setState(_ key: String, _ value: [UInt8]) throws(ConnectorError) {
        guard let put = api.pointee.state_put else { throw .unsupported("state_put") }
        let status = withBorrowedBytes(Array(key.utf8)) { key in withBorrowedBytes(value) { put(api.pointee.host, key, $0) } }
        try check(status, "state_put failed")
    }

    /// Deletes a state value.
    public func deleteState(_ key: String) throws(ConnectorError) {
        guard let delete = api.pointee.state_delete else { throw .unsupported("state_delete") }
        try check(withBorrowedBytes(Array(key.utf8)) { delete(api.pointee.host, $0) }, "state_delete failed")
    }

    /// Mints a signed callback URL for a subscription: `(id, url)`.
    public func mintCallbackURL(subscription: String, scope: String = "callback", expiresInSeconds: Int? = nil) throws(ConnectorError) -> (id: String, url: String) {
        guard let mint = api.pointee.mint_callback_url else { throw .unsupported("mint_callback_url") }
        var request: [String: JSONValue] = ["subscription": .string(subscription), "scope": .string(scope)]
        if let expiresInSeconds { request["expiresInSeconds"] = .number(Double(expiresInSeconds)) }
        let result = try call { output, error in withBorrowedBytes(JSONValue.object(request).bytes) { mint(api.pointee.host, $0, output, error) } }
        guard let json = JSONValue(parsing: result), let id = json["id"]?.string, let url = json["url"]?.string else {
            throw .internalError("mint_callback_url answered no id and url")
        }
        return (id, url)
    }

    /// The ABI minor of the host's table: which optional services and request fields it knows.
    public var abiMinor: Int { Int(api.pointee.abi_minor) }

    /// Starts an outbound request; the connector's `httpCompleted` fires exactly once with its id.
    /// `authentication` (a Logic Apps authentication object of string fields) is applied by the
    /// host; a host older than ABI 1.1 would ignore it, so the call is refused there instead.
    public func sendHTTP(
        method: String = "GET", url: String, headers: [String: String] = [:], body: [UInt8] = [],
        authentication: [String: String]? = nil, timeoutMilliseconds: Int = 30_000
    ) throws(ConnectorError) -> UInt64 {
        guard let send = api.pointee.http_send else { throw .unsupported("http_send") }
        var fields: [String: JSONValue] = [
            "method": .string(method), "url": .string(url), "timeoutMs": .number(Double(timeoutMilliseconds)),
            "headers": .object(headers.mapValues { .string($0) }),
        ]
        if let authentication {
            guard abiMinor >= 1 else { throw .unsupported("this gateway cannot authenticate outbound requests (it needs ABI 1.1; it has 1.\(abiMinor))") }
            fields["authentication"] = .object(authentication.mapValues { .string($0) })
        }
        let request = JSONValue.object(fields)
        var requestID: UInt64 = 0
        let error = ByteSink()
        let status = withBorrowedBytes(request.bytes) { requestBytes in
            withBorrowedBytes(body) { bodyBytes in error.withWriter { send(api.pointee.host, requestBytes, bodyBytes, &requestID, $0) } }
        }
        guard status == CALLGATE_PENDING else { throw ConnectorError(status: status, error.text) }
        return requestID
    }

    /// Cancels a request; its completion then reports cancelled. False when it had already completed.
    @discardableResult
    public func cancelHTTP(_ requestID: UInt64) -> Bool {
        api.pointee.http_cancel?(api.pointee.host, requestID) == CALLGATE_OK
    }

    /// Starts a run of a subscription's trigger; a repeated `dedupeKey` starts nothing.
    public func fireTrigger(subscription: String, outputs: JSONValue, dedupeKey: [UInt8] = []) throws(ConnectorError) -> (runID: String, duplicate: Bool) {
        guard let fire = api.pointee.fire_trigger else { throw .unsupported("fire_trigger") }
        let request: JSONValue = ["subscription": .string(subscription), "outputs": outputs]
        let result = try call { output, error in
            withBorrowedBytes(request.bytes) { requestBytes in withBorrowedBytes(dedupeKey) { fire(api.pointee.host, requestBytes, $0, output, error) } }
        }
        guard let json = JSONValue(parsing: result) else { throw .internalError("fire_trigger answered no JSON") }
        // No run when the trigger's conditions were not met.
        return (json["runId"]?.string ?? "", json["duplicate"] == .bool(true))
    }

    /// Completes an operation a hook answered pending for.
    public func completeOperation(id: String, status: Int32 = 0, outputs: JSONValue) throws(ConnectorError) {
        guard let complete = api.pointee.complete_operation else { throw .unsupported("complete_operation") }
        let answer = withBorrowedBytes(Array(id.utf8)) { idBytes in withBorrowedBytes(outputs.bytes) { complete(api.pointee.host, idBytes, status, $0) } }
        try check(answer, "complete_operation failed")
    }

    /// Sets the gauge `callgate_plugin_{name}` of the gateway's `/metrics` (ABI 1.3; a no-op on
    /// an older gateway).
    public func setGauge(_ name: String, labels: [String: String] = [:], value: Int64) {
        guard abiMinor >= 3, let set = api.pointee.set_gauge else { return }
        let labelBytes = JSONValue.object(labels.mapValues { .string($0) }).bytes
        _ = withBorrowedBytes(Array(name.utf8)) { nameBytes in withBorrowedBytes(labelBytes) { set(api.pointee.host, nameBytes, $0, value) } }
    }

    // MARK: plumbing

    private func call(_ body: (UnsafePointer<callgate_writer>, UnsafePointer<callgate_writer>) -> Int32) throws(ConnectorError) -> [UInt8] {
        let output = ByteSink()
        let error = ByteSink()
        let status = output.withWriter { outputWriter in error.withWriter { body(outputWriter, $0) } }
        try check(status, error.text)
        return output.bytes
    }

    private func check(_ status: Int32, _ message: String) throws(ConnectorError) {
        guard status == CALLGATE_OK else { throw ConnectorError(status: status, message) }
    }
}
