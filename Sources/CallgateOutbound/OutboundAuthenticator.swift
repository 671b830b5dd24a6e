import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// Applies ``OutboundAuthentication`` to requests: headers for Basic and Raw, the TLS
/// configuration for a client certificate, and a bearer token for OAuth2 client credentials,
/// fetched from the token endpoint (through the egress policy) and cached until shortly before
/// it expires. One per gateway, shared by the engine and the plugin host.
public final class OutboundAuthenticator: Sendable {
    private struct CachedToken {
        var authorization: String
        var expiresAt: Date
    }

    private let httpClient: HTTPClient
    private let egress: EgressPolicy
    /// The TLS configuration outbound calls use (trust roots); a client certificate is added to it.
    public let baseTLS: TLSConfiguration
    /// By endpoint, client, scope, audience and a digest of the secret.
    private let tokens = Mutex<[String: CachedToken]>([:])

    public init(httpClient: HTTPClient, egress: EgressPolicy, baseTLS: TLSConfiguration = .makeClientConfiguration()) {
        self.httpClient = httpClient
        self.egress = egress
        self.baseTLS = baseTLS
    }

    /// Authenticates `request` as `authentication` says.
    public func apply(_ authentication: OutboundAuthentication?, to request: inout HTTPClientRequest) async throws(OutboundAuthenticationError) {
        switch authentication {
        case nil:
            return
        case .basic(let username, let password)?:
            request.headers.replaceOrAdd(name: "Authorization", value: "Basic " + Data("\(username):\(password)".utf8).base64EncodedString())
        case .raw(let value)?:
            request.headers.replaceOrAdd(name: "Authorization", value: value)
        case .clientCertificate(let certificate)?:
            var tls = baseTLS
            tls.certificateChain = certificate.chain.map { .certificate($0) }
            tls.privateKey = .privateKey(certificate.key)
            request.tlsConfiguration = tls
        case .oauth(let credentials)?:
            request.headers.replaceOrAdd(name: "Authorization", value: try await authorization(for: credentials))
        }
    }

    /// The `Authorization` value for the credentials: cached, or a new token.
    func authorization(for credentials: OutboundAuthentication.OAuthClientCredentials) async throws(OutboundAuthenticationError) -> String {
        let secretDigest = SHA256.hash(data: Data(credentials.secret.utf8)).map { String(format: "%02x", $0) }.joined()
        let key = [credentials.tokenEndpoint, credentials.clientID, credentials.scope ?? "", credentials.audience ?? "", secretDigest].joined(separator: "\n")
        let now = Date()
        if let cached = tokens.withLock({ $0[key] }), cached.expiresAt > now { return cached.authorization }
        let token = try await fetchToken(credentials)
        tokens.withLock { $0[key] = token }
        return token.authorization
    }

    /// POSTs the client-credentials grant (client_secret_post) and reads the token answer.
    private func fetchToken(_ credentials: OutboundAuthentication.OAuthClientCredentials) async throws(OutboundAuthenticationError) -> CachedToken {
        let endpoint = credentials.tokenEndpoint
        guard let host = URLComponents(string: endpoint)?.host else { throw OutboundAuthenticationError("the token endpoint '\(endpoint)' has no host") }
        if let refusal = egress.refusal(forHost: host) { throw OutboundAuthenticationError("the token endpoint is refused: \(refusal)") }
        var fields = [("grant_type", "client_credentials"), ("client_id", credentials.clientID), ("client_secret", credentials.secret)]
        if let scope = credentials.scope, !scope.isEmpty { fields.append(("scope", scope)) }
        if let audience = credentials.audience, !audience.isEmpty { fields.append(("resource", audience)) }
        var request = HTTPClientRequest(url: endpoint)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        request.body = .bytes(ByteBuffer(string: fields.map { "\(Self.formEncode($0.0))=\(Self.formEncode($0.1))" }.joined(separator: "&")))
        let status: Int
        let body: ByteBuffer
        let started = Date()
        do {
            let response = try await httpClient.execute(request, timeout: .seconds(30))
            status = Int(response.status.code)
            body = try await response.body.collect(upTo: 1 << 20)
        } catch {
            throw OutboundAuthenticationError("the token endpoint \(endpoint) could not be reached: \(error)", retryable: true)
        }
        let answer = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any] ?? [:]
        guard (200..<300).contains(status), let token = answer["access_token"] as? String, !token.isEmpty else {
            let detail = (answer["error_description"] as? String) ?? (answer["error"] as? String) ?? "no access_token in the answer"
            throw OutboundAuthenticationError(
                "the token endpoint \(endpoint) answered \(status): \(detail)", retryable: status == 408 || status == 429 || status >= 500
            )
        }
        // expires_in may be a number or (Azure AD v1) a string.
        let lifetime = (answer["expires_in"] as? Double) ?? (answer["expires_in"] as? String).flatMap(Double.init) ?? 300
        let type = (answer["token_type"] as? String).flatMap { $0.isEmpty ? nil : $0 } ?? "Bearer"
        // Renew a little early, so a token does not expire on its way to the service.
        let margin = min(60, lifetime / 10)
        return CachedToken(authorization: "\(type.lowercased() == "bearer" ? "Bearer" : type) \(token)", expiresAt: started.addingTimeInterval(lifetime - margin))
    }

    private static func formEncode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
