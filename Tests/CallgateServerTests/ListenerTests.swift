import AsyncHTTPClient
import CallgateServer
import Foundation
import NIOSSL
import Testing
import CallgateTesting

/// Expects the request to fail in the TLS handshake (not by a timeout or a refused connection).
func expectTLSRefusal(_ request: () async throws -> TestResponse, sourceLocation: SourceLocation = #_sourceLocation) async {
    do {
        let response = try await request()
        Issue.record("expected a TLS refusal, got \(response.status)", sourceLocation: sourceLocation)
    } catch {
        let isTLS = error is NIOSSLError || error is BoringSSLError || String(describing: error).contains("SSL")
        #expect(isTLS, "not a TLS failure: \(error)", sourceLocation: sourceLocation)
    }
}

@Suite struct ListenerTests {
    @Test func servesHealthOverHTTPSWithTheDevelopmentCA() async throws {
        let gateway = try await TestGateway.start()
        let health = try await gateway.request(.GET, "/healthz")
        #expect(health.status == 200)
        #expect(try health.json()["status"] as? String == "ok")
        let ready = try await gateway.request(.GET, "/readyz")
        #expect(ready.status == 200)
        // The private keys were created 0600; the certificates are readable.
        let certs = gateway.directory.path + "/certs/"
        for (file, mode) in [("ca-key.pem", 0o600), ("server-key.pem", 0o600), ("ca.pem", 0o644), ("server.pem", 0o644)] {
            let actual = try FileManager.default.attributesOfItem(atPath: certs + file)[.posixPermissions] as? Int
            #expect(actual == mode, "\(file)")
        }
        try await gateway.stopAndRemove()
    }

    @Test func tls11IsRefusedAnd12And13AreAccepted() async throws {
        let gateway = try await TestGateway.start()
        await expectTLSRefusal { try await gateway.request(.GET, "/healthz", tls: gateway.clientTLS(minimum: .tlsv1, maximum: .tlsv11)) }
        let v12 = try await gateway.request(.GET, "/healthz", tls: gateway.clientTLS(minimum: .tlsv12, maximum: .tlsv12))
        #expect(v12.status == 200)
        let v13 = try await gateway.request(.GET, "/healthz", tls: gateway.clientTLS(minimum: .tlsv13, maximum: .tlsv13))
        #expect(v13.status == 200)
        try await gateway.stopAndRemove()
    }

    @Test func minimumTLS13RefusesA12Client() async throws {
        let gateway = try await TestGateway.start { $0.tlsMinimumVersion = .v1_3 }
        await expectTLSRefusal { try await gateway.request(.GET, "/healthz", tls: gateway.clientTLS(minimum: .tlsv12, maximum: .tlsv12)) }
        let v13 = try await gateway.request(.GET, "/healthz", tls: gateway.clientTLS(minimum: .tlsv13))
        #expect(v13.status == 200)
        try await gateway.stopAndRemove()
    }

    @Test func aClientThatDoesNotTrustTheCAIsRefused() async throws {
        let gateway = try await TestGateway.start()
        var untrusting = TLSConfiguration.makeClientConfiguration()
        untrusting.trustRoots = .certificates([])
        await expectTLSRefusal { try await gateway.request(.GET, "/healthz", tls: untrusting) }
        try await gateway.stopAndRemove()
    }

    @Test func metricsCountRequestsByRouteClassAndStatus() async throws {
        let gateway = try await TestGateway.start()
        _ = try await gateway.request(.GET, "/healthz")
        _ = try await gateway.request(.GET, "/cb/nothing?sv=1")
        let metrics = try await gateway.request(.GET, "/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.text.contains(#"callgate_http_requests_total{route="health",status="200"} 1"#))
        #expect(metrics.text.contains(#"callgate_http_requests_total{route="callback",status="401"} 1"#))
        #expect(metrics.text.contains("callgate_http_request_duration_seconds_bucket"))
        try await gateway.stopAndRemove()
    }

    @Test func aSeparateAdminListenerRequiresClientCertificatesWhenConfigured() async throws {
        let directory = try TemporaryDirectory()
        // The development CA doubles as the client CA; a client certificate signed by it is made here.
        let certificates = DevelopmentCertificates(directory: directory.path + "/certs")
        try certificates.create()
        let gateway = try await TestGateway.start(directory: directory) {
            $0.adminListen = .init(host: "127.0.0.1", port: 0)
            $0.adminClientCAPath = certificates.caCertificatePath
        }
        let adminPort = try #require(gateway.ports.admin)
        // The main listener no longer serves the admin API or metrics.
        let mainAdmin = try await gateway.request(.GET, "/api/v1/keys", headers: [("Authorization", "Bearer \(TestGateway.adminToken)")])
        #expect(mainAdmin.status == 404)
        // Without a client certificate the admin listener refuses the handshake.
        await expectTLSRefusal { try await gateway.request(.GET, "https://127.0.0.1:\(adminPort)/healthz") }
        // With a client certificate signed by the client CA it answers.
        let client = try certificates.createClientCertificate(name: "operator")
        var tls = gateway.clientTLS()
        tls.certificateChain = try NIOSSLCertificate.fromPEMFile(client.certificate).map { .certificate($0) }
        tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: client.key, format: .pem))
        let keys = try await gateway.request(
            .GET, "https://127.0.0.1:\(adminPort)/api/v1/keys",
            headers: [("Authorization", "Bearer \(TestGateway.adminToken)")], tls: tls
        )
        #expect(keys.status == 200)
        try await gateway.stopAndRemove()
    }
}
