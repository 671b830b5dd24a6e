import CallgatePluginHost
import ExampleSwiftConnector

/// The plugins linked into the `callgate` binary and started by `serve` at every start-up.
enum BundledPlugins {
    static let all: [BundledPlugin] = [
        BundledPlugin(id: "example-swift", version: "1.0.0", operations: ["ExampleTrigger", "ExampleAction"]) { offer, answer in
            exampleSwiftNegotiate(OpaquePointer(offer), OpaquePointer(answer))
        },
    ]
}
