import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// A small HTTPS client of the admin API, trusting the development CA (or a given bundle).
struct AdminClient {
    /// A client certificate and key (PEM files) for mTLS.
    struct ClientIdentity {
        let certificate: String
        let key: String
    }

    let baseURL: String
    let token: String
    let caFile: String?
    let clientIdentity: ClientIdentity?

    init(baseURL: String, token: String, caFile: String?, clientIdentity: ClientIdentity?) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.token = token
        self.caFile = caFile
        self.clientIdentity = clientIdentity
    }

    /// Sends one request; returns the JSON body of a 2xx answer, or throws the API's error message.
    func send(_ method: HTTPMethod, _ path: String, body: Data? = nil) async throws -> Data {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile { tls.trustRoots = .file(caFile) }
        if let clientIdentity {
            tls.certificateChain = try NIOSSLCertificate.fromPEMFile(clientIdentity.certificate).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: clientIdentity.key, format: .pem))
        }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout = .init(connect: .seconds(10), read: .seconds(60))
        return try await HTTPClient.withHTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration) { client in
            var request = HTTPClientRequest(url: baseURL + path)
            request.method = method
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            request.headers.add(name: "Accept", value: "application/json")
            if let body {
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(bytes: body))
            }
            let response: HTTPClientResponse
            do {
                response = try await client.execute(request, timeout: .seconds(60))
            } catch {
                throw CLIError("cannot reach \(baseURL): \(error)")
            }
            let data = Data(buffer: try await response.body.collect(upTo: 64 * 1024 * 1024))
            guard (200..<300).contains(response.status.code) else {
                throw CLIError(Self.errorMessage(from: data, status: response.status.code))
            }
            return data
        }
    }

    private static func errorMessage(from data: Data, status: UInt) -> String {
        struct Envelope: Decodable {
            struct Problem: Decodable { let path: String; let message: String }
            struct Body: Decodable { let code: String; let message: String; let path: String?; let problems: [Problem]? }
            let error: Body
        }
        guard let envelope = try? JSONDecoder().decode(Envelope.self, from: data) else {
            return "the gateway answered \(status)"
        }
        if let problems = envelope.error.problems, !problems.isEmpty {
            // A definition's validation: the summary, then one line per problem with its JSON path.
            return ([envelope.error.message] + problems.map { "\($0.path): \($0.message)" }).joined(separator: "\n")
        }
        let path = envelope.error.path.map { " at \($0)" } ?? ""
        return "\(envelope.error.message)\(path) (\(status) \(envelope.error.code))"
    }
}
