import ConnectorKit
import Foundation
import Synchronization

/// event-hub: an event-hub-style connector. Hubs with partitions and access keys live in the
/// plugin's own SQLite database; producers send events over HTTPS with a shared-access signature
/// (`/plugins/event-hub/hubs/{hub}/messages`) or from workflows with `SendEvent`; the `OnEvents`
/// trigger turns each consumer group's events into runs, in order per partition, exactly once.
final class EventHubConnector: Connector {
    let host: ConnectorHost
    /// Stopped at shutdown: their threads must not outlive the host services they call.
    private let instances = Mutex<[EventHubInstance]>([])

    init(host: ConnectorHost) throws(ConnectorError) {
        self.host = host
    }

    func shutdown() {
        instances.withLock { $0 }.forEach { $0.stop() }
    }

    func describe() -> JSONValue {
        [
            "id": "event-hub", "version": "1.0.0",
            "triggers": [[
                "type": "OnEvents",
                "inputs": [
                    "type": "object", "required": ["hub"],
                    "properties": [
                        "hub": ["type": "string"], "consumerGroup": ["type": "string"], "maxBatchSize": ["type": "integer"],
                        "startPosition": ["type": "string"],
                    ],
                ],
            ]],
            "actions": [[
                "type": "SendEvent",
                "inputs": [
                    "type": "object", "required": ["hub", "body"],
                    "properties": ["hub": ["type": "string"], "partitionKey": ["type": "string"], "properties": ["type": "object"]],
                ],
            ]],
        ]
    }

    func makeInstance(configuration: JSONValue) throws(ConnectorError) -> any ConnectorInstance {
        let directory = configuration["dataDirectory"]?.string ?? "./data/plugin-data/event-hub"
        let store: HubStore
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            store = try HubStore(path: directory + "/eventhub.sqlite")
        } catch {
            throw .internalError("cannot open the event store in \(directory): \(error)")
        }
        let instance = EventHubInstance(host: host, store: store, publicURL: configuration["publicUrl"]?.string ?? "")
        instances.withLock { $0.append(instance) }
        instance.resume()
        return instance
    }
}

final class EventHubInstance: ConnectorInstance {
    let host: ConnectorHost
    let store: HubStore
    let publicURL: String
    /// Subscription → its pumps, one per partition.
    private let pumps = Mutex<[String: [PartitionPump]]>([:])
    /// Round-robin counter for events without a partition key.
    private let nextPartition = Mutex(0)
    private let maintenance: MaintenanceLoop

    init(host: ConnectorHost, store: HubStore, publicURL: String) {
        self.host = host
        self.store = store
        self.publicURL = publicURL
        self.maintenance = MaintenanceLoop(store: store, host: host)
    }

    /// Starts the pumps of the groups that were being read before a restart, and the retention
    /// and metrics loop.
    func resume() {
        for consumer in (try? store.activeConsumers()) ?? [] {
            startPumps(hub: consumer.hub, group: consumer.group, subscription: consumer.subscription, options: TriggerOptions(stored: consumer.options))
        }
        maintenance.start()
    }

    /// Stops every pump and the maintenance loop (gateway shutdown).
    func stop() {
        pumps.withLock { all in
            defer { all.removeAll() }
            return all.values.flatMap { $0 }
        }.forEach { $0.stop() }
        maintenance.stop()
    }

    // MARK: Trigger and action

    func subscribe(_ request: JSONValue) throws(ConnectorError) -> HookOutcome {
        guard let subscription = request["subscription"]?.string else { throw .invalid("request lacks \"subscription\"") }
        let inputs = request["inputs"] ?? .null
        if request["kind"]?.string == "action" {
            return .done(["completed": true, "outputs": try send(inputs)])
        }
        let options = try TriggerOptions(inputs: inputs)
        let workflow = request["workflow"]?.string ?? ""
        do {
            // Read before the attach's write: where the group starts in each partition it has not read.
            let partitions = try store.partitions(of: options.hub)
            if let refusal = try store.attach(
                hub: options.hub, group: options.consumerGroup, workflow: workflow, subscription: subscription, options: options.stored,
                start: { partition in try self.startOffset(options, partition: partition, state: partitions.first { $0.partition == partition }) }
            ) {
                throw ConnectorError.invalid(refusal)
            }
        } catch let error as ConnectorError {
            throw error
        } catch {
            throw .retryable("the event store failed: \(error)")
        }
        // A redeploy with the same group hands it over: the old subscription's pumps stop.
        for (other, running) in pumps.withLock({ $0 }) where other != subscription && running.first?.hub == options.hub && running.first?.group == options.consumerGroup {
            stopPumps(other)
        }
        startPumps(hub: options.hub, group: options.consumerGroup, subscription: subscription, options: options)
        return .done(["hub": .string(options.hub), "consumerGroup": .string(options.consumerGroup)])
    }

