import AsyncHTTPClient
import CallgateCallbacks
import CallgateOutbound
import CallgatePluginHost
import CallgateStore
import CallgateTesting
import Crypto
import Foundation
import Logging

extension PluginFixture {
    /// A plugin host on a real SQLite file in `directory`.
    static func makeManager(
        in directory: TemporaryDirectory,
        trustedPublisherKeys: [Curve25519.Signing.PublicKey] = [],
        egress: EgressPolicy = EgressPolicy()
    ) async throws -> (PluginManager, PluginHostEnvironment) {
        var logger = Logger(label: "plugin-test")
        logger.logLevel = .warning
        let database = try GatewayDatabase(path: directory.path + "/data/callgate.sqlite", logger: logger)
        let keyRing = try await SigningKeyRing(database: database, masterKeyPath: directory.path + "/data/master.key")
        let callbacks = CallbackRegistry(database: database, signer: CallbackSigner(keyRing: keyRing), publicBaseURL: "https://gw.test")
        let environment = PluginHostEnvironment(database: database, callbacks: callbacks, httpClient: HTTPClient.shared, egress: egress, logger: logger)
        let manager = try PluginManager(directory: directory.path + "/data/plugins", environment: environment, trustedPublisherKeys: trustedPublisherKeys)
        return (manager, environment)
    }
}

