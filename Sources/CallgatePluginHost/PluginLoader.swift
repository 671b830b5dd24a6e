import CCallgatePlugin
import CallgatePluginBuffers
import Foundation

/// Opens a verified plugin library and brings it to life: `dlopen`, negotiation, `init`.
///
/// Call only for a library whose manifest, hash and signature were checked (its constructors run
/// at `dlopen`), and only on a thread of its own (init runs plugin code).
enum PluginLoader {
    static func load(
        manifest: PluginManifest,
        libraryPath: String,
        environment: PluginHostEnvironment,
        marker: InFlightMarker
    ) throws -> LoadedPlugin {
        // RTLD_NODELETE: never unmapped, even by a stray dlclose (a Swift runtime in a plugin
        // keeps metadata that a later cast would touch).
        guard let handle = dlopen(libraryPath, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE) else {
            let reason = dlerror().map { String(cString: $0) } ?? "unknown error"
            throw PluginError.loadFailed(plugin: manifest.id, reason: reason)
        }
        guard let symbol = dlsym(handle, CALLGATE_PLUGIN_NEGOTIATE_SYMBOL) else {
            throw PluginError.missingSymbol(plugin: manifest.id, symbol: CALLGATE_PLUGIN_NEGOTIATE_SYMBOL)
        }
        return try start(
            manifest: manifest, negotiate: unsafeBitCast(symbol, to: callgate_plugin_negotiate_fn.self), environment: environment, marker: marker
        )
    }

    /// Negotiates with and initialises a plugin given its entry point: a loaded library's, or a
    /// bundled plugin's linked into the gateway. The same ABI either way.
    static func start(
        manifest: PluginManifest,
        negotiate: callgate_plugin_negotiate_fn,
        environment: PluginHostEnvironment,
        marker: InFlightMarker
    ) throws -> LoadedPlugin {
        var offer = callgate_host_offer()
        offer.struct_size = UInt32(MemoryLayout<callgate_host_offer>.size)
        offer.min_major = PluginABI.hostMinMajor
        offer.max_major = PluginABI.hostMaxMajor
        offer.max_minor = PluginABI.hostMinor
        var answer = callgate_plugin_answer()
        answer.struct_size = UInt32(MemoryLayout<callgate_plugin_answer>.size)
        let status = negotiate(&offer, &answer)
        guard PluginABI.supportedMajors.contains(Int(answer.major)) else {
            throw PluginError.incompatible(
                plugin: manifest.id, needs: Int(answer.major), minor: Int(answer.minor),
                hostMinMajor: Int(PluginABI.hostMinMajor), hostMaxMajor: Int(PluginABI.hostMaxMajor), hostMinor: Int(PluginABI.hostMinor)
            )
        }
        guard status == PluginStatus.ok else {
            throw PluginError.negotiation(plugin: manifest.id, "negotiation failed with \(PluginStatus.name(of: status))")
        }
        guard let initialize = answer.`init` else {
            throw PluginError.negotiation(plugin: manifest.id, "negotiation answered no init function")
        }
        let buildInfo = String(decoding: answer.build_info.array, as: UTF8.self)

        let context = PluginHostContext(pluginID: manifest.id, environment: environment)
        let hostTable = HostServiceTable.make(for: context)
        var table = callgate_plugin_hooks()
        table.struct_size = UInt32(MemoryLayout<callgate_plugin_hooks>.size)
        var pluginContext: UnsafeMutableRawPointer?
        let errorSink = ByteSink()
        let initStatus = errorSink.withWriter { initialize(hostTable, &table, &pluginContext, $0) }
        guard initStatus == PluginStatus.ok else {
            throw PluginError.hookFailed(plugin: manifest.id, hook: "init", status: initStatus, message: errorSink.text)
        }
        // A plugin may declare a smaller table (built against an older header), never a larger one.
        table.struct_size = min(table.struct_size, UInt32(MemoryLayout<callgate_plugin_hooks>.size))
        return LoadedPlugin(
            manifest: manifest,
            abiMajor: Int(answer.major),
            abiMinor: Int(answer.minor),
            buildInfo: buildInfo,
            hooks: LoadedPlugin.Hooks(table: table, plugin: pluginContext),
            context: context,
            marker: marker
        )
    }
}
