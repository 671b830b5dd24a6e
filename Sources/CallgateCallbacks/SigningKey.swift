import Crypto
import Foundation

/// A key that signs callback URLs. Its secret never leaves the process except sealed in the store.
public struct SigningKey: Sendable {
    /// Where a key stands in its life.
    public enum Status: String, Sendable, Codable, CaseIterable {
        /// Signs new URLs and verifies old ones. Exactly one key is primary.
        case primary
        /// Verifies URLs it signed earlier; signs nothing new.
        case active
        /// Verifies nothing: every URL it signed now fails.
        case retired
    }

    /// The key id carried in URLs as `kid`.
    public let id: String
    /// The HMAC-SHA256 secret.
    let secret: SymmetricKey
    /// Where the key stands.
    public var status: Status
    /// When the key was made.
    public let createdAt: Date
    /// When the key was retired, if it was.
    public var retiredAt: Date?

    /// The key's public description, without its secret.
    public var info: SigningKeyInfo {
        SigningKeyInfo(id: id, status: status, createdAt: createdAt, retiredAt: retiredAt)
    }
}

/// What may be shown of a signing key: everything but the secret.
public struct SigningKeyInfo: Sendable, Codable, Equatable {
    public var id: String
    public var status: SigningKey.Status
    public var createdAt: Date
    public var retiredAt: Date?

    public init(id: String, status: SigningKey.Status, createdAt: Date, retiredAt: Date?) {
        self.id = id
        self.status = status
        self.createdAt = createdAt
        self.retiredAt = retiredAt
    }
}
