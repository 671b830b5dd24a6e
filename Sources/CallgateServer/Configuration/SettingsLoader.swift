import Foundation
import Yams

/// Resolves a ``GatewayConfiguration`` from its four sources. Later sources win:
/// built-in defaults, then the YAML file, then `CALLGATE_*` environment variables, then flags.
public struct SettingsLoader: Sendable {
    /// A setting that could not be applied, naming the setting and where its value came from.
    public struct LoadError: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// The flag values given on the command line, keyed by ``Setting/key``.
    public var flags: [String: String]
    /// The process environment (or a test's stand-in).
    public var environment: [String: String]
    /// The YAML file, if any.
    public var configFile: String?

    public init(flags: [String: String] = [:], environment: [String: String] = ProcessInfo.processInfo.environment, configFile: String? = nil) {
        self.flags = flags
        self.environment = environment
        self.configFile = configFile
    }

    /// Applies every source in precedence order and checks settings that depend on each other.
    public func load() throws -> GatewayConfiguration {
        var configuration = GatewayConfiguration()
        if let configFile {
            for (key, value) in try Self.flattenYAML(atPath: configFile) {
                try Self.apply(key: key, value: value, origin: "\(configFile): \(key)", to: &configuration)
            }
        }
        for setting in Setting.all {
            if let value = environment[setting.environmentVariable] {
                try Self.apply(key: setting.key, value: value, origin: setting.environmentVariable, to: &configuration)
            }
        }
        for setting in Setting.all {
            if let value = flags[setting.key] {
                try Self.apply(key: setting.key, value: value, origin: "--\(setting.flag)", to: &configuration)
            }
        }
        if configuration.adminClientCAPath != nil && configuration.adminListen == nil {
            throw LoadError(description: "admin.client_ca requires admin.listen: mTLS applies to a separate admin listener")
        }
        if (configuration.tlsCertificatePath == nil) != (configuration.tlsKeyPath == nil) {
            throw LoadError(description: "tls.certificate and tls.key must be set together")
        }
        if configuration.smtp.host != nil && configuration.smtp.from == nil {
            throw LoadError(description: "smtp.from is required with smtp.host: the sender of approval mails")
        }
        if (configuration.smtp.username == nil) != (configuration.smtp.password == nil) {
            throw LoadError(description: "smtp.username and smtp.password must be set together")
        }
        return configuration
    }

    private static func apply(key: String, value: String, origin: String, to configuration: inout GatewayConfiguration) throws {
        guard let setting = Setting.all.first(where: { $0.key == key }) else {
            throw LoadError(description: "\(origin): unknown setting '\(key)'")
        }
        do {
            try setting.apply(&configuration, value)
        } catch let error as SettingValueError {
            throw LoadError(description: "\(origin): \(error.reason)")
        }
    }

    /// Reads a YAML mapping into dotted keys (`tls: {key: x}` → `tls.key = x`).
    static func flattenYAML(atPath path: String) throws -> [(String, String)] {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw LoadError(description: "cannot read configuration file \(path)")
        }
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw LoadError(description: "\(path): not valid YAML: \(error)")
        }
        guard let node else { return [] }
        var result: [(String, String)] = []
        try flatten(node, prefix: "", path: path, into: &result)
        return result
    }

    private static func flatten(_ node: Node, prefix: String, path: String, into result: inout [(String, String)]) throws {
        switch node {
        case .mapping(let mapping):
            for (keyNode, valueNode) in mapping {
                guard let name = keyNode.string else { throw LoadError(description: "\(path): keys must be strings") }
                try flatten(valueNode, prefix: prefix.isEmpty ? name : "\(prefix).\(name)", path: path, into: &result)
            }
        case .scalar(let scalar):
            guard !prefix.isEmpty else { throw LoadError(description: "\(path): expected a mapping of settings") }
            result.append((prefix, scalar.string))
        case .sequence, .alias:
            throw LoadError(description: "\(path): \(prefix.isEmpty ? "document" : prefix): expected a single value")
        }
    }
}
