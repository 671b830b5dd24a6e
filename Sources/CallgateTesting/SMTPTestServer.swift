import Foundation

/// A real SMTP server on loopback for tests: Python's aiosmtpd (Debian's python3-aiosmtpd,
/// installed by .ci/run), with STARTTLS or implicit TLS, AUTH (`mailer` / `s3cret`) and a
/// self-signed certificate for 127.0.0.1 made with openssl. Every accepted message is kept as
/// `{n}.eml` with its envelope in `{n}.json`.
///
/// Recipients steer its answers: `busy…@` is refused once with `451` (then accepted),
/// `nobody…@` always with `550`.
public struct SMTPTestServer: Sendable {
    public let port: Int
    /// Where accepted messages are kept.
    public let mailbox: String
    /// The server's certificate (PEM), for the client's trust roots.
    public let certificatePath: String
    private let processID: Int32

    static let script = #"""
    import json, os, ssl, sys, time
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult
    port, outdir, mode, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
    refused_once = set()
    class Handler:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if address.startswith("nobody"):
                return "550 5.1.1 <%s>: no such user here" % address
            if address.startswith("busy") and address not in refused_once:
                refused_once.add(address)
                return "451 4.3.0 <%s>: try again later" % address
            envelope.rcpt_tos.append(address)
            return "250 OK"
        async def handle_DATA(self, server, session, envelope):
            n = len([f for f in os.listdir(outdir) if f.endswith(".eml")])
            with open(os.path.join(outdir, f"{n}.json"), "w") as f:
                json.dump({"from": envelope.mail_from, "to": envelope.rcpt_tos, "tls": server.transport.get_extra_info("ssl_object") is not None}, f)
            with open(os.path.join(outdir, f"{n}.eml.tmp"), "wb") as f:
                f.write(envelope.original_content)
            os.rename(os.path.join(outdir, f"{n}.eml.tmp"), os.path.join(outdir, f"{n}.eml"))
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

    /// The Python that has aiosmtpd, or nil (the caller prints why it skips).
    public static var python: String? {
        guard let python = ["/usr/bin/python3", "/usr/local/bin/python3"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else { return nil }
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: python)
        probe.arguments = ["-c", "import aiosmtpd"]
        probe.standardError = FileHandle.nullDevice
        guard (try? probe.run()) != nil else { return nil }
        probe.waitUntilExit()
        return probe.terminationStatus == 0 ? python : nil
    }

    /// Runs `body` against a fresh server in `mode` (its files in a temporary directory, removed
    /// after), or prints why `test` is skipped when python3-aiosmtpd is missing.
    public static func withServer(_ mode: String, test: String, _ body: (SMTPTestServer) async throws -> Void) async throws {
        guard let python else {
            print("skipped \(test): python3-aiosmtpd is not installed (.ci/run installs it)")
            return
        }
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try await start(mode, python: python, in: directory)
        defer { server.stop() }
        try await body(server)
    }

    /// Starts a server in `mode` (`starttls` or `tls`) with its files under `directory`.
    public static func start(_ mode: String, python: String, in directory: TemporaryDirectory) async throws -> SMTPTestServer {
        try run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "smtp-key.pem", "-out", "smtp-cert.pem", "-days", "1",
                 "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], in: directory.path)
        let mailbox = directory.path + "/mailbox-\(mode)"
        try FileManager.default.createDirectory(atPath: mailbox, withIntermediateDirectories: true)
        try script.write(toFile: directory.path + "/smtp_server.py", atomically: true, encoding: .utf8)
        let port = try freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["smtp_server.py", String(port), mailbox, mode, "smtp-cert.pem", "smtp-key.pem"]
        process.currentDirectoryURL = URL(fileURLWithPath: directory.path)
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let line = output.fileHandleForReading.availableData
        guard String(decoding: line, as: UTF8.self).hasPrefix("ready") else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw TestSetupError("the SMTP server did not start")
        }
        return SMTPTestServer(port: port, mailbox: mailbox, certificatePath: directory.path + "/smtp-cert.pem", processID: process.processIdentifier)
    }

    /// Stops the server. SIGKILL: Foundation's Process may start children with SIGTERM blocked.
    public func stop() {
        kill(processID, SIGKILL)
        var status: Int32 = 0
        waitpid(processID, &status, 0)
    }

    /// How many messages the server accepted.
    public var messageCount: Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: mailbox)) ?? []).filter { $0.hasSuffix(".eml") }.count
    }

    /// The n-th message the server accepted: its envelope and its bytes.
    public func message(_ index: Int) throws -> (envelope: [String: Any], bytes: Data) {
        let envelope = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(mailbox)/\(index).json"))) as? [String: Any] ?? [:]
        return (envelope, try Data(contentsOf: URL(fileURLWithPath: "\(mailbox)/\(index).eml")))
    }

    /// A loopback port nobody listens on right now.
    public static func freePort() throws -> Int {
        try LoopbackPort.free()
    }

    /// Runs a command to its end; its standard output, or an error naming the command.
    @discardableResult
    public static func run(_ arguments: [String], in directory: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TestSetupError("\(arguments.joined(separator: " ")) exited \(process.terminationStatus)") }
        return String(decoding: data, as: UTF8.self)
    }
}

/// A test could not set up what it needs.
public struct TestSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
