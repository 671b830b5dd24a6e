import CallgateCLI
import CallgateServer
import CallgateTesting
import Foundation
import NIOSSL
import Testing

/// Outbound `authentication` (SPEC §6) as subscribers and services see it: Basic, Raw and OAuth2
/// client credentials in headers, client certificates (PEM and PFX) in the TLS handshake of a
/// service that demands one.
@Suite struct OutboundAuthenticationTests {
    /// A workflow whose HttpWebhook trigger subscribes (and unsubscribes) with `authentication`.
    static func trigger(_ service: OutsideService, _ authentication: String) -> String {
        """
        {"definition": {"triggers": {"hook": {"type": "HttpWebhook", "inputs": {
            "subscribe": {"method": "POST", "uri": "\(service.baseURL)/subscribe", "body": {"callbackUrl": "@{listCallbackUrl()}"},
                          "authentication": \(authentication)},
            "unsubscribe": {"method": "POST", "uri": "\(service.baseURL)/unsubscribe", "authentication": \(authentication)}}}},
         "actions": {}}}
        """
    }

    @Test(arguments: [
        (#"{"type": "Basic", "username": "hook-user", "password": "p@ss:word"}"#, "Basic " + Data("hook-user:p@ss:word".utf8).base64EncodedString()),
        (#"{"type": "Raw", "value": "Token abc123"}"#, "Token abc123"),
    ])
    func headerAuthenticationIsSentAsConfigured(authentication: String, expected: String) async throws {
        let service = try await OutsideService.start()
        let gateway = try await TestGateway.start(bundledPlugins: BundledPlugins.all)
        try await gateway.deploy("hook", Self.trigger(service, authentication))
        let subscribe = try await WaitingStepTests.eventually { service.requests("/subscribe").first }
        #expect(subscribe.headers["authorization"] == expected)
        _ = try await HTTPWebhookTriggerTests.waitForSubscription(gateway, "hook") { $0["state"] as? String == "subscribed" }
        #expect(try await gateway.admin(.POST, "/api/v1/workflows/hook:disable").status == 200)
        let unsubscribe = try await WaitingStepTests.eventually { service.requests("/unsubscribe").first }
        #expect(unsubscribe.headers["authorization"] == expected)
        await service.stop()
        try await gateway.stopAndRemove()
    }

    @Test func oauthClientCredentialsAreFetchedOnceAndCached() async throws {
        let service = try await OutsideService.start()
        let gateway = try await TestGateway.start(bundledPlugins: BundledPlugins.all)
        let oauth = #"{"type": "ActiveDirectoryOAuth", "tokenEndpoint": "\#(service.baseURL)/token", "clientId": "callgate", "secret": "s3cret", "scope": "hooks/.default"}"#
        try await gateway.deploy("hook", Self.trigger(service, oauth))
        let subscribe = try await WaitingStepTests.eventually { service.requests("/subscribe").first }
        #expect(subscribe.headers["authorization"] == "Bearer token-1")
        _ = try await HTTPWebhookTriggerTests.waitForSubscription(gateway, "hook") { $0["state"] as? String == "subscribed" }
        #expect(try await gateway.admin(.POST, "/api/v1/workflows/hook:disable").status == 200)
        let unsubscribe = try await WaitingStepTests.eventually { service.requests("/unsubscribe").first }
        #expect(unsubscribe.headers["authorization"] == "Bearer token-1")

        // The Http action shares the cache; the token request carried the grant and the scope.
        try await gateway.deploy("call", """
        {"definition": {"triggers": {"manual": {"type": "Request", "kind": "Http"}},
         "actions": {"Call": {"type": "Http", "inputs": {"method": "GET", "uri": "\(service.baseURL)/status/200", "authentication": \(oauth)}}}}}
        """)
        let (runID, _) = try await gateway.trigger("call")
        #expect(try await gateway.waitForRun(runID).status == "Succeeded")
        #expect(service.requests("/status/").first?.headers["authorization"] == "Bearer token-1")
        let tokenRequests = service.requests("/token")
        #expect(tokenRequests.count == 1)
        let form = String(decoding: try #require(tokenRequests.first).body, as: UTF8.self)
        #expect(form.contains("grant_type=client_credentials"))
        #expect(form.contains("scope=hooks%2F.default"))

        // A wrong secret fails the action with the token endpoint's answer, and run history
        // shows no secret.
        let wrong = oauth.replacingOccurrences(of: "s3cret", with: "wrong")
        try await gateway.deploy("denied", """
        {"definition": {"triggers": {"manual": {"type": "Request", "kind": "Http"}},
         "actions": {"Call": {"type": "Http", "inputs": {"method": "GET", "uri": "\(service.baseURL)/status/200", "authentication": \(wrong)}}}}}
        """)
        let (deniedID, _) = try await gateway.trigger("denied")
        let denied = try await gateway.waitForRun(deniedID)
        #expect(denied.status == "Failed")
        let error = try #require(denied.action("Call")?["error"] as? [String: Any])
        #expect(error["code"] as? String == "AuthenticationFailed")
        #expect((error["message"] as? String)?.contains("401") == true)
        let history = try await gateway.admin(.GET, "/api/v1/runs/\(deniedID)").text
        #expect(!history.contains("wrong"))
        await service.stop()
        try await gateway.stopAndRemove()
    }

    @Test func clientCertificatesInPEMAndPFXPassAServiceThatDemandsOne() async throws {
        let directory = try TemporaryDirectory()
        let certificates = DevelopmentCertificates(directory: directory.path + "/certs")
        _ = try certificates.create()
        let client = try certificates.createClientCertificate(name: "subscriber")
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(certificates.serverCertificatePath).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: certificates.serverKeyPath, format: .pem))
        )
        tls.trustRoots = .file(certificates.caCertificatePath)
        tls.certificateVerification = .noHostnameVerification
        let service = try await OutsideService.start(tls: tls)
        let gateway = try await TestGateway.start(directory: directory, bundledPlugins: BundledPlugins.all) {
            $0.outboundCAPath = certificates.caCertificatePath
        }

        let pem = try String(contentsOfFile: client.certificate, encoding: .utf8)
        let key = try String(contentsOfFile: client.key, encoding: .utf8)
        let pfxPath = directory.path + "/client.p12"
        try Self.run("/usr/bin/env", ["openssl", "pkcs12", "-export", "-in", client.certificate, "-inkey", client.key, "-passout", "pass:pfx-pass", "-out", pfxPath])
        let pfx = try Data(contentsOf: URL(fileURLWithPath: pfxPath)).base64EncodedString()
        func escaped(_ text: String) -> String { text.replacingOccurrences(of: "\n", with: "\\n") }
        let cases = [
            ("pem", #"{"type": "ClientCertificate", "certificate": "\#(escaped(pem))", "privateKey": "\#(escaped(key))"}"#, "Waiting"),
            ("pfx", #"{"type": "ClientCertificate", "pfx": "\#(pfx)", "password": "pfx-pass"}"#, "Waiting"),
            ("none", "null", "Failed"),
        ]
        for (name, authentication, expected) in cases {
            try await gateway.deploy("cert-\(name)", """
            {"definition": {"triggers": {"manual": {"type": "Request", "kind": "Http"}},
             "actions": {"Ask": {"type": "HttpWebhook", "inputs": {"subscribe": {
                "method": "POST", "uri": "\(service.baseURL)/subscribe", "body": {"callbackUrl": "@{listCallbackUrl()}", "case": "\(name)"},
                "retryPolicy": {"type": "none"}, "authentication": \(authentication)}}}}}}
            """)
            let (runID, _) = try await gateway.trigger("cert-\(name)")
            let run = try await gateway.waitForRun(runID) { TestGateway.terminalStatuses.contains($0.status) || $0.status(of: "Ask") == "Waiting" }
            #expect(run.status(of: "Ask") == expected, "\(name): \(run.actionStatuses)")
        }
        // Only the two handshakes with a certificate reached the service.
        #expect(service.requests("/subscribe").compactMap { $0.json["case"] as? String }.sorted() == ["pem", "pfx"])
        await service.stop()
        try await gateway.stopAndRemove()
    }

    static func run(_ executable: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TestFailure("\(arguments.joined(separator: " ")) exited \(process.terminationStatus)") }
    }
}
