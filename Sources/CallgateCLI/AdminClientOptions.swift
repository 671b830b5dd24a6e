import ArgumentParser
import Foundation

/// How a command reaches a running gateway's admin API.
struct AdminClientOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Base URL of the gateway (env CALLGATE_SERVER).", valueName: "URL"))
    var server: String?

    @Option(help: ArgumentHelp("Admin bearer token (env CALLGATE_TOKEN).", valueName: "TOKEN"))
    var token: String?

    @Option(help: ArgumentHelp("PEM CA bundle to trust (default: certs/ca.pem when present).", valueName: "FILE"))
    var caFile: String?

    @Option(help: ArgumentHelp("PEM client certificate, for an admin listener that requires mTLS.", valueName: "FILE"))
    var clientCert: String?

    @Option(help: ArgumentHelp("PEM key of --client-cert.", valueName: "FILE"))
    var clientKey: String?

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    var resolvedServer: String {
        server ?? ProcessInfo.processInfo.environment["CALLGATE_SERVER"] ?? "https://127.0.0.1:8443"
    }

    var resolvedToken: String? {
        token ?? ProcessInfo.processInfo.environment["CALLGATE_TOKEN"]
    }

    var resolvedCAFile: String? {
        if let caFile { return caFile }
        let development = "certs/ca.pem"
        return FileManager.default.fileExists(atPath: development) ? development : nil
    }

    func makeClient() throws -> AdminClient {
        guard let token = resolvedToken, !token.isEmpty else {
            throw CLIError("no admin token: pass --token or set CALLGATE_TOKEN")
        }
        guard (clientCert == nil) == (clientKey == nil) else {
            throw CLIError("--client-cert and --client-key go together")
        }
        let identity = clientCert.flatMap { cert in clientKey.map { AdminClient.ClientIdentity(certificate: cert, key: $0) } }
        return AdminClient(baseURL: resolvedServer, token: token, caFile: resolvedCAFile, clientIdentity: identity)
    }
}

/// A one-line error for the terminal.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
