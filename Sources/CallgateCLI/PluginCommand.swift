import ArgumentParser
import CallgatePluginHost
import CallgateServer
import Foundation

/// `callgate plugin install PATH | list | show ID | remove ID | verify PATH`.
struct PluginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugin",
        abstract: "Install and manage connector plugins.",
        subcommands: [Install.self, List.self, Show.self, Remove.self, Verify.self]
    )

    private struct Record: Decodable {
        let id: String
        let version: String
        let abi: String
        let sha256: String
        let signed: Bool
        let bundled: Bool
        let crashes: Int
        let state: String
        let buildInfo: String?
        let description: String?
    }

    struct Install: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Install a plugin package directory (manifest.json, library, optional manifest.sig) on the gateway's machine."
        )
        @OptionGroup var client: AdminClientOptions
        @Argument(help: "The package directory.") var path: String

        func run() async throws {
            let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
            let body = try JSONSerialization.data(withJSONObject: ["path": absolute])
            let data = try await client.makeClient().send(.POST, "/api/v1/plugins", body: body)
            if client.json { return printJSON(data) }
            struct Result: Decodable { let plugin: Record }
            let plugin = try decodeAPI(Result.self, from: data).plugin
            print("installed \(plugin.id) \(plugin.version) (ABI \(plugin.abi)): \(plugin.state)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List installed plugins.")
        @OptionGroup var client: AdminClientOptions

        func run() async throws {
            let data = try await client.makeClient().send(.GET, "/api/v1/plugins")
            if client.json { return printJSON(data) }
            struct Plugins: Decodable { let plugins: [Record] }
            let plugins = try decodeAPI(Plugins.self, from: data).plugins
            printTable(["ID", "VERSION", "ABI", "SOURCE", "CRASHES", "STATE"],
                       plugins.map { [$0.id, $0.version, $0.abi, $0.bundled ? "bundled" : $0.signed ? "signed" : "unsigned", String($0.crashes), $0.state] })
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one plugin, with the types it declares.")
        @OptionGroup var client: AdminClientOptions
        @Argument(help: "The plugin id.") var id: String

        func run() async throws {
            let data = try await client.makeClient().send(.GET, "/api/v1/plugins/\(id)")
            if client.json { return printJSON(data) }
            struct Result: Decodable { let plugin: Record }
            let plugin = try decodeAPI(Result.self, from: data).plugin
            print("id:          \(plugin.id)")
            print("version:     \(plugin.version)")
            print("abi:         \(plugin.abi)")
            print("sha256:      \(plugin.sha256)")
            print("source:      \(plugin.bundled ? "bundled with the gateway" : plugin.signed ? "signed package" : "unsigned package")")
            print("state:       \(plugin.state)")
            print("crashes:     \(plugin.crashes)")
            print("build:       \(plugin.buildInfo ?? "-")")
            print("describes:   \(plugin.description ?? "-")")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Uninstall a plugin.")
        @OptionGroup var client: AdminClientOptions
        @Argument(help: "The plugin id.") var id: String

        func run() async throws {
            _ = try await client.makeClient().send(.DELETE, "/api/v1/plugins/\(id)")
            print("removed \(id)")
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a plugin package offline (manifest, ABI major, library hash, signature) without loading it."
        )
        @Argument(help: "The package directory.") var path: String
        @Option(help: ArgumentHelp("File of trusted publisher keys (base64 Ed25519, one per line).", valueName: "FILE"))
        var trustedKeys: String?

        func run() async throws {
            let keys = try trustedKeys.map(TrustedPublisherKeys.load(from:)) ?? []
            do {
                let verified = try PluginManager.verify(packageDirectory: path, trustedPublisherKeys: keys)
                let manifest = verified.manifest
                print("ok: \(manifest.id) \(manifest.version), ABI \(manifest.abi.major).\(manifest.abi.minor), sha256 \(manifest.sha256)\(verified.isSigned ? ", signed" : "")")
            } catch let error as PluginError {
                throw CLIError(error.description)
            }
        }
    }
}
