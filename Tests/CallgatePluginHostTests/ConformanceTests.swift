import CallgateCallbacks
import CallgatePluginHost
import CallgateStore
import CallgateTesting
import Foundation
import GRDB
import Testing

/// The conformance scenarios, run against the example plugin written in C, in Swift (ConnectorKit)
/// and in Rust. Every scenario goes through the real loader, the real ABI tables and the real
/// SQLite store.
@Suite struct ConformanceTests {
    struct Loaded {
        let directory: TemporaryDirectory
        let manager: PluginManager
        let environment: PluginHostEnvironment
        let plugin: LoadedPlugin
        let instance: LoadedPlugin.Instance
        let kind: PluginUnderTest
        var id: String { kind.id }
    }

    /// Builds and loads `kind`; nil (with the reason printed) when its toolchain is absent.
    private func load(_ kind: PluginUnderTest) async throws -> Loaded? {
        if let reason = kind.unavailableReason {
            print("skipping the \(kind) leg: \(reason)")
            return nil
        }
        let directory = try TemporaryDirectory()
        let (manager, environment) = try await PluginFixture.makeManager(in: directory)
        try FileManager.default.createDirectory(atPath: directory.path + "/pkg", withIntermediateDirectories: true)
        let library = try kind.build(into: directory.path + "/pkg")
        try await manager.install(packageDirectory: try PluginFixture.package(library: library, id: kind.id))
        let plugin = try #require(manager.plugin(id: kind.id))
        let instance = try await plugin.createInstance(configuration: Array(#"{"mode":"normal"}"#.utf8))
        return Loaded(directory: directory, manager: manager, environment: environment, plugin: plugin, instance: instance, kind: kind)
    }

    private func json(_ bytes: [UInt8]) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    private func state(_ loaded: Loaded, _ key: String) async throws -> String? {
        try await loaded.environment.database.read { db in
            try Data.fetchOne(db, sql: "SELECT value FROM plugin_state WHERE plugin_id = ? AND key = ?", arguments: [loaded.id, Data(key.utf8)])
        }.map { String(decoding: $0, as: UTF8.self) }
    }

    @Test(arguments: PluginUnderTest.allCases)
    func describeAndInstanceLifecycle(kind: PluginUnderTest) async throws {
        guard let loaded = try await load(kind) else { return }
        defer { loaded.directory.remove() }
        let description = try json(try await loaded.plugin.describe())
        #expect(description["id"] as? String == loaded.id)
        let actions = try #require(description["actions"] as? [[String: Any]])
        #expect(actions.first?["type"] as? String == "ExampleAction")
        let record = try await loaded.manager.record(id: loaded.id)
        #expect(record.description?.contains("ExampleTrigger") == true)
        await #expect(throws: PluginError.hookFailed(plugin: "", hook: "", status: 0, message: "")) {
            _ = try await loaded.plugin.createInstance(configuration: Array(#"{"mode":"fail"}"#.utf8))
        }
        do {
            _ = try await loaded.plugin.createInstance(configuration: Array(#"{"mode":"fail"}"#.utf8))
        } catch let error as PluginError {
            #expect(error.description == "plugin \(loaded.id): instance_create failed with INVALID: configuration asked to fail")
            #expect(error.status == PluginStatus.invalid)
        }
        await loaded.plugin.freeInstance(loaded.instance)
    }

    @Test(arguments: PluginUnderTest.allCases)
    func subscribeCallbackUnsubscribeThroughEveryHostService(kind: PluginUnderTest) async throws {
        guard let loaded = try await load(kind) else { return }
        defer { loaded.directory.remove() }
        let subscribed = try await loaded.plugin.subscribe(loaded.instance, request: Array(#"{"subscription":"s1"}"#.utf8))
        #expect(subscribed.status == PluginStatus.ok)
        let output = try json(subscribed.output)
        // mint_callback_url: a URL that verifies and a registration owned by the plugin.
        let callback = try #require(output["callback"] as? [String: Any])
        let url = try #require(callback["url"] as? String)
        let id = try #require(callback["id"] as? String)
        #expect(url.hasPrefix("https://gw.test/cb/\(id)?sv=1&sp=resume&kid=k1"))
        let query = String(url.split(separator: "?")[1])
        try loaded.environment.callbacks.signer.verify(try CallbackURLFields.parse(id: id, query: query))
        let registration = try #require(try await loaded.environment.callbacks.registration(id: id))
        #expect(registration.owner == CallbackOwner(kind: "plugin:\(loaded.id)", step: "s1"))
        // clock_now_ms: the host's clock.
        let now = try #require(output["now"] as? Int)
        #expect(abs(now - Int(Date().timeIntervalSince1970 * 1000)) < 60_000)
        // state_put: the URL is kept in the plugin's state.
        #expect(try await state(loaded, "sub:s1")?.contains(id) == true)

        // handle_callback: state_get, fire_trigger de-duplicated by the body.
        let request = Array(#"{"subscription":"s1","method":"POST"}"#.utf8)
        let first = try json(try await loaded.plugin.handleCallback(loaded.instance, request: request, body: Array("event-1".utf8)).output)
        #expect(first["decision"] as? String == "resume")
        let firstRun = try #require((first["outputs"] as? [String: Any])?["run"] as? [String: Any])
        #expect(firstRun["duplicate"] as? Bool == false)
        #expect((first["reply"] as? [String: Any])?["status"] as? Int == 200)
        let repeated = try json(try await loaded.plugin.handleCallback(loaded.instance, request: request, body: Array("event-1".utf8)).output)
        let repeatedRun = try #require((repeated["outputs"] as? [String: Any])?["run"] as? [String: Any])
        #expect(repeatedRun["duplicate"] as? Bool == true)
        #expect(repeatedRun["runId"] as? String == firstRun["runId"] as? String)
        let other = try json(try await loaded.plugin.handleCallback(loaded.instance, request: request, body: Array("event-2".utf8)).output)
        #expect(((other["outputs"] as? [String: Any])?["run"] as? [String: Any])?["runId"] as? String != firstRun["runId"] as? String)

        // unsubscribe: state_delete; a callback for the old subscription is now an error.
        let unsubscribed = try json(try await loaded.plugin.unsubscribe(loaded.instance, request: Array(#"{"subscription":"s1"}"#.utf8)).output)
        #expect(unsubscribed["unsubscribed"] as? String == "s1")
        #expect(try await state(loaded, "sub:s1") == nil)
        do {
            _ = try await loaded.plugin.handleCallback(loaded.instance, request: request, body: [])
            Issue.record("a callback for a removed subscription succeeded")
        } catch let error as PluginError {
            #expect(error.status == PluginStatus.notFound)
            #expect(error.description == "plugin \(loaded.id): handle_callback failed with NOT_FOUND: unknown subscription")
        }
    }

    @Test(arguments: PluginUnderTest.allCases, [
        ("subscribe", #"{"subscription":"s","fail":"invalid"}"#, PluginStatus.invalid, "subscribe failed with INVALID: asked to fail"),
        ("subscribe", #"{"subscription":"s","fail":"retryable"}"#, PluginStatus.retryable, "subscribe failed with RETRYABLE: asked to fail"),
        ("subscribe", #"{"nothing":"here"}"#, PluginStatus.invalid, "subscribe failed with INVALID: request lacks \"subscription\""),
        ("unsubscribe", #"{"nothing":"here"}"#, PluginStatus.invalid, "unsubscribe failed with INVALID: request lacks \"subscription\""),
        ("handle_callback", #"{"nothing":"here"}"#, PluginStatus.invalid, "handle_callback failed with INVALID: request lacks \"subscription\""),
        ("handle_callback", #"{"subscription":"never"}"#, PluginStatus.notFound, "handle_callback failed with NOT_FOUND: unknown subscription"),
    ])
    func errorsFromHooksArriveWithTheirStatusAndMessage(
        kind: PluginUnderTest, scenario: (hook: String, request: String, status: Int32, message: String)
    ) async throws {
        guard let loaded = try await load(kind) else { return }
        defer { loaded.directory.remove() }
        let request = Array(scenario.request.utf8)
        do {
            switch scenario.hook {
            case "subscribe": _ = try await loaded.plugin.subscribe(loaded.instance, request: request)
            case "unsubscribe": _ = try await loaded.plugin.unsubscribe(loaded.instance, request: request)
            default: _ = try await loaded.plugin.handleCallback(loaded.instance, request: request, body: [])
            }
            Issue.record("\(scenario.hook) succeeded")
        } catch let error as PluginError {
            #expect(error.status == scenario.status)
            #expect(error.description == "plugin \(loaded.id): \(scenario.message)")
        }
    }

    /// Starts an HTTP call through the plugin and waits for its completion to be recorded.
    private func httpOperation(_ loaded: Loaded, url: String, extra: String = "") async throws -> (status: Int, outputs: String, deliveries: String?) {
        let result = try await loaded.plugin.subscribe(
            loaded.instance, request: Array(#"{"subscription":"h","http":"\#(url)"\#(extra)}"#.utf8)
        )
        #expect(result.status == PluginStatus.pending)
        let requestID = try #require(try json(result.output)["requestId"] as? Int)
        for _ in 0..<200 {
            let row = try await loaded.environment.database.read { db in
                try Row.fetchOne(db, sql: "SELECT status, outputs FROM plugin_operation_result WHERE operation_id = ?", arguments: ["http-\(requestID)"])
                    .map { (Int($0["status"] as Int64), String(decoding: $0["outputs"] as Data, as: UTF8.self)) }
            }
            if let row {
                // Give a second delivery, if there were one, the time to land before counting.
                try await Task.sleep(for: .milliseconds(300))
                return (row.0, row.1, try await state(loaded, "completions:\(requestID)"))
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw FixtureError("no completion for request \(requestID)")
    }

    @Test(arguments: PluginUnderTest.allCases)
    func outboundHTTPCompletesExactlyOnceForSuccessErrorTimeoutCancelAndDenial(kind: PluginUnderTest) async throws {
        guard let loaded = try await load(kind) else { return }
        defer { loaded.directory.remove() }
        let server = try await LocalHTTPServer.start()

        let success = try await httpOperation(loaded, url: "http://127.0.0.1:\(server.port)/ok")
        #expect(success.status == Int(PluginStatus.ok))
        #expect(success.outputs.contains(#""status":200"#))
        #expect(success.outputs.contains(#""bodyLength":5"#))
        #expect(success.deliveries == "1")

        let timeout = try await httpOperation(loaded, url: "http://127.0.0.1:\(server.port)/slow", extra: #","timeoutMs":"300""#)
        #expect(timeout.status == Int(PluginStatus.timeout))
        #expect(timeout.deliveries == "1")

        let cancelled = try await httpOperation(loaded, url: "http://127.0.0.1:\(server.port)/slow", extra: #","cancel":"yes""#)
        #expect(cancelled.status == Int(PluginStatus.cancelled))
        #expect(cancelled.deliveries == "1")

        await server.stop()
        let refused = try await httpOperation(loaded, url: "http://127.0.0.1:\(server.port)/ok")
        #expect(refused.status == Int(PluginStatus.retryable))
        #expect(refused.deliveries == "1")

        let denied = try await httpOperation(loaded, url: "http://169.254.169.254/latest/meta-data")
        #expect(denied.status == Int(PluginStatus.denied))
        #expect(denied.outputs.contains("link-local"))
        #expect(denied.deliveries == "1")
    }

    @Test(arguments: PluginUnderTest.allCases)
    func manyConcurrentCallsThatReenterTheHostDoNotDeadlock(kind: PluginUnderTest) async throws {
        guard let loaded = try await load(kind) else { return }
        defer { loaded.directory.remove() }
        // Each subscribe calls log, clock, mint (a store write) and state_put from inside the hook,
        // while 64 callers wait: none of them may hold a cooperative thread.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<64 {
                group.addTask {
                    let result = try await loaded.plugin.subscribe(loaded.instance, request: Array(#"{"subscription":"c\#(index)"}"#.utf8))
                    #expect(result.status == PluginStatus.ok)
                }
            }
            try await group.waitForAll()
        }
        let keys = try await loaded.environment.database.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM plugin_state WHERE plugin_id = ? AND CAST(key AS TEXT) LIKE 'sub:c%'", arguments: [loaded.id])
        }
        #expect(keys == 64)
    }

    @Test(arguments: PluginUnderTest.allCases)
    func installedPluginsReloadAfterARestartAndRemoveDeletesThem(kind: PluginUnderTest) async throws {
        guard let loaded = try await load(kind) else { return }
        defer { loaded.directory.remove() }
        _ = try await loaded.plugin.subscribe(loaded.instance, request: Array(#"{"subscription":"keep"}"#.utf8))
        await loaded.manager.shutdownAll()

        // A second manager on the same data: the plugin loads from its private copy.
        let (second, _) = try await PluginFixture.makeManager(in: loaded.directory)
        try await second.loadInstalled()
        let record = try await second.record(id: loaded.id)
        #expect(record.state == "loaded")
        #expect(try await second.list().map(\.id) == [loaded.id])
        try await second.remove(id: loaded.id)
        #expect(try await second.list().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: loaded.directory.path + "/data/plugins/\(loaded.id)"))
        await #expect(throws: PluginError.notInstalled(loaded.id)) { try await second.remove(id: loaded.id) }
    }
}
