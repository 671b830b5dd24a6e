import AsyncHTTPClient
import CCallgatePlugin
import CallgateCallbacks
import CallgateOutbound
import CallgateStore
import Foundation
import GRDB
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// What the host services of every plugin share: the store, the callback registry, the outbound
/// HTTP client and its egress policy.
public struct PluginHostEnvironment: Sendable {
    public var database: GatewayDatabase
    public var callbacks: CallbackRegistry
    public var httpClient: HTTPClient
    public var egress: EgressPolicy
    /// Applies the `authentication` of `http_send` requests.
    public var authenticator: OutboundAuthenticator
    public var logger: Logger
    /// Unix time in milliseconds (tests may substitute their own clock).
    public var clock: @Sendable () -> Int64
    /// Where `fire_trigger` starts runs.
    public var triggers: TriggerStarter
    /// Sets a gauge of `/metrics` for `set_gauge`: full name, labels, value.
    public var setGauge: @Sendable (_ name: String, _ labels: [(String, String)], _ value: Int64) -> Void

    public init(
        database: GatewayDatabase,
        callbacks: CallbackRegistry,
        httpClient: HTTPClient,
        egress: EgressPolicy = EgressPolicy(),
        authenticator: OutboundAuthenticator? = nil,
        logger: Logger,
        clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) },
        triggers: TriggerStarter = TriggerStarter(),
        setGauge: @escaping @Sendable (_ name: String, _ labels: [(String, String)], _ value: Int64) -> Void = { _, _, _ in }
    ) {
        self.database = database
        self.callbacks = callbacks
        self.httpClient = httpClient
        self.egress = egress
        self.authenticator = authenticator ?? OutboundAuthenticator(httpClient: httpClient, egress: egress)
        self.logger = logger
        self.clock = clock
        self.triggers = triggers
        self.setGauge = setGauge
    }
}

/// Where `fire_trigger` starts runs: the gateway connects its engine once the engine exists
/// (plugins load first, since their types shape the definition parser).
public final class TriggerStarter: Sendable {
    /// Why a firing started nothing.
    public enum Refusal: Error, Sendable {
        /// The subscription ended: the plugin should stop delivering for it.
        case ended(String)
        /// Not now: the runs are not keeping up, or the store is full.
        case busy(String)
        /// The request is wrong.
        case invalid(String)
    }

    /// Starts the runs for a `fire_trigger` request (its JSON) and dedupe key; answers the
    /// result JSON (`{"runId", "runIds", "duplicate"}`), or throws a ``Refusal``.
    public typealias Start = @Sendable (_ request: [UInt8], _ dedupeKey: String?) async throws -> [UInt8]

    private let start = Mutex<Start?>(nil)

    public init() {}

    public func connect(_ start: @escaping Start) {
        self.start.withLock { $0 = start }
    }

    /// The blocking form for host services (plugin threads, never the cooperative pool).
    func fire(request: [UInt8], dedupeKey: String?) throws -> [UInt8] {
        guard let start = start.withLock({ $0 }) else {
            throw HostServiceError(status: PluginStatus.retryable, message: "the gateway is still starting")
        }
        let done = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<[UInt8], any Error>?>(nil)
        Task {
            let result: Result<[UInt8], any Error>
            do { result = .success(try await start(request, dedupeKey)) } catch { result = .failure(error) }
            outcome.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        switch outcome.withLock({ $0 }) {
        case .success(let bytes)?:
            return bytes
        case .failure(let refusal as Refusal)?:
            switch refusal {
            case .ended(let message): throw HostServiceError(status: PluginStatus.notFound, message: message)
            case .busy(let message): throw HostServiceError(status: PluginStatus.retryable, message: message)
            case .invalid(let message): throw HostServiceError(status: PluginStatus.invalid, message: message)
            }
        case .failure(let error)?:
            throw HostServiceError(status: PluginStatus.retryable, message: "\(error)")
        case nil:
            throw HostServiceError(status: PluginStatus.internalError, message: "the firing ended without an answer")
        }
    }
}

/// The host side of one plugin: what its `callgate_host_api` services act on. Reached from C
/// through the table's `host` pointer.
final class PluginHostContext: Sendable {
    let pluginID: String
    let environment: PluginHostEnvironment
    private let logger: Logger
    private let nextRequestID = Mutex<UInt64>(1)
    private let inFlightRequests = Mutex<[UInt64: Task<Void, Never>]>([:])
    /// Delivers an HTTP completion to the plugin's `http_completed` hook; set once the plugin is loaded.
    let completionSink = Mutex<(@Sendable (HTTPCompletion) -> Void)?>(nil)

