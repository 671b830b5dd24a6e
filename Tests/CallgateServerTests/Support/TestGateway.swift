import AsyncHTTPClient
import CallgateCallbacks
import CallgateEngine
import CallgatePluginHost
import CallgateServer
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import CallgateTesting

/// A real gateway on a random loopback port, with its data and certificates in a temporary
/// directory, and a client that trusts the gateway's development CA.
final class TestGateway: Sendable {
    static let adminToken = "test-admin-token"
    /// The public URL minted callback URLs start with.
    static let publicURL = "https://127.0.0.1"

    let directory: TemporaryDirectory
    let gateway: Gateway
    let ports: Gateway.BoundPorts
    private let runTask: Task<Void, any Error>

    var baseURL: String { "https://127.0.0.1:\(ports.main)" }
    var adminBaseURL: String { ports.admin.map { "https://127.0.0.1:\($0)" } ?? baseURL }
    var caFile: String { directory.path + "/certs/ca.pem" }

    /// Starts a gateway. `configure` adjusts the settings after the test defaults are applied.
    static func start(
        directory: TemporaryDirectory? = nil,
        handlers: [String: any CallbackHandler] = [:],
        callbackSteps: [String: any CallbackStep] = [:],
        bundledPlugins: [BundledPlugin] = [],
        configure: (inout GatewayConfiguration) -> Void = { _ in }
    ) async throws -> TestGateway {
        let directory = try directory ?? TemporaryDirectory()
        var configuration = GatewayConfiguration()
        configuration.listen = .init(host: "127.0.0.1", port: 0)
        configuration.dataDirectory = directory.path + "/data"
        configuration.certsDirectory = directory.path + "/certs"
        configuration.publicURL = publicURL
        configure(&configuration)
        var logger = Logger(label: "test-gateway")
        logger.logLevel = .warning
        let gateway = try await Gateway.open(
            configuration: configuration,
            presetAdminToken: adminToken,
            bundledPlugins: bundledPlugins,
            callbackHandlers: handlers,
            callbackSteps: callbackSteps,
            logger: logger
        )
        let (stream, continuation) = AsyncStream.makeStream(of: Gateway.BoundPorts.self)
        let task = Task {
            try await gateway.run { ports in continuation.yield(ports) }
            continuation.finish()
        }
        var iterator = stream.makeAsyncIterator()
        guard let ports = await iterator.next() else {
            try await task.value
            throw TestFailure("gateway stopped before listening")
        }
        return TestGateway(directory: directory, gateway: gateway, ports: ports, runTask: task)
    }

    private init(directory: TemporaryDirectory, gateway: Gateway, ports: Gateway.BoundPorts, runTask: Task<Void, any Error>) {
        self.directory = directory
        self.gateway = gateway
        self.ports = ports
        self.runTask = runTask
    }

    /// Shuts the gateway down gracefully and waits for it to finish.
    func stop() async throws {
        await gateway.shutdown()
        try await runTask.value
    }

    /// Stops the gateway and removes its directory.
    func stopAndRemove() async throws {
        try await stop()
        directory.remove()
    }

    /// Client TLS that trusts the development CA, optionally pinned to TLS versions.
    func clientTLS(minimum: TLSVersion = .tlsv12, maximum: TLSVersion? = nil) -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(caFile)
        tls.minimumTLSVersion = minimum
        tls.maximumTLSVersion = maximum
        return tls
    }

    /// Sends one request over a fresh HTTPS client and returns status, headers and body.
    func request(
        _ method: HTTPMethod = .GET,
        _ pathOrURL: String,
        headers: [(String, String)] = [],
        body: [UInt8]? = nil,
        tls: TLSConfiguration? = nil,
        connectTimeout: TimeAmount = .seconds(3)
    ) async throws -> TestResponse {
        // Minted URLs start with the configured public URL, which has no port (the port is
        // chosen at bind time): send them to the listener.
        let minted = Self.publicURL + "/"
        let url = pathOrURL.hasPrefix(minted) ? baseURL + pathOrURL.dropFirst(minted.count - 1)
            : pathOrURL.hasPrefix("https://") ? pathOrURL : baseURL + pathOrURL
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls ?? clientTLS())
        // Refused handshakes are retried until the connect timeout: keep it short.
        configuration.timeout.connect = connectTimeout
        return try await HTTPClient.withHTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration) { client in
            var request = HTTPClientRequest(url: url)
            request.method = method
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
            let response = try await client.execute(request, timeout: .seconds(30))
            let data = try await response.body.collect(upTo: 32 * 1024 * 1024)
            return TestResponse(status: Int(response.status.code), headers: response.headers, body: Data(buffer: data))
        }
    }

    /// A raw TLS connection (no HTTP client), for tests that misbehave on purpose.
    func openRawTLSConnection() async throws -> any Channel {
        var tls = clientTLS()
        tls.applicationProtocols = ["http/1.1"]
        let context = try NIOSSLContext(configuration: tls)
        return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: context, serverHostname: nil))
                }
            }
            .connect(host: "127.0.0.1", port: ports.main)
            .get()
    }

    /// An admin API request with the right bearer token.
    func admin(_ method: HTTPMethod = .GET, _ path: String, body: [UInt8]? = nil) async throws -> TestResponse {
        try await request(method, adminBaseURL + path, headers: [("Authorization", "Bearer \(Self.adminToken)")], body: body)
    }
}

struct TestResponse: Sendable {
    let status: Int
    let headers: HTTPHeaders
    let body: Data

    var text: String { String(decoding: body, as: UTF8.self) }

    func json() throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            throw TestFailure("body is not a JSON object: \(text)")
        }
        return object
    }

    /// The SPEC §4 error code of an error answer.
    func errorCode() throws -> String? {
        (try json()["error"] as? [String: Any])?["code"] as? String
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
