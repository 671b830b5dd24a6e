// swift-tools-version: 6.2
import PackageDescription

// One strictness block for every target, as Hummingbird and swift-log do.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "callgate",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "callgate", targets: ["callgate"]),
        .library(name: "CallgateServer", targets: ["CallgateServer"]),
        .library(name: "ConnectorKit", targets: ["ConnectorKit"]),
        .executable(name: "callgate-bench-plugin-call", targets: ["PluginCallBench"]),
        .executable(name: "callgate-bench-store", targets: ["StoreBench"]),
        .executable(name: "callgate-test-gateway", targets: ["CallgateTestGateway"]),
        // The Swift example plugin, as a shared library a gateway loads.
        .library(name: "CallgateExampleSwift", type: .dynamic, targets: ["ExampleSwiftPlugin"]),
        // The HTTP-Webhook connector, as a shared library a gateway loads (it is also bundled).
        .library(name: "CallgateHTTPWebhook", type: .dynamic, targets: ["HTTPWebhookPlugin"]),
        // The approval-email connector, as a shared library a gateway loads (it is also bundled).
        .library(name: "CallgateApprovalEmail", type: .dynamic, targets: ["ApprovalEmailPlugin"]),
        // The event-hub connector, as a shared library a gateway loads (it is also bundled).
        .library(name: "CallgateEventHub", type: .dynamic, targets: ["EventHubPlugin"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
    ],
    targets: [
        // Store: the SQLite database, its migrations and the group-commit writer.
        .target(
            name: "CallgateStore",
            dependencies: [
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // Callbacks: signing keys, minting and verifying signed callback URLs, the owner registry.
        .target(
            name: "CallgateCallbacks",
            dependencies: [
                "CallgateStore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strictSettings
        ),
        // Outbound: where the gateway may call (egress policy) and how it authenticates (Basic,
        // Raw, client certificates, OAuth2 client credentials), shared by the engine and plugin host.
        .target(
            name: "CallgateOutbound",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strictSettings
        ),
        // Mail: RFC 5322/2045 messages and the text side of SMTP, for the approval connector.
        .target(
            name: "CallgateMail",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strictSettings
        ),
        // The plugin ABI: one C header, the contract with every plugin.
        .target(
            name: "CCallgatePlugin",
            path: "Sources/CCallgatePlugin"
        ),
        // The byte buffers and writers of the ABI, shared by the host and ConnectorKit.
        .target(
            name: "CallgatePluginBuffers",
            dependencies: ["CCallgatePlugin"],
            swiftSettings: strictSettings
        ),
        // Plugin host: verify, load and negotiate plugins; host services; calling hooks off the pool.
        .target(
            name: "CallgatePluginHost",
            dependencies: [
                "CCallgatePlugin",
                "CallgatePluginBuffers",
                "CallgateStore",
                "CallgateCallbacks",
                "CallgateOutbound",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // ConnectorKit: the Swift SDK for plugins (a protocol and one exported entry point).
        .target(
            name: "ConnectorKit",
            dependencies: ["CCallgatePlugin", "CallgatePluginBuffers"],
            swiftSettings: strictSettings
        ),
        // The Swift example plugin: its connector (bundled into the gateway), and the one-file
        // export that makes it a shared library of its own.
        .target(
            name: "ExampleSwiftConnector",
            dependencies: ["ConnectorKit"],
            path: "Plugins/ExampleSwift/Connector",
            swiftSettings: strictSettings
        ),
        .target(
            name: "ExampleSwiftPlugin",
            dependencies: ["ExampleSwiftConnector"],
            path: "Plugins/ExampleSwift/Export",
            swiftSettings: strictSettings
        ),
        // The HTTP-Webhook connector (HttpWebhook action): its connector, bundled into the gateway,
        // and the export that makes it a shared library of its own.
        .target(
            name: "HTTPWebhookConnector",
            dependencies: ["ConnectorKit"],
            path: "Plugins/HTTPWebhook/Connector",
            swiftSettings: strictSettings
        ),
        .target(
            name: "HTTPWebhookPlugin",
            dependencies: ["HTTPWebhookConnector"],
            path: "Plugins/HTTPWebhook/Export",
            swiftSettings: strictSettings
        ),
        // The approval-email connector (SendApprovalEmail action): mails over SMTP or to the
        // outbox, confirmation pages from Mustache templates; and its shared-library export.
        .target(
            name: "ApprovalEmailConnector",
            dependencies: [
                "ConnectorKit",
                "CallgateMail",
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Plugins/ApprovalEmail/Connector",
            swiftSettings: strictSettings
        ),
        .target(
            name: "ApprovalEmailPlugin",
            dependencies: ["ApprovalEmailConnector"],
            path: "Plugins/ApprovalEmail/Export",
            swiftSettings: strictSettings
        ),
        // The event-hub connector (hubs, ingest with shared-access signatures, OnEvents, SendEvent)
        // with its own SQLite database; and its shared-library export.
        .target(
            name: "EventHubConnector",
            dependencies: [
                "ConnectorKit",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            path: "Plugins/EventHub/Connector",
            swiftSettings: strictSettings
        ),
        .target(
            name: "EventHubPlugin",
            dependencies: ["EventHubConnector"],
            path: "Plugins/EventHub/Export",
            swiftSettings: strictSettings
        ),
        // Expressions: the workflow expression language (parser, templates, evaluator, functions).
        .target(
            name: "CallgateExpressions",
            swiftSettings: strictSettings
        ),
        // Workflow: Logic Apps definitions, deploy-time validation, deployed versions.
        .target(
            name: "CallgateWorkflow",
            dependencies: ["CallgateExpressions", "CallgateStore", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strictSettings
        ),
        // Engine: durable runs — the scheduler, built-in actions, waiting steps, the outbox.
        .target(
            name: "CallgateEngine",
            dependencies: [
                "CallgateWorkflow",
                "CallgateExpressions",
                "CallgateStore",
                "CallgateCallbacks",
                "CallgateOutbound",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        // Server: configuration, TLS, limits, routes (health, metrics, callbacks, admin API).
        .target(
            name: "CallgateServer",
            dependencies: [
                "CallgateStore",
                "CallgateWorkflow",
                "CallgateEngine",
                "CallgateExpressions",
                "CallgateCallbacks",
                "CallgateOutbound",
                "CallgatePluginHost",
                "CallgateMail",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strictSettings
        ),
        // CLI: the `callgate` commands and the admin API client.
        .target(
            name: "CallgateCLI",
            dependencies: [
                "CallgateServer",
                "CallgateEngine",
                "CallgateExpressions",
                "CallgatePluginHost",
                "ExampleSwiftConnector",
                "HTTPWebhookConnector",
                "ApprovalEmailConnector",
                "EventHubConnector",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // Test support shared by the test targets: temporary directories, waiting helpers.
        .target(
            name: "CallgateTesting",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strictSettings
        ),
        // The plugin-free waiting step the engine is tested with, and a gateway executable that
        // offers it (the crash test kills that process).
        .target(
            name: "CallgateTestSteps",
            dependencies: [
                "CallgateEngine",
                "CallgateWorkflow",
                "CallgateExpressions",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Tests/Support/TestSteps",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "CallgateTestGateway",
            dependencies: ["CallgateCLI", "CallgateTestSteps"],
            path: "Tests/Support/TestGateway",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "callgate",
            dependencies: ["CallgateCLI"],
            swiftSettings: strictSettings
        ),
        // Benchmarks (bench/*.sh builds them in release and records results in bench/RESULTS.md).
        .executableTarget(
            name: "PluginCallBench",
            dependencies: [
                "CCallgatePlugin",
                "CallgatePluginHost",
                "CallgateCallbacks",
                "CallgateStore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "bench/PluginCallBench",
            exclude: ["bench_plugin.c"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "StoreBench",
            dependencies: ["CallgateStore", .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Logging", package: "swift-log")],
            path: "bench/StoreBench",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "CallgateCallbacksTests",
            dependencies: ["CallgateCallbacks", "CallgateStore", "CallgateTesting"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "CallgateExpressionsTests",
            dependencies: ["CallgateExpressions"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "CallgateWorkflowTests",
            dependencies: ["CallgateWorkflow", "CallgateExpressions"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "CallgateMailTests",
            dependencies: ["CallgateMail", "CallgateTesting", .product(name: "NIOSSL", package: "swift-nio-ssl")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "CallgateStoreTests",
            dependencies: ["CallgateStore", "CallgateTesting", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "CallgatePluginHostTests",
            dependencies: [
                "CallgatePluginHost",
                "CallgateOutbound",
                "CallgateCallbacks",
                "CallgateStore",
                "CallgateTesting",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            exclude: ["abi-1.0", "abi-layout.golden"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "CallgateServerTests",
            dependencies: [
                "CallgateServer",
                "CallgatePluginHost",
                "CallgateTestSteps",
                "CallgateEngine",
                "CallgateExpressions",
                "CallgateCLI",
                "CallgateCallbacks",
                "CallgateStore",
                "CallgateTesting",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strictSettings
        ),
    ]
)
