import AsyncHTTPClient
import CallgateTesting
import Foundation
import NIOCore
import NIOSSL
import Testing

/// The README's "Run a workflow" walk-through, done as a user does it: the real `callgate`
/// binary, the workflow file from the README, the trigger URL from `workflow callback-url`.
@Suite struct ReadmeWorkflowTests {
    /// The text between `cat > NAME <<'MARKER'` and `MARKER` in the README.
    static func readmeFile(_ name: String, marker: String = "JSON") throws -> String {
        let readme = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("README.md"),
            encoding: .utf8
        )
        let start = try #require(readme.range(of: "cat > \(name) <<'\(marker)'\n"))
        let end = try #require(readme.range(of: "\n\(marker)\n", range: start.upperBound..<readme.endIndex))
        return String(readme[start.upperBound..<end.lowerBound])
    }

    @Test func theWalkThroughRunsAsWritten() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try Self.readmeFile("sum.json").write(toFile: directory.path + "/sum.json", atomically: true, encoding: .utf8)
        let token = ["CALLGATE_TOKEN": "t", "CALLGATE_ADMIN_TOKEN": "t"]
        let server = try CLITests.Server(["--listen", "127.0.0.1:0"], in: directory.path, environment: token)
        let port = try await server.port()
        let client = ["--server", "https://127.0.0.1:\(port)"]
        func callgate(_ arguments: [String]) throws -> CLITests.Outcome {
            try CLITests.run(arguments + client, in: directory.path, environment: token)
        }

        let deployed = try callgate(["workflow", "deploy", "sum", "sum.json"])
        #expect(deployed.stdout == "deployed sum version 1 (Request trigger 'manual', 4 actions)\n", "\(deployed.stderr)")
        let url = try callgate(["workflow", "callback-url", "sum"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(url.contains("/cb/") && url.contains("sig="))

        // The URL starts with the default public URL (https://127.0.0.1:0 here): aim it at the port.
        let target = "https://127.0.0.1:\(port)/cb/" + (url.components(separatedBy: "/cb/").last ?? "")
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(directory.path + "/certs/ca.pem")
        let reply = try await HTTPClient.withHTTPClient(
            eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: .init(tlsConfiguration: tls)
        ) { http in
            var request = HTTPClientRequest(url: target)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: #"{"items": [1, 2, 3, 4]}"#))
            let response = try await http.execute(request, timeout: .seconds(30))
            return String(buffer: try await response.body.collect(upTo: 1 << 20))
        }
        #expect(reply == #"{"total":10,"verdict":"big order of 10"}"#)

        let list = try callgate(["run", "list", "--workflow", "sum"])
        #expect(list.stdout.hasPrefix("RUN "), "\(list.stderr)")
        let runID = try #require(list.stdout.split(separator: "\n").dropFirst().first?.split(separator: " ").first.map(String.init))
        #expect(list.stdout.contains("Succeeded"))
        let show = try callgate(["run", "show", runID])
        #expect(show.stdout.contains("run \(runID)  sum v1  Succeeded"), "\(show.stdout)")
        #expect(show.stdout.contains("- Loop[3]/Add (SetVariable): Succeeded"))
        #expect(show.stdout.contains("- Small (Compose): Skipped"))
        let json = try callgate(["run", "show", runID, "--json"])
        #expect(json.stdout.contains("\"verdict\" : \"big order of 10\""))
        let cancel = try callgate(["run", "cancel", runID])
        #expect(cancel.status != 0)
        #expect(cancel.stderr.contains("has already ended"))
        #expect(await server.terminate() == 0)
    }

    /// The README's webhook walk-through: the subscriber script and workflow file from the README,
    /// the real binary, the URL the subscriber printed, the run seen through `run show`.
    @Test func theWebhookWalkThroughRunsAsWritten() async throws {
        guard let python = ["/usr/bin/python3", "/usr/local/bin/python3"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            print("skipped theWebhookWalkThroughRunsAsWritten: python3 is not installed (.ci/run installs it)")
            return
        }
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let subscriberPort = try CLITests.freePort()
        for (name, marker) in [("subscriber.py", "PY"), ("pushes.json", "JSON")] {
            try Self.readmeFile(name, marker: marker).replacingOccurrences(of: "9000", with: "\(subscriberPort)")
                .write(toFile: directory.path + "/" + name, atomically: true, encoding: .utf8)
        }
        let printed = directory.path + "/subscriber.out"
        FileManager.default.createFile(atPath: printed, contents: nil)
        let subscriber = Process()
        subscriber.executableURL = URL(fileURLWithPath: python)
        subscriber.arguments = ["subscriber.py"]
        subscriber.currentDirectoryURL = URL(fileURLWithPath: directory.path)
        subscriber.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: printed))
        subscriber.standardError = FileHandle.nullDevice
        try subscriber.run()
        defer {
            // SIGKILL: a child of Foundation's Process may start with SIGTERM blocked, and one left
            // running would hold the test runner's output open.
            kill(subscriber.processIdentifier, SIGKILL)
            subscriber.waitUntilExit()
        }
        func lines(_ prefix: String) -> [String] {
            ((try? String(contentsOfFile: printed, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init).filter { $0.hasPrefix(prefix) }
        }

        let token = ["CALLGATE_TOKEN": "t", "CALLGATE_ADMIN_TOKEN": "t"]
        let server = try CLITests.Server(["--listen", "127.0.0.1:0"], in: directory.path, environment: token)
        let port = try await server.port()
        func callgate(_ arguments: [String]) throws -> CLITests.Outcome {
            try CLITests.run(arguments + ["--server", "https://127.0.0.1:\(port)"], in: directory.path, environment: token)
        }
        let deployed = try callgate(["workflow", "deploy", "pushes", "pushes.json"])
        #expect(deployed.stdout == "deployed pushes version 1 (HttpWebhook trigger 'onPush', 1 actions)\n", "\(deployed.stderr)")
        let subscribe = try await WaitingStepTests.eventually { lines("POST /hooks ").first }
        let body = try #require(try JSONSerialization.jsonObject(with: Data(subscribe.dropFirst("POST /hooks ".count).utf8)) as? [String: Any])
        #expect(body["events"] as? [String] == ["push"])
        let url = try #require(body["url"] as? String)
        #expect(url.contains("sp=trigger"))
        let show = try await WaitingStepTests.eventually { () -> String? in
            let output = (try? callgate(["workflow", "show", "pushes"]))?.stdout ?? ""
            return output.contains("subscription: subscribed since") ? output : nil
        }
        #expect(show.contains("(answered 201)"))

        // The URL starts with the default public URL (https://127.0.0.1:0 here): aim it at the port.
        let target = "https://127.0.0.1:\(port)/cb/" + (url.components(separatedBy: "/cb/").last ?? "")
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(directory.path + "/certs/ca.pem")
        func post(_ json: String) async throws -> (status: UInt, body: String) {
            try await HTTPClient.withHTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: .init(tlsConfiguration: tls)) { http in
                var request = HTTPClientRequest(url: target)
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(string: json))
                let response = try await http.execute(request, timeout: .seconds(30))
                return (response.status.code, String(buffer: try await response.body.collect(upTo: 1 << 20)))
            }
        }
        let accepted = try await post(#"{"repository": "acme/widgets", "ref": "main"}"#)
        #expect(accepted.status == 202)
        let runID = try #require((try JSONSerialization.jsonObject(with: Data(accepted.body.utf8)) as? [String: Any])?["runId"] as? String)
        let run = try await WaitingStepTests.eventually { () -> String? in
            let output = (try? callgate(["run", "show", runID]))?.stdout ?? ""
            return output.contains("pushes v1  Succeeded") ? output : nil
        }
        #expect(run.contains("- Summary (Compose): Succeeded"))
        #expect(run.contains("acme/widgets pushed to main"))

        #expect(try callgate(["workflow", "disable", "pushes"]).stdout == "disabled pushes\n")
        _ = try await WaitingStepTests.eventually { lines("DELETE /hooks/1 ").first }
        #expect(try await post("{}").status == 410)
        #expect(try callgate(["workflow", "enable", "pushes"]).stdout == "enabled pushes\n")
        let again = try await WaitingStepTests.eventually { lines("POST /hooks ").dropFirst().first }
        #expect(!again.contains(url))
        #expect(await server.terminate() == 0)
    }

    /// The README's approval walk-through on the embedded defaults: the workflow file from the
    /// README, the real binary, a mail in data/outbox, the link from the gateway's log, the
    /// confirmation page, the form's POST, and the run seen through `run show`.
    @Test func theApprovalWalkThroughRunsAsWritten() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try Self.readmeFile("approval.json").write(toFile: directory.path + "/approval.json", atomically: true, encoding: .utf8)
        let token = ["CALLGATE_TOKEN": "t", "CALLGATE_ADMIN_TOKEN": "t"]
        let server = try CLITests.Server(["--listen", "127.0.0.1:0"], in: directory.path, environment: token)
        let port = try await server.port()
        func callgate(_ arguments: [String]) throws -> CLITests.Outcome {
            try CLITests.run(arguments + ["--server", "https://127.0.0.1:\(port)"], in: directory.path, environment: token)
        }
        let deployed = try callgate(["workflow", "deploy", "approval", "approval.json"])
        #expect(deployed.stdout == "deployed approval version 1 (Request trigger 'manual', 3 actions)\n", "\(deployed.stderr)")
        let url = try callgate(["workflow", "callback-url", "approval"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)

        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(directory.path + "/certs/ca.pem")
        // URLs start with the default public URL (https://127.0.0.1:0 here): aim them at the port.
        func send(_ url: String, body: String? = nil, contentType: String = "application/x-www-form-urlencoded") async throws -> (status: UInt, body: String) {
            let target = "https://127.0.0.1:\(port)/cb/" + (url.components(separatedBy: "/cb/").last ?? "")
            return try await HTTPClient.withHTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: .init(tlsConfiguration: tls)) { http in
                var request = HTTPClientRequest(url: target)
                if let body {
                    request.method = .POST
                    request.headers.add(name: "Content-Type", value: contentType)
                    request.body = .bytes(ByteBuffer(string: body))
                }
                let response = try await http.execute(request, timeout: .seconds(30))
                return (response.status.code, String(buffer: try await response.body.collect(upTo: 1 << 20)))
            }
        }
        let started = try await send(url, body: #"{"version": "2.4.1", "notes": "faster builds"}"#, contentType: "application/json")
        let runID = try #require((try JSONSerialization.jsonObject(with: Data(started.body.utf8)) as? [String: Any])?["runId"] as? String)

        let outbox = directory.path + "/data/outbox"
        let mails = try await WaitingStepTests.eventually { () -> [String]? in
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: outbox)) ?? []).filter { $0.hasPrefix("approval-") && $0.hasSuffix("-1.eml") || $0.hasSuffix("-2.eml") }
            return names.count == 2 ? names : nil
        }
        #expect(mails.count == 2)
        let logLine = try await WaitingStepTests.eventually { () -> String? in
            server.text.split(separator: "\n").first { $0.contains("approval mail to ada@example.com written to ./data/outbox/approval-") }.map(String.init)
        }
        let link = try #require(logLine.range(of: #"Approve: (https://\S+)"#, options: .regularExpression).map { String(logLine[$0].dropFirst("Approve: ".count)) })
        let page = try await send(link)
        #expect(page.status == 200)
        #expect(page.body.contains("Confirm your response") && page.body.contains("Deploy 2.4.1 to production?"))
        let recorded = try await send(link, body: "comments=ship it")
        #expect(recorded.status == 200)
        #expect(recorded.body.contains("Your response was recorded"))

        let show = try await WaitingStepTests.eventually { () -> String? in
            let output = (try? callgate(["run", "show", runID]))?.stdout ?? ""
            return output.contains("approval v1  Succeeded") ? output : nil
        }
        #expect(show.contains("- Deploy (Compose): Succeeded"))
        #expect(show.contains("Approve by ada@example.com: ship it"))
        #expect(show.contains("- NoAnswer (Compose): Skipped"))
        #expect(await server.terminate() == 0)
    }

    /// The README's event hub walk-through: `hub create`, `hub token`, a batch sent over HTTPS, the
    /// README's workflow file deployed, one run per event, and `hub show` with the group's lag.
    @Test func theEventHubWalkThroughRunsAsWritten() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try Self.readmeFile("billing.json").write(toFile: directory.path + "/billing.json", atomically: true, encoding: .utf8)
        let token = ["CALLGATE_TOKEN": "t", "CALLGATE_ADMIN_TOKEN": "t"]
        let port = try CLITests.freePort()
        let server = try CLITests.Server(["--listen", "127.0.0.1:\(port)"], in: directory.path, environment: token)
        _ = try await server.port()
        func callgate(_ arguments: [String]) throws -> CLITests.Outcome {
            try CLITests.run(arguments + ["--server", "https://127.0.0.1:\(port)"], in: directory.path, environment: token)
        }
        let created = try callgate(["hub", "create", "orders", "--partitions", "4"])
        #expect(created.stdout.hasPrefix("created hub orders (4 partitions)\ningest: POST https://127.0.0.1:\(port)/plugins/event-hub/hubs/orders/messages\nkey send: "), "\(created.stdout)\(created.stderr)")
        let signature = try callgate(["hub", "token", "orders", "--ttl", "3600"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(signature.hasPrefix("SharedAccessSignature sr="))

        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(directory.path + "/certs/ca.pem")
        let sent = try await HTTPClient.withHTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: .init(tlsConfiguration: tls)) { http in
            var request = HTTPClientRequest(url: "https://127.0.0.1:\(port)/plugins/event-hub/hubs/orders/messages")
            request.method = .POST
            request.headers.add(name: "Authorization", value: signature)
            request.headers.add(name: "Content-Type", value: "application/vnd.microsoft.servicebus.json")
            request.body = .bytes(ByteBuffer(string: #"""
                [{"Body": {"order": 1, "total": 20}, "BrokerProperties": {"PartitionKey": "customer-7"}},
                 {"Body": {"order": 2, "total": 35}, "BrokerProperties": {"PartitionKey": "customer-9"}}]
                """#))
            let response = try await http.execute(request, timeout: .seconds(30))
            return (response.status.code, String(buffer: try await response.body.collect(upTo: 1 << 20)))
        }
        #expect(sent.0 == 201, "\(sent.1)")
        #expect(sent.1.contains(#""offset":0"#))

        let deployed = try callgate(["workflow", "deploy", "billing", "billing.json"])
        #expect(deployed.stdout == "deployed billing version 1 (OnEvents trigger 'onOrder', 1 actions)\n", "\(deployed.stdout)\(deployed.stderr)")
        let runs = try await WaitingStepTests.eventually { () -> String? in
            let output = (try? callgate(["run", "list", "--workflow", "billing"]))?.stdout ?? ""
            return output.components(separatedBy: "Succeeded").count - 1 == 2 ? output : nil
        }
        let runIDs = runs.split(separator: "\n").dropFirst().compactMap { $0.split(separator: " ").first.map(String.init) }
        let bills = try runIDs.map { try callgate(["run", "show", $0]).stdout }
        #expect(bills.contains { $0.contains("bill order 1: 20") } && bills.contains { $0.contains("bill order 2: 35") })
        let show = try await WaitingStepTests.eventually { () -> String? in
            let output = (try? callgate(["hub", "show", "orders"]))?.stdout ?? ""
            return output.contains("consumer group billing: lag 0") ? output : nil
        }
        #expect(show.hasPrefix("hub orders  4 partitions  retention 24 h"))
        #expect(await server.terminate() == 0)
    }
}
