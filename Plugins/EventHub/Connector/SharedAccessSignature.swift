import Crypto
import Foundation

/// Event Hubs-style shared-access signatures: `SharedAccessSignature sr={resource}&sig={signature}&se={expiry}&skn={key name}`,
/// the signature being base64 HMAC-SHA256, with the key's secret, of the URL-encoded resource, a
/// newline and the expiry (Unix seconds). The resource is the hub's ingest URL (or anything whose
/// path ends with `/hubs/{hub}`), so a token for one hub never opens another.
struct SharedAccessSignature: Sendable, Equatable {
    var resource: String
    var signature: String
    var expiry: Int64
    var keyName: String

    /// Why a token is refused (the reply says only 401; the reason goes to the log).
    enum Refusal: Error, Equatable, CustomStringConvertible {
        case malformed(String)
        case wrongHub
        case unknownKey(String)
        case badSignature
        case expired

        var description: String {
            switch self {
            case .malformed(let why): "malformed token: \(why)"
            case .wrongHub: "the token is for another hub"
            case .unknownKey(let name): "no key '\(name)'"
            case .badSignature: "the signature does not match"
            case .expired: "the token expired"
            }
        }
    }

    /// Reads an `Authorization` header value.
    init(header: String) throws(Refusal) {
        let prefix = "SharedAccessSignature "
        guard header.hasPrefix(prefix) else { throw .malformed("not a SharedAccessSignature") }
        var fields: [String: String] = [:]
        for pair in header.dropFirst(prefix.count).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let value = String(parts[1]).removingPercentEncoding else { throw .malformed("bad field '\(pair.prefix(20))'") }
            guard fields[String(parts[0])] == nil else { throw .malformed("'\(parts[0])' repeated") }
            fields[String(parts[0])] = value
        }
        guard let resource = fields["sr"], let signature = fields["sig"], let keyName = fields["skn"],
              let expiryText = fields["se"], expiryText.allSatisfy(\.isNumber), let expiry = Int64(expiryText)
        else { throw .malformed("sr, sig, se and skn are required") }
        self.init(resource: resource, signature: signature, expiry: expiry, keyName: keyName)
    }

    init(resource: String, signature: String, expiry: Int64, keyName: String) {
        self.resource = resource
        self.signature = signature
        self.expiry = expiry
        self.keyName = keyName
    }

    /// A token for `resource`, signed with `secret`, valid until `expiry`.
    static func make(resource: String, keyName: String, secret: String, expiry: Int64) -> SharedAccessSignature {
        SharedAccessSignature(resource: resource, signature: sign(resource: resource, expiry: expiry, secret: secret), expiry: expiry, keyName: keyName)
    }

    /// The `Authorization` header value.
    var header: String {
        "SharedAccessSignature sr=\(Self.encoded(resource))&sig=\(Self.encoded(signature))&se=\(expiry)&skn=\(Self.encoded(keyName))"
    }

    /// Checks the token for `hub`: resource, key, signature (constant time), expiry.
    func verify(hub: String, now: Date, secret: (String) throws -> String?) throws -> Void {
        guard Self.names(hub, resource) else { throw Refusal.wrongHub }
        guard let key = try secret(keyName) else { throw Refusal.unknownKey(keyName) }
        let expected = Array(Self.sign(resource: resource, expiry: expiry, secret: key).utf8)
        let given = Array(signature.utf8)
        var difference = UInt8(expected.count == given.count ? 0 : 1)
        for (left, right) in zip(expected, given) { difference |= left ^ right }
        guard difference == 0 else { throw Refusal.badSignature }
        guard Int64(now.timeIntervalSince1970) < expiry else { throw Refusal.expired }
    }

    /// Whether a token's resource names the hub: its path (of a URL, or the text) ends with `/hubs/{hub}`.
    private static func names(_ hub: String, _ resource: String) -> Bool {
        var path = URL(string: resource)?.path ?? resource
        if path.isEmpty { path = resource }
        while path.hasSuffix("/") { path.removeLast() }
        if path.hasSuffix("/messages") { path.removeLast("/messages".count) }
        return path.lowercased().hasSuffix("/hubs/" + hub.lowercased()) || path.lowercased() == hub.lowercased()
    }

    private static func sign(resource: String, expiry: Int64, secret: String) -> String {
        let text = encoded(resource) + "\n" + String(expiry)
        return Data(HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: SymmetricKey(data: Data(secret.utf8)))).base64EncodedString()
    }

    private static func encoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
    }
}

/// A stable 32-bit hash of a text: the first four bytes of its SHA-256.
enum SHA256Prefix {
    static func value(of text: String) -> UInt32 {
        SHA256.hash(data: Data(text.utf8)).prefix(4).reduce(0) { ($0 << 8) | UInt32($1) }
    }
}
