import ConnectorKit
import Foundation
import Synchronization

/// Delivers the events of one partition, for one consumer group, to the trigger subscription that
/// reads the group: in offset order, a batch per firing, on a thread of its own.
///
/// Exactly once across crashes: the batch is written down as pending (its last offset) before it
/// is fired with the dedupe key `{hub}:{incarnation}/{group}/{partition}/{first-offset}`, and the
/// checkpoint moves past it only after the gateway committed its run. A crash anywhere in between
/// fires the same batch with the same key again, and the gateway starts nothing for a key it has
/// seen. The incarnation (the hub's creation time) keeps a hub deleted and created again under the
/// same name, whose offsets start at 0 again, from matching the old hub's keys.
final class PartitionPump: Sendable {
    let hub: String
    let incarnation: String
    let group: String
    let partition: Int
    let subscription: String
    let maxBatchSize: Int
    private let store: HubStore
    fileprivate let host: ConnectorHost
    private let wake = DispatchSemaphore(value: 0)
    private let stopped = Mutex(false)
    /// Called once when the gateway says the subscription ended.
    private let ended: @Sendable (String) -> Void

    init(
        hub: String, incarnation: String, group: String, partition: Int, subscription: String, maxBatchSize: Int, store: HubStore,
        host: ConnectorHost, ended: @escaping @Sendable (String) -> Void
    ) {
        self.hub = hub
        self.incarnation = incarnation
        self.group = group
        self.partition = partition
        self.subscription = subscription
        self.maxBatchSize = maxBatchSize
        self.store = store
        self.host = host
        self.ended = ended
    }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "callgate.event-hub.\(hub).\(partition)"
        thread.start()
    }

    func stop() {
        stopped.withLock { $0 = true }
        wake.signal()
    }

    /// New events arrived: deliver now rather than at the next poll.
    func nudge() {
        wake.signal()
    }

    private var isStopped: Bool { stopped.withLock { $0 } }

    private enum Outcome {
        case delivered, idle, busy, ended
    }

    private func run() {
        var pause = 0.05
        while !isStopped {
            let outcome: Outcome
            do {
                outcome = try deliverOnce()
            } catch {
                host.log(.warning, "event-hub \(hub)/\(group)/\(partition): \(error)")
                outcome = .busy
            }
            switch outcome {
            case .delivered:
                pause = 0.05
            case .idle:
                _ = wake.wait(timeout: .now() + 0.5)
            case .busy:
                // Runs are not keeping up (or the gateway is busy): the events wait in the hub.
                _ = wake.wait(timeout: .now() + pause)
                pause = min(pause * 2, 2)
            case .ended:
                ended(subscription)
                return
            }
        }
    }

    private func deliverOnce() throws -> Outcome {
        guard try store.isReading(hub: hub, group: group, subscription: subscription),
              var checkpoint = try store.checkpoint(hub: hub, group: group, partition: partition)
        else { return .ended }
        let events: [HubStore.StoredEvent]
        if let pendingTo = checkpoint.pendingTo {
            events = try store.events(hub: hub, partition: partition, from: checkpoint.nextOffset, through: pendingTo, limit: Int.max)
            if events.isEmpty {
                // Retention removed the batch before it was confirmed: nothing is left to deliver.
                try store.setCheckpoint(hub: hub, group: group, partition: partition, .init(nextOffset: pendingTo + 1, pendingTo: nil))
                return .delivered
            }
        } else {
            events = try store.events(hub: hub, partition: partition, from: checkpoint.nextOffset, limit: maxBatchSize)
            guard let last = events.last else { return .idle }
            checkpoint.pendingTo = last.offset
            try store.setCheckpoint(hub: hub, group: group, partition: partition, checkpoint)
        }
        guard let first = events.first, let last = events.last else { return .idle }
        let outputs: JSONValue = [
            "body": .array(events.map { EventJSON.trigger($0, partition: partition) }),
            "hub": .string(hub), "consumerGroup": .string(group), "partition": .number(Double(partition)),
        ]
        let refusal = fire(outputs, dedupeKey: "\(hub):\(incarnation)/\(group)/\(partition)/\(first.offset)")
        if let refusal {
            if refusal.status == ConnectorError.notFound("").status { return .ended }
            if refusal.status == ConnectorError.retryable("").status { return .busy }
            throw refusal
        }
        try store.setCheckpoint(hub: hub, group: group, partition: partition, .init(nextOffset: last.offset + 1, pendingTo: nil))
        return .delivered
    }
}

extension PartitionPump {
    /// Fires one batch; nil when its runs are committed (or were, for a key seen before).
    fileprivate func fire(_ outputs: JSONValue, dedupeKey: String) -> ConnectorError? {
        do {
            _ = try host.fireTrigger(subscription: subscription, outputs: outputs, dedupeKey: Array(dedupeKey.utf8))
            return nil
        } catch {
            return error
        }
    }
}

/// How events look to workflows.
enum EventJSON {
    /// `{"body", "properties", "partitionKey", "partition", "offset", "sequenceNumber", "enqueuedTime"}`.
    static func trigger(_ event: HubStore.StoredEvent, partition: Int) -> JSONValue {
        var fields: [String: JSONValue] = [
            "body": JSONValue(parsing: Array(event.body)) ?? .string(String(decoding: event.body, as: UTF8.self)),
            "partition": .number(Double(partition)), "offset": .number(Double(event.offset)),
            "sequenceNumber": .number(Double(event.offset)), "enqueuedTime": .string(timestamp(event.enqueuedAt)),
        ]
        fields["properties"] = event.properties.flatMap { JSONValue(parsing: Array($0.utf8)) } ?? .object([:])
        if let key = event.partitionKey { fields["partitionKey"] = .string(key) }
        return .object(fields)
    }

    /// ISO 8601 UTC with milliseconds, written directly: a formatter per call cost more than the
    /// rest of an ingest request (it is called for every event of a batch).
    static func timestamp(_ seconds: Double) -> String {
        var whole = time_t(seconds.rounded(.down))
        let milliseconds = min(999, Int(((seconds - Double(whole)) * 1000).rounded(.down)))
        var parts = tm()
        gmtime_r(&whole, &parts)
        func padded(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(padded(parts.tm_year + 1900, 4))-\(padded(parts.tm_mon + 1, 2))-\(padded(parts.tm_mday, 2))T"
            + "\(padded(parts.tm_hour, 2)):\(padded(parts.tm_min, 2)):\(padded(parts.tm_sec, 2)).\(padded(Int32(milliseconds), 3))Z"
    }
}
