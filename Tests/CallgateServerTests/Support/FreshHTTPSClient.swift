import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// HTTPS requests to a gateway process that tests kill and restart: a client per request (a pool
/// that saw the gateway die would keep failing fast), trusting the gateway's development CA.
struct FreshHTTPSClient: Sendable {
    private let configuration: HTTPClient.Configuration

    init(caFile: String) {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(caFile)
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout.connect = .seconds(2)
        self.configuration = configuration
    }

    func send(_ method: HTTPMethod, _ url: String, headers: [(String, String)] = [], body: String = "") async throws -> (status: Int, body: Data) {
        try await HTTPClient.withHTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration) { client in
            var request = HTTPClientRequest(url: url)
            request.method = method
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            if !body.isEmpty { request.body = .bytes(ByteBuffer(string: body)) }
            let response = try await client.execute(request, timeout: .seconds(30))
            return (Int(response.status.code), Data(buffer: try await response.body.collect(upTo: 1 << 24)))
        }
    }
}
