import CallgateServer
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Testing

@Suite struct LimitsTests {
    @Test func oversizedRequestsGetTheirOwnStatus() async throws {
        let gateway = try await TestGateway.start {
            $0.limits.maxBodyBytes = 1024
            $0.limits.maxURLLength = 512
            $0.limits.maxHeaderBytes = 2048
        }
        let body = try await gateway.admin(.POST, "/api/v1/keys:rotate", body: Array(repeating: 0x20, count: 2048))
        #expect(body.status == 413)
        #expect(try body.errorCode() == "content_too_large")
        let url = try await gateway.request(.GET, "/healthz?" + String(repeating: "a", count: 600))
        #expect(url.status == 414)
        let headers = try await gateway.request(.GET, "/healthz", headers: [("X-Big", String(repeating: "b", count: 3000))])
        #expect(headers.status == 431)
        // Far past the parser's ceiling the connection is refused with 400 rather than buffered.
        let huge = try await gateway.request(.GET, "/healthz", headers: (0..<40).map { ("X-Big-\($0)", String(repeating: "c", count: 1000)) })
        #expect(huge.status == 400)
        // And the server is still fine.
        #expect(try await gateway.request(.GET, "/healthz").status == 200)
        try await gateway.stopAndRemove()
    }

    @Test func aSlowRequestHeadIsCutOff() async throws {
        let gateway = try await TestGateway.start { $0.limits.requestHeadTimeoutSeconds = 1 }
        let channel = try await gateway.openRawTLSConnection()
        // Half a request head, then silence: a slow-loris client.
        try await channel.writeAndFlush(ByteBuffer(string: "GET /healthz HTTP/1.1\r\nHost: localhost\r\n")).get()
        let start = ContinuousClock.now
        let closed = try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try? await channel.closeFuture.get()
                return true
            }
            group.addTask {
                try await Task.sleep(for: .seconds(10))
                return false
            }
            let first = try await group.next() ?? false
            group.cancelAll()
            return first
        }
        if !closed { try? await channel.close() }
        #expect(closed, "the server kept a half-sent request head open for 10 s")
        #expect(ContinuousClock.now - start < .seconds(5))
        try await gateway.stopAndRemove()
    }

    @Test func connectionsBeyondTheLimitWaitUntilOneCloses() async throws {
        let gateway = try await TestGateway.start { $0.limits.maxConnections = 1 }
        // A plain TCP connection counts as soon as it is accepted, and closes without a TLS
        // close_notify exchange (a NIOSSL client would wait for the server's reply).
        let holder = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: gateway.ports.main).get()
        // Let the server accept the first connection before the second arrives.
        try await Task.sleep(for: .milliseconds(300))
        let waiting = Task {
            let response = try await gateway.request(.GET, "/healthz", connectTimeout: .seconds(20))
            return (response, ContinuousClock.now)
        }
        // The server holds one connection; the second sits in the backlog until it closes.
        try await Task.sleep(for: .seconds(1))
        let closedAt = ContinuousClock.now
        try await holder.close()
        let (response, servedAt) = try await waiting.value
        #expect(servedAt > closedAt, "a second connection was served while the limit of one was reached")
        #expect(response.status == 200)
        try await gateway.stopAndRemove()
    }
}
