import CCallgatePlugin
import CallgatePluginBuffers
import Dispatch
import Foundation
import Synchronization

/// A plugin whose library is loaded, negotiated and initialised. Its hooks run on a dispatch
/// queue of its own, one at a time unless the plugin declared itself concurrent: never on Swift's
/// cooperative pool, where a plugin that blocks would stall the gateway.
public final class LoadedPlugin: Sendable {
    /// The manifest the plugin was installed with.
    public let manifest: PluginManifest
    /// The ABI version the plugin answered in negotiation (it wins over the manifest's).
    public let abiMajor: Int
    public let abiMinor: Int
    /// The plugin's build information string.
    public let buildInfo: String
    /// True when the plugin allows concurrent hook calls.
    public let isConcurrent: Bool

    private let hooks: Hooks
    private let queue: DispatchQueue
    private let marker: InFlightMarker
    let context: PluginHostContext

    /// The C hook table and the plugin's context pointer. Function pointers and the opaque
    /// context are immutable after init and safe to call from the plugin's queue.
    struct Hooks: @unchecked Sendable {
        let table: callgate_plugin_hooks
        let plugin: UnsafeMutableRawPointer?

        /// True when `slot` lies inside the size the plugin declared.
        func has<T>(_ slot: KeyPath<callgate_plugin_hooks, T?>) -> Bool {
            guard let offset = MemoryLayout<callgate_plugin_hooks>.offset(of: slot) else { return false }
            return offset + MemoryLayout<T?>.size <= Int(table.struct_size) && table[keyPath: slot] != nil
        }
    }

    init(
        manifest: PluginManifest, abiMajor: Int, abiMinor: Int, buildInfo: String,
        hooks: Hooks, context: PluginHostContext, marker: InFlightMarker
    ) {
        self.manifest = manifest
        self.abiMajor = abiMajor
        self.abiMinor = abiMinor
        self.buildInfo = buildInfo
        self.hooks = hooks
        self.context = context
        self.marker = marker
        self.isConcurrent = hooks.table.flags & UInt32(CALLGATE_PLUGIN_FLAG_CONCURRENT) != 0
        self.queue = DispatchQueue(label: "callgate.plugin.\(manifest.id)", attributes: isConcurrent ? [.concurrent] : [])
        let hooksCopy = hooks
        let queue = self.queue
        let marker = self.marker
        // HTTP completions arrive from the client's tasks and go to the plugin on its own queue.
        context.completionSink.withLock { sink in
            sink = { completion in
                queue.async {
                    guard hooksCopy.has(\.http_completed), let hook = hooksCopy.table.http_completed else { return }
                    marker.enter()
                    defer { marker.leave() }
                    withBorrowedBytes(completion.response) { response in
                        withBorrowedBytes(completion.body) { body in
                            hook(hooksCopy.plugin, completion.requestID, completion.status, response, body)
                        }
                    }
                }
            }
        }
    }

    /// The plugin's id.
    public var id: String { manifest.id }

    /// The result of a hook that answered OK or PENDING.
    public struct HookResult: Sendable, Equatable {
        /// `PluginStatus.ok` or `PluginStatus.pending`.
        public let status: Int32
        /// What the hook wrote to its result writer.
        public let output: [UInt8]
    }

    /// An instance created by `instance_create`. Free it with ``freeInstance(_:)``.
    public struct Instance: @unchecked Sendable {
        // The plugin's opaque pointer; only ever passed back to the plugin on its queue.
        let pointer: UnsafeMutableRawPointer?
    }

    /// `describe`: the plugin's JSON description.
    public func describe() async throws -> [UInt8] {
        try await call("describe", \.describe) { hook, hooks, output, error in
            _ = error
            return hook(hooks.plugin, output)
        }.output
    }

    /// `instance_create` with a JSON configuration.
    public func createInstance(configuration: [UInt8]) async throws -> Instance {
        let box = InstanceBox()
        _ = try await call("instance_create", \.instance_create) { hook, hooks, _, error in
            withBorrowedBytes(configuration) { config in
                var pointer: UnsafeMutableRawPointer?
                let status = hook(hooks.plugin, config, &pointer, error)
                box.pointer = pointer
                return status
            }
        }
        return Instance(pointer: box.pointer)
    }

