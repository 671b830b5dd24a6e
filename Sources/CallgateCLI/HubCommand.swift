import ArgumentParser
import Foundation

/// `callgate hub create NAME | list | show NAME | delete NAME | keys NAME | token NAME`: the
/// event hubs of the bundled event-hub plugin, through its admin routes.
struct HubCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hub",
        abstract: "Manage event hubs (the event-hub plugin).",
        subcommands: [Create.self, List.self, Show.self, Delete.self, Keys.self, Token.self]
    )

    static let base = "/api/v1/plugins/event-hub/hubs"

    private struct Hub: Decodable {
        let name: String
        let partitions: Int
        let retentionHours: Int
        let maxBytesPerPartition: Int
        let ingestUrl: String
    }

    private struct Key: Decodable {
        let name: String
        let secret: String
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a hub; prints its ingest URL and its first key.")
        @OptionGroup var client: AdminClientOptions
        @Argument(help: "The hub's name (letters, digits, -, _, .).") var name: String
        @Option(help: "Partitions, 1 to 32.") var partitions = 4
        @Option(name: .customLong("retention-hours"), help: "Hours events are kept, read or not.") var retentionHours = 24
        @Option(name: .customLong("max-bytes-per-partition"), help: "Bytes of unread events a partition holds before ingest answers 429.")
        var maxBytesPerPartition = 1 << 30

        func run() async throws {
            let body = try JSONSerialization.data(withJSONObject: [
                "partitions": partitions, "retentionHours": retentionHours, "maxBytesPerPartition": maxBytesPerPartition,
            ])
            let data = try await client.makeClient().send(.PUT, "\(HubCommand.base)/\(name)", body: body)
            if client.json { return printJSON(data) }
            struct Created: Decodable { let name: String; let partitions: Int; let ingestUrl: String; let keys: [Key] }
            let hub = try decodeAPI(Created.self, from: data)
            print("created hub \(hub.name) (\(hub.partitions) partitions)")
            print("ingest: POST \(hub.ingestUrl)")
            for key in hub.keys { print("key \(key.name): \(key.secret)") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List hubs.")
        @OptionGroup var client: AdminClientOptions

        func run() async throws {
            let data = try await client.makeClient().send(.GET, HubCommand.base)
            if client.json { return printJSON(data) }
            struct Hubs: Decodable { let hubs: [Hub] }
            printTable(["NAME", "PARTITIONS", "RETENTION", "INGEST"], try decodeAPI(Hubs.self, from: data).hubs.map {
                [$0.name, String($0.partitions), "\($0.retentionHours) h", $0.ingestUrl]
            })
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a hub: its partitions and each consumer group's position and lag.")
        @OptionGroup var client: AdminClientOptions
        @Argument(help: "The hub.") var name: String

        func run() async throws {
            let data = try await client.makeClient().send(.GET, "\(HubCommand.base)/\(name)")
            if client.json { return printJSON(data) }
            struct Detail: Decodable {
                struct PartitionState: Decodable { let partition: Int; let firstOffset: Int?; let nextOffset: Int; let bytes: Int }
                struct Group: Decodable {
                    struct Position: Decodable { let partition: Int; let nextOffset: Int; let lag: Int }
                    let name: String
                    let partitions: [Position]
                }
                let name: String
                let partitions: Int
                let retentionHours: Int
                let ingestUrl: String
                let partitionStates: [PartitionState]
                let consumerGroups: [Group]
            }
            let hub = try decodeAPI(Detail.self, from: data)
            print("hub \(hub.name)  \(hub.partitions) partitions  retention \(hub.retentionHours) h")
            print("ingest: POST \(hub.ingestUrl)")
            printTable(["PARTITION", "FIRST", "NEXT", "BYTES"], hub.partitionStates.map {
                [String($0.partition), $0.firstOffset.map(String.init) ?? "-", String($0.nextOffset), String($0.bytes)]
            })
            for group in hub.consumerGroups {
                print("consumer group \(group.name): lag \(group.partitions.reduce(0) { $0 + $1.lag })")
                printTable(["PARTITION", "NEXT", "LAG"], group.partitions.map { [String($0.partition), String($0.nextOffset), String($0.lag)] })
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a hub and its events.")
        @OptionGroup var client: AdminClientOptions
        @Argument(help: "The hub.") var name: String

        func run() async throws {
            let data = try await client.makeClient().send(.DELETE, "\(HubCommand.base)/\(name)")
            if client.json { return printJSON(data) }
            print("deleted hub \(name)")
        }
    }

    struct Keys: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a hub's access keys, or add one with --add NAME.")
        @OptionGroup var client: AdminClientOptions
        @Argument(help: "The hub.") var name: String
        @Option(help: "Add a key with this name.") var add: String?

        func run() async throws {
            let api = try client.makeClient()
            if let add {
                let data = try await api.send(.POST, "\(HubCommand.base)/\(name)/keys", body: try JSONSerialization.data(withJSONObject: ["name": add]))
                if client.json { return printJSON(data) }
                let key = try decodeAPI(Key.self, from: data)
                return print("key \(key.name): \(key.secret)")
            }
            let data = try await api.send(.GET, "\(HubCommand.base)/\(name)/keys")
            if client.json { return printJSON(data) }
            struct List: Decodable { let keys: [Key] }
            printTable(["KEY", "SECRET"], try decodeAPI(List.self, from: data).keys.map { [$0.name, $0.secret] })
        }
    }

    struct Token: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a shared-access signature for a hub's ingest (the Authorization header value).")
        @OptionGroup var client: AdminClientOptions
        @Argument(help: "The hub.") var name: String
        @Option(help: "The key to sign with.") var key = "send"
        @Option(help: "Seconds the token is valid.") var ttl = 3600

        func run() async throws {
            let body = try JSONSerialization.data(withJSONObject: ["key": key, "ttlSeconds": ttl])
            let data = try await client.makeClient().send(.POST, "\(HubCommand.base)/\(name)/tokens", body: body)
            if client.json { return printJSON(data) }
            struct Issued: Decodable { let token: String }
            print(try decodeAPI(Issued.self, from: data).token)
        }
    }
}
