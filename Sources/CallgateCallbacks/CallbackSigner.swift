import Crypto
import Foundation

/// Signs and verifies callback URLs with the keys of a ``SigningKeyRing``.
///
/// Verification uses only memory, so the `/cb` route rejects forged URLs before any database work.
public struct CallbackSigner: Sendable {
    private let keyRing: SigningKeyRing

    public init(keyRing: SigningKeyRing) {
        self.keyRing = keyRing
    }

    /// A new callback id: 128 random bits, base64url without padding (22 characters).
    public static func newCallbackID() -> String {
        randomBase64URL(byteCount: 16)
    }

    /// `byteCount` bytes from the system's secure random source, as base64url without padding.
    public static func randomBase64URL(byteCount: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<byteCount).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return Data(bytes).base64URLEncodedString()
    }

    /// Signs `id` for `scope` with the primary key.
    /// - Parameters:
    ///   - id: The callback id (see ``newCallbackID()``).
    ///   - scope: What the URL may do; letters, digits and `-._~/` only.
    ///   - expiresAt: When the URL stops working, if ever.
    public func sign(id: String, scope: String, expiresAt: Date? = nil) throws(CallbackError) -> CallbackURLFields {
        guard let key = keyRing.primary else { throw .keyNotFound("primary") }
        guard Self.isValidField(id), Self.isValidField(scope) else {
            throw .malformed("id and scope may hold only letters, digits and -._~/")
        }
        let expiry = expiresAt.map { Int64($0.timeIntervalSince1970.rounded(.up)) }
        return CallbackURLFields(
            id: id,
            scope: scope,
            keyID: key.id,
            expiresAt: expiry,
            signature: Self.signature(of: CallbackURLFields.canonicalString(id: id, scope: scope, keyID: key.id, expiresAt: expiry), key: key)
        )
    }

    /// Checks a URL's signature, key and expiry. Touches no database.
    /// - Throws: ``CallbackError`` naming why the URL is refused.
    public func verify(_ fields: CallbackURLFields, now: Date = Date()) throws(CallbackError) {
        guard let key = keyRing.key(id: fields.keyID) else { throw .unknownKey }
        let expected = Self.signature(
            of: CallbackURLFields.canonicalString(id: fields.id, scope: fields.scope, keyID: fields.keyID, expiresAt: fields.expiresAt),
            key: key
        )
        // Compare the canonical text, not decoded bytes: base64url's last character carries
        // spare bits, and a decoder that ignores them would accept an edited signature.
        guard Self.constantTimeEquals(expected.utf8, fields.signature.utf8) else { throw .badSignature }
        guard key.status != .retired else { throw .retiredKey }
        if let expiresAt = fields.expiresAt, Int64(now.timeIntervalSince1970) >= expiresAt { throw .expired }
    }

    private static func signature(of canonical: String, key: SigningKey) -> String {
        Data(HMAC<SHA256>.authenticationCode(for: Data(canonical.utf8), using: key.secret)).base64URLEncodedString()
    }

    /// Compares in time that depends only on the lengths, never on where the first difference is.
    public static func constantTimeEquals(_ lhs: some Collection<UInt8>, _ rhs: some Collection<UInt8>) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for (left, right) in zip(lhs, rhs) { difference |= left ^ right }
        return difference == 0
    }

    private static func isValidField(_ value: String) -> Bool {
        !value.isEmpty && value.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2D || byte == 0x2E || byte == 0x5F || byte == 0x7E || byte == 0x2F
        }
    }
}

extension Data {
    /// RFC 4648 §5 base64url without padding.
    func base64URLEncodedString() -> String {
        base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
