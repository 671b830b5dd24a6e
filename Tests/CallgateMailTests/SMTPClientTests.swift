import CallgateMail
import CallgateTesting
import Foundation
import NIOSSL
import Testing

/// The SMTP client against a real SMTP server on loopback: Python's aiosmtpd (Debian's
/// python3-aiosmtpd, installed by .ci/run), with STARTTLS, implicit TLS and AUTH.
@Suite struct SMTPClientTests {
    static let serverScript = #"""
    import json, os, ssl, sys, time
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult
    port, outdir, mode, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
    class Handler:
        async def handle_DATA(self, server, session, envelope):
            n = len([f for f in os.listdir(outdir) if f.endswith(".eml")])
            with open(os.path.join(outdir, f"{n}.json"), "w") as f:
                json.dump({"from": envelope.mail_from, "to": envelope.rcpt_tos, "tls": server.transport.get_extra_info("ssl_object") is not None}, f)
            with open(os.path.join(outdir, f"{n}.eml"), "wb") as f:
                f.write(envelope.original_content)
            return "250 2.0.0 OK queued as m%d" % n
    def authenticate(server, session, envelope, mechanism, data):
        return AuthResult(success=(data.login == b"mailer" and data.password == b"s3cret"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    options = dict(handler=Handler(), hostname="127.0.0.1", port=port, authenticator=authenticate, auth_require_tls=True)
    if mode == "starttls":
        options.update(tls_context=context, require_starttls=True)
    elif mode == "tls":
        # aiosmtpd counts only STARTTLS as TLS for auth_require_tls; this connection is TLS throughout.
        options.update(ssl_context=context, auth_require_tls=False)
    Controller(**options).start()
    print("ready", flush=True)
    while True:
        time.sleep(3600)
    """#

    struct Server {
        let process: Process
        let port: Int
        let mailbox: String

        func stop() {
            // SIGKILL: Foundation's Process may start children with SIGTERM blocked.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }

        /// The n-th message the server accepted: its envelope and its bytes.
        func message(_ index: Int) throws -> (envelope: [String: Any], bytes: Data) {
            let envelope = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(mailbox)/\(index).json"))) as? [String: Any] ?? [:]
            return (envelope, try Data(contentsOf: URL(fileURLWithPath: "\(mailbox)/\(index).eml")))
        }
    }

    static var python: String? {
        guard let python = ["/usr/bin/python3", "/usr/local/bin/python3"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else { return nil }
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: python)
        probe.arguments = ["-c", "import aiosmtpd"]
        probe.standardError = FileHandle.nullDevice
        guard (try? probe.run()) != nil else { return nil }
        probe.waitUntilExit()
        return probe.terminationStatus == 0 ? python : nil
    }

    static func run(_ arguments: [String], in directory: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw SMTPTestFailure("\(arguments.joined(separator: " ")) exited \(process.terminationStatus)") }
    }

    static func freePort() throws -> Int {
        let socket = Process()
        socket.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        socket.arguments = ["python3", "-c", "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"]
        let output = Pipe()
        socket.standardOutput = output
        try socket.run()
        socket.waitUntilExit()
        guard let port = Int(String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw SMTPTestFailure("no free port")
        }
        return port
    }

    /// A server certificate for 127.0.0.1 (self-signed, made with openssl) and an aiosmtpd on a free port.
    static func start(_ mode: String, python: String, in directory: TemporaryDirectory) async throws -> Server {
        try run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "1",
                 "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], in: directory.path)
        let mailbox = directory.path + "/mailbox-\(mode)"
        try FileManager.default.createDirectory(atPath: mailbox, withIntermediateDirectories: true)
        try serverScript.write(toFile: directory.path + "/smtp_server.py", atomically: true, encoding: .utf8)
        let port = try freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["smtp_server.py", String(port), mailbox, mode, "cert.pem", "key.pem"]
        process.currentDirectoryURL = URL(fileURLWithPath: directory.path)
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let line = output.fileHandleForReading.availableData
        guard String(decoding: line, as: UTF8.self).hasPrefix("ready") else {
            kill(process.processIdentifier, SIGKILL)
            throw SMTPTestFailure("the SMTP server did not start")
        }
        return Server(process: process, port: port, mailbox: mailbox)
    }

    static func configuration(_ server: Server, _ security: SMTPConfiguration.Security, in directory: TemporaryDirectory, password: String = "s3cret") throws -> SMTPConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(directory.path + "/cert.pem"))
        return SMTPConfiguration(host: "127.0.0.1", port: server.port, security: security, username: "mailer", password: password, tls: tls)
    }

    static let message = MailMessage(
        from: MailAddress("Callgate <approvals@example.com>")!, to: [MailAddress("ada@example.com")!, MailAddress("bob@example.com")!],
        subject: "Approve order 42?", text: "Choose:\n.Approve\n..Reject\n", html: "<p>Choose</p>"
    )

    @Test(arguments: [("starttls", SMTPConfiguration.Security.startTLS), ("tls", .implicitTLS)])
    func aMessageIsHandedOverOverTLSWithAuth(mode: String, security: SMTPConfiguration.Security) async throws {
        guard let python = Self.python else {
            print("skipped aMessageIsHandedOverOverTLSWithAuth: python3-aiosmtpd is not installed (.ci/run installs it)")
            return
        }
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try await Self.start(mode, python: python, in: directory)
        defer { server.stop() }
        let bytes = Self.message.rendered(date: Date(), messageID: "m42@example.com", boundary: "b42")
        let reply = try await SMTPClient.send(
            bytes, from: "approvals@example.com", to: ["ada@example.com", "bob@example.com"], configuration: try Self.configuration(server, security, in: directory)
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

    @Test func refusalsNameTheReplyAndSayWhetherToRetry() async throws {
        guard let python = Self.python else {
            print("skipped refusalsNameTheReplyAndSayWhetherToRetry: python3-aiosmtpd is not installed (.ci/run installs it)")
            return
        }
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try await Self.start("starttls", python: python, in: directory)
        defer { server.stop() }
        let bytes = Self.message.rendered(date: Date(), messageID: "m@x", boundary: "b")
        // aiosmtpd holds a failed AUTH unanswered (a tarpit): the reply timeout ends the wait,
        // and a silent server counts as a passing failure.
        do {
            var tarpit = try Self.configuration(server, .startTLS, in: directory, password: "wrong")
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
            var closed = try Self.configuration(server, .startTLS, in: directory)
            closed.port = try Self.freePort()
            _ = try await SMTPClient.send(bytes, from: "a@example.com", to: ["b@example.com"], configuration: closed)
            Issue.record("sent to a closed port")
        } catch let error as SMTPError {
            #expect(error.isTransient)
        }
    }
}

struct SMTPTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
