// Measures what one plugin hook call costs: first the bare C ABI call (function pointer, borrowed
// buffers, result copied through a host writer), then the whole path the gateway takes (hop to
// the plugin's dispatch queue and back to the awaiting task). Usage:
//   callgate-bench-plugin-call PACKAGE_DIR [ITERATIONS]
import CCallgatePlugin
import CallgateCallbacks
import CallgatePluginHost
import CallgateStore
import AsyncHTTPClient
import Foundation
import Logging

@main
enum PluginCallBench {
    static func main() async throws {
        let arguments = CommandLine.arguments
        guard arguments.count >= 2 else {
            print("usage: callgate-bench-plugin-call PACKAGE_DIR [ITERATIONS]")
            return
        }
        let package = arguments[1]
        let iterations = arguments.count > 2 ? Int(arguments[2]) ?? 1_000_000 : 1_000_000
        let payload = Array(repeating: UInt8(ascii: "x"), count: 1024)

        // 1. The bare ABI: dlopen, negotiate, init with an empty host table, call hooks directly.
        let verified = try PluginManager.verify(packageDirectory: package)
        guard let handle = dlopen(verified.libraryPath, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE),
              let symbol = dlsym(handle, "callgate_plugin_negotiate") else { fatalError("cannot load \(verified.libraryPath)") }
        let negotiate = unsafeBitCast(symbol, to: callgate_plugin_negotiate_fn.self)
        var offer = callgate_host_offer()
        offer.struct_size = UInt32(MemoryLayout<callgate_host_offer>.size)
        offer.min_major = 1
        offer.max_major = 1
        var answer = callgate_plugin_answer()
        answer.struct_size = UInt32(MemoryLayout<callgate_plugin_answer>.size)
        guard negotiate(&offer, &answer) == 0, let initialize = answer.`init` else { fatalError("negotiation failed") }
        var host = callgate_host_api()
        host.struct_size = UInt32(MemoryLayout<callgate_host_api>.size)
        var hooks = callgate_plugin_hooks()
        hooks.struct_size = UInt32(MemoryLayout<callgate_plugin_hooks>.size)
        var plugin: UnsafeMutableRawPointer?
        guard initialize(&host, &hooks, &plugin, nil) == 0, let subscribe = hooks.subscribe, let echo = hooks.handle_callback else {
            fatalError("init failed")
        }

        final class Sink { var bytes: [UInt8] = [] }
        let sink = Sink()
        sink.bytes.reserveCapacity(2048)
        var writer = callgate_writer(context: Unmanaged.passUnretained(sink).toOpaque()) { context, pointer, length in
            guard let context, let pointer else { return }
            Unmanaged<Sink>.fromOpaque(context).takeUnretainedValue().bytes.append(contentsOf: UnsafeBufferPointer(start: pointer, count: length))
        }
        let empty = callgate_bytes(ptr: nil, len: 0)
        var clock = ContinuousClock.now
        for _ in 0..<iterations { _ = subscribe(plugin, empty, &writer, &writer) }
        let noop = (ContinuousClock.now - clock) / iterations
        clock = ContinuousClock.now
        payload.withUnsafeBufferPointer { buffer in
            let bytes = callgate_bytes(ptr: buffer.baseAddress, len: buffer.count)
            for _ in 0..<iterations {
                sink.bytes.removeAll(keepingCapacity: true)
                _ = echo(plugin, bytes, empty, &writer, &writer)
            }
        }
        let kib = (ContinuousClock.now - clock) / iterations
        precondition(sink.bytes == payload, "the echo did not round-trip")

        // 2. The gateway's path: LoadedPlugin (plugin dispatch queue + continuation), real host services.
        let directory = NSTemporaryDirectory() + "callgate-bench-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let database = try GatewayDatabase(path: directory + "/callgate.sqlite", logger: logger)
        let keyRing = try await SigningKeyRing(database: database, masterKeyPath: directory + "/master.key")
        let callbacks = CallbackRegistry(database: database, signer: CallbackSigner(keyRing: keyRing), publicBaseURL: "https://bench")
        let manager = try PluginManager(
            directory: directory + "/plugins",
            environment: PluginHostEnvironment(database: database, callbacks: callbacks, httpClient: HTTPClient.shared, logger: logger)
        )
        try await manager.install(packageDirectory: package)
        guard let loaded = manager.plugin(id: verified.manifest.id) else { fatalError("not loaded") }
        let instance = try await loaded.createInstance(configuration: Array("{}".utf8))
        let hostIterations = max(iterations / 20, 1000)
        clock = ContinuousClock.now
        for _ in 0..<hostIterations { _ = try await loaded.subscribe(instance, request: []) }
        let hostNoop = (ContinuousClock.now - clock) / hostIterations
        clock = ContinuousClock.now
        for _ in 0..<hostIterations { _ = try await loaded.handleCallback(instance, request: payload, body: []) }
        let hostKiB = (ContinuousClock.now - clock) / hostIterations

        func nanoseconds(_ duration: Duration) -> String {
            let ns = Double(duration.components.seconds) * 1e9 + Double(duration.components.attoseconds) / 1e9
            return String(format: "%.1f ns", ns)
        }
        print("bare ABI, no-op hook:                \(nanoseconds(noop))   (\(iterations) calls)")
        print("bare ABI, 1 KiB in and 1 KiB out:    \(nanoseconds(kib))   (\(iterations) calls)")
        print("gateway path, no-op hook:            \(nanoseconds(hostNoop))   (\(hostIterations) calls)")
        print("gateway path, 1 KiB in and 1 KiB out: \(nanoseconds(hostKiB))   (\(hostIterations) calls)")
    }
}
