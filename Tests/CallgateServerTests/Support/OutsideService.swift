import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTLS
import Logging
import ServiceLifecycle
import NIOCore
import Synchronization

/// A real HTTP server on a random loopback port standing in for the services workflows call: it
/// records every request and answers as each route's query asks.
///
/// * `/status/{code}`: answers `code` with `{"status": code}`;
/// * `/flaky/{key}?fail=N&code=C&retryAfter=S`: answers `C` (with `Retry-After: S`) the first N
///   times for `key`, then 200 with `{"attempt": n}`;
/// * `/async/{key}?polls=N`: 202 + `Location: /async/{key}/status` + `Retry-After: 1`; the status
///   answers 202 N times, then 200 `{"done": true}`;
/// * `/subscribe`: 201 with `{"subscription": n}` and `Location: http://{host}/subscriptions/{n}`
///   (which answers DELETE with 200);
/// * `/unsubscribe?fail=N`: 503 the first N times, then 200;
/// * `/api/**`: a resource API: POST answers 201 with `{"id": n}` (n counts per path), DELETE
///   answers 204, anything else 200 `{}`;
/// * `/token`: an OAuth2 token endpoint for client `callgate` with secret `s3cret`
///   (client_credentials, form-encoded): `{"access_token": "token-n", "expires_in": 3600}`, else 401.
///
/// With `tls`, it serves HTTPS instead (and can demand a client certificate).
final class OutsideService: Sendable {
    struct Recorded: Sendable {
        let method: String
        let path: String
        let query: String
        let headers: [String: String]
        let body: Data

        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body) as? [String: Any]) ?? [:] }
    }

    /// Requests in arrival order, and per-key counters of the stateful routes.
    final class Log: Sendable {
        let requests = Mutex<[Recorded]>([])
        let counters = Mutex<[String: Int]>([:])

        /// Counts one more call for `key`; answers the new count.
        func count(_ key: String) -> Int {
            counters.withLock { counters in
                counters[key, default: 0] += 1
                return counters[key] ?? 1
            }
        }
    }

    let port: Int
    private let group: ServiceGroup
    private let task: Task<Void, any Error>
    private let log: Log

    let scheme: String
    var baseURL: String { "\(scheme)://127.0.0.1:\(port)" }

    /// Requests received so far, optionally only those whose path starts with `prefix`.
    func requests(_ prefix: String = "/") -> [Recorded] {
        log.requests.withLock { $0.filter { $0.path.hasPrefix(prefix) } }
    }

    /// Starts the service on `port` (0: one chosen at random), e.g. again on the port of a
    /// stopped one to play a subscriber that was down.
    static func start(port: Int = 0, tls: TLSConfiguration? = nil) async throws -> OutsideService {
        let log = Log()
        let count = log.count
        let router = Router()
        router.middlewares.add(RecordingMiddleware(log: log))
        router.on("status/{code}", method: .post) { _, context in try reply(Int(context.parameters.require("code")) ?? 500, ["status": .init(Int(context.parameters.require("code")) ?? 500)]) }
        router.on("status/{code}", method: .get) { _, context in try reply(Int(context.parameters.require("code")) ?? 500, ["status": .init(Int(context.parameters.require("code")) ?? 500)]) }
        for method in [HTTPRequest.Method.get, .post] {
            router.on("flaky/{key}", method: method) { request, context in
                let key = try context.parameters.require("key")
                let attempt = count("flaky/" + key)
                let failures = request.uri.queryParameters["fail"].flatMap { Int($0) } ?? 0
                if attempt <= failures {
                    var headers: HTTPFields = [:]
                    if let retryAfter = request.uri.queryParameters["retryAfter"] { headers[.retryAfter] = String(retryAfter) }
                    let code = request.uri.queryParameters["code"].flatMap { Int($0) } ?? 500
                    return try reply(code, ["attempt": .init(attempt)], headers: headers)
                }
                return try reply(200, ["attempt": .init(attempt)])
            }
        }
        router.post("async/{key}") { _, context in
            let key = try context.parameters.require("key")
            return try reply(202, ["accepted": true], headers: [.location: "/async/\(key)/status", .retryAfter: "1"])
        }
        router.get("async/{key}/status") { request, context in
            let key = try context.parameters.require("key")
            let poll = count("async/" + key)
            let polls = request.uri.queryParameters["polls"].flatMap { Int($0) } ?? 2
            if poll <= polls { return try reply(202, ["polls": .init(poll)], headers: [.location: "/async/\(key)/status?polls=\(polls)", .retryAfter: "1"]) }
            return try reply(200, ["done": true, "polls": .init(poll - 1)])
        }
        router.post("subscribe") { request, _ in
            let number = count("subscribe")
            let host = request.head.authority ?? "127.0.0.1"
            return try reply(201, ["subscription": .init(number)], headers: [.location: "http://\(host)/subscriptions/\(number)"])
        }
        router.delete("subscriptions/{number}") { _, _ in try reply(200, ["deleted": true]) }
        for method in [HTTPRequest.Method.post, .delete] {
            router.on("unsubscribe", method: method) { request, _ in
                let attempt = count("unsubscribe")
                let failures = request.uri.queryParameters["fail"].flatMap { Int($0) } ?? 0
                return try reply(attempt <= failures ? 503 : 200, ["attempt": .init(attempt)])
            }
        }
        for method in [HTTPRequest.Method.get, .post, .put, .delete] {
            router.on("api/**", method: method) { request, _ in
                switch request.method {
                case .post: return try reply(201, ["id": .init(count(request.uri.path))])
                case .delete: return Response(status: .noContent)
                default: return try reply(200, [:])
                }
            }
        }
        router.post("token") { request, _ in
            var request = request
            let form = String(buffer: try await request.collectBody(upTo: 1 << 16))
            var fields: [String: String] = [:]
            for pair in form.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
                if parts.count == 2 { fields[parts[0]] = parts[1] }
            }
            guard fields["grant_type"] == "client_credentials", fields["client_id"] == "callgate", fields["client_secret"] == "s3cret" else {
                return try reply(401, ["error": .init("invalid_client")])
            }
            return try reply(200, ["access_token": .init("token-\(count("token"))"), "expires_in": .init(3600), "token_type": .init("Bearer")])
        }
        var logger = Logger(label: "outside-service")
        logger.logLevel = .critical
        let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
        let configuration = ApplicationConfiguration(address: .hostname("127.0.0.1", port: port))
        let onRunning: @Sendable (any Channel) async -> Void = { channel in continuation.yield(channel.localAddress?.port ?? 0) }
        let service: any Service
        if let tls {
            service = Application(
                router: router, server: try .tls(.http1(), tlsConfiguration: tls), configuration: configuration, onServerRunning: onRunning, logger: logger
            )
        } else {
            service = Application(router: router, configuration: configuration, onServerRunning: onRunning, logger: logger)
        }
        let group = ServiceGroup(configuration: .init(services: [service], gracefulShutdownSignals: [], logger: logger))
        let task = Task { try await group.run() }
        var iterator = stream.makeAsyncIterator()
        guard let port = await iterator.next() else { throw TestFailure("outside service did not start") }
        return OutsideService(port: port, scheme: tls == nil ? "http" : "https", group: group, task: task, log: log)
    }

    private init(port: Int, scheme: String, group: ServiceGroup, task: Task<Void, any Error>, log: Log) {
        self.port = port
        self.scheme = scheme
        self.group = group
        self.task = task
        self.log = log
    }

    /// Shuts down gracefully: cancelling the serving task while a connection is being accepted
    /// traps inside NIO ("Deinited NIOAsyncWriter without calling finish()").
    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }

    /// A value for a JSON reply.
    struct JSONValue: Sendable {
        let value: any Sendable
        init(_ value: any Sendable) { self.value = value }
    }

    private static func reply(_ status: Int, _ body: [String: JSONValue], headers: HTTPFields = [:]) throws -> Response {
        let data = try JSONSerialization.data(withJSONObject: body.mapValues(\.value), options: [.sortedKeys])
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: .init(code: status), headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

extension OutsideService.JSONValue: ExpressibleByBooleanLiteral {
    init(booleanLiteral value: Bool) { self.init(value) }
}

/// Records every request (with its body) before the route answers.
private struct RecordingMiddleware<Context: RequestContext>: RouterMiddleware {
    let log: OutsideService.Log

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: 1 << 20)
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        log.requests.withLock {
            $0.append(.init(method: request.method.rawValue, path: request.uri.path, query: request.uri.query ?? "", headers: headers, body: Data(buffer: body)))
        }
        return try await next(request, context)
    }
}
