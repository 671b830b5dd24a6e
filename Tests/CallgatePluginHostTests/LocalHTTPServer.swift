import CallgateTesting
import Hummingbird
import Logging
import NIOCore

/// A real HTTP server on a random loopback port, for the outbound-HTTP host service:
/// `GET /ok` answers at once, `GET /slow` after three seconds.
final class LocalHTTPServer: Sendable {
    let port: Int
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
        let task = Task { try await app.runService(gracefulShutdownSignals: []) }
        var iterator = stream.makeAsyncIterator()
        guard let port = await iterator.next() else { throw FixtureError("local server did not start") }
        return LocalHTTPServer(port: port, task: task)
    }

    private init(port: Int, task: Task<Void, any Error>) {
        self.port = port
        self.task = task
    }

    func stop() async {
        task.cancel()
        _ = try? await task.value
    }
}