    func unsubscribe(_ request: JSONValue) throws(ConnectorError) -> HookOutcome {
        guard request["kind"]?.string == "trigger", let subscription = request["subscription"]?.string else { return .done([:]) }
        stopPumps(subscription)
        do {
            try store.detach(subscription: subscription)
        } catch {
            throw .retryable("the event store failed: \(error)")
        }
        return .done(["stopped": true])
    }

    func handleCallback(_ request: JSONValue, body: [UInt8]) throws(ConnectorError) -> HookOutcome {
        .done(["decision": "ignore", "reply": ["status": 404]])
    }

    private func startOffset(
        _ options: TriggerOptions, partition: Int, state: (partition: Int, first: Int64?, next: Int64, bytes: Int64)?
    ) throws -> Int64 {
        switch options.startPosition {
        case .earliest: return state?.first ?? state?.next ?? 0
        case .latest: return state?.next ?? 0
        case .enqueuedAfter(let date): return try store.firstOffset(hub: options.hub, partition: partition, enqueuedAfter: date)
        }
    }

    private func startPumps(hub: String, group: String, subscription: String, options: TriggerOptions) {
        guard let found = try? store.hub(hub) else { return }
        stopPumps(subscription)
        let started = (0..<found.partitions).map { partition in
            PartitionPump(
                hub: hub, incarnation: found.incarnation, group: group, partition: partition, subscription: subscription,
                maxBatchSize: options.maxBatchSize, store: store, host: host,
                ended: { [weak self] subscription in self?.stopPumps(subscription) }
            )
        }
        pumps.withLock { $0[subscription] = started }
        started.forEach { $0.start() }
    }

    /// Stops reading for a subscription (unsubscribed, handed over, or ended by the gateway while
    /// its unsubscribe is on its way); the group's position stays.
    private func stopPumps(_ subscription: String) {
        pumps.withLock { $0.removeValue(forKey: subscription) }?.forEach { $0.stop() }
    }

    /// Wakes the pumps reading `hub`.
    private func nudge(hub: String) {
        for pump in pumps.withLock({ $0.values.flatMap { $0 } }) where pump.hub == hub { pump.nudge() }
    }

    /// `SendEvent`: appends one event; the step's outputs say where it went.
    private func send(_ inputs: JSONValue) throws(ConnectorError) -> JSONValue {
        guard let hub = inputs["hub"]?.string, !hub.isEmpty else { throw .invalid("inputs.hub must name a hub") }
        guard let body = inputs["body"] else { throw .invalid("inputs.body is required") }
        let bytes = body.string.map { Array($0.utf8) } ?? body.bytes
        let properties = inputs["properties"].flatMap { value -> String? in
            if case .object = value { return String(decoding: value.bytes, as: UTF8.self) } else { return nil }
        }
        let event = HubStore.NewEvent(body: Data(bytes), partitionKey: inputs["partitionKey"]?.string, properties: properties)
        let placements = try append([event], to: hub)
        guard let placement = placements.first else { throw .internalError("the event was not placed") }
        return [
            "hub": .string(hub), "partition": .number(Double(placement.partition)), "offset": .number(Double(placement.offset)),
            "enqueuedTime": .string(EventJSON.timestamp(placement.enqueuedAt)),
        ]
    }

    /// Appends events (one transaction) and wakes the hub's pumps.
    func append(_ events: [HubStore.NewEvent], to hub: String) throws(ConnectorError) -> [HubStore.Placement] {
        let now = host.now
        let result: Result<[HubStore.Placement], HubStore.AppendError>
        do {
            result = try store.append(events, to: hub, now: now) { partitions in
                self.nextPartition.withLock { next in
                    defer { next &+= 1 }
                    return abs(next % partitions)
                }
            }
        } catch {
            throw .retryable("the event store failed: \(error)")
        }
        switch result {
        case .success(let placements):
            nudge(hub: hub)
            return placements
        case .failure(.noHub):
            throw .notFound("hub '\(hub)' does not exist")
        case .failure(.badPartition(let partition)):
            throw .invalid("hub '\(hub)' has no partition \(partition)")
        case .failure(.full(let partition)):
            throw .retryable("partition \(partition) of hub '\(hub)' is full: its consumers are behind")
        }
    }

    // MARK: Routes

