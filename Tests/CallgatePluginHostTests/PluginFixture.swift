import AsyncHTTPClient
import CallgateCallbacks
import CallgateOutbound
import CallgatePluginHost
import CallgateStore
import CallgateTesting
import Crypto
import Foundation
import Logging
import Synchronization

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
        let triggers = TriggerStarter()
        let firings = TriggerFirings()
        triggers.connect { request, dedupeKey in firings.fire(request, dedupeKey: dedupeKey) }
        let environment = PluginHostEnvironment(
            database: database, callbacks: callbacks, httpClient: HTTPClient.shared, egress: egress, logger: logger, triggers: triggers
        )
        let manager = try PluginManager(directory: directory.path + "/data/plugins", environment: environment, trustedPublisherKeys: trustedPublisherKeys)
        return (manager, environment)
    }
}

/// What the plugin host hands `fire_trigger` to, standing in for the engine (whose start of runs
/// the gateway's tests cover): each firing gets a new run id, a repeated dedupe key the first one.
final class TriggerFirings: Sendable {
    private let state = Mutex<(count: Int, runs: [String: String])>((0, [:]))

    func fire(_ request: [UInt8], dedupeKey: String?) -> [UInt8] {
        let subscription = ((try? JSONSerialization.jsonObject(with: Data(request))) as? [String: Any])?["subscription"] as? String ?? ""
        let (runID, duplicate) = state.withLock { state -> (String, Bool) in
            if let dedupeKey, let earlier = state.runs[subscription + "/" + dedupeKey] { return (earlier, true) }
            state.count += 1
            let runID = "run-\(state.count)"
            if let dedupeKey { state.runs[subscription + "/" + dedupeKey] = runID }
            return (runID, false)
        }
        return Array((try? JSONSerialization.data(withJSONObject: ["runId": runID, "runIds": [runID], "duplicate": duplicate])) ?? Data())
    }

}

