import Dispatch
import GRDB
import Logging
import Synchronization

/// The single writer of the database: concurrent writes are batched into one transaction, so that
/// many callbacks per second share one fsync instead of each paying for its own.
///
/// Each write runs inside its own savepoint within the batch's transaction: a write that throws is
/// rolled back alone and its caller gets the error, while the others in the batch still commit.
/// A caller is resumed only after the batch's `COMMIT` succeeded, so a returned write is durable.
///
/// The drain loop runs on a dedicated dispatch queue, never on Swift's cooperative pool: SQLite
/// calls block, and a 2-core machine has only two cooperative threads.
public final class GroupCommitWriter: Sendable {
    /// Limits of the writer.
    public struct Configuration: Sendable {
        /// Most writes committed in one transaction.
        public var maxBatchSize: Int
        /// Most writes waiting; past this, ``GroupCommitWriter/write(_:)`` throws
        /// ``StoreError/overloaded(pending:)`` at once instead of queueing without bound.
        public var maxPendingWrites: Int

        /// - Parameters:
        ///   - maxBatchSize: Most writes per transaction (default 512).
        ///   - maxPendingWrites: Most queued writes before refusing (default 20,000).
        public init(maxBatchSize: Int = 512, maxPendingWrites: Int = 20_000) {
            self.maxBatchSize = maxBatchSize
            self.maxPendingWrites = maxPendingWrites
        }
    }

    /// Counters describing what the writer has done, for tests, metrics and benchmarks.
    public struct Statistics: Sendable, Equatable {
        /// Transactions committed.
        public var transactions: Int = 0
        /// Writes that committed.
        public var committedWrites: Int = 0
        /// Writes that threw and were rolled back alone.
        public var failedWrites: Int = 0
    }

    /// One queued write: runs the caller's body in a savepoint, remembering its result until commit.
    private final class PendingWrite: @unchecked Sendable {
        // Touched only by the drain queue between dequeue and resume; never shared concurrently.
        /// Runs the body in a savepoint; answers whether it succeeded.
        let run: (Database) -> Bool
        let deliver: (Result<Void, any Error>) -> Void

        init(run: @escaping (Database) -> Bool, deliver: @escaping (Result<Void, any Error>) -> Void) {
            self.run = run
            self.deliver = deliver
        }
    }

    /// One write's result between its savepoint and its batch's commit. Written and read on the
    /// drain queue only (or read after a semaphore that the drain queue signalled), hence unchecked.
    private final class WriteOutcome<T>: @unchecked Sendable {
        var value: Result<T, any Error>?

        /// Runs `body` in its own savepoint; answers whether it succeeded.
        func run(_ body: (Database) throws -> T, in db: Database) -> Bool {
            do {
                var produced: T?
                try db.inSavepoint {
                    produced = try body(db)
                    return .commit
                }
                guard let produced else { return false }
                value = .success(produced)
                return true
            } catch {
                value = .failure(error)
                return false
            }
        }

        /// What the caller gets once the batch has committed (or failed as a whole).
        func result(after batch: Result<Void, any Error>) -> Result<T, any Error> {
            switch batch {
            case .failure(let error): .failure(error)
            case .success: value ?? .failure(StoreError.closed)
            }
        }
    }

    private struct State {
        var pending: [PendingWrite] = []
        var draining = false
        var closed = false
        var statistics = Statistics()
    }

    private let pool: DatabasePool
    private let configuration: Configuration
    private let logger: Logger
    private let state = Mutex(State())
    private let queue = DispatchQueue(label: "callgate.store.writer", qos: .userInitiated)

    init(pool: DatabasePool, configuration: Configuration, logger: Logger) {
        self.pool = pool
        self.configuration = configuration
        self.logger = logger
    }

    /// What the writer has done so far.
    public var statistics: Statistics { state.withLock { $0.statistics } }

    /// Writes waiting for the next transaction (not counting the batch being committed).
    public var pendingCount: Int { state.withLock { $0.pending.count } }

    /// Runs `body` in the next group transaction and returns its result once that transaction has
    /// committed.
    ///
    /// - Throws: the error `body` threw (its changes are rolled back, the batch's others are not),
    ///   ``StoreError/overloaded(pending:)`` when too many writes are queued, ``StoreError/closed``
    ///   after ``close()``, or the database error that made the whole batch fail to commit.
    public func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let outcome = WriteOutcome<T>()
            enqueue(
                PendingWrite(
                    run: { db in outcome.run(body, in: db) },
                    deliver: { batchResult in continuation.resume(with: outcome.result(after: batchResult)) }
                )
            )
        }
    }

    /// The blocking form of ``write(_:)``, for callers on threads of their own (plugin host
    /// services run on the plugin's thread, inside a C call that cannot suspend).
    ///
    /// - Important: never call this from Swift's cooperative pool or a NIO event loop.
    public func writeAndWait<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let outcome = WriteOutcome<T>()
        let delivered = WriteOutcome<T>()
        enqueue(
            PendingWrite(
                run: { db in outcome.run(body, in: db) },
                deliver: { batchResult in
                    delivered.value = outcome.result(after: batchResult)
                    done.signal()
                }
            )
        )
        done.wait()
        return try (delivered.value ?? .failure(StoreError.closed)).get()
    }

    /// Stops taking writes; writes already queued still commit.
    public func close() {
        state.withLock { $0.closed = true }
    }

    private func enqueue(_ write: PendingWrite) {
        enum Decision { case refuseClosed, refuseOverloaded(Int), queued(startDrain: Bool) }
        let decision: Decision = state.withLock { state in
            if state.closed { return .refuseClosed }
            if state.pending.count >= configuration.maxPendingWrites { return .refuseOverloaded(state.pending.count) }
            state.pending.append(write)
            if state.draining { return .queued(startDrain: false) }
            state.draining = true
            return .queued(startDrain: true)
        }
        switch decision {
        case .refuseClosed:
            write.deliver(.failure(StoreError.closed))
        case .refuseOverloaded(let count):
            write.deliver(.failure(StoreError.overloaded(pending: count)))
        case .queued(let startDrain):
            if startDrain { queue.async { self.drain() } }
        }
    }

    /// Commits batches until the queue is empty. Runs on `queue` only.
    private func drain() {
        while true {
            let batch: [PendingWrite] = state.withLock { state in
                let batch = Array(state.pending.prefix(configuration.maxBatchSize))
                state.pending.removeFirst(batch.count)
                if batch.isEmpty { state.draining = false }
                return batch
            }
            if batch.isEmpty { return }
            commit(batch)
        }
    }

    private func commit(_ batch: [PendingWrite]) {
        var succeeded = 0
        do {
            try pool.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    succeeded = 0
                    for write in batch where write.run(db) { succeeded += 1 }
                    return .commit
                }
            }
        } catch {
            logger.error("group commit of \(batch.count) writes failed: \(error)")
            for write in batch { write.deliver(.failure(error)) }
            return
        }
        // Count outcomes before resuming callers so statistics are consistent with what they saw.
        state.withLock { state in
            state.statistics.transactions += 1
            state.statistics.committedWrites += succeeded
            state.statistics.failedWrites += batch.count - succeeded
        }
        for write in batch { write.deliver(.success(())) }
    }
}
