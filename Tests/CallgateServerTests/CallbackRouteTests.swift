import CallgateCallbacks
import CallgateServer
import Foundation
import Synchronization
import Testing
import CallgateTesting

/// A handler that records each callback and closes its registration (a committed write), so a
/// second call to the same URL must answer 410.
final class ClosingHandler: CallbackHandler {
    let gateway = Mutex<Gateway?>(nil)
    let received = Mutex<[InboundCallback]>([])

    func handle(_ callback: InboundCallback) async throws -> CallbackReply {
        guard let gateway = gateway.withLock({ $0 }) else { return CallbackReply(status: 503) }
        try await gateway.callbacks.close(id: callback.registration.id)
        received.withLock { $0.append(callback) }
        return .json(status: 200, ["status": "resumed", "step": callback.registration.owner.step ?? ""])
    }
}

@Suite struct CallbackRouteTests {
    private func start(configure: (inout GatewayConfiguration) -> Void = { _ in }) async throws -> (TestGateway, ClosingHandler) {
        let handler = ClosingHandler()
        let gateway = try await TestGateway.start(handlers: ["probe": handler], configure: configure)
        handler.gateway.withLock { $0 = gateway.gateway }
        return (gateway, handler)
    }

    @Test func aValidCallbackReachesItsOwnerOnceThenAnswers410() async throws {
        let (gateway, handler) = try await start()
        let minted = try await gateway.gateway.callbacks.mint(
            owner: CallbackOwner(kind: "probe", workflow: "orders", runID: "run-1", step: "wait"), scope: "resume"
        )
        let first = try await gateway.request(.POST, minted.fields.pathAndQuery + "&extra=1",
                                              headers: [("Content-Type", "application/json")], body: Array(#"{"ok":true}"#.utf8))
        #expect(first.status == 200)
        #expect(try first.json()["step"] as? String == "wait")
        let seen = try #require(handler.received.withLock { $0.first })
        #expect(seen.method == "POST")
        #expect(seen.body == Data(#"{"ok":true}"#.utf8))
        #expect(seen.header("content-type") == "application/json")
        #expect(seen.query.hasSuffix("&extra=1"))
        #expect(seen.registration.owner.runID == "run-1")

        let second = try await gateway.request(.POST, minted.fields.pathAndQuery, body: Array("{}".utf8))
        #expect(second.status == 410)
        #expect(second.body.isEmpty)
        #expect(handler.received.withLock { $0.count } == 1)
        try await gateway.stopAndRemove()
    }

    @Test func badSignaturesGet401WithNoDetail() async throws {
        let (gateway, handler) = try await start()
        let minted = try await gateway.gateway.callbacks.mint(owner: CallbackOwner(kind: "probe"), scope: "resume")
        let fields = minted.fields
        var wrongSignature = fields
        wrongSignature.signature = String(fields.signature.reversed())
        var widenedScope = fields
        widenedScope.scope = "trigger"
        var otherKey = fields
        otherKey.keyID = "k2"
        for tampered in [wrongSignature, widenedScope, otherKey] {
            let response = try await gateway.request(.POST, tampered.pathAndQuery, body: [])
            #expect(response.status == 401)
            #expect(response.body.isEmpty)
        }
        for path in ["/cb/\(fields.id)", "/cb/\(fields.id)?sv=1&sp=resume&kid=k1", "/cb/\(fields.id)?sv=1&sp=resume&kid=k1&sig="] {
            #expect(try await gateway.request(.POST, path).status == 401, "\(path)")
        }
        #expect(handler.received.withLock { $0.isEmpty })
        try await gateway.stopAndRemove()
    }

    @Test func aValidSignatureForAnUnknownIdGets404() async throws {
        let (gateway, _) = try await start()
        // Signed by the gateway's own key, but never registered.
        let fields = try gateway.gateway.callbacks.signer.sign(id: CallbackSigner.newCallbackID(), scope: "resume")
        let response = try await gateway.request(.POST, fields.pathAndQuery)
        #expect(response.status == 404)
        #expect(response.body.isEmpty)
        try await gateway.stopAndRemove()
    }

    @Test func anExpiredURLGets401() async throws {
        let (gateway, _) = try await start()
        let minted = try await gateway.gateway.callbacks.mint(owner: CallbackOwner(kind: "probe"), scope: "resume", expiresAt: Date().addingTimeInterval(1))
        try await Task.sleep(for: .milliseconds(2100))
        #expect(try await gateway.request(.POST, minted.fields.pathAndQuery).status == 401)
        try await gateway.stopAndRemove()
    }

    @Test func anOversizedBodyGets413AndNothingReachesTheOwner() async throws {
        let (gateway, handler) = try await start { $0.limits.maxBodyBytes = 1024 }
        let minted = try await gateway.gateway.callbacks.mint(owner: CallbackOwner(kind: "probe"), scope: "resume")
        let big = try await gateway.request(.POST, minted.fields.pathAndQuery, body: Array(repeating: UInt8(ascii: "x"), count: 4096))
        #expect(big.status == 413)
        #expect(handler.received.withLock { $0.isEmpty })
        #expect(try await gateway.gateway.callbacks.registration(id: minted.id)?.state == .active)
        // Within the limit the same URL still works.
        let small = try await gateway.request(.POST, minted.fields.pathAndQuery, body: Array(repeating: UInt8(ascii: "x"), count: 1000))
        #expect(small.status == 200)
        try await gateway.stopAndRemove()
    }

    @Test func aRetiredKeysURLsGet401WhileTheNewPrimarysWork() async throws {
        let (gateway, _) = try await start()
        let old = try await gateway.gateway.callbacks.mint(owner: CallbackOwner(kind: "probe"), scope: "resume")
        #expect(try await gateway.admin(.POST, "/api/v1/keys:rotate").status == 201)
        let new = try await gateway.gateway.callbacks.mint(owner: CallbackOwner(kind: "probe"), scope: "resume")
        #expect(new.fields.keyID == "k2")
        #expect(try await gateway.admin(.POST, "/api/v1/keys/k1:retire").status == 200)
        #expect(try await gateway.request(.POST, old.fields.pathAndQuery).status == 401)
        #expect(try await gateway.request(.POST, new.fields.pathAndQuery).status == 200)
        try await gateway.stopAndRemove()
    }

    @Test func urlsMintedBeforeARestartStillVerifyAfterIt() async throws {
        let (first, _) = try await start()
        let minted = try await first.gateway.callbacks.mint(owner: CallbackOwner(kind: "probe", step: "s"), scope: "resume")
        try await first.stop()

        let handler = ClosingHandler()
        let second = try await TestGateway.start(directory: first.directory, handlers: ["probe": handler])
        handler.gateway.withLock { $0 = second.gateway }
        #expect(second.ports.main != 0)
        let response = try await second.request(.POST, minted.fields.pathAndQuery)
        #expect(response.status == 200)
        #expect(handler.received.withLock { $0.count } == 1)
        try await second.stopAndRemove()
    }

    @Test func aFullWriteQueueAnswers429WithRetryAfter() async throws {
        let (gateway, handler) = try await start { $0.limits.maxPendingWrites = 1 }
        let minted = try await gateway.gateway.callbacks.mint(owner: CallbackOwner(kind: "probe"), scope: "resume")
        let database = gateway.gateway.database
        // Hold the writer with one write and fill the one-slot queue with another.
        let holding = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        async let held: Void = database.write { _ in
            holding.signal()
            release.wait()
        }
        await holding.waitOffCooperativePool()
        async let queued: Void = database.write { _ in }
        while database.writer.pendingCount < 1 { try await Task.sleep(for: .milliseconds(5)) }

        let refused = try await gateway.request(.POST, minted.fields.pathAndQuery)
        #expect(refused.status == 429)
        #expect(refused.headers.first(name: "Retry-After") == "1")
        #expect(handler.received.withLock { $0.isEmpty })

        release.signal()
        try await held
        try await queued
        // Once the queue drains, the same callback goes through.
        #expect(try await gateway.request(.POST, minted.fields.pathAndQuery).status == 200)
        try await gateway.stopAndRemove()
    }
}
