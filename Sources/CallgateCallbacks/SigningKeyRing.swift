import CallgateStore
import Crypto
import Foundation
import GRDB
import Synchronization

/// The gateway's callback-signing keys: kept in memory so that verification never touches the
/// database, persisted (sealed with the master key) so that URLs outlive restarts.
///
/// Every change is committed to the store first and only then published in memory, so a URL the
/// ring verifies is always backed by a committed key.
public final class SigningKeyRing: Sendable {
    private let database: GatewayDatabase
    private let masterKey: MasterKey
    private let keys: Mutex<[String: SigningKey]>

    /// Loads the keys from `database`, creating a first primary key when there is none.
    /// - Parameters:
    ///   - database: The gateway's database.
    ///   - masterKeyPath: The file holding the key that seals secrets at rest (created 0600 if absent).
    public init(database: GatewayDatabase, masterKeyPath: String) async throws {
        self.database = database
        let masterKey = try MasterKey.loadOrCreate(at: masterKeyPath)
        self.masterKey = masterKey
        let stored = try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM signing_key").map { try Self.key(from: $0, masterKey: masterKey) }
        }
        let loaded = Dictionary(uniqueKeysWithValues: stored.map { ($0.id, $0) })
        keys = Mutex(loaded)
        if loaded.values.allSatisfy({ $0.status != .primary }) {
            _ = try await rotate()
        }
    }

    /// Every key, newest first, without secrets.
    public func list() -> [SigningKeyInfo] {
        keys.withLock { $0.values.map(\.info) }.sorted { ($0.createdAt, $0.id) > ($1.createdAt, $1.id) }
    }

    /// The key that signs new URLs.
    public var primary: SigningKey? {
        keys.withLock { keys in keys.values.first { $0.status == .primary } }
    }

    /// The key with this id, whatever its status.
    public func key(id: String) -> SigningKey? {
        keys.withLock { $0[id] }
    }

    /// Makes a new primary key; the previous primary keeps verifying as `active`.
    @discardableResult
    public func rotate() async throws -> SigningKeyInfo {
        let secret = SymmetricKey(size: .bits256)
        let masterKey = self.masterKey
        let created = Date()
        let newKey: SigningKey = try await database.write { db in
            // Key ids are short and sequential ("k1", "k2", …): readable in URLs and logs.
            let highest = try Int.fetchOne(db, sql: "SELECT MAX(CAST(substr(id, 2) AS INTEGER)) FROM signing_key") ?? 0
            let id = "k\(highest + 1)"
            try db.execute(sql: "UPDATE signing_key SET status = 'active' WHERE status = 'primary'")
            try db.execute(
                sql: "INSERT INTO signing_key (id, sealed_secret, status, created_at) VALUES (?, ?, 'primary', ?)",
                arguments: [id, try masterKey.seal(secret, keyID: id), created.timeIntervalSince1970]
            )
            return SigningKey(id: id, secret: secret, status: .primary, createdAt: created, retiredAt: nil)
        }
        keys.withLock { keys in
            for (id, key) in keys where key.status == .primary { keys[id]?.status = .active }
            keys[newKey.id] = newKey
        }
        return newKey.info
    }

    /// Retires a key: every URL it signed fails verification from now on.
    /// - Throws: ``CallbackError/keyNotFound(_:)``, or ``CallbackError/cannotRetirePrimary(_:)``
    ///   for the primary key (rotate first).
    @discardableResult
    public func retire(id: String) async throws -> SigningKeyInfo {
        guard let current = key(id: id) else { throw CallbackError.keyNotFound(id) }
        if current.status == .primary { throw CallbackError.cannotRetirePrimary(id) }
        if current.status == .retired { return current.info }
        let retiredAt = Date()
        try await database.write { db in
            try db.execute(
                sql: "UPDATE signing_key SET status = 'retired', retired_at = ? WHERE id = ? AND status = 'active'",
                arguments: [retiredAt.timeIntervalSince1970, id]
            )
        }
        return keys.withLock { keys in
            keys[id]?.status = .retired
            keys[id]?.retiredAt = retiredAt
            return keys[id]?.info ?? current.info
        }
    }

    private static func key(from row: Row, masterKey: MasterKey) throws -> SigningKey {
        let id: String = row["id"]
        let sealed: Data = row["sealed_secret"]
        let statusText: String = row["status"]
        guard let status = SigningKey.Status(rawValue: statusText) else {
            throw CallbackError.masterKey("key '\(id)' has unknown status '\(statusText)'")
        }
        let retired: Double? = row["retired_at"]
        return SigningKey(
            id: id,
            secret: try masterKey.open(sealed, keyID: id),
            status: status,
            createdAt: Date(timeIntervalSince1970: row["created_at"]),
            retiredAt: retired.map { Date(timeIntervalSince1970: $0) }
        )
    }
}
