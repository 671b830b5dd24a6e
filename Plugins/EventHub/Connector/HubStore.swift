import Foundation
import GRDB

/// The plugin's own SQLite database (`{dataDirectory}/eventhub.sqlite`, WAL): hubs and their
/// keys, events appended per partition, consumer groups' checkpoints, and which trigger
/// subscription reads which consumer group.
///
/// An event's offset is its sequence number in its partition (0, 1, 2, …), never reused.
final class HubStore: Sendable {
    let pool: DatabasePool

    init(path: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        pool = try DatabasePool(path: path, configuration: configuration)
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE hub (
                    name TEXT PRIMARY KEY,
                    partitions INTEGER NOT NULL,
                    retention_seconds INTEGER NOT NULL,
                    max_bytes_per_partition INTEGER NOT NULL,
                    created_at REAL NOT NULL
                );
                CREATE TABLE hub_key (
                    hub TEXT NOT NULL REFERENCES hub(name) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    secret TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    PRIMARY KEY (hub, name)
                );
                CREATE TABLE partition_state (
                    hub TEXT NOT NULL REFERENCES hub(name) ON DELETE CASCADE,
                    partition INTEGER NOT NULL,
                    next_offset INTEGER NOT NULL,
                    bytes INTEGER NOT NULL,
                    PRIMARY KEY (hub, partition)
                );
                CREATE TABLE event (
                    hub TEXT NOT NULL,
                    partition INTEGER NOT NULL,
                    offset INTEGER NOT NULL,
                    enqueued_at REAL NOT NULL,
                    partition_key TEXT,
                    properties TEXT,
                    body BLOB NOT NULL,
                    PRIMARY KEY (hub, partition, offset)
                ) WITHOUT ROWID;
                CREATE INDEX event_by_time ON event(hub, partition, enqueued_at);
                CREATE TABLE checkpoint (
                    hub TEXT NOT NULL REFERENCES hub(name) ON DELETE CASCADE,
                    consumer_group TEXT NOT NULL,
                    partition INTEGER NOT NULL,
                    next_offset INTEGER NOT NULL,
                    pending_to INTEGER,
                    PRIMARY KEY (hub, consumer_group, partition)
                );
                CREATE TABLE consumer (
                    hub TEXT NOT NULL REFERENCES hub(name) ON DELETE CASCADE,
                    consumer_group TEXT NOT NULL,
                    workflow TEXT NOT NULL,
                    subscription TEXT,
                    options TEXT NOT NULL,
                    PRIMARY KEY (hub, consumer_group)
                );
                """)
        }
        try migrator.migrate(pool)
    }

    // MARK: Hubs

    struct Hub: Sendable, Equatable {
        var name: String
        var partitions: Int
        var retentionSeconds: Int
        var maxBytesPerPartition: Int
        var createdAt: Double

        /// Tells one life of a hub name from the next: the creation time in microseconds. A hub
        /// deleted and created again starts its offsets at 0, so dedupe keys carry this too.
        var incarnation: String { String(Int64(createdAt * 1_000_000)) }

        init(name: String, partitions: Int, retentionSeconds: Int, maxBytesPerPartition: Int, createdAt: Date) {
            self.name = name
            self.partitions = partitions
            self.retentionSeconds = retentionSeconds
            self.maxBytesPerPartition = maxBytesPerPartition
            self.createdAt = createdAt.timeIntervalSince1970
        }

        init(row: Row) {
            name = row["name"]
            partitions = row["partitions"]
            retentionSeconds = row["retention_seconds"]
            maxBytesPerPartition = row["max_bytes_per_partition"]
            createdAt = row["created_at"]
        }
    }

    func hub(_ name: String) throws -> Hub? {
        try pool.read { db in try Self.hub(name, in: db) }
    }

    static func hub(_ name: String, in db: Database) throws -> Hub? {
        try Row.fetchOne(db, sql: "SELECT * FROM hub WHERE name = ?", arguments: [name]).map(Hub.init(row:))
    }

    func hubs() throws -> [Hub] {
        try pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM hub ORDER BY name").map(Hub.init(row:)) }
    }

    /// Creates a hub with one key; false when the name is taken.
    func create(_ hub: Hub, keyName: String, secret: String) throws -> Bool {
        try pool.write { db in
            guard try Self.hub(hub.name, in: db) == nil else { return false }
            try db.execute(
                sql: "INSERT INTO hub (name, partitions, retention_seconds, max_bytes_per_partition, created_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [hub.name, hub.partitions, hub.retentionSeconds, hub.maxBytesPerPartition, hub.createdAt]
            )
            for partition in 0..<hub.partitions {
                try db.execute(sql: "INSERT INTO partition_state (hub, partition, next_offset, bytes) VALUES (?, ?, 0, 0)", arguments: [hub.name, partition])
            }
            try db.execute(sql: "INSERT INTO hub_key (hub, name, secret, created_at) VALUES (?, ?, ?, ?)", arguments: [hub.name, keyName, secret, hub.createdAt])
            return true
        }
    }

    func delete(hub name: String) throws -> Bool {
        try pool.write { db in
            try db.execute(sql: "DELETE FROM event WHERE hub = ?", arguments: [name])
            try db.execute(sql: "DELETE FROM hub WHERE name = ?", arguments: [name])
            return db.changesCount > 0
        }
    }

    // MARK: Keys

    func keys(of hub: String) throws -> [(name: String, secret: String)] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT name, secret FROM hub_key WHERE hub = ? ORDER BY name", arguments: [hub]).map { ($0["name"], $0["secret"]) }
        }
    }

    func secret(hub: String, key: String) throws -> String? {
        try pool.read { db in try String.fetchOne(db, sql: "SELECT secret FROM hub_key WHERE hub = ? AND name = ?", arguments: [hub, key]) }
    }

    func addKey(hub: String, name: String, secret: String, now: Date) throws -> Bool {
        try pool.write { db in
            guard try Self.hub(hub, in: db) != nil,
                  try String.fetchOne(db, sql: "SELECT name FROM hub_key WHERE hub = ? AND name = ?", arguments: [hub, name]) == nil
            else { return false }
            try db.execute(sql: "INSERT INTO hub_key (hub, name, secret, created_at) VALUES (?, ?, ?, ?)", arguments: [hub, name, secret, now.timeIntervalSince1970])
            return true
        }
    }

    func deleteKey(hub: String, name: String) throws -> Bool {
        try pool.write { db in
            try db.execute(sql: "DELETE FROM hub_key WHERE hub = ? AND name = ?", arguments: [hub, name])
            return db.changesCount > 0
        }
    }

    // MARK: Events

    /// An event to append.
    struct NewEvent: Sendable {
        var body: Data
        var partitionKey: String?
        var properties: String?
        /// A partition named by the producer, if any.
        var partition: Int?
    }

    /// Where an appended event went.
    struct Placement: Sendable, Equatable {
        var partition: Int
        var offset: Int64
        var enqueuedAt: Double
    }

    enum AppendError: Error, Equatable {
        case noHub
        case badPartition(Int)
        /// The partition holds `maxBytesPerPartition` of events no consumer group has passed.
        case full(partition: Int)
    }

    /// Appends the events in one transaction: every event is committed, or none.
    /// `choose` picks the partition of an event without a key or a named partition.
    func append(_ events: [NewEvent], to hubName: String, now: Date, choose: (Int) -> Int) throws -> Result<[Placement], AppendError> {
        try pool.write { db -> Result<[Placement], AppendError> in
            guard let hub = try Self.hub(hubName, in: db) else { return .failure(.noHub) }
            var placements: [Placement] = []
            var states: [Int: (next: Int64, bytes: Int64)] = [:]
            for event in events {
                let partition: Int
                if let named = event.partition {
                    guard (0..<hub.partitions).contains(named) else { return .failure(.badPartition(named)) }
                    partition = named
                } else if let key = event.partitionKey {
                    partition = Self.partition(forKey: key, partitions: hub.partitions)
                } else {
                    partition = choose(hub.partitions)
                }
                var state = try states[partition] ?? {
                    let row = try Row.fetchOne(db, sql: "SELECT next_offset, bytes FROM partition_state WHERE hub = ? AND partition = ?", arguments: [hubName, partition])
                    return (row?["next_offset"] ?? 0, row?["bytes"] ?? 0)
                }()
                let size = Int64(event.body.count + (event.properties?.utf8.count ?? 0))
                if state.bytes + size > Int64(hub.maxBytesPerPartition) {
                    state.bytes -= try Self.dropConsumed(hub: hubName, partition: partition, in: db)
                    guard state.bytes + size <= Int64(hub.maxBytesPerPartition) else { return .failure(.full(partition: partition)) }
                }
                try db.cachedStatement(sql: "INSERT INTO event (hub, partition, offset, enqueued_at, partition_key, properties, body) VALUES (?, ?, ?, ?, ?, ?, ?)")
                    .execute(arguments: [hubName, partition, state.next, now.timeIntervalSince1970, event.partitionKey, event.properties, event.body])
                placements.append(Placement(partition: partition, offset: state.next, enqueuedAt: now.timeIntervalSince1970))
                state.next += 1
                state.bytes += size
                states[partition] = state
            }
            for (partition, state) in states {
                try db.execute(
                    sql: "UPDATE partition_state SET next_offset = ?, bytes = ? WHERE hub = ? AND partition = ?",
                    arguments: [state.next, state.bytes, hubName, partition]
                )
            }
            return .success(placements)
        }
    }

    /// The partition of a partition key: the first four bytes of its SHA-256, modulo the count,
    /// so a key always lands in the same partition of a hub.
    static func partition(forKey key: String, partitions: Int) -> Int {
        Int(SHA256Prefix.value(of: key) % UInt32(partitions))
    }

    /// Deletes the events of a partition that every consumer group has read; returns the bytes freed.
    private static func dropConsumed(hub: String, partition: Int, in db: Database) throws -> Int64 {
        let groups = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM checkpoint WHERE hub = ? AND partition = ?", arguments: [hub, partition]) ?? 0
        guard groups > 0,
              let consumed = try Int64.fetchOne(db, sql: "SELECT MIN(next_offset) FROM checkpoint WHERE hub = ? AND partition = ?", arguments: [hub, partition])
        else { return 0 }
        return try deleteEvents(hub: hub, partition: partition, where: "offset < ?", consumed, in: db)
    }

    /// Deletes events and keeps the partition's byte count true; returns the bytes freed.
    private static func deleteEvents(hub: String, partition: Int, where condition: String, _ value: any DatabaseValueConvertible, in db: Database) throws -> Int64 {
        let arguments: StatementArguments = [hub, partition, value]
        let freed = try Int64.fetchOne(
            db, sql: "SELECT COALESCE(SUM(LENGTH(body) + COALESCE(LENGTH(properties), 0)), 0) FROM event WHERE hub = ? AND partition = ? AND \(condition)",
            arguments: arguments
        ) ?? 0
        try db.execute(sql: "DELETE FROM event WHERE hub = ? AND partition = ? AND \(condition)", arguments: arguments)
        try db.execute(sql: "UPDATE partition_state SET bytes = MAX(0, bytes - ?) WHERE hub = ? AND partition = ?", arguments: [freed, hub, partition])
        return freed
    }

    /// Deletes events older than their hub's retention time, consumed or not (as Event Hubs does).
    func applyRetention(now: Date) throws {
        try pool.write { db in
            for row in try Row.fetchAll(db, sql: "SELECT name, partitions, retention_seconds FROM hub") {
                let name: String = row["name"]
                let cutoff = now.timeIntervalSince1970 - Double(row["retention_seconds"] as Int)
                for partition in 0..<(row["partitions"] as Int) {
                    _ = try Self.deleteEvents(hub: name, partition: partition, where: "enqueued_at < ?", cutoff, in: db)
                }
            }
        }
    }

    /// A stored event.
    struct StoredEvent: Sendable {
        var offset: Int64
        var enqueuedAt: Double
        var partitionKey: String?
        var properties: String?
        var body: Data
    }

    func events(hub: String, partition: Int, from offset: Int64, through last: Int64? = nil, limit: Int) throws -> [StoredEvent] {
        try pool.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT offset, enqueued_at, partition_key, properties, body FROM event WHERE hub = ? AND partition = ? AND offset >= ? AND offset <= ? ORDER BY offset LIMIT ?",
                arguments: [hub, partition, offset, last ?? Int64.max, limit]
            ).map { StoredEvent(offset: $0["offset"], enqueuedAt: $0["enqueued_at"], partitionKey: $0["partition_key"], properties: $0["properties"], body: $0["body"]) }
        }
    }

    /// Per partition: the first retained offset, the next offset to be written, bytes held.
    func partitions(of hub: String) throws -> [(partition: Int, first: Int64?, next: Int64, bytes: Int64)] {
        try pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT partition, next_offset, bytes,
                        (SELECT offset FROM event WHERE event.hub = partition_state.hub AND event.partition = partition_state.partition
                         ORDER BY offset LIMIT 1) AS first
                    FROM partition_state WHERE hub = ? ORDER BY partition
                    """,
                arguments: [hub]
            ).map { row in (row["partition"], row["first"], row["next_offset"], row["bytes"]) }
        }
    }

    // MARK: Consumers and checkpoints

    struct Checkpoint: Sendable, Equatable {
        var nextOffset: Int64
        /// The last offset of a batch being fired and not yet confirmed.
        var pendingTo: Int64?
    }

    /// Records that `subscription` (of `workflow`) reads `group`, and sets each partition's
    /// starting position where the group has none yet. Refuses a group another workflow reads.
    func attach(hub: String, group: String, workflow: String, subscription: String, options: String, start: (Int) throws -> Int64) throws -> String? {
        try pool.write { db -> String? in
            guard let found = try Self.hub(hub, in: db) else { return "hub '\(hub)' does not exist" }
            if let other = try Row.fetchOne(db, sql: "SELECT workflow, subscription FROM consumer WHERE hub = ? AND consumer_group = ?", arguments: [hub, group]),
               other["workflow"] as String != workflow, (other["subscription"] as String?) != nil {
                return "consumer group '\(group)' of hub '\(hub)' is read by workflow '\(other["workflow"] as String)'; give this trigger its own consumerGroup"
            }
            try db.execute(
                sql: """
                    INSERT INTO consumer (hub, consumer_group, workflow, subscription, options) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (hub, consumer_group) DO UPDATE SET workflow = excluded.workflow, subscription = excluded.subscription, options = excluded.options
                    """,
                arguments: [hub, group, workflow, subscription, options]
            )
            for partition in 0..<found.partitions {
                try db.execute(
                    sql: "INSERT INTO checkpoint (hub, consumer_group, partition, next_offset) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    arguments: [hub, group, partition, try start(partition)]
                )
            }
            return nil
        }
    }

    /// The group stops being read by `subscription` (its position stays).
    func detach(subscription: String) throws {
        try pool.write { db in
            try db.execute(sql: "UPDATE consumer SET subscription = NULL WHERE subscription = ?", arguments: [subscription])
        }
    }

    /// The groups being read now: hub, group, subscription, options.
    func activeConsumers() throws -> [(hub: String, group: String, subscription: String, options: String)] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT hub, consumer_group, subscription, options FROM consumer WHERE subscription IS NOT NULL").map {
                ($0["hub"], $0["consumer_group"], $0["subscription"], $0["options"])
            }
        }
    }

    func isReading(hub: String, group: String, subscription: String) throws -> Bool {
        try pool.read { db in
            try String.fetchOne(db, sql: "SELECT subscription FROM consumer WHERE hub = ? AND consumer_group = ?", arguments: [hub, group]) == subscription
        }
    }

    func checkpoint(hub: String, group: String, partition: Int) throws -> Checkpoint? {
        try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT next_offset, pending_to FROM checkpoint WHERE hub = ? AND consumer_group = ? AND partition = ?", arguments: [hub, group, partition])
                .map { Checkpoint(nextOffset: $0["next_offset"], pendingTo: $0["pending_to"]) }
        }
    }

    func setCheckpoint(hub: String, group: String, partition: Int, _ checkpoint: Checkpoint) throws {
        try pool.write { db in
            try db.execute(
                sql: "UPDATE checkpoint SET next_offset = ?, pending_to = ? WHERE hub = ? AND consumer_group = ? AND partition = ?",
                arguments: [checkpoint.nextOffset, checkpoint.pendingTo, hub, group, partition]
            )
        }
    }

    /// Every group's checkpoints of a hub: group → partition → checkpoint.
    func checkpoints(of hub: String) throws -> [String: [Int: Checkpoint]] {
        try pool.read { db in
            var result: [String: [Int: Checkpoint]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT consumer_group, partition, next_offset, pending_to FROM checkpoint WHERE hub = ?", arguments: [hub]) {
                result[row["consumer_group"], default: [:]][row["partition"]] = Checkpoint(nextOffset: row["next_offset"], pendingTo: row["pending_to"])
            }
            return result
        }
    }

    /// The first offset enqueued after `date` in a partition (or the next one to be written).
    func firstOffset(hub: String, partition: Int, enqueuedAfter date: Date) throws -> Int64 {
        try pool.read { db in
            if let offset = try Int64.fetchOne(
                db, sql: "SELECT offset FROM event WHERE hub = ? AND partition = ? AND enqueued_at > ? ORDER BY offset LIMIT 1",
                arguments: [hub, partition, date.timeIntervalSince1970]
            ) { return offset }
            return try Int64.fetchOne(db, sql: "SELECT next_offset FROM partition_state WHERE hub = ? AND partition = ?", arguments: [hub, partition]) ?? 0
        }
    }
}
