import Foundation
import GRDB
import Logging

/// The gateway's single SQLite database file, opened in WAL mode with every migration applied.
///
/// Reads go straight to the `DatabasePool` (WAL readers never block the writer); every write
/// goes through ``writer``, which batches concurrent writes into one transaction.
public final class GatewayDatabase: Sendable {
    /// The pool used for reads. Writes must go through ``writer``.
    public let pool: DatabasePool
    /// The group-commit writer: the only path that writes.
    public let writer: GroupCommitWriter
    /// The database file's path.
    public let path: String

    /// Opens (creating if needed) the database at `path` and applies every migration.
    /// - Parameters:
    ///   - path: The SQLite file.
    ///   - writerConfiguration: Limits of the group-commit writer.
    ///   - logger: Where store events are logged.
    public init(path: String, writerConfiguration: GroupCommitWriter.Configuration = .init(), logger: Logger) throws {
        var configuration = Configuration()
        configuration.journalMode = .wal
        configuration.busyMode = .timeout(5)
        configuration.foreignKeysEnabled = true
        configuration.label = "callgate"
        configuration.prepareDatabase { db in
            // NORMAL is durable in WAL mode across application crashes; only a power loss can
            // roll back the last transactions, which is the trade-off SQLite documents for WAL.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        do {
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let pool = try DatabasePool(path: path, configuration: configuration)
            try StoreMigrations.migrator.migrate(pool)
            self.pool = pool
        } catch {
            throw StoreError.cannotOpen(path: path, reason: "\(error)")
        }
        self.path = path
        self.writer = GroupCommitWriter(pool: pool, configuration: writerConfiguration, logger: logger)
    }

    /// Reads from a consistent snapshot; never waits for the writer.
    public func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await pool.read(body)
    }

    /// Writes through the group-commit writer; returns once the write is committed.
    public func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await writer.write(body)
    }
}