    /// The outcome of an `http_send`, delivered exactly once.
    struct HTTPCompletion: Sendable {
        let requestID: UInt64
        let status: Int32
        let response: [UInt8]
        let body: [UInt8]
    }

    init(pluginID: String, environment: PluginHostEnvironment) {
        self.pluginID = pluginID
        self.environment = environment
        var logger = environment.logger
        logger[metadataKey: "plugin"] = "\(pluginID)"
        self.logger = logger
    }

    // MARK: services

    func log(level: Int32, message: [UInt8]) {
        let text = String(decoding: message, as: UTF8.self)
        let swiftLevel: Logger.Level = switch level {
        case Int32(CALLGATE_LOG_TRACE): .trace
        case Int32(CALLGATE_LOG_DEBUG): .debug
        case Int32(CALLGATE_LOG_INFO): .info
        case Int32(CALLGATE_LOG_WARNING): .warning
        default: .error
        }
        logger.log(level: swiftLevel, "\(text)")
    }

    /// The value, or nil when the key is not set; a database failure throws (and reaches the
    /// plugin as INTERNAL, not as a missing key).
    func stateGet(key: [UInt8]) throws -> [UInt8]? {
        let pluginID = self.pluginID
        return try environment.database.pool.read { db in
            try Data.fetchOne(db, sql: "SELECT value FROM plugin_state WHERE plugin_id = ? AND key = ?", arguments: [pluginID, Data(key)])
        }.map { Array($0) }
    }

    func statePut(key: [UInt8], value: [UInt8]) throws {
        let pluginID = self.pluginID
        try environment.database.writer.writeAndWait { db in
            try db.execute(
                sql: "INSERT INTO plugin_state (plugin_id, key, value) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET value = excluded.value",
                arguments: [pluginID, Data(key), Data(value)]
            )
        }
    }

    func stateDelete(key: [UInt8]) throws {
        let pluginID = self.pluginID
        try environment.database.writer.writeAndWait { db in
            try db.execute(sql: "DELETE FROM plugin_state WHERE plugin_id = ? AND key = ?", arguments: [pluginID, Data(key)])
        }
    }

    /// `{"subscription": "...", "scope": "...", "expiresInSeconds": n}` → `{"id": "...", "url": "..."}`.
    func mintCallbackURL(request: [UInt8]) throws -> [UInt8] {
        let object = try JSONInput(request, what: "mint_callback_url request")
        let subscription = try object.string("subscription")
        let scope = try object.optionalString("scope") ?? "callback"
        let expiresAt = try object.optionalInt("expiresInSeconds").map { Date().addingTimeInterval(TimeInterval($0)) }
        // A link minted for a waiting step belongs to that step's run and workflow, like the step's own URL.
        let owner = try environment.database.pool.read { db in try CallbackRegistry.registration(id: subscription, in: db) }?.owner
        let minted = try environment.callbacks.mintAndWait(
            owner: CallbackOwner(kind: "plugin:\(pluginID)", workflow: owner?.workflow, runID: owner?.runID, step: subscription),
            scope: scope, expiresAt: expiresAt
        )
        return try JSONOutput.encode(["id": minted.id, "url": minted.url])
    }

    /// Starts the request on Swift's concurrency runtime and answers at once; the completion is
    /// delivered later through ``completionSink``, exactly once.
    func httpSend(request: [UInt8], body: [UInt8]) throws -> UInt64 {
        let object = try JSONInput(request, what: "http_send request")
        let method = HTTPMethod(rawValue: try object.optionalString("method") ?? "GET")
        let url = try object.string("url")
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = parsed.host
        else {
            throw HostServiceError(status: PluginStatus.invalid, message: "url '\(url)' is not an http(s) URL")
        }
        let headers = try object.optionalStringMap("headers") ?? [:]
        let authentication: OutboundAuthentication?
        do {
            authentication = try (try object.optionalStringMap("authentication")).flatMap { fields throws(OutboundAuthenticationError) in
                try OutboundAuthentication(fields: fields)
            }
        } catch let error as OutboundAuthenticationError {
            throw HostServiceError(status: PluginStatus.invalid, message: error.message)
        }
        let timeout = TimeAmount.milliseconds(Int64(try object.optionalInt("timeoutMs") ?? 30_000))
        let id = nextRequestID.withLock { id in
            defer { id += 1 }
            return id
        }
        let environment = self.environment
        // Registered under the lock, so the task's own removal (which takes the lock) always
        // finds its entry, and a cancel after completion finds none.
        inFlightRequests.withLock { requests in
            requests[id] = Task { [weak self] in
                let completion = await Self.perform(
                    id: id, method: method, url: url, host: host, headers: headers, authentication: authentication, body: body,
                    timeout: timeout, environment: environment
                )
                guard let self else { return }
                _ = self.inFlightRequests.withLock { $0.removeValue(forKey: id) }
                self.completionSink.withLock { $0 }?(completion)
            }
        }
        return id
    }

