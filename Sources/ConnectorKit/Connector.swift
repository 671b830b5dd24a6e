/// A connector plugin written in Swift: a type conforming to ``Connector`` plus one exported
/// entry point that hands it to ``negotiate(offer:answer:start:)``. ConnectorKit turns the
/// C ABI into these calls: no unsafe pointers in plugin code, and a thrown error becomes a status
/// code rather than a trap (a trap in a plugin would kill the gateway).
///
/// Hooks run on the gateway's plugin threads, never on Swift's cooperative pool. They must not
/// block waiting for async work: answer ``HookOutcome/pending(_:)`` and finish later through
/// ``ConnectorHost/completeOperation(id:status:outputs:)``.
public protocol Connector: AnyObject, Sendable {
    /// Called once, at init, with the host services.
    init(host: ConnectorHost) throws(ConnectorError)

    /// The plugin's description: `{"id", "version", "triggers": [...], "actions": [...]}`.
    func describe() -> JSONValue

    /// Creates an instance from its configuration.
    func makeInstance(configuration: JSONValue) throws(ConnectorError) -> any ConnectorInstance

    /// The completion of ``ConnectorHost/sendHTTP(method:url:headers:body:timeoutMilliseconds:)``:
    /// exactly once per request id.
    func httpCompleted(requestID: UInt64, result: Result<ConnectorHTTPResponse, ConnectorError>)

    /// The last call: release what you hold.
    func shutdown()
}

extension Connector {
    public func httpCompleted(requestID: UInt64, result: Result<ConnectorHTTPResponse, ConnectorError>) {}
    public func shutdown() {}
}

/// One configured instance of a connector.
public protocol ConnectorInstance: AnyObject, Sendable {
    func subscribe(_ request: JSONValue) throws(ConnectorError) -> HookOutcome
    func unsubscribe(_ request: JSONValue) throws(ConnectorError) -> HookOutcome
    func handleCallback(_ request: JSONValue, body: [UInt8]) throws(ConnectorError) -> HookOutcome
    /// A request to the plugin's own routes (ABI 1.3): `{"access", "method", "path", "query",
    /// "headers"}` and the body; answer `{"status", "headers", "body"}`.
    func handleRequest(_ request: JSONValue, body: [UInt8]) throws(ConnectorError) -> JSONValue
}

extension ConnectorInstance {
    public func handleRequest(_ request: JSONValue, body: [UInt8]) throws(ConnectorError) -> JSONValue {
        throw .unsupported("this plugin serves no routes")
    }
}

/// What a hook answers.
public enum HookOutcome: Sendable, Equatable {
    /// Done, with this result.
    case done(JSONValue)
    /// Accepted; the result follows through `completeOperation`.
    case pending(JSONValue)
}

/// A response to an outbound request.
public struct ConnectorHTTPResponse: Sendable, Equatable {
    /// `{"status": 200, "headers": {...}}`.
    public let metadata: JSONValue
    public let body: [UInt8]
}

/// An error a hook or a host service reports, with the ABI status it maps to.
public struct ConnectorError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The ABI status: one of the static values below (negative).
    public let status: Int32
    public let message: String

    public init(status: Int32, _ message: String) {
        self.status = status
        self.message = message
    }

    public static func invalid(_ message: String) -> ConnectorError { ConnectorError(status: -1, message) }
    public static func notFound(_ message: String) -> ConnectorError { ConnectorError(status: -2, message) }
    public static func unsupported(_ message: String) -> ConnectorError { ConnectorError(status: -3, message) }
    public static func retryable(_ message: String) -> ConnectorError { ConnectorError(status: -5, message) }
    public static func denied(_ message: String) -> ConnectorError { ConnectorError(status: -6, message) }
    public static func internalError(_ message: String) -> ConnectorError { ConnectorError(status: -9, message) }

    public var description: String { message }
}