    /// `instance_free`.
    public func freeInstance(_ instance: Instance) async {
        await run {
            guard self.hooks.has(\.instance_free), let hook = self.hooks.table.instance_free else { return }
            hook(self.hooks.plugin, instance.pointer)
        }
    }

    /// `subscribe` with a JSON request.
    public func subscribe(_ instance: Instance, request: [UInt8]) async throws -> HookResult {
        try await call("subscribe", \.subscribe) { hook, _, output, error in
            withBorrowedBytes(request) { hook(instance.pointer, $0, output, error) }
        }
    }

    /// `unsubscribe` with a JSON request.
    public func unsubscribe(_ instance: Instance, request: [UInt8]) async throws -> HookResult {
        try await call("unsubscribe", \.unsubscribe) { hook, _, output, error in
            withBorrowedBytes(request) { hook(instance.pointer, $0, output, error) }
        }
    }

    /// `handle_callback` with the request metadata (JSON) and the raw body.
    public func handleCallback(_ instance: Instance, request: [UInt8], body: [UInt8]) async throws -> HookResult {
        try await call("handle_callback", \.handle_callback) { hook, _, output, error in
            withBorrowedBytes(request) { requestBytes in
                withBorrowedBytes(body) { bodyBytes in hook(instance.pointer, requestBytes, bodyBytes, output, error) }
            }
        }
    }

    /// `handle_request` (ABI 1.3): a request to the plugin's own routes, with its metadata (JSON)
    /// and raw body. A plugin without the hook answers `PluginError` with status unsupported.
    public func handleRequest(_ instance: Instance, request: [UInt8], body: [UInt8]) async throws -> HookResult {
        try await call("handle_request", \.handle_request) { hook, _, output, error in
            withBorrowedBytes(request) { requestBytes in
                withBorrowedBytes(body) { bodyBytes in hook(instance.pointer, requestBytes, bodyBytes, output, error) }
            }
        }
    }

    /// `shutdown`: the last hook. The library stays loaded.
    public func shutdown() async {
        await run {
            guard self.hooks.has(\.shutdown), let hook = self.hooks.table.shutdown else { return }
            hook(self.hooks.plugin)
        }
    }

    // MARK: calling hooks

    private final class InstanceBox: @unchecked Sendable {
        // Written by the hook on the plugin's queue, read after the call returned.
        var pointer: UnsafeMutableRawPointer?
    }

    private final class Outcome: @unchecked Sendable {
        // Written on the plugin's queue, read after the continuation resumed.
        var status: Int32 = PluginStatus.internalError
        var output: [UInt8] = []
        var error: [UInt8] = []
    }

    /// Runs `body` on the plugin's queue and waits without holding a cooperative thread.
    private func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            queue.async {
                self.marker.enter()
                let value = body()
                self.marker.leave()
                continuation.resume(returning: value)
            }
        }
    }

    /// Calls one hook with result and error writers; an absent hook is UNSUPPORTED, an error
    /// status becomes ``PluginError/hookFailed(plugin:hook:status:message:)``.
    private func call<Hook>(
        _ name: String,
        _ slot: KeyPath<callgate_plugin_hooks, Hook?>,
        _ invoke: @escaping @Sendable (Hook, Hooks, UnsafePointer<callgate_writer>, UnsafePointer<callgate_writer>) -> Int32
    ) async throws -> HookResult {
        let hooks = self.hooks
        guard hooks.has(slot), let hook = hooks.table[keyPath: slot] else {
            throw PluginError.hookFailed(plugin: id, hook: name, status: PluginStatus.unsupported, message: "the plugin does not implement \(name)")
        }
        let sendableHook = UncheckedSendable(hook)
        let outcome = await run { () -> Outcome in
            let outcome = Outcome()
            let output = ByteSink()
            let error = ByteSink()
            outcome.status = output.withWriter { outputWriter in
                error.withWriter { errorWriter in invoke(sendableHook.value, hooks, outputWriter, errorWriter) }
            }
            outcome.output = output.bytes
            outcome.error = error.bytes
            return outcome
        }
        guard outcome.status == PluginStatus.ok || outcome.status == PluginStatus.pending else {
            throw PluginError.hookFailed(plugin: id, hook: name, status: outcome.status, message: String(decoding: outcome.error, as: UTF8.self))
        }
        return HookResult(status: outcome.status, output: outcome.output)
    }
}

/// Carries a C function pointer to the plugin's queue.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
