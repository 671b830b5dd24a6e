// Write throughput of the store: many concurrent callers through the group-commit writer, against
// the baseline of one transaction per write. Every write is committed (WAL, synchronous=NORMAL)
// before its caller resumes. Usage:
//   callgate-bench-store [WRITES] [CONCURRENCY]
import CallgateStore
import Foundation
import GRDB
import Logging

@main
enum StoreBench {
    static func main() async throws {
        let arguments = CommandLine.arguments
        let writes = arguments.count > 1 ? Int(arguments[1]) ?? 100_000 : 100_000
        let concurrency = arguments.count > 2 ? Int(arguments[2]) ?? 64 : 64
        let directory = NSTemporaryDirectory() + "callgate-bench-store-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let database = try GatewayDatabase(path: directory + "/bench.sqlite", logger: logger)
        try await database.pool.write { db in
            try db.execute(sql: "CREATE TABLE event (id INTEGER PRIMARY KEY, callback TEXT NOT NULL, body BLOB NOT NULL)")
        }
        let body = Data(repeating: 0x61, count: 256)

        // Group commit: `concurrency` callers, each awaiting its own committed write.
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    var index = worker
                    while index < writes {
                        let callback = "cb-\(index)"
                        try await database.write { db in
                            try db.execute(sql: "INSERT INTO event (callback, body) VALUES (?, ?)", arguments: [callback, body])
                        }
                        index += concurrency
                    }
                }
            }
            try await group.waitForAll()
        }
        let grouped = ContinuousClock.now - start
        let statistics = database.writer.statistics

        // Baseline: one transaction per write, one after another.
        let baselineWrites = max(writes / 10, 1000)
        let baselineStart = ContinuousClock.now
        try insertOneTransactionEach(database.pool, count: baselineWrites, body: body)
        let baseline = ContinuousClock.now - baselineStart

        func perSecond(_ count: Int, _ duration: Duration) -> String {
            let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
            return String(format: "%.0f", Double(count) / seconds)
        }
        print("group commit: \(writes) writes from \(concurrency) concurrent callers: \(perSecond(writes, grouped)) writes/s, "
              + "\(statistics.transactions) transactions (\(String(format: "%.1f", Double(writes) / Double(max(statistics.transactions, 1)))) writes each)")
        print("baseline: \(baselineWrites) writes, one transaction each: \(perSecond(baselineWrites, baseline)) writes/s")
    }
}

/// The baseline: synchronous writes, one transaction each (a plain function, so GRDB's
/// synchronous `write` is the one called).
func insertOneTransactionEach(_ pool: DatabasePool, count: Int, body: Data) throws {
    for index in 0..<count {
        try pool.write { db in
            try db.execute(sql: "INSERT INTO event (callback, body) VALUES (?, ?)", arguments: ["base-\(index)", body])
        }
    }
}
