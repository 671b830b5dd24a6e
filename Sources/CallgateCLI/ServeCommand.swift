import ArgumentParser
import CallgateEngine
import CallgateServer
import Foundation
import Logging

/// `callgate serve`: runs the gateway. Every setting is a flag here, a `CALLGATE_*` environment
/// variable and a key of the YAML file (flags win over environment, environment over the file).
public struct ServeCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the gateway (HTTPS on 127.0.0.1:8443 by default)."
    )

    @Option(help: ArgumentHelp("YAML configuration file.", valueName: "FILE")) var config: String?

    // One option per entry of `Setting.all`; `flagValues` maps them back to setting keys.
    @Option(help: help("listen")) var listen: String?
    @Option(name: .customLong("public-url"), help: help("public_url")) var publicURL: String?
    @Option(name: .customLong("data"), help: help("data_dir")) var dataDirectory: String?
    @Option(name: .customLong("plugin-dir"), help: help("plugin_dir")) var pluginDirectory: String?
    @Option(name: .customLong("certs-dir"), help: help("certs_dir")) var certsDirectory: String?
    @Option(name: .customLong("tls-certificate"), help: help("tls.certificate")) var tlsCertificate: String?
    @Option(name: .customLong("tls-key"), help: help("tls.key")) var tlsKey: String?
    @Option(name: .customLong("tls-minimum-version"), help: help("tls.minimum_version")) var tlsMinimumVersion: String?
    @Option(name: .customLong("admin-listen"), help: help("admin.listen")) var adminListen: String?
    @Option(name: .customLong("admin-client-ca"), help: help("admin.client_ca")) var adminClientCA: String?
    @Option(name: .customLong("plugin-trusted-keys"), help: help("plugins.trusted_keys")) var pluginTrustedKeys: String?
    @Option(name: .customLong("egress-deny-private"), help: help("egress.deny_private")) var egressDenyPrivate: String?
    @Option(name: .customLong("outbound-ca-file"), help: help("outbound.ca_file")) var outboundCAFile: String?
    @Option(name: .customLong("smtp-host"), help: help("smtp.host")) var smtpHost: String?
    @Option(name: .customLong("smtp-port"), help: help("smtp.port")) var smtpPort: String?
    @Option(name: .customLong("smtp-security"), help: help("smtp.security")) var smtpSecurity: String?
    @Option(name: .customLong("smtp-username"), help: help("smtp.username")) var smtpUsername: String?
    @Option(name: .customLong("smtp-password"), help: help("smtp.password")) var smtpPassword: String?
    @Option(name: .customLong("smtp-from"), help: help("smtp.from")) var smtpFrom: String?
    @Option(name: .customLong("smtp-ca-file"), help: help("smtp.ca_file")) var smtpCAFile: String?
    @Option(name: .customLong("max-body-bytes"), help: help("limits.max_body_bytes")) var maxBodyBytes: String?
    @Option(name: .customLong("max-header-bytes"), help: help("limits.max_header_bytes")) var maxHeaderBytes: String?
    @Option(name: .customLong("max-url-length"), help: help("limits.max_url_length")) var maxURLLength: String?
    @Option(name: .customLong("idle-timeout-seconds"), help: help("limits.idle_timeout_seconds")) var idleTimeoutSeconds: String?
    @Option(name: .customLong("request-head-timeout-seconds"), help: help("limits.request_head_timeout_seconds")) var requestHeadTimeoutSeconds: String?
    @Option(name: .customLong("max-connections"), help: help("limits.max_connections")) var maxConnections: String?
    @Option(name: .customLong("max-pending-writes"), help: help("limits.max_pending_writes")) var maxPendingWrites: String?
    @Option(name: .customLong("engine-workers"), help: help("engine.workers")) var engineWorkers: String?
    @Option(name: .customLong("response-wait-seconds"), help: help("engine.response_wait_seconds")) var responseWaitSeconds: String?
    @Option(name: .customLong("max-runs-in-progress"), help: help("engine.max_runs_in_progress")) var maxRunsInProgress: String?
    @Option(name: .customLong("run-retention-days"), help: help("engine.run_retention_days")) var runRetentionDays: String?
    @Option(name: .customLong("log-level"), help: help("log.level")) var logLevel: String?

    /// The flags given, keyed by setting key.
    var flagValues: [String: String] {
        let pairs: [(String, String?)] = [
            ("listen", listen), ("public_url", publicURL), ("data_dir", dataDirectory), ("plugin_dir", pluginDirectory),
            ("certs_dir", certsDirectory), ("tls.certificate", tlsCertificate), ("tls.key", tlsKey),
            ("tls.minimum_version", tlsMinimumVersion), ("admin.listen", adminListen), ("admin.client_ca", adminClientCA),
            ("plugins.trusted_keys", pluginTrustedKeys), ("egress.deny_private", egressDenyPrivate),
            ("outbound.ca_file", outboundCAFile),
            ("smtp.host", smtpHost), ("smtp.port", smtpPort), ("smtp.security", smtpSecurity), ("smtp.username", smtpUsername),
            ("smtp.password", smtpPassword), ("smtp.from", smtpFrom), ("smtp.ca_file", smtpCAFile),
            ("limits.max_body_bytes", maxBodyBytes), ("limits.max_header_bytes", maxHeaderBytes),
            ("limits.max_url_length", maxURLLength), ("limits.idle_timeout_seconds", idleTimeoutSeconds),
            ("limits.request_head_timeout_seconds", requestHeadTimeoutSeconds), ("limits.max_connections", maxConnections),
            ("limits.max_pending_writes", maxPendingWrites), ("engine.workers", engineWorkers),
            ("engine.response_wait_seconds", responseWaitSeconds), ("engine.max_runs_in_progress", maxRunsInProgress),
            ("engine.run_retention_days", runRetentionDays), ("log.level", logLevel),
        ]
        return Dictionary(uniqueKeysWithValues: pairs.compactMap { key, value in value.map { (key, $0) } })
    }

    public init() {}

    public func run() async throws {
        try await run(callbackSteps: [:])
    }

    /// Runs the gateway with extra waiting-step types (the test gateway adds its test step).
    public func run(callbackSteps: [String: any CallbackStep]) async throws {
        let environment = ProcessInfo.processInfo.environment
        let configuration: GatewayConfiguration
        do {
            configuration = try SettingsLoader(flags: flagValues, environment: environment, configFile: config).load()
        } catch let error as SettingsLoader.LoadError {
            throw CLIError(error.description)
        }
        var logger = Logger(label: "callgate")
        logger.logLevel = configuration.logLevel

        let gateway = try await Gateway.open(
            configuration: configuration,
            presetAdminToken: environment["CALLGATE_ADMIN_TOKEN"],
            bundledPlugins: BundledPlugins.all,
            callbackSteps: callbackSteps,
            logger: logger
        )
        if let token = gateway.generatedAdminToken {
            Self.say("Admin token (shown once, stored only as a hash): \(token)")
        }
        try await gateway.run { ports in
            var lines = ["callgate \(CallgateVersion.current) listening on https://\(configuration.listen.host):\(ports.main)"]
            if let admin = ports.admin, let host = configuration.adminListen?.host {
                lines.append("admin API and metrics on https://\(host):\(admin)")
            }
            lines.append("callback URLs start with \(configuration.effectivePublicURL)")
            Self.say(lines.joined(separator: "\n"))
        }
    }

    /// Writes a line to stdout at once: a supervisor or test reading a pipe sees it immediately,
    /// where `print` would sit in stdio's buffer.
    private static func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    private static func help(_ key: String) -> ArgumentHelp {
        let setting = Setting.all.first { $0.key == key }
        return ArgumentHelp("\(setting?.help ?? key) [\(setting?.environmentVariable ?? "")]", valueName: "VALUE")
    }
}
