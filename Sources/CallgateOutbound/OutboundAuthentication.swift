import Foundation
import NIOCore
import NIOSSL

/// The `authentication` object of Logic Apps HTTP inputs (SPEC §6), as the gateway applies it to
/// an outbound request — for the Http action and for plugins (`http_send`'s `authentication`).
///
/// * `Basic`: `username`, `password`.
/// * `Raw`: `value`, sent as `Authorization`.
/// * `ClientCertificate`: `pfx` (base64 PKCS#12) with `password`, or `certificate` and
///   `privateKey` (PEM; `password` if the key is encrypted): presented in the TLS handshake.
/// * `ActiveDirectoryOAuth` (or `OAuth2`): client credentials — `clientId`, `secret`, and the token
///   endpoint: `tokenEndpoint`, or `{authority}/{tenant}/oauth2/v2.0/token` (authority defaults to
///   `https://login.microsoftonline.com`); `scope` and/or `audience` (sent as `resource`, as
///   Azure AD v1 names it) are passed along. The token is cached until shortly before it expires.
public enum OutboundAuthentication: Sendable, Equatable {
    case basic(username: String, password: String)
    case raw(String)
    case clientCertificate(ClientCertificate)
    case oauth(OAuthClientCredentials)

    /// A client certificate and its key, already decoded.
    public struct ClientCertificate: Sendable, Equatable {
        public var chain: [NIOSSLCertificate]
        public var key: NIOSSLPrivateKey
    }

    /// Where and how to get an OAuth2 access token.
    public struct OAuthClientCredentials: Sendable, Hashable {
        public var tokenEndpoint: String
        public var clientID: String
        public var secret: String
        public var scope: String?
        public var audience: String?
    }

    /// Reads the object's string fields (`type` and the fields of that type). Nil when there is
    /// no authentication (`type` absent or `None`).
    public init?(fields: [String: String]) throws(OutboundAuthenticationError) {
        func required(_ name: String, _ type: String) throws(OutboundAuthenticationError) -> String {
            guard let value = fields[name], !value.isEmpty else { throw OutboundAuthenticationError("\(type) authentication needs \(name)") }
            return value
        }
        switch fields["type"]?.lowercased() {
        case nil, "none":
            return nil
        case "basic":
            self = .basic(username: try required("username", "Basic"), password: fields["password"] ?? "")
        case "raw":
            self = .raw(try required("value", "Raw"))
        case "clientcertificate":
            self = .clientCertificate(try Self.clientCertificate(fields))
        case "activedirectoryoauth", "oauth2", "oauth":
            let endpoint: String
            if let given = fields["tokenEndpoint"], !given.isEmpty {
                endpoint = given
            } else {
                let authority = (fields["authority"].flatMap { $0.isEmpty ? nil : $0 } ?? "https://login.microsoftonline.com")
                endpoint = authority.trimmingCharacters(in: CharacterSet(charactersIn: "/")) + "/" + (try required("tenant", "ActiveDirectoryOAuth")) + "/oauth2/v2.0/token"
            }
            guard endpoint.hasPrefix("https://") || endpoint.hasPrefix("http://") else {
                throw OutboundAuthenticationError("ActiveDirectoryOAuth authentication: the token endpoint '\(endpoint)' is not an http(s) URL")
            }
            self = .oauth(OAuthClientCredentials(
                tokenEndpoint: endpoint, clientID: try required("clientId", "ActiveDirectoryOAuth"),
                secret: try required("secret", "ActiveDirectoryOAuth"), scope: fields["scope"], audience: fields["audience"]
            ))
        case let other?:
            throw OutboundAuthenticationError("authentication type '\(other)' is not supported (Basic, Raw, ClientCertificate, ActiveDirectoryOAuth)")
        }
    }

    private static func clientCertificate(_ fields: [String: String]) throws(OutboundAuthenticationError) -> ClientCertificate {
        let password = fields["password"].flatMap { $0.isEmpty ? nil : $0 }
        do {
            if let pfx = fields["pfx"], !pfx.isEmpty {
                guard let bytes = Data(base64Encoded: pfx, options: .ignoreUnknownCharacters) else {
                    throw OutboundAuthenticationError("ClientCertificate authentication: pfx is not base64")
                }
                let bundle = try NIOSSLPKCS12Bundle(buffer: Array(bytes), passphrase: password.map { Array($0.utf8) })
                return ClientCertificate(chain: bundle.certificateChain, key: bundle.privateKey)
            }
            guard let certificate = fields["certificate"], let privateKey = fields["privateKey"] else {
                throw OutboundAuthenticationError("ClientCertificate authentication needs pfx (base64 PKCS#12) and password, or certificate and privateKey (PEM)")
            }
            let chain = try NIOSSLCertificate.fromPEMBytes(Array(certificate.utf8))
            guard !chain.isEmpty else { throw OutboundAuthenticationError("ClientCertificate authentication: certificate holds no PEM certificate") }
            let key: NIOSSLPrivateKey
            if let password {
                key = try NIOSSLPrivateKey(bytes: Array(privateKey.utf8), format: .pem) { supply in supply(Array(password.utf8)) }
            } else {
                key = try NIOSSLPrivateKey(bytes: Array(privateKey.utf8), format: .pem)
            }
            return ClientCertificate(chain: chain, key: key)
        } catch let error as OutboundAuthenticationError {
            throw error
        } catch {
            // NIOSSL's errors name OpenSSL internals; say which input was wrong.
            throw OutboundAuthenticationError("ClientCertificate authentication: the certificate or key cannot be read (wrong password or format): \(error)")
        }
    }
}

/// Why a request could not be authenticated.
public struct OutboundAuthenticationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    /// The token endpoint failed in a way that may pass (5xx, 429, connection refused).
    public var isRetryable: Bool

    public init(_ message: String, retryable: Bool = false) {
        self.message = message
        self.isRetryable = retryable
    }

    public var description: String { message }
}
