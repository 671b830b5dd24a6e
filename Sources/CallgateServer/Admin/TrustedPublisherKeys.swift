import Crypto
import Foundation

/// Reads the trusted plugin publisher keys: base64 raw Ed25519 public keys, one per line;
/// blank lines and `#` comments are ignored.
public enum TrustedPublisherKeys {
    public struct LoadError: Error, CustomStringConvertible {
        public let description: String
    }

    public static func load(from path: String) throws -> [Curve25519.Signing.PublicKey] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw LoadError(description: "plugins.trusted_keys: cannot read \(path)")
        }
        var keys: [Curve25519.Signing.PublicKey] = []
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let data = Data(base64Encoded: line), let key = try? Curve25519.Signing.PublicKey(rawRepresentation: data) else {
                throw LoadError(description: "plugins.trusted_keys: \(path) line \(number + 1) is not a base64 Ed25519 public key")
            }
            keys.append(key)
        }
        return keys
    }
}
