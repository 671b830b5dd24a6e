import AsyncHTTPClient
import CallgateTesting
import Foundation
import NIOCore
import NIOSSL
import Testing

/// The README's "Run a workflow" walk-through, done as a user does it: the real `callgate`
/// binary, the workflow file from the README, the trigger URL from `workflow callback-url`.
@Suite struct ReadmeWorkflowTests {
    /// The text between `cat > NAME <<'JSON'` and `JSON` in the README.
    static func readmeFile(_ name: String) throws -> String {
        let readme = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("README.md"),
            encoding: .utf8
        )
        let start = try #require(readme.range(of: "cat > \(name) <<'JSON'\n"))
        let end = try #require(readme.range(of: "\nJSON\n", range: start.upperBound..<readme.endIndex))
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
}
