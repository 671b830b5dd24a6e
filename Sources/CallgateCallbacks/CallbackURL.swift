import Foundation

/// The signed fields of a callback URL: `{base}/cb/{id}?sv=1&sp={scope}&kid={key}[&exp={unix}]&sig={signature}`.
///
/// `sp` (the permitted scope, as in Logic Apps' `sp=` parameter) says what the URL may do, for
/// example `trigger` or `resume`; it is signed, so it cannot be widened by editing the URL.
public struct CallbackURLFields: Sendable, Equatable {
    /// The signature scheme version this gateway writes and reads.
    public static let signatureVersion = "1"

    /// The callback id: 128 random bits, base64url without padding.
    public var id: String
    /// The permitted scope.
    public var scope: String
    /// The id of the key that signed the URL.
    public var keyID: String
    /// When the URL stops working, if ever.
    public var expiresAt: Int64?
    /// The base64url HMAC-SHA256 signature.
    public var signature: String

    public init(id: String, scope: String, keyID: String, expiresAt: Int64?, signature: String) {
        self.id = id
        self.scope = scope
        self.keyID = keyID
        self.expiresAt = expiresAt
        self.signature = signature
    }

    /// The exact bytes the signature covers. Each field is on its own line and none may contain a
    /// newline, so no two different field sets share a canonical string.
    static func canonicalString(id: String, scope: String, keyID: String, expiresAt: Int64?) -> String {
        "callgate-callback\nsv=\(signatureVersion)\nkid=\(keyID)\nid=\(id)\nsp=\(scope)\nexp=\(expiresAt.map(String.init) ?? "")"
    }

    /// The path and query, to append to the public base URL.
    public var pathAndQuery: String {
        var query = "sv=\(Self.signatureVersion)&sp=\(Self.percentEncoded(scope))&kid=\(keyID)"
        if let expiresAt { query += "&exp=\(expiresAt)" }
        query += "&sig=\(signature)"
        return "/cb/\(id)?\(query)"
    }

    /// The full URL under `publicBaseURL` (any trailing `/` of the base is dropped).
    public func url(publicBaseURL: String) -> String {
        var base = publicBaseURL
        while base.hasSuffix("/") { base.removeLast() }
        return base + pathAndQuery
    }

    /// Reads the fields from a `/cb/{id}` request's id and raw query string.
    ///
    /// Parameters other than the signed ones are left to the route (Logic Apps passes them to the
    /// run as `queries`); a signed parameter given twice is refused rather than guessed at.
    public static func parse(id: String, query: String) throws(CallbackError) -> CallbackURLFields {
        var values: [String: String] = [:]
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0])
            guard ["sv", "sp", "kid", "exp", "sig"].contains(name) else { continue }
            guard values[name] == nil else { throw .malformed("parameter '\(name)' repeated") }
            let raw = parts.count > 1 ? String(parts[1]) : ""
            guard let decoded = raw.removingPercentEncoding else { throw .malformed("parameter '\(name)' is not valid percent-encoding") }
            values[name] = decoded
        }
        guard values["sv"] == signatureVersion else { throw .malformed("unsupported or missing 'sv'") }
        guard let scope = values["sp"], !scope.isEmpty else { throw .malformed("missing 'sp'") }
        guard let keyID = values["kid"], !keyID.isEmpty else { throw .malformed("missing 'kid'") }
        guard let signature = values["sig"], !signature.isEmpty else { throw .malformed("missing 'sig'") }
        var expiresAt: Int64?
        if let exp = values["exp"] {
            // Digits only: "+5" or " 5" would parse to the same number and so verify when tampered.
            guard !exp.isEmpty, exp.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let value = Int64(exp) else {
                throw .malformed("'exp' is not a unix time")
            }
            expiresAt = value
        }
        if [id, scope, keyID].contains(where: { $0.contains("\n") }) { throw .malformed("a field contains a newline") }
        return CallbackURLFields(id: id, scope: scope, keyID: keyID, expiresAt: expiresAt, signature: signature)
    }

    private static func percentEncoded(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~/"))) ?? value
    }
}
