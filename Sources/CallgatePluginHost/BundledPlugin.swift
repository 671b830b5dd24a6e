import CCallgatePlugin

/// A plugin linked into the gateway itself and started at every start-up, through the same ABI
/// negotiation as a loaded library, but with nothing to verify (it is part of the signed binary).
public struct BundledPlugin: Sendable {
    /// The plugin's id.
    public let id: String
    /// Its version.
    public let version: String
    /// The trigger and action types it offers.
    public let operations: [String]
    /// Its entry point, the function a library would export as `callgate_plugin_negotiate`.
    public let negotiate: @convention(c) (UnsafePointer<callgate_host_offer>?, UnsafeMutablePointer<callgate_plugin_answer>?) -> Int32

    public init(
        id: String,
        version: String,
        operations: [String],
        negotiate: @escaping @convention(c) (UnsafePointer<callgate_host_offer>?, UnsafeMutablePointer<callgate_plugin_answer>?) -> Int32
    ) {
        self.id = id
        self.version = version
        self.operations = operations
        self.negotiate = negotiate
    }

    var manifest: PluginManifest {
        PluginManifest(
            id: id, version: version, abi: .init(major: Int(CALLGATE_ABI_MAJOR), minor: Int(CALLGATE_ABI_MINOR)),
            library: "(bundled)", sha256: String(repeating: "0", count: 64), platform: nil, toolchain: nil, operations: operations
        )
    }
}
