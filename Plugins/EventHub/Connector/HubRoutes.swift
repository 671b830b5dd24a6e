import ConnectorKit
import Crypto
import Foundation

/// The plugin's HTTP routes: hub administration for operators (`/api/v1/plugins/event-hub/…`,
/// behind the admin token) and event ingest for producers (`/plugins/event-hub/hubs/{hub}/messages`,
/// with a shared-access signature). Every `2xx` of ingest follows the commit of its events.
struct HubRoutes {
    let instance: EventHubInstance

    static let defaultRetentionHours = 24
    static let defaultMaxBytesPerPartition = 1 << 30
    static let batchContentType = "application/vnd.microsoft.servicebus.json"

    private var store: HubStore { instance.store }
    private var now: Date { instance.host.now }

    // MARK: Administration

    func admin(_ request: JSONValue, body: [UInt8]) -> JSONValue {
        let method = request["method"]?.string ?? "GET"
        let parts = (request["path"]?.string ?? "/").split(separator: "/").map(String.init)
        let input = JSONValue(parsing: body) ?? .object([:])
        do {
            switch (method, parts.count) {
            case ("GET", 1) where parts[0] == "hubs":
                return reply(200, ["hubs": .array(try store.hubs().map(hubJSON))])
            case ("PUT", 2) where parts[0] == "hubs":
                return try createHub(parts[1], input)
            case ("GET", 2) where parts[0] == "hubs":
                return try showHub(parts[1])
            case ("DELETE", 2) where parts[0] == "hubs":
                return try store.delete(hub: parts[1]) ? reply(200, ["deleted": .string(parts[1])]) : notFound(parts[1])
            case ("GET", 3) where parts[0] == "hubs" && parts[2] == "keys":
                guard try store.hub(parts[1]) != nil else { return notFound(parts[1]) }
                return reply(200, ["keys": .array(try store.keys(of: parts[1]).map { ["name": .string($0.name), "secret": .string($0.secret)] })])
            case ("POST", 3) where parts[0] == "hubs" && parts[2] == "keys":
                guard let name = input["name"]?.string, Self.isName(name) else {
                    return problem(400, "bad_request", "$.name must be 1 to 64 letters, digits, '-', '_' or '.'", path: "$.name")
                }
                let secret = Self.newSecret()
                guard try store.addKey(hub: parts[1], name: name, secret: secret, now: now) else {
                    return try store.hub(parts[1]) == nil ? notFound(parts[1]) : problem(409, "conflict", "hub '\(parts[1])' already has a key '\(name)'")
                }
                return reply(201, ["name": .string(name), "secret": .string(secret)])
            case ("DELETE", 4) where parts[0] == "hubs" && parts[2] == "keys":
                return try store.deleteKey(hub: parts[1], name: parts[3]) ? reply(200, ["deleted": .string(parts[3])]) : problem(404, "not_found", "no key '\(parts[3])' on hub '\(parts[1])'")
            case ("POST", 3) where parts[0] == "hubs" && parts[2] == "tokens":
                return try token(parts[1], input)
            default:
                return problem(404, "not_found", "no route \(method) \(request["path"]?.string ?? "/")")
            }
        } catch {
            return problem(500, "store_failed", "the event store failed: \(error)")
        }
    }

    private func createHub(_ name: String, _ input: JSONValue) throws -> JSONValue {
        guard Self.isName(name) else { return problem(400, "bad_request", "a hub name is 1 to 64 letters, digits, '-', '_' or '.'") }
        let partitions = input["partitions"]?.int ?? 4
        guard (1...32).contains(partitions) else { return problem(400, "bad_request", "$.partitions must be a whole number from 1 to 32", path: "$.partitions") }
        let hours = input["retentionHours"]?.int ?? Self.defaultRetentionHours
        guard (1...24 * 90).contains(hours) else { return problem(400, "bad_request", "$.retentionHours must be from 1 to 2160", path: "$.retentionHours") }
        let bytes = input["maxBytesPerPartition"]?.int ?? Self.defaultMaxBytesPerPartition
        guard bytes >= 1024 else { return problem(400, "bad_request", "$.maxBytesPerPartition must be at least 1024", path: "$.maxBytesPerPartition") }
        let keyName = input["keyName"]?.string ?? "send"
        guard Self.isName(keyName) else { return problem(400, "bad_request", "$.keyName must be 1 to 64 letters, digits, '-', '_' or '.'", path: "$.keyName") }
        let secret = Self.newSecret()
        let hub = HubStore.Hub(name: name, partitions: partitions, retentionSeconds: hours * 3600, maxBytesPerPartition: bytes, createdAt: now)
        guard try store.create(hub, keyName: keyName, secret: secret) else { return problem(409, "conflict", "hub '\(name)' already exists") }
        var json = hubJSON(hub)
        if case .object(var fields) = json {
            fields["keys"] = [["name": .string(keyName), "secret": .string(secret)]]
            json = .object(fields)
        }
        return reply(201, json)
    }

