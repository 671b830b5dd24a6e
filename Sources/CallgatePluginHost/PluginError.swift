/// Why a plugin was refused, failed to load, or a hook failed. Each refusal is one line that names
/// the plugin and the problem, as the CLI and logs print it.
public struct PluginError: Error, Equatable, CustomStringConvertible {
    private enum Code: Equatable {
        case manifest
        case incompatible
        case hashMismatch
        case unsigned
        case badSignature
        case loadFailed
        case missingSymbol
        case negotiation
        case hookFailed
        case quarantined
        case notInstalled
    }

    private let code: Code
    /// The one-line message.
    public let description: String
    /// For ``hookFailed(plugin:hook:status:message:)``: the plugin's status code.
    public let status: Int32?

    private init(_ code: Code, _ description: String, status: Int32? = nil) {
        self.code = code
        self.description = description
        self.status = status
    }

    /// The manifest is missing, not JSON, or lacks or misstates a field (the JSON path is named).
    public static func manifest(_ path: String, _ problem: String) -> PluginError {
        PluginError(.manifest, "manifest \(path): \(problem)")
    }

    /// The plugin speaks an ABI major this host does not.
    public static func incompatible(plugin: String, needs major: Int, minor: Int, hostMinMajor: Int, hostMaxMajor: Int, hostMinor: Int) -> PluginError {
        let range = hostMinMajor == hostMaxMajor
            ? "\(hostMaxMajor).0–\(hostMaxMajor).\(hostMinor)"
            : "\(hostMinMajor).0–\(hostMaxMajor).\(hostMinor)"
        return PluginError(.incompatible, "plugin \(plugin) needs ABI \(major).x (built against \(major).\(minor)); this gateway supports \(range)")
    }

    /// The library's SHA-256 differs from the manifest's.
    public static func hashMismatch(plugin: String, expected: String, actual: String) -> PluginError {
        PluginError(.hashMismatch, "plugin \(plugin): hash mismatch: manifest says sha256 \(expected), library is \(actual)")
    }

    /// Trusted publisher keys are configured and the plugin carries no signature.
    public static func unsigned(plugin: String) -> PluginError {
        PluginError(.unsigned, "plugin \(plugin) is unsigned, and trusted publisher keys are configured")
    }

    /// The signature does not verify with any trusted publisher key.
    public static func badSignature(plugin: String) -> PluginError {
        PluginError(.badSignature, "plugin \(plugin): the manifest signature does not verify with any trusted publisher key")
    }

    /// `dlopen` failed.
    public static func loadFailed(plugin: String, reason: String) -> PluginError {
        PluginError(.loadFailed, "plugin \(plugin): cannot load library: \(reason)")
    }

    /// The library lacks the negotiation symbol.
    public static func missingSymbol(plugin: String, symbol: String) -> PluginError {
        PluginError(.missingSymbol, "plugin \(plugin): missing symbol \(symbol)")
    }

    /// Negotiation or init failed for another reason.
    public static func negotiation(plugin: String, _ problem: String) -> PluginError {
        PluginError(.negotiation, "plugin \(plugin): \(problem)")
    }

    /// A hook answered an error status.
    public static func hookFailed(plugin: String, hook: String, status: Int32, message: String) -> PluginError {
        let detail = message.isEmpty ? "" : ": \(message)"
        return PluginError(.hookFailed, "plugin \(plugin): \(hook) failed with \(PluginStatus.name(of: status))\(detail)", status: status)
    }

    /// The plugin crashed the gateway too often and is not loaded.
    public static func quarantined(plugin: String, crashes: Int) -> PluginError {
        PluginError(.quarantined, "plugin \(plugin) is quarantined: it crashed the gateway \(crashes) times inside a hook; reinstall it to clear")
    }

    /// No installed plugin has this id.
    public static func notInstalled(_ id: String) -> PluginError {
        PluginError(.notInstalled, "no installed plugin '\(id)'")
    }

    /// True for ``notInstalled(_:)``.
    public var isNotInstalled: Bool { code == .notInstalled }

    public static func == (lhs: PluginError, rhs: PluginError) -> Bool { lhs.code == rhs.code }
}

/// The ABI's status codes, with names for messages.
public enum PluginStatus {
    public static let ok: Int32 = 0
    public static let pending: Int32 = 1
    public static let invalid: Int32 = -1
    public static let notFound: Int32 = -2
    public static let unsupported: Int32 = -3
    public static let incompatible: Int32 = -4
    public static let retryable: Int32 = -5
    public static let denied: Int32 = -6
    public static let cancelled: Int32 = -7
    public static let timeout: Int32 = -8
    public static let internalError: Int32 = -9

    /// The status's name; unknown values read as `INTERNAL` (the ABI's rule) with the number.
    public static func name(of status: Int32) -> String {
        switch status {
        case ok: "OK"
        case pending: "PENDING"
        case invalid: "INVALID"
        case notFound: "NOT_FOUND"
        case unsupported: "UNSUPPORTED"
        case incompatible: "INCOMPATIBLE"
        case retryable: "RETRYABLE"
        case denied: "DENIED"
        case cancelled: "CANCELLED"
        case timeout: "TIMEOUT"
        case internalError: "INTERNAL"
        default: "INTERNAL (\(status))"
        }
    }
}
