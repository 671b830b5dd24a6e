import Foundation
import Synchronization
import Testing
import CallgateTesting

/// The `callgate` executable, run as a user would: a real process, real files, real HTTPS.
@Suite(.serialized) struct CLITests {
    /// `.build/debug/callgate`, found beside the test bundle or under the package root.
    static let executable = builtProgram("callgate")

    /// A program the package builds (`callgate`, `callgate-test-gateway`), or nil.
    static func builtProgram(_ name: String) -> String? {
        let besideTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name).path
        let underPackage = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug/" + name).path
        return [besideTests, underPackage].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    struct Outcome {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// Runs `callgate` to completion.
    static func run(_ arguments: [String], in directory: String, environment: [String: String] = [:]) throws -> Outcome {
        let process = try makeProcess(arguments, in: directory, environment: environment)
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    static func makeProcess(_ arguments: [String], in directory: String, environment: [String: String], program: String = "callgate") throws -> Process {
        let executable = try #require(builtProgram(program), "the \(program) executable was not built")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CALLGATE_") }
        env.merge(environment) { $1 }
        process.environment = env
        return process
    }

    /// A `callgate serve` process in `directory`, with its output collected as it comes.
    final class Server: Sendable {
        let process: Process
        private let output = OutputBuffer()

        final class OutputBuffer: Sendable {
            let text = Mutex("")
        }

        /// `program` is `callgate` (run as `callgate serve`) or `callgate-test-gateway` (which takes
        /// the flags of `serve` directly).
        init(_ arguments: [String], in directory: String, environment: [String: String] = [:], program: String = "callgate") throws {
            let command = program == "callgate" ? ["serve"] : []
            process = try CLITests.makeProcess(command + arguments, in: directory, environment: environment, program: program)
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
            // A plain thread reads until end of file. Not `readabilityHandler`: its dispatch source
            // outlives a killed process's pipe, and libdispatch's event loop crashed the test
            // process on it (a bad pointer in _dispatch_event_loop_drain) during the kill tests.
            let reading = pipe.fileHandleForReading
            Thread.detachNewThread { [output] in
                while case let data = reading.availableData, !data.isEmpty {
                    output.text.withLock { $0 += String(decoding: data, as: UTF8.self) }
                }
            }
        }

        var text: String { output.text.withLock { $0 } }

        /// A test that failed before stopping its server does not leave the process behind.
        deinit {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }

        /// Waits for the "listening on" line and returns the port.
        func port() async throws -> Int {
            for _ in 0..<600 {
                if let range = text.range(of: #"listening on https://127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                    let line = String(text[range])
                    return Int(line.split(separator: ":").last ?? "") ?? 0
                }
                guard process.isRunning else { throw TestFailure("serve exited: \(text)") }
                try await Task.sleep(for: .milliseconds(100))
            }
            throw TestFailure("serve did not start: \(text)")
        }

        /// Waits for the process to end by itself (a crash) and returns its status.
        func waitForExit() async -> Int32 {
            while process.isRunning { try? await Task.sleep(for: .milliseconds(50)) }
            return process.terminationStatus
        }

        /// Sends SIGTERM and waits for the exit status.
        func terminate() async -> Int32 {
            process.terminate()
            while process.isRunning { try? await Task.sleep(for: .milliseconds(50)) }
            return process.terminationStatus
        }
    }

    @Test func serveOnAFreshDirectoryCreatesEverythingAndShutsDownOnSIGTERM() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try Server(["--listen", "127.0.0.1:0"], in: directory.path)
        let port = try await server.port()
        #expect(server.text.contains("Admin token (shown once"))
        for file in ["data/callgate.sqlite", "data/master.key", "data/plugins", "data/outbox", "certs/ca.pem", "certs/server.pem", "certs/server-key.pem"] {
            #expect(FileManager.default.fileExists(atPath: directory.path + "/" + file), "\(file) missing")
        }
        let token = try #require(server.text.range(of: #"cg_[A-Za-z0-9_-]+"#, options: .regularExpression).map { String(server.text[$0]) })

        // The CLI talks to it with the development CA trusted by default (certs/ca.pem in the cwd).
        let list = try Self.run(["keys", "list", "--server", "https://127.0.0.1:\(port)", "--json"], in: directory.path, environment: ["CALLGATE_TOKEN": token])
        #expect(list.status == 0, "\(list.stderr)")
        #expect(list.stdout.contains(#""id" : "k1""#))
        let table = try Self.run(["keys", "list", "--server", "https://127.0.0.1:\(port)", "--token", token], in: directory.path)
        #expect(table.stdout.hasPrefix("ID  STATUS"))
        #expect(table.stdout.contains("k1  primary"))
        let rotate = try Self.run(["keys", "rotate", "--server", "https://127.0.0.1:\(port)", "--token", token], in: directory.path)
        #expect(rotate.stdout == "new primary key k2\n")
        let retirePrimary = try Self.run(["keys", "retire", "k2", "--server", "https://127.0.0.1:\(port)", "--token", token], in: directory.path)
        #expect(retirePrimary.status != 0)
        #expect(retirePrimary.stderr.contains("key 'k2' is the primary key; rotate first"))
        #expect(retirePrimary.stderr.split(separator: "\n").count == 1)
        let retire = try Self.run(["keys", "retire", "k1", "--server", "https://127.0.0.1:\(port)", "--token", token], in: directory.path)
        #expect(retire.status == 0)
        let wrongToken = try Self.run(["keys", "list", "--server", "https://127.0.0.1:\(port)", "--token", "nope"], in: directory.path)
        #expect(wrongToken.status != 0)
        #expect(wrongToken.stderr.contains("401"))

        #expect(await server.terminate() == 0)

        // A second start on the same directory prints no token and keeps the keys.
        let again = try Server(["--listen", "127.0.0.1:0"], in: directory.path)
        let secondPort = try await again.port()
        #expect(!again.text.contains("Admin token"))
        let keys = try Self.run(["keys", "list", "--server", "https://127.0.0.1:\(secondPort)", "--token", token], in: directory.path)
        #expect(keys.stdout.contains("k2  primary"))
        #expect(keys.stdout.contains("k1  retired"))
        #expect(await again.terminate() == 0)
    }

    @Test func anAdminListenerWithMTLSServesTheCLIWithAClientCertificate() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        #expect(try Self.run(["certs", "init"], in: directory.path).status == 0)
        let issued = try Self.run(["certs", "client", "ops"], in: directory.path)
        #expect(issued.status == 0, "\(issued.stderr)")
        let adminPort = try Self.freePort()
        let server = try Server(
            ["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:\(adminPort)", "--admin-client-ca", "certs/ca.pem"],
            in: directory.path, environment: ["CALLGATE_ADMIN_TOKEN": "t0ken"]
        )
        _ = try await server.port()
        #expect(!server.text.contains("Admin token (shown once"), "a preset token is not printed")
        let admin = "https://127.0.0.1:\(adminPort)"
        let without = try Self.run(["keys", "list", "--server", admin, "--token", "t0ken"], in: directory.path)
        #expect(without.status != 0)
        #expect(without.stderr.contains("cannot reach"))
        let with = try Self.run(
            ["keys", "list", "--server", admin, "--token", "t0ken", "--client-cert", "certs/client-ops.pem", "--client-key", "certs/client-ops-key.pem"],
            in: directory.path
        )
        #expect(with.status == 0, "\(with.stderr)")
        #expect(with.stdout.contains("k1  primary"))
        #expect(await server.terminate() == 0)
    }

