import CallgateTesting
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// A real HTTP server on a random loopback port, for the outbound-HTTP host service:
/// `GET /ok` answers at once, `GET /slow` after three seconds.
final class LocalHTTPServer: Sendable {
    let port: Int
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    static func start() async throws -> LocalHTTPServer {
        let router = Router()
        router.get("ok") { _, _ in "hello" }
        router.get("slow") { _, _ -> String in
            try await Task.sleep(for: .seconds(3))
            return "late"
        }
        var logger = Logger(label: "local-http")
        logger.logLevel = .critical
        let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) },
            logger: logger
        )
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
        let task = Task { try await group.run() }
        var iterator = stream.makeAsyncIterator()
        guard let port = await iterator.next() else { throw FixtureError("local server did not start") }
        return LocalHTTPServer(port: port, group: group, task: task)
    }

    private init(port: Int, group: ServiceGroup, task: Task<Void, any Error>) {
        self.port = port
        self.group = group
        self.task = task
    }

    /// Shuts down gracefully: cancelling the serving task while a connection is being accepted
    /// traps inside NIO ("Deinited NIOAsyncWriter without calling finish()").
    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }
}
