import ArgumentParser
import CallgateCallbacks
import Foundation

/// `callgate keys list | rotate | retire KEY_ID`.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Manage the keys that sign callback URLs.",
        subcommands: [List.self, Rotate.self, Retire.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List signing keys (never their secrets).")
        @OptionGroup var client: AdminClientOptions

        func run() async throws {
            let data = try await client.makeClient().send(.GET, "/api/v1/keys")
            if client.json { return printJSON(data) }
            struct Keys: Decodable { let keys: [SigningKeyInfo] }
            let keys = try decodeAPI(Keys.self, from: data).keys
            printTable(
                ["ID", "STATUS", "CREATED", "RETIRED"],
                keys.map { [$0.id, $0.status.rawValue, isoString($0.createdAt), $0.retiredAt.map(isoString) ?? "-"] }
            )
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a new primary key; older keys keep verifying.")
        @OptionGroup var client: AdminClientOptions

        func run() async throws {
            let data = try await client.makeClient().send(.POST, "/api/v1/keys:rotate")
            if client.json { return printJSON(data) }
            struct Result: Decodable { let key: SigningKeyInfo }
            print("new primary key \(try decodeAPI(Result.self, from: data).key.id)")
        }
    }

    struct Retire: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Retire a key: every URL it signed stops working.")
        @OptionGroup var client: AdminClientOptions
        @Argument(help: "The key id, as `keys list` shows it.") var keyID: String

        func run() async throws {
            let encoded = keyID.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? keyID
            let data = try await client.makeClient().send(.POST, "/api/v1/keys/\(encoded):retire")
            if client.json { return printJSON(data) }
            print("retired key \(keyID)")
        }
    }
}