    /// A port that was free a moment ago (for flags that need a number before the server starts).
    static func freePort() throws -> Int {
        try LoopbackPort.free()
    }

    /// Builds the example C plugin into `directory/pkg` and writes its manifest.
    static func examplePackage(in directory: TemporaryDirectory, defines: [String] = []) throws -> String {
        try FileManager.default.createDirectory(atPath: directory.path + "/pkg", withIntermediateDirectories: true)
        let library = try PluginFixture.buildExample(into: directory.path + "/pkg", defines: defines)
        return try PluginFixture.package(library: library)
    }

    @Test(.enabled(if: PluginFixture.cc != nil, "no C compiler (gcc): .ci/run installs it"))
    func pluginsAreVerifiedInstalledListedAndRemovedThroughTheCLI() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let package = try Self.examplePackage(in: directory)
        let verify = try Self.run(["plugin", "verify", package], in: directory.path)
        #expect(verify.status == 0, "\(verify.stderr)")
        #expect(verify.stdout.hasPrefix("ok: example-c 1.0.0, ABI 1.0, sha256 "))

        let token = ["CALLGATE_TOKEN": "t", "CALLGATE_ADMIN_TOKEN": "t"]
        let server = try Server(["--listen", "127.0.0.1:0"], in: directory.path, environment: token)
        var url = "https://127.0.0.1:\(try await server.port())"
        let install = try Self.run(["plugin", "install", "pkg", "--server", url], in: directory.path, environment: token)
        #expect(install.status == 0, "\(install.stderr)")
        #expect(install.stdout == "installed example-c 1.0.0 (ABI 1.3): loaded\n")
        let show = try Self.run(["plugin", "show", "example-c", "--server", url], in: directory.path, environment: token)
        #expect(show.stdout.contains("state:       loaded"))
        #expect(show.stdout.contains("ExampleTrigger"))
        #expect(show.stdout.contains("build:       example-c 1.0.0 (C11)"))
        #expect(await server.terminate() == 0)