    private func showHub(_ name: String) throws -> JSONValue {
        guard let hub = try store.hub(name) else { return notFound(name) }
        let partitions = try store.partitions(of: name)
        let checkpoints = try store.checkpoints(of: name)
        var json = hubJSON(hub)
        guard case .object(var fields) = json else { return reply(200, json) }
        fields["partitionStates"] = .array(partitions.map { state in
            var entry: [String: JSONValue] = ["partition": .number(Double(state.partition)), "nextOffset": .number(Double(state.next)), "bytes": .number(Double(state.bytes))]
            if let first = state.first { entry["firstOffset"] = .number(Double(first)) }
            return .object(entry)
        })
        let next = Dictionary(uniqueKeysWithValues: partitions.map { ($0.partition, $0.next) })
        fields["consumerGroups"] = .array(checkpoints.keys.sorted().map { group in
            let byPartition = checkpoints[group] ?? [:]
            return [
                "name": .string(group),
                "partitions": .array(byPartition.keys.sorted().map { partition in
                    let checkpoint = byPartition[partition] ?? .init(nextOffset: 0)
                    return [
                        "partition": .number(Double(partition)), "nextOffset": .number(Double(checkpoint.nextOffset)),
                        "lag": .number(Double(max(0, (next[partition] ?? 0) - checkpoint.nextOffset))),
                    ]
                }),
            ]
        })
        json = .object(fields)
        return reply(200, json)
    }

    private func token(_ hubName: String, _ input: JSONValue) throws -> JSONValue {
        guard try store.hub(hubName) != nil else { return notFound(hubName) }
        let keyName = input["key"]?.string ?? "send"
        guard let secret = try store.secret(hub: hubName, key: keyName) else { return problem(404, "not_found", "no key '\(keyName)' on hub '\(hubName)'", path: "$.key") }
        let ttl = input["ttlSeconds"]?.int ?? 3600
        guard ttl > 0 else { return problem(400, "bad_request", "$.ttlSeconds must be positive", path: "$.ttlSeconds") }
        let expiry = Int64(now.timeIntervalSince1970) + Int64(ttl)
        let resource = ingestURL(hubName)
        let token = SharedAccessSignature.make(resource: resource, keyName: keyName, secret: secret, expiry: expiry)
        return reply(200, ["token": .string(token.header), "expiresAt": .number(Double(expiry)), "resource": .string(resource)])
    }

    private func hubJSON(_ hub: HubStore.Hub) -> JSONValue {
        [
            "name": .string(hub.name), "partitions": .number(Double(hub.partitions)), "retentionHours": .number(Double(hub.retentionSeconds / 3600)),
            "maxBytesPerPartition": .number(Double(hub.maxBytesPerPartition)), "ingestUrl": .string(ingestURL(hub.name)),
        ]
    }

    private func ingestURL(_ hub: String) -> String {
        var base = instance.publicURL
        while base.hasSuffix("/") { base.removeLast() }
        return base + "/plugins/event-hub/hubs/\(hub)/messages"
    }

    // MARK: Ingest

