import CallgateMail
import Foundation
import Logging

/// One configurable setting: its key in the YAML file, its environment variable, its `serve` flag,
/// and how its text is applied to a ``GatewayConfiguration``.
///
/// The table ``Setting/all`` is the single list of settings: the loader, the `serve` command's
/// flags and the README's configuration reference are all checked against it.
public struct Setting: Sendable {
    /// Dotted path in the YAML file (`tls.minimum_version`).
    public let key: String
    /// Environment variable (`CALLGATE_TLS_MINIMUM_VERSION`).
    public let environmentVariable: String
    /// Long flag of `callgate serve`, without dashes (`tls-minimum-version`).
    public let flag: String
    /// What the setting does and its default.
    public let help: String
    /// Applies the setting's text, or explains what is wrong with it.
    let apply: @Sendable (inout GatewayConfiguration, String) throws -> Void

    init(
        _ key: String,
        flag: String,
        help: String,
        apply: @escaping @Sendable (inout GatewayConfiguration, String) throws -> Void
    ) {
        self.key = key
        self.flag = flag
        self.environmentVariable = "CALLGATE_" + key.uppercased().replacingOccurrences(of: ".", with: "_")
        self.help = help
        self.apply = apply
    }
}

/// What is wrong with one setting's text (the loader adds which setting and where it came from).
public struct SettingValueError: Error, Sendable {
    public let reason: String
}

