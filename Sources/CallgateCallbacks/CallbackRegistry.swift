import CallgateStore
import Foundation
import GRDB

/// Who owns a callback id, so that a verified callback reaches the right trigger, step or link.
public struct CallbackOwner: Sendable, Equatable, Codable {
    /// What kind of thing answers the callback (`trigger`, `action`, `approval`, …). The server
    /// routes a callback to the handler registered for this kind.
    public var kind: String
    /// The workflow, when the owner belongs to one.
    public var workflow: String?
    /// The run, for owners inside a run (waiting actions, approval links).
    public var runID: String?
    /// The step (action or trigger name).
    public var step: String?

    public init(kind: String, workflow: String? = nil, runID: String? = nil, step: String? = nil) {
        self.kind = kind
        self.workflow = workflow
        self.runID = runID
        self.step = step
    }
}

/// A callback id's row in the registry.
public struct CallbackRegistration: Sendable, Equatable {
    /// Whether the owner still accepts calls.
    public enum State: String, Sendable, Codable {
        /// Calls are routed to the owner.
        case active
        /// The owner is gone (step ended, run cancelled, trigger unsubscribed): calls get `410`.
        case closed
    }

    public var id: String
    public var owner: CallbackOwner
    public var scope: String
    public var state: State
    public var createdAt: Date
    public var closedAt: Date?
}

/// The table mapping callback ids to their owners, and the one place that mints callback URLs.
public struct CallbackRegistry: Sendable {
    private let database: GatewayDatabase
    /// Signs the minted URLs.
    public let signer: CallbackSigner
    /// The base (scheme, host, port, optional path prefix) that minted URLs start with.
    public let publicBaseURL: String

    public init(database: GatewayDatabase, signer: CallbackSigner, publicBaseURL: String) {
        self.database = database
        self.signer = signer
        self.publicBaseURL = publicBaseURL
    }

    /// A callback URL that was minted and registered.
    public struct MintedCallback: Sendable, Equatable {
        /// The callback id.
        public var id: String
        /// The signed fields.
        public var fields: CallbackURLFields
        /// The full URL to hand out.
        public var url: String
    }

    /// Registers a new callback id for `owner` and signs its URL. Returns after the registration
    /// is committed, so a caller of the URL can never be faster than its row.
    public func mint(owner: CallbackOwner, scope: String, expiresAt: Date? = nil) async throws -> MintedCallback {
        let id = CallbackSigner.newCallbackID()
        let fields = try signer.sign(id: id, scope: scope, expiresAt: expiresAt)
        try await database.write { db in
            try Self.insert(id: id, owner: owner, scope: scope, in: db)
        }
        return MintedCallback(id: id, fields: fields, url: fields.url(publicBaseURL: publicBaseURL))
    }

    /// The blocking form of ``mint(owner:scope:expiresAt:)`` for callers on threads of their own
    /// (plugin host services answer inside a C call). Never call it from the cooperative pool.
    public func mintAndWait(owner: CallbackOwner, scope: String, expiresAt: Date? = nil) throws -> MintedCallback {
        let id = CallbackSigner.newCallbackID()
        let fields = try signer.sign(id: id, scope: scope, expiresAt: expiresAt)
        try database.writer.writeAndWait { db in
            try Self.insert(id: id, owner: owner, scope: scope, in: db)
        }
        return MintedCallback(id: id, fields: fields, url: fields.url(publicBaseURL: publicBaseURL))
    }

    /// Inserts a registration inside a caller's transaction (for engines that mint and change run
    /// state atomically).
    public static func insert(id: String, owner: CallbackOwner, scope: String, in db: Database) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO callback_registration (id, owner_kind, workflow, run_id, step, scope, state, created_at)
                VALUES (?, ?, ?, ?, ?, ?, 'active', ?)
                """,
        ).execute(arguments: [id, owner.kind, owner.workflow, owner.runID, owner.step, scope, Date().timeIntervalSince1970])
    }

    /// The registration of `id`, or nil when no such id was ever minted.
    public func registration(id: String) async throws -> CallbackRegistration? {
        try await database.read { db in try Self.registration(id: id, in: db) }
    }

    /// Reads a registration inside a caller's transaction.
    public static func registration(id: String, in db: Database) throws -> CallbackRegistration? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM callback_registration WHERE id = ?"), arguments: [id]) else {
            return nil
        }
        let closed: Double? = row["closed_at"]
        return CallbackRegistration(
            id: row["id"],
            owner: CallbackOwner(kind: row["owner_kind"], workflow: row["workflow"], runID: row["run_id"], step: row["step"]),
            scope: row["scope"],
            state: CallbackRegistration.State(rawValue: row["state"]) ?? .closed,
            createdAt: Date(timeIntervalSince1970: row["created_at"]),
            closedAt: closed.map { Date(timeIntervalSince1970: $0) }
        )
    }

    /// Closes `id`: later calls to its URL get `410 Gone`. Closing twice is harmless.
    public func close(id: String) async throws {
        try await database.write { db in try Self.close(id: id, in: db) }
    }

    /// Closes a registration inside a caller's transaction.
    public static func close(id: String, in db: Database) throws {
        try db.cachedStatement(sql: "UPDATE callback_registration SET state = 'closed', closed_at = ? WHERE id = ? AND state = 'active'")
            .execute(arguments: [Date().timeIntervalSince1970, id])
    }
}