        // After a restart the plugin loads from the gateway's private copy.
        let again = try Server(["--listen", "127.0.0.1:0"], in: directory.path, environment: token)
        url = "https://127.0.0.1:\(try await again.port())"
        let list = try Self.run(["plugin", "list", "--server", url], in: directory.path, environment: token)
        let rows = list.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
        #expect(rows.contains("example-c 1.0.0 1.3 unsigned 0 loaded"), "\(list.stdout)")
        // The Swift example is linked into the gateway and started at every start-up.
        #expect(rows.contains("example-swift 1.0.0 1.3 bundled 0 loaded"), "\(list.stdout)")
        let removeBundled = try Self.run(["plugin", "remove", "example-swift", "--server", url], in: directory.path, environment: token)
        #expect(removeBundled.status != 0)
        #expect(removeBundled.stderr.contains("plugin example-swift: is bundled with the gateway and cannot be removed"), "\(removeBundled.stderr)")

        // A tampered package is refused with one line naming the problem.
        let handle = try FileHandle(forWritingAtPath: package + "/libexample_c.so").map { $0 }
        try #require(handle).seekToEnd()
        try #require(handle).write(contentsOf: Data([0]))
        try #require(handle).close()
        let refused = try Self.run(["plugin", "install", "pkg", "--server", url], in: directory.path, environment: token)
        #expect(refused.status != 0)
        // Verification comes first, so the tampering is named even though a build is loaded.
        #expect(refused.stderr.contains("hash mismatch"), "\(refused.stderr)")
        #expect(refused.stderr.split(separator: "\n").count == 1)

