import ApprovalEmailConnector
import CallgatePluginHost
import EventHubConnector
import ExampleSwiftConnector
import HTTPWebhookConnector

/// The plugins linked into the `callgate` binary and started by `serve` at every start-up.
public enum BundledPlugins {
    public static let all: [BundledPlugin] = [
        BundledPlugin(id: "example-swift", version: "1.0.0", operations: ["ExampleTrigger", "ExampleAction"]) { offer, answer in
            exampleSwiftNegotiate(OpaquePointer(offer), OpaquePointer(answer))
        },
        BundledPlugin(id: "http-webhook", version: "1.0.0", operations: ["HttpWebhook"]) { offer, answer in
            httpWebhookNegotiate(OpaquePointer(offer), OpaquePointer(answer))
        },
        BundledPlugin(id: "approval-email", version: "1.0.0", operations: ["SendApprovalEmail"]) { offer, answer in
            approvalEmailNegotiate(OpaquePointer(offer), OpaquePointer(answer))
        },
        BundledPlugin(id: "event-hub", version: "1.0.0", operations: ["OnEvents", "SendEvent"]) { offer, answer in
            eventHubNegotiate(OpaquePointer(offer), OpaquePointer(answer))
        },
    ]
}
