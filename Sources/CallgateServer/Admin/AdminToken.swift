import CallgateCallbacks
import CallgateStore
import Crypto
import Foundation
import GRDB

/// The admin API's bearer token. Only its SHA-256 is stored; the token itself is shown once.
public struct AdminToken: Sendable {
    private static let settingName = "admin_token_sha256"
    private let hash: [UInt8]

    /// The outcome of ``ensure(database:presetToken:)``.
    public struct Setup: Sendable {
        /// The verifier for incoming requests.
        public let token: AdminToken
        /// The new token, when one was generated now and must be shown to the operator once.
        public let generated: String?
    }

    /// Makes sure a token hash is stored. `presetToken` (from `CALLGATE_ADMIN_TOKEN`) replaces the
    /// stored hash; otherwise a stored hash is kept, or a new random token is generated.
    public static func ensure(database: GatewayDatabase, presetToken: String?) async throws -> Setup {
        if let presetToken, !presetToken.isEmpty {
            let hash = sha256(presetToken)
            try await store(hash, in: database)
            return Setup(token: AdminToken(hash: hash), generated: nil)
        }
        let stored = try await database.read { db in
            try String.fetchOne(db, sql: "SELECT value FROM gateway_setting WHERE name = ?", arguments: [settingName])
        }
        if let stored, let bytes = Data(hexString: stored) {
            return Setup(token: AdminToken(hash: Array(bytes)), generated: nil)
        }
        let token = "cg_" + CallbackSigner.randomBase64URL(byteCount: 32)
        let hash = sha256(token)
        try await store(hash, in: database)
        return Setup(token: AdminToken(hash: hash), generated: token)
    }

    /// True when `candidate` is the token; the comparison takes the same time wherever it differs.
    public func matches(_ candidate: String) -> Bool {
        CallbackSigner.constantTimeEquals(hash, Self.sha256(candidate))
    }

    private static func store(_ hash: [UInt8], in database: GatewayDatabase) async throws {
        let hex = hash.map { String(format: "%02x", $0) }.joined()
        try await database.write { db in
            try db.execute(
                sql: "INSERT INTO gateway_setting (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                arguments: [settingName, hex]
            )
        }
    }

    private static func sha256(_ text: String) -> [UInt8] {
        Array(SHA256.hash(data: Data(text.utf8)))
    }
}

extension Data {
    /// Decodes lowercase or uppercase hex; nil for anything else.
    init?(hexString: String) {
        guard hexString.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        var index = hexString.startIndex
        while index < hexString.endIndex {
            let next = hexString.index(index, offsetBy: 2)
            guard let byte = UInt8(hexString[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        self.init(bytes)
    }
}
