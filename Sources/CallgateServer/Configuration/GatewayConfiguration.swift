import CallgateEngine
import Foundation
import Logging

/// Every setting of a running gateway, resolved from defaults, the YAML file, `CALLGATE_*`
/// environment variables and `serve` flags (see ``SettingsLoader`` for the precedence).
public struct GatewayConfiguration: Sendable, Equatable {
    /// A `host:port` pair to listen on.
    public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        /// Parses `HOST:PORT`, `[IPv6]:PORT`; port 0 asks the system for a free port.
        public init?(parsing text: String) {
            let host: Substring
            let portText: Substring
            if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
                host = text[text.index(after: text.startIndex)..<close]
                let rest = text[text.index(after: close)...]
                guard rest.hasPrefix(":") else { return nil }
                portText = rest.dropFirst()
            } else {
                guard let colon = text.lastIndex(of: ":") else { return nil }
                host = text[..<colon]
                portText = text[text.index(after: colon)...]
            }
            guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else { return nil }
            self.host = String(host)
            self.port = port
        }

        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// The lowest TLS version the listeners accept.
    public enum TLSVersion: String, Sendable, Equatable {
        case v1_2 = "1.2"
        case v1_3 = "1.3"
    }

    /// Bounds on what one client may send, each answered with its own status when exceeded.
    public struct Limits: Sendable, Equatable {
        /// Largest request body, in bytes (`413` beyond).
        public var maxBodyBytes: Int = 16 * 1024 * 1024
        /// Largest total size of the request's header fields, in bytes (`431` beyond).
        public var maxHeaderBytes: Int = 32 * 1024
        /// Longest request target (path and query), in bytes (`414` beyond).
        public var maxURLLength: Int = 8 * 1024
        /// Seconds a connection may sit with nothing read before it is closed.
        public var idleTimeoutSeconds: Int = 60
        /// Seconds a client has to send a request's complete head (slow-loris defence).
        public var requestHeadTimeoutSeconds: Int = 10
        /// Most connections served at once per listener; more wait in the accept backlog.
        public var maxConnections: Int = 1024
        /// Most writes waiting for the store before callers get `429`.
        public var maxPendingWrites: Int = 20_000

        public init() {}
    }

    /// Where the gateway listens.
    public var listen = ListenAddress(host: "127.0.0.1", port: 8443)
    /// The base of every minted callback URL; defaults to `https://{listen}`.
    public var publicURL: String?
    /// Directory holding the database, master key, plugins and outbox.
    public var dataDirectory = "./data"
    /// Directory of installed plugins; defaults to `{data}/plugins`.
    public var pluginDirectory: String?
    /// Directory of the development CA and certificate made by `callgate certs init`.
    public var certsDirectory = "./certs"
    /// PEM certificate chain of the listener; the development certificate when nil.
    public var tlsCertificatePath: String?
    /// PEM private key of the listener; the development key when nil.
    public var tlsKeyPath: String?
    /// Lowest accepted TLS version.
    public var tlsMinimumVersion = TLSVersion.v1_2
    /// A separate listener for the admin API and metrics; when nil they share the main listener.
    public var adminListen: ListenAddress?
    /// PEM CA bundle; when set, the admin listener demands client certificates signed by it.
    public var adminClientCAPath: String?
    /// File of trusted plugin publisher keys (base64 Ed25519 public keys, one per line); when
    /// set, every plugin must be signed by one of them.
    public var pluginTrustedKeysPath: String?
    /// Refuse outbound calls to loopback and private networks too (link-local is always refused).
    public var egressDenyPrivateNetworks = false
    /// PEM CA bundle trusted for outbound HTTPS besides the system roots (services with a private CA).
    public var outboundCAPath: String?
    /// Where approval mails go; without a host they are written to `{data}/outbox`.
    public struct SMTP: Sendable, Equatable {
        /// The server; nil writes `.eml` files to the outbox instead.
        public var host: String?
        /// The port; by default 587 for `starttls`, 465 for `tls`, 25 for `none`.
        public var port: Int?
        /// `starttls` (default), `tls` (implicit, port 465) or `none`.
        public var security = "starttls"
        public var username: String?
        public var password: String?
        /// The sender, `Name <address>` or `address`; required with a host.
        public var from: String?
        /// PEM CA bundle trusted for the server's certificate besides the system roots.
        public var caFile: String?

        public init() {}
    }

    /// Request and connection bounds.
    public var limits = Limits()
    /// The SMTP server of the approval-email connector.
    public var smtp = SMTP()
    /// Workflow engine tuning.
    public var engine = WorkflowEngine.Configuration()
    /// Lowest level logged.
    public var logLevel = Logger.Level.info

    public init() {}

    /// The public base URL in force (the setting, or `https://{listen}`).
    public var effectivePublicURL: String { publicURL ?? "https://\(listen)" }
    /// The plugin directory in force.
    public var effectivePluginDirectory: String { pluginDirectory ?? dataDirectory + "/plugins" }
    /// The SQLite database file.
    public var databasePath: String { dataDirectory + "/callgate.sqlite" }
    /// The file of the key that seals signing keys at rest.
    public var masterKeyPath: String { dataDirectory + "/master.key" }
    /// Where mails go when no SMTP server is configured.
    public var outboxDirectory: String { dataDirectory + "/outbox" }

    /// The configuration every plugin instance is created with (`instance_create`):
    /// `{"dataDirectory", "outboxDirectory", "publicUrl", "smtp"?}`. Plugins run inside the
    /// gateway's process and are trusted with what it knows.
    public func pluginInstanceConfiguration(pluginID: String) -> [UInt8] {
        var object: [String: Any] = [
            "dataDirectory": dataDirectory + "/plugin-data/" + pluginID, "outboxDirectory": outboxDirectory,
            "publicUrl": effectivePublicURL,
        ]
        var smtpObject: [String: Any] = ["security": smtp.security]
        for (key, value) in [("host", smtp.host), ("username", smtp.username), ("password", smtp.password), ("from", smtp.from), ("caFile", smtp.caFile)] {
            if let value { smtpObject[key] = value }
        }
        if let port = smtp.port { smtpObject["port"] = port }
        object["smtp"] = smtpObject
        return Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8))
    }
}