    func httpCancel(id: UInt64) -> Int32 {
        guard let task = inFlightRequests.withLock({ $0.removeValue(forKey: id) }) else { return PluginStatus.notFound }
        task.cancel()
        return PluginStatus.ok
    }

    private static func perform(
        id: UInt64, method: HTTPMethod, url: String, host: String, headers: [String: String],
        authentication: OutboundAuthentication?, body: [UInt8], timeout: TimeAmount, environment: PluginHostEnvironment
    ) async -> HTTPCompletion {
        func failure(_ status: Int32, _ message: String) -> HTTPCompletion {
            HTTPCompletion(requestID: id, status: status, response: Array(message.utf8), body: [])
        }
        if let refusal = environment.egress.refusal(forHost: host) { return failure(PluginStatus.denied, refusal) }
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if !body.isEmpty { request.body = .bytes(ByteBuffer(bytes: body)) }
        do {
            try await environment.authenticator.apply(authentication, to: &request)
        } catch {
            return failure(error.isRetryable ? PluginStatus.retryable : PluginStatus.invalid, error.message)
        }
        do {
            let response = try await environment.httpClient.execute(request, timeout: timeout)
            let data = try await response.body.collect(upTo: 16 * 1024 * 1024)
            var headerObject: [String: String] = [:]
            for header in response.headers { headerObject[header.name] = header.value }
            let meta = try JSONOutput.encode(["status": Int(response.status.code), "headers": headerObject] as [String: any Sendable])
            return HTTPCompletion(requestID: id, status: PluginStatus.ok, response: meta, body: Array(buffer: data))
        } catch is CancellationError {
            return failure(PluginStatus.cancelled, "cancelled")
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            return failure(Task.isCancelled ? PluginStatus.cancelled : PluginStatus.timeout, "\(error)")
        } catch {
            if Task.isCancelled { return failure(PluginStatus.cancelled, "cancelled") }
            return failure(PluginStatus.retryable, "\(error)")
        }
    }

    /// Starts the runs of a trigger the plugin fires; a repeated dedupe key starts nothing. The
    /// request is read once, by the gateway's starter.
    func fireTrigger(request: [UInt8], dedupeKey: [UInt8]) throws -> [UInt8] {
        try environment.triggers.fire(request: request, dedupeKey: dedupeKey.isEmpty ? nil : String(decoding: dedupeKey, as: UTF8.self))
    }

    /// Sets `callgate_plugin_{name}{plugin="…", labels…}`.
    func setGauge(name: [UInt8], labels: [UInt8], value: Int64) throws {
        let text = String(decoding: name, as: UTF8.self)
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 == 0x5F || ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) }) else {
            throw HostServiceError(status: PluginStatus.invalid, message: "gauge name '\(text)' must be letters, digits and _")
        }
        var pairs: [(String, String)] = [("plugin", pluginID)]
        if !labels.isEmpty {
            for (key, value) in (try JSONInput(labels, what: "set_gauge labels").stringMap()).sorted(by: { $0.key < $1.key }) where key != "plugin" {
                pairs.append((key, value))
            }
        }
        environment.setGauge("callgate_plugin_" + text, pairs, value)
    }

    func completeOperation(id: [UInt8], status: Int32, outputs: [UInt8]) throws {
        let operationID = String(decoding: id, as: UTF8.self)
        guard !operationID.isEmpty else { throw HostServiceError(status: PluginStatus.invalid, message: "empty operation id") }
        let pluginID = self.pluginID
        try environment.database.writer.writeAndWait { db in
            try db.execute(
                sql: "INSERT INTO plugin_operation_result (plugin_id, operation_id, status, outputs, completed_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [pluginID, operationID, Int(status), Data(outputs), Date().timeIntervalSince1970]
            )
        }
    }
}

/// A host service refused its input; the status and message go back to the plugin.
struct HostServiceError: Error {
    let status: Int32
    let message: String
}
