import ArgumentParser
import CallgateServer

/// `callgate certs init`: the development CA and server certificate (offline).
struct CertsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certs",
        abstract: "Manage development TLS material.",
        subcommands: [Init.self, Client.self]
    )

    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a development CA (if none) and a server certificate for localhost, 127.0.0.1, ::1 and --hostname values."
        )
        @Option(name: .customLong("hostname"), help: "Another DNS name or IP address for the server certificate (repeatable).")
        var hostnames: [String] = []
        @Option(help: "Where to write the files.") var certsDir = "certs"

        func run() async throws {
            let certificates = DevelopmentCertificates(directory: certsDir)
            let names = try certificates.create(extraHostnames: hostnames)
            print("CA certificate:     \(certificates.caCertificatePath)  (trust this: curl --cacert \(certificates.caCertificatePath))")
            print("server certificate: \(certificates.serverCertificatePath) for \(names.joined(separator: ", "))")
            print("server key:         \(certificates.serverKeyPath) (mode 0600)")
        }
    }

    struct Client: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue a client certificate from the development CA, for an admin listener that requires mTLS."
        )
        @Argument(help: "A name for the operator or tool (letters, digits, -_.).") var name: String
        @Option(help: "Where the development CA lives and the files go.") var certsDir = "certs"

        func run() async throws {
            let paths = try DevelopmentCertificates(directory: certsDir).createClientCertificate(name: name)
            print("client certificate: \(paths.certificate)")
            print("client key:         \(paths.key) (mode 0600)")
            print("use: callgate keys list --client-cert \(paths.certificate) --client-key \(paths.key)")
        }
    }
}
