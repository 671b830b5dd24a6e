import Foundation
import GRDB

/// What one retention sweep deleted.
public struct RetentionSweep: Sendable, Equatable {
    /// Ended runs deleted with their actions.
    public var runs = 0
    /// Trigger dedupe keys past their window (24 hours; a plugin trigger's, the run retention).
    public var dedupeKeys = 0
    /// Finished outbox calls (succeeded or given up) older than the retention period.
    public var outboxCalls = 0

    public init(runs: Int = 0, dedupeKeys: Int = 0, outboxCalls: Int = 0) {
        self.runs = runs
        self.dedupeKeys = dedupeKeys
        self.outboxCalls = outboxCalls
    }
}

extension RunStore {
    /// Rows deleted per transaction, so a sweep never holds the writer for long.
    static let retentionBatch = 500

    /// Deletes runs that ended before `runsEndedBefore` (the run, its actions and any leftover
    /// work), finished outbox calls completed before it, and dedupe keys recorded before
    /// `dedupeKeysBefore` — or, for keys kept with their runs, before `runsEndedBefore` — in
    /// batches.
    ///
    /// Callback registrations stay: a URL of a deleted run keeps answering `410`, as SPEC §5
    /// promises for an ended run; they are one small row per waiting step. Pending outbox calls
    /// stay until they are made.
    func sweep(runsEndedBefore cutoff: Date, dedupeKeysBefore dedupeCutoff: Date) async throws -> RetentionSweep {
        let limit = Self.retentionBatch
        var swept = RetentionSweep()
        swept.runs = try await deleteInBatches { db in try Self.deleteEndedRuns(db, before: cutoff.timeIntervalSince1970, limit: limit) }
        swept.dedupeKeys = try await deleteInBatches { db in
            // Two range scans of the (kept_with_runs, created_at) index.
            try db.execute(
                sql: """
                    DELETE FROM trigger_dedupe WHERE (workflow, key) IN (
                        SELECT workflow, key FROM trigger_dedupe WHERE kept_with_runs = 0 AND created_at < ?
                        UNION ALL
                        SELECT workflow, key FROM trigger_dedupe WHERE kept_with_runs = 1 AND created_at < ?
                        LIMIT ?)
                    """,
                arguments: [dedupeCutoff.timeIntervalSince1970, cutoff.timeIntervalSince1970, limit]
            )
            return db.changesCount
        }
        swept.outboxCalls = try await database.write { db in
            try db.execute(
                sql: "DELETE FROM run_outbox WHERE status != 'pending' AND completed_at < ?",
                arguments: [cutoff.timeIntervalSince1970]
            )
            return db.changesCount
        }
        return swept
    }

    /// Runs `deleteBatch` (which deletes at most ``retentionBatch`` rows and says how many), each
    /// time in its own transaction, until a batch comes back short; answers the total.
    private func deleteInBatches(_ deleteBatch: @escaping @Sendable (Database) throws -> Int) async throws -> Int {
        var total = 0
        while true {
            let deleted = try await database.write(deleteBatch)
            total += deleted
            if deleted < Self.retentionBatch { return total }
        }
    }

    private static func deleteEndedRuns(_ db: Database, before cutoff: Double, limit: Int) throws -> Int {
        let ids = try String.fetchAll(
            db, sql: "SELECT id FROM run WHERE ended_at IS NOT NULL AND ended_at < ? ORDER BY ended_at LIMIT ?",
            arguments: [cutoff, limit]
        )
        guard !ids.isEmpty else { return 0 }
        try db.execute(literal: "DELETE FROM run_action WHERE run_id IN \(ids)")
        try db.execute(literal: "DELETE FROM run_work WHERE run_id IN \(ids)")
        try db.execute(literal: "DELETE FROM run WHERE id IN \(ids)")
        return ids.count
    }
}
