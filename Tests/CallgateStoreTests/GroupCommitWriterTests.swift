import CallgateStore
import Foundation
import GRDB
import Logging
import Synchronization
import Testing
import CallgateTesting

@Suite struct GroupCommitWriterTests {
    private func openDatabase(_ directory: TemporaryDirectory, maxPendingWrites: Int = 20_000) throws -> GatewayDatabase {
        let database = try GatewayDatabase(
            path: directory.path + "/test.sqlite",
            writerConfiguration: .init(maxPendingWrites: maxPendingWrites),
            logger: Logger(label: "test")
        )
        try database.pool.write { db in
            try db.execute(sql: "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)")
        }
        return database
    }

    @Test func databaseIsInWALModeWithMigrationsApplied() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = try openDatabase(directory)
        let mode = try await database.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
        let tables = try await database.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        }
        #expect(tables.contains("signing_key"))
        #expect(tables.contains("callback_registration"))
        #expect(tables.contains("gateway_setting"))
    }

    @Test func concurrentWritesAllLandAndEachCallerLearnsItsOwnOutcome() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = try openDatabase(directory)
        // Every tenth write inserts a duplicate name and must fail alone.
        let count = 2_000
        let outcomes = await withTaskGroup(of: (Int, Result<Int64, any Error>).self) { group in
            for index in 0..<count {
                group.addTask {
                    let name = index % 10 == 9 ? "dup-\(index - 1)" : "dup-\(index)"
                    do {
                        let rowID = try await database.write { db in
                            try db.execute(sql: "INSERT INTO item (name) VALUES (?)", arguments: [name])
                            return db.lastInsertedRowID
                        }
                        return (index, .success(rowID))
                    } catch {
                        return (index, .failure(error))
                    }
                }
            }
            var all: [Int: Result<Int64, any Error>] = [:]
            for await (index, outcome) in group { all[index] = outcome }
            return all
        }
        var succeeded = 0
        for (index, outcome) in outcomes {
            switch outcome {
            case .success:
                succeeded += 1
            case .failure(let error):
                // The failure must be that write's own constraint violation, not a batch error.
                #expect((error as? DatabaseError)?.resultCode == .SQLITE_CONSTRAINT, "write \(index): \(error)")
            }
        }
        // Of each pair writing the same name (indices 8 and 9 of every ten), exactly one won.
        for first in stride(from: 8, to: count, by: 10) {
            let wins = [first, first + 1].filter { index in
                if case .success = outcomes[index] { return true } else { return false }
            }
            #expect(wins.count == 1, "pair \(first): \(wins.count) writes succeeded")
        }
        let rows = try await database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM item") ?? 0 }
        #expect(rows == succeeded)
        #expect(succeeded == count - count / 10)
        let statistics = database.writer.statistics
        #expect(statistics.committedWrites == succeeded)
        #expect(statistics.failedWrites == count / 10)
        #expect(statistics.transactions <= count)
    }

    @Test func writesQueuedBehindASlowOneShareOneTransaction() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = try openDatabase(directory)
        let started = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        async let slow: Void = database.write { db in
            started.signal()
            release.wait()
            try db.execute(sql: "INSERT INTO item (name) VALUES ('slow')")
        }
        await started.waitOffCooperativePool()
        let writes = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<100 {
                    group.addTask {
                        try await database.write { db in try db.execute(sql: "INSERT INTO item (name) VALUES (?)", arguments: ["n\(index)"]) }
                    }
                }
                try await group.waitForAll()
            }
        }
        // Release the slow write only once all hundred wait behind it.
        while database.writer.pendingCount < 100 { try await Task.sleep(for: .milliseconds(5)) }
        release.signal()
        try await slow
        try await writes.value
        let statistics = database.writer.statistics
        #expect(statistics.committedWrites == 101)
        // One transaction for the slow write, one for the hundred queued behind it.
        #expect(statistics.transactions == 2)
    }

    @Test func aFullQueueRefusesAtOnceWithOverloaded() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = try openDatabase(directory, maxPendingWrites: 5)
        let started = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        async let blocker: Void = database.write { _ in
            started.signal()
            release.wait()
        }
        await started.waitOffCooperativePool()
        let results = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<20 {
                group.addTask {
                    do {
                        try await database.write { db in try db.execute(sql: "INSERT INTO item (name) VALUES (?)", arguments: ["q\(index)"]) }
                        return true
                    } catch let error as StoreError {
                        return !error.isOverloaded
                    } catch {
                        return true
                    }
                }
            }
            // Let the refusals happen, then unblock the writer.
            try? await Task.sleep(for: .milliseconds(300))
            release.signal()
            var accepted = 0
            for await ok in group where ok { accepted += 1 }
            return accepted
        }
        try await blocker
        #expect(results == 5)
        let rows = try await database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM item") ?? 0 }
        #expect(rows == 5)
    }

    @Test func readersDoNotBlockTheWriter() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = try openDatabase(directory)
        try await database.write { db in try db.execute(sql: "INSERT INTO item (name) VALUES ('before')") }
        let readerInside = DispatchSemaphore(value: 0)
        let writerDone = DispatchSemaphore(value: 0)
        // A reader holds its snapshot open until the write has committed; with WAL this finishes.
        async let snapshotCount: Int = database.read { db in
            let count = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM item") ?? 0
            readerInside.signal()
            _ = writerDone.wait(timeout: .now() + 10)
            // Still the old snapshot: the write is invisible inside this read transaction.
            return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM item") ?? count
        }
        await readerInside.waitOffCooperativePool()
        try await database.write { db in try db.execute(sql: "INSERT INTO item (name) VALUES ('during')") }
        writerDone.signal()
        #expect(try await snapshotCount == 1)
        let after = try await database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM item") ?? 0 }
        #expect(after == 2)
    }

    @Test func closedWriterRefusesNewWrites() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = try openDatabase(directory)
        database.writer.close()
        await #expect(throws: StoreError.closed) {
            try await database.write { db in try db.execute(sql: "INSERT INTO item (name) VALUES ('x')") }
        }
    }
}