        let remove = try Self.run(["plugin", "remove", "example-c", "--server", url], in: directory.path, environment: token)
        #expect(remove.stdout == "removed example-c\n")
        let empty = try Self.run(["plugin", "list", "--server", url, "--json"], in: directory.path, environment: token)
        #expect(empty.stdout.contains(#""plugins" : ["#))
        #expect(!empty.stdout.contains("example-c"))
        let tampered = try Self.run(["plugin", "install", "pkg", "--server", url], in: directory.path, environment: token)
        #expect(tampered.status != 0)
        #expect(tampered.stderr.contains("hash mismatch"), "\(tampered.stderr)")
        #expect(await again.terminate() == 0)
    }

    @Test(.enabled(if: PluginFixture.cc != nil, "no C compiler (gcc): .ci/run installs it"))
    func aPluginThatKeepsCrashingTheGatewayIsQuarantined() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        _ = try Self.examplePackage(in: directory, defines: ["EXAMPLE_CRASH"])
        let crashing = ["CALLGATE_ADMIN_TOKEN": "t", "CALLGATE_TOKEN": "t", "EXAMPLE_CRASH_IN_DESCRIBE": "1"]
        let first = try Server(["--listen", "127.0.0.1:0"], in: directory.path, environment: crashing)
        let url = "https://127.0.0.1:\(try await first.port())"
        // describe aborts inside the hook: the gateway dies mid-install.
        let install = try Self.run(["plugin", "install", "pkg", "--server", url], in: directory.path, environment: crashing)
        #expect(install.status != 0)
        #expect(await first.waitForExit() != 0)
        // Each start loads the plugin, which crashes again, until the third crash quarantines it.
        for _ in 0..<2 {
            let restart = try Server(["--listen", "127.0.0.1:0"], in: directory.path, environment: crashing)
            #expect(await restart.waitForExit() != 0)
        }
        let survivor = try Server(["--listen", "127.0.0.1:0"], in: directory.path, environment: crashing)
        let port = try await survivor.port()
        let show = try Self.run(["plugin", "show", "example-c", "--server", "https://127.0.0.1:\(port)"], in: directory.path, environment: crashing)
        #expect(show.stdout.contains("state:       quarantined"), "\(show.stdout)")
        #expect(show.stdout.contains("crashes:     3"))
        #expect(survivor.text.contains("is quarantined: it crashed the gateway 3 times inside a hook"))
        #expect(await survivor.terminate() == 0)
    }

    @Test func workflowsAreDeployedThroughTheCLIWithValidationErrorsByJSONPath() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let token = ["CALLGATE_TOKEN": "t", "CALLGATE_ADMIN_TOKEN": "t"]
        let server = try Server(["--listen", "127.0.0.1:0"], in: directory.path, environment: token)
        let url = "https://127.0.0.1:\(try await server.port())"
        try #"{"triggers": {"manual": {"type": "Request", "kind": "Http"}}, "actions": {"Echo": {"type": "Compose", "inputs": "@triggerBody()"}}}"#
            .write(toFile: directory.path + "/good.json", atomically: true, encoding: .utf8)
        try #"{"triggers": {"manual": {"type": "Request"}}, "actions": {"Call": {"type": "Http", "inputs": {"method": "GET", "uri": "@{concat('a'}"}}}}"#
            .write(toFile: directory.path + "/bad.json", atomically: true, encoding: .utf8)
        let deployed = try Self.run(["workflow", "deploy", "orders", "good.json", "--server", url], in: directory.path, environment: token)
        #expect(deployed.stdout == "deployed orders version 1 (Request trigger 'manual', 1 actions)\n", "\(deployed.stderr)")
        let refused = try Self.run(["workflow", "deploy", "broken", "bad.json", "--server", url], in: directory.path, environment: token)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("the definition has 1 problem"))
        #expect(refused.stderr.contains("$.actions.Call.inputs.uri: expression does not parse: expected ',' or ')' in the arguments of concat"), "\(refused.stderr)")
        let disable = try Self.run(["workflow", "disable", "orders", "--server", url], in: directory.path, environment: token)
        #expect(disable.stdout == "disabled orders\n")
        let list = try Self.run(["workflow", "list", "--server", url], in: directory.path, environment: token)
        let rows = list.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
        #expect(rows == ["NAME VERSION STATE TRIGGER ACTIONS", "orders 1 disabled manual (Request) 1"], "\(list.stdout)")
        #expect(await server.terminate() == 0)
    }

    @Test func aBadSettingStopsServeWithAOneLineError() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let outcome = try Self.run(["serve", "--listen", "127.0.0.1:0", "--tls-minimum-version", "1.0"], in: directory.path)
        #expect(outcome.status != 0)
        #expect(outcome.stderr.contains("--tls-minimum-version: '1.0' is not 1.2 or 1.3"))
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/data"), "nothing is created for a refused configuration")

        try "not a key\n".write(toFile: directory.path + "/keys.txt", atomically: true, encoding: .utf8)
        let badKeys = try Self.run(["serve", "--listen", "127.0.0.1:0", "--plugin-trusted-keys", "keys.txt"], in: directory.path)
        #expect(badKeys.status != 0)
        #expect(badKeys.stderr.contains("plugins.trusted_keys: keys.txt line 1 is not a base64 Ed25519 public key"), "\(badKeys.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/data"), "nothing is created for a refused key file")
    }

    @Test func certsInitWritesACAAndAServerCertificate() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let outcome = try Self.run(["certs", "init", "--hostname", "gateway.test", "--hostname", "10.1.2.3"], in: directory.path)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("localhost, 127.0.0.1, ::1, gateway.test, 10.1.2.3"))
        let key = try FileManager.default.attributesOfItem(atPath: directory.path + "/certs/server-key.pem")[.posixPermissions] as? Int
        #expect(key == 0o600)
        // openssl agrees that the server certificate chains to the CA and names the host.
        let verify = Process()
        verify.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        verify.arguments = ["openssl", "verify", "-CAfile", "certs/ca.pem", "-verify_hostname", "gateway.test", "certs/server.pem"]
        verify.currentDirectoryURL = URL(fileURLWithPath: directory.path)
        let pipe = Pipe()
        verify.standardOutput = pipe
        verify.standardError = pipe
        try verify.run()
        verify.waitUntilExit()
        let said = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(verify.terminationStatus == 0, "\(said)")
    }

    @Test func versionPrintsTheVersion() throws {
        let outcome = try Self.run(["version"], in: NSTemporaryDirectory())
        #expect(outcome.status == 0)
        #expect(outcome.stdout.hasPrefix("callgate 0."))
    }

    @Test func keysWithoutATokenFailsWithAOneLineError() throws {
        let outcome = try Self.run(["keys", "list"], in: NSTemporaryDirectory())
        #expect(outcome.status != 0)
        #expect(outcome.stderr.contains("no admin token: pass --token or set CALLGATE_TOKEN"))
    }
}