extension Setting {
    /// Every setting, in the order the README lists them.
    public static let all: [Setting] = [
        Setting("listen", flag: "listen", help: "HOST:PORT of the HTTPS listener (default 127.0.0.1:8443; port 0 picks a free port)") {
            $0.listen = try address($1)
        },
        Setting("public_url", flag: "public-url", help: "base of minted callback URLs, for deployments behind a proxy (default https://{listen})") {
            config, text in
            guard text.hasPrefix("https://") || text.hasPrefix("http://"), !text.contains("?"), !text.contains("#") else {
                throw SettingValueError(reason: "'\(text)' is not an http(s) URL without query or fragment")
            }
            config.publicURL = text
        },
        Setting("data_dir", flag: "data", help: "directory of the database, master key, plugins and outbox (default ./data)") {
            $0.dataDirectory = try nonEmpty($1)
        },
        Setting("plugin_dir", flag: "plugin-dir", help: "directory of installed plugins (default {data_dir}/plugins)") {
            $0.pluginDirectory = try nonEmpty($1)
        },
        Setting("certs_dir", flag: "certs-dir", help: "directory of the development CA and certificate (default ./certs)") {
            $0.certsDirectory = try nonEmpty($1)
        },
        Setting("tls.certificate", flag: "tls-certificate", help: "PEM certificate chain of the listener (default: the development certificate)") {
            $0.tlsCertificatePath = try nonEmpty($1)
        },
        Setting("tls.key", flag: "tls-key", help: "PEM private key of the listener (default: the development key)") {
            $0.tlsKeyPath = try nonEmpty($1)
        },
        Setting("tls.minimum_version", flag: "tls-minimum-version", help: "lowest TLS version accepted: 1.2 (default) or 1.3") {
            config, text in
            guard let version = GatewayConfiguration.TLSVersion(rawValue: text) else {
                throw SettingValueError(reason: "'\(text)' is not 1.2 or 1.3")
            }
            config.tlsMinimumVersion = version
        },
        Setting("admin.listen", flag: "admin-listen", help: "HOST:PORT of a separate listener for the admin API and /metrics (default: none, the main listener serves them)") {
            $0.adminListen = try address($1)
        },
        Setting("admin.client_ca", flag: "admin-client-ca", help: "PEM CA bundle: the admin listener then requires client certificates it signed (needs admin.listen)") {
            $0.adminClientCAPath = try nonEmpty($1)
        },
        Setting("plugins.trusted_keys", flag: "plugin-trusted-keys", help: "file of trusted publisher keys (base64 Ed25519, one per line); plugins must then be signed (default: none, signatures not required)") {
            $0.pluginTrustedKeysPath = try nonEmpty($1)
        },
        Setting("egress.deny_private", flag: "egress-deny-private", help: "true refuses outbound calls to loopback and private networks too; link-local/metadata is always refused (default false)") {
            config, text in
            guard let value = Bool(text.lowercased()) else { throw SettingValueError(reason: "'\(text)' is not true or false") }
            config.egressDenyPrivateNetworks = value
        },
        Setting("outbound.ca_file", flag: "outbound-ca-file", help: "PEM CA bundle trusted for outbound HTTPS (Http actions, subscribes, token endpoints) besides the system roots (default: none)") {
            $0.outboundCAPath = try nonEmpty($1)
        },
        Setting("smtp.host", flag: "smtp-host", help: "SMTP server for approval mails (default: none; mails are written to {data_dir}/outbox as .eml files and their links logged)") {
            $0.smtp.host = try nonEmpty($1)
        },
        Setting("smtp.port", flag: "smtp-port", help: "SMTP port (default 587 for starttls, 465 for tls, 25 for none)") {
            config, text in
            guard let port = Int(text), (1...65535).contains(port) else { throw SettingValueError(reason: "'\(text)' is not a port number") }
            config.smtp.port = port
        },
        Setting("smtp.security", flag: "smtp-security", help: "starttls (default; STARTTLS is required), tls (implicit TLS) or none (a relay on this machine)") {
            config, text in
            guard ["starttls", "tls", "none"].contains(text) else { throw SettingValueError(reason: "'\(text)' is not starttls, tls or none") }
            config.smtp.security = text
        },
        Setting("smtp.username", flag: "smtp-username", help: "SMTP AUTH user name (AUTH PLAIN or LOGIN; default: no AUTH)") {
            $0.smtp.username = try nonEmpty($1)
        },
        Setting("smtp.password", flag: "smtp-password", help: "SMTP AUTH password (prefer the environment variable: flags show in process lists)") {
            $0.smtp.password = $1
        },
        Setting("smtp.from", flag: "smtp-from", help: "sender of approval mails, 'Name <address>' or 'address' (required with smtp.host)") {
            config, text in
            guard MailAddress(text) != nil else { throw SettingValueError(reason: "'\(text)' is not an e-mail address") }
            config.smtp.from = text
        },
        Setting("smtp.ca_file", flag: "smtp-ca-file", help: "PEM CA bundle trusted for the SMTP server's certificate besides the system roots (default: none)") {
            $0.smtp.caFile = try nonEmpty($1)
        },
        Setting("limits.max_body_bytes", flag: "max-body-bytes", help: "largest request body; larger gets 413 (default 16777216)") {
            $0.limits.maxBodyBytes = try positive($1)
        },
        Setting("limits.max_header_bytes", flag: "max-header-bytes", help: "largest total of request header fields; larger gets 431 (default 32768)") {
            $0.limits.maxHeaderBytes = try positive($1)
        },
        Setting("limits.max_url_length", flag: "max-url-length", help: "longest request target; longer gets 414 (default 8192)") {
            $0.limits.maxURLLength = try positive($1)
        },
        Setting("limits.idle_timeout_seconds", flag: "idle-timeout-seconds", help: "seconds an idle connection is kept open (default 60)") {
            $0.limits.idleTimeoutSeconds = try positive($1)
        },
        Setting("limits.request_head_timeout_seconds", flag: "request-head-timeout-seconds", help: "seconds a client has to send a complete request head (default 10)") {
            $0.limits.requestHeadTimeoutSeconds = try positive($1)
        },
        Setting("limits.max_connections", flag: "max-connections", help: "most concurrent connections per listener (default 1024)") {
            $0.limits.maxConnections = try positive($1)
        },
        Setting("limits.max_pending_writes", flag: "max-pending-writes", help: "most writes queued for the store before 429 (default 20000)") {
            $0.limits.maxPendingWrites = try positive($1)
        },
        Setting("engine.workers", flag: "engine-workers", help: "workflow actions executed at once (default 16)") {
            $0.engine.workers = try positive($1)
        },
        Setting("engine.response_wait_seconds", flag: "response-wait-seconds", help: "seconds a Request trigger waits for the run's Response action before answering 202 (default 120)") {
            $0.engine.responseWaitSeconds = Double(try positive($1))
        },
        Setting("engine.max_runs_in_progress", flag: "max-runs-in-progress", help: "runs in progress per workflow that a plugin's trigger (OnEvents) may start before its events wait in the hub (default 1000)") {
            $0.engine.maxRunsInProgress = try positive($1)
        },
        Setting("engine.run_retention_days", flag: "run-retention-days", help: "days an ended run's history is kept before the hourly sweep deletes it (default 90)") {
            $0.engine.runRetentionDays = try positive($1)
        },
        Setting("log.level", flag: "log-level", help: "trace, debug, info (default), notice, warning, error or critical") {
            config, text in
            guard let level = Logger.Level(rawValue: text) else {
                throw SettingValueError(reason: "'\(text)' is not a log level")
            }
            config.logLevel = level
        },
    ]

    private static func address(_ text: String) throws(SettingValueError) -> GatewayConfiguration.ListenAddress {
        guard let address = GatewayConfiguration.ListenAddress(parsing: text) else {
            throw SettingValueError(reason: "'\(text)' is not HOST:PORT")
        }
        return address
    }

    private static func nonEmpty(_ text: String) throws(SettingValueError) -> String {
        guard !text.isEmpty else { throw SettingValueError(reason: "must not be empty") }
        return text
    }

    private static func positive(_ text: String) throws(SettingValueError) -> Int {
        guard let value = Int(text), value > 0 else { throw SettingValueError(reason: "'\(text)' is not a positive whole number") }
        return value
    }
}
