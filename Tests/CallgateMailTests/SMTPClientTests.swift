import CallgateMail
import CallgateTesting
import Foundation
import NIOSSL
import Testing

/// The SMTP client against a real SMTP server on loopback: Python's aiosmtpd (Debian's
/// python3-aiosmtpd, installed by .ci/run), with STARTTLS, implicit TLS and AUTH.
@Suite struct SMTPClientTests {
    static func configuration(_ server: SMTPTestServer, _ security: SMTPConfiguration.Security, password: String = "s3cret") throws -> SMTPConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(server.certificatePath))
        return SMTPConfiguration(host: "127.0.0.1", port: server.port, security: security, username: "mailer", password: password, tls: tls)
    }

    static let message = MailMessage(
        from: MailAddress("Callgate <approvals@example.com>")!, to: [MailAddress("ada@example.com")!, MailAddress("bob@example.com")!],
        subject: "Approve order 42?", text: "Choose:\n.Approve\n..Reject\n", html: "<p>Choose</p>"
    )

    @Test(arguments: [("starttls", SMTPConfiguration.Security.startTLS), ("tls", .implicitTLS)])
    func aMessageIsHandedOverOverTLSWithAuth(mode: String, security: SMTPConfiguration.Security) async throws {
        try await SMTPTestServer.withServer(mode, test: "aMessageIsHandedOverOverTLSWithAuth") { server in
            let bytes = Self.message.rendered(date: Date(), messageID: "m42@example.com", boundary: "b42")
            let reply = try await SMTPClient.send(
                bytes, from: "approvals@example.com", to: ["ada@example.com", "bob@example.com"], configuration: try Self.configuration(server, security)
            )
            #expect(reply.code == 250)
            #expect(reply.text.contains("queued as m0"))
            let (envelope, received) = try server.message(0)
            #expect(envelope["from"] as? String == "approvals@example.com")
            #expect(envelope["to"] as? [String] == ["ada@example.com", "bob@example.com"])
            #expect(envelope["tls"] as? Bool == true)
            // Dot-stuffing undone by the server: the bytes are the message as rendered.
            #expect(Array(received) == bytes)
        }
    }

    @Test func refusalsNameTheReplyAndSayWhetherToRetry() async throws {
        try await SMTPTestServer.withServer("starttls", test: "refusalsNameTheReplyAndSayWhetherToRetry") { server in
            let bytes = Self.message.rendered(date: Date(), messageID: "m@x", boundary: "b")
            // aiosmtpd holds a failed AUTH unanswered (a tarpit): the reply timeout ends the wait,
            // and a silent server counts as a passing failure.
            do {
                var tarpit = try Self.configuration(server, .startTLS, password: "wrong")
                tarpit.replyTimeoutSeconds = 2
                _ = try await SMTPClient.send(bytes, from: "a@example.com", to: ["b@example.com"], configuration: tarpit)
                Issue.record("a wrong password was accepted")
            } catch let error as SMTPError {
                #expect(error.isTransient)
                #expect(error.message.contains("no reply came within 2 s"), "\(error)")
                #expect(error.reply == nil)
            }
            // Nobody listening: a transient failure.
            do {
                var closed = try Self.configuration(server, .startTLS)
                closed.port = try SMTPTestServer.freePort()
                _ = try await SMTPClient.send(bytes, from: "a@example.com", to: ["b@example.com"], configuration: closed)
                Issue.record("sent to a closed port")
            } catch let error as SMTPError {
                #expect(error.isTransient)
            }
        }
    }
}