    func handleRequest(_ request: JSONValue, body: [UInt8]) throws(ConnectorError) -> JSONValue {
        let routes = HubRoutes(instance: self)
        return request["access"]?.string == "admin" ? routes.admin(request, body: body) : routes.ingest(request, body: body)
    }
}

/// The inputs of an `OnEvents` trigger.
struct TriggerOptions: Sendable {
    enum StartPosition: Sendable, Equatable {
        case earliest, latest
        case enqueuedAfter(Date)
    }

    var hub: String
    var consumerGroup: String
    var maxBatchSize: Int
    var startPosition: StartPosition

    static let defaultBatchSize = 50

    init(inputs: JSONValue) throws(ConnectorError) {
        guard let hub = inputs["hub"]?.string, !hub.isEmpty else { throw .invalid("inputs.hub must name a hub") }
        let group = inputs["consumerGroup"]?.string ?? "$Default"
        guard !group.isEmpty, group.count <= 64 else { throw .invalid("inputs.consumerGroup must be 1 to 64 characters") }
        var batch = Self.defaultBatchSize
        if let given = inputs["maxBatchSize"] {
            guard let number = given.int, (1...1000).contains(number) else { throw .invalid("inputs.maxBatchSize must be a whole number from 1 to 1000") }
            batch = number
        }
        let position: StartPosition
        switch inputs["startPosition"]?.string?.lowercased() {
        case nil, "latest": position = .latest
        case "earliest": position = .earliest
        case let text?:
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            let plain = ISO8601DateFormatter()
            guard let original = inputs["startPosition"]?.string, let date = formatter.date(from: original) ?? plain.date(from: original) else {
                throw .invalid("inputs.startPosition is '\(text)'; use earliest, latest or an ISO 8601 time (events enqueued after it)")
            }
            position = .enqueuedAfter(date)
        }
        self.hub = hub
        self.consumerGroup = group
        self.maxBatchSize = batch
        self.startPosition = position
    }

    /// The form kept with the consumer, to restart its pumps after a restart.
    var stored: String {
        String(decoding: JSONValue.object(["hub": .string(hub), "consumerGroup": .string(consumerGroup), "maxBatchSize": .number(Double(maxBatchSize))]).bytes, as: UTF8.self)
    }

    init(stored: String) {
        let value = JSONValue(parsing: Array(stored.utf8)) ?? .null
        self.hub = value["hub"]?.string ?? ""
        self.consumerGroup = value["consumerGroup"]?.string ?? "$Default"
        self.maxBatchSize = value["maxBatchSize"]?.int ?? Self.defaultBatchSize
        self.startPosition = .latest
    }
}

/// Every few seconds: retention, and the gauges of `/metrics` (per partition: events held,
/// bytes, and each consumer group's lag).
final class MaintenanceLoop: Sendable {
    private let store: HubStore
    private let host: ConnectorHost
    private let stopped = Mutex(false)
    private let wake = DispatchSemaphore(value: 0)

    init(store: HubStore, host: ConnectorHost) {
        self.store = store
        self.host = host
    }

    func start() {
        let thread = Thread { [self] in
            while !stopped.withLock({ $0 }) {
                tick()
                _ = wake.wait(timeout: .now() + 2)
            }
        }
        thread.name = "callgate.event-hub.maintenance"
        thread.start()
    }

    func stop() {
        stopped.withLock { $0 = true }
        wake.signal()
    }

    func tick() {
        let now = host.now
        do {
            try store.applyRetention(now: now)
            for hub in try store.hubs() {
                let partitions = try store.partitions(of: hub.name)
                let checkpoints = try store.checkpoints(of: hub.name)
                for state in partitions {
                    let labels = ["hub": hub.name, "partition": String(state.partition)]
                    host.setGauge("eventhub_partition_bytes", labels: labels, value: state.bytes)
                    host.setGauge("eventhub_partition_next_offset", labels: labels, value: state.next)
                    for (group, byPartition) in checkpoints {
                        guard let checkpoint = byPartition[state.partition] else { continue }
                        var groupLabels = labels
                        groupLabels["consumer_group"] = group
                        host.setGauge("eventhub_lag", labels: groupLabels, value: max(0, state.next - checkpoint.nextOffset))
                    }
                }
            }
        } catch {
            host.log(.warning, "event-hub maintenance: \(error)")
        }
    }
}

/// The plugin's entry point, exported as `callgate_plugin_negotiate` by the shared library and
/// called directly when the plugin is bundled into the gateway.
public func eventHubNegotiate(_ offer: OpaquePointer?, _ answer: OpaquePointer?) -> Int32 {
    negotiate(offer: offer, answer: answer) { startConnector(EventHubConnector.self, $0, $1, $2, $3) }
}