    /// `POST /hubs/{hub}/messages` (or `/hubs/{hub}/partitions/{n}/messages`): one event (the body),
    /// or a batch with `Content-Type: application/vnd.microsoft.servicebus.json`
    /// (`[{"Body", "UserProperties", "BrokerProperties": {"PartitionKey"}}]`). `201` once committed.
    func ingest(_ request: JSONValue, body: [UInt8]) -> JSONValue {
        let parts = (request["path"]?.string ?? "/").split(separator: "/").map(String.init)
        var partition: Int?
        switch parts.count {
        case 3 where parts[0] == "hubs" && parts[2] == "messages":
            break
        case 5 where parts[0] == "hubs" && parts[2] == "partitions" && parts[4] == "messages":
            guard let number = Int(parts[3]) else { return problem(404, "not_found", "no such partition") }
            partition = number
        default:
            return problem(404, "not_found", "no such route")
        }
        guard request["method"]?.string == "POST" else { return problem(405, "method_not_allowed", "send events with POST") }
        let hubName = parts[1]
        // Every refusal of the token is the same 401, whatever the reason (which goes to the log).
        do {
            guard let header = header("Authorization", in: request) else { throw SharedAccessSignature.Refusal.malformed("no Authorization header") }
            try SharedAccessSignature(header: header).verify(hub: hubName, now: now) { key in try store.secret(hub: hubName, key: key) }
        } catch {
            instance.host.log(.debug, "event-hub ingest to '\(hubName)' refused: \(error)")
            return reply(401, ["error": ["code": "unauthorized", "message": "a valid SharedAccessSignature for this hub is required"]], headers: ["WWW-Authenticate": "SharedAccessSignature"])
        }
        let events: [HubStore.NewEvent]
        switch Self.events(request: request, body: body, partition: partition, header: { header($0, in: request) }) {
        case .success(let parsed): events = parsed
        case .failure(let message): return problem(400, "bad_request", message.text)
        }
        do {
            let placements = try instance.append(events, to: hubName)
            return reply(201, ["events": .array(placements.map {
                ["partition": .number(Double($0.partition)), "offset": .number(Double($0.offset)), "enqueuedTime": .string(EventJSON.timestamp($0.enqueuedAt))]
            })])
        } catch let error where error.status == ConnectorError.retryable("").status {
            return reply(429, ["error": ["code": "busy", "message": .string(error.message)]], headers: ["Retry-After": "1"])
        } catch {
            return problem(error.status == ConnectorError.notFound("").status ? 404 : 400, "bad_request", error.message)
        }
    }

    struct Message: Error {
        let text: String
    }

    static func events(request: JSONValue, body: [UInt8], partition: Int?, header: (String) -> String?) -> Result<[HubStore.NewEvent], Message> {
        let contentType = header("Content-Type")?.lowercased() ?? ""
        guard contentType.hasPrefix(batchContentType) else {
            // One event: the body as sent; a partition key in BrokerProperties or ?partitionKey=.
            var key = header("BrokerProperties").flatMap { JSONValue(parsing: Array($0.utf8))?["PartitionKey"]?.string }
            for pair in (request["query"]?.string ?? "").split(separator: "&") {
                let item = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
                if item.count == 2, item[0] == "partitionKey" { key = item[1] }
            }
            guard !body.isEmpty else { return .failure(Message(text: "the event body is empty")) }
            return .success([HubStore.NewEvent(body: Data(body), partitionKey: key, properties: nil, partition: partition)])
        }
        guard case .array(let items)? = JSONValue(parsing: body) else {
            return .failure(Message(text: "a batch is a JSON array of {\"Body\", \"UserProperties\", \"BrokerProperties\"}"))
        }
        guard !items.isEmpty, items.count <= 1000 else { return .failure(Message(text: "a batch holds 1 to 1000 events")) }
        var events: [HubStore.NewEvent] = []
        for (index, item) in items.enumerated() {
            guard let value = item["Body"] else { return .failure(Message(text: "$[\(index)].Body is missing")) }
            var properties: String?
            if let given = item["UserProperties"] {
                guard case .object = given else { return .failure(Message(text: "$[\(index)].UserProperties must be an object")) }
                properties = String(decoding: given.bytes, as: UTF8.self)
            }
            let bytes = value.string.map { Array($0.utf8) } ?? value.bytes
            events.append(HubStore.NewEvent(body: Data(bytes), partitionKey: item["BrokerProperties"]?["PartitionKey"]?.string, properties: properties, partition: partition))
        }
        return .success(events)
    }

    // MARK: Plumbing

    private func header(_ name: String, in request: JSONValue) -> String? {
        guard case .object(let headers)? = request["headers"] else { return nil }
        return headers.first { $0.key.lowercased() == name.lowercased() }?.value.string
    }

    private func reply(_ status: Int, _ body: JSONValue, headers: [String: String] = [:]) -> JSONValue {
        var fields: [String: JSONValue] = ["Content-Type": "application/json"]
        for (name, value) in headers { fields[name] = .string(value) }
        return ["status": .number(Double(status)), "headers": .object(fields), "body": .string(String(decoding: body.bytes, as: UTF8.self))]
    }

    private func problem(_ status: Int, _ code: String, _ message: String, path: String? = nil) -> JSONValue {
        var error: [String: JSONValue] = ["code": .string(code), "message": .string(message)]
        if let path { error["path"] = .string(path) }
        return reply(status, ["error": .object(error)])
    }

    private func notFound(_ hub: String) -> JSONValue {
        problem(404, "not_found", "no hub '\(hub)'")
    }

    static func isName(_ text: String) -> Bool {
        (1...64).contains(text.count) && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }
    }

    /// 256 random bits, base64: a key's secret.
    static func newSecret() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
    }
}
