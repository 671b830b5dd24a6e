import CallgateEngine
import CallgateStore
import CallgateTesting
import Foundation
import Logging
import Testing

@Suite struct RunStoreTests {
    /// A worker may still hold an item that a run's end already deleted; the id it later deletes
    /// must not have been given to newer work (the HttpWebhook benchmark lost runs this way when
    /// callbacks arrived before the subscribe was recorded).
    @Test func workItemIdsAreNeverReused() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = RunStore(database: try GatewayDatabase(path: directory.path + "/callgate.sqlite", logger: Logger(label: "test")))
        try await store.transition { transaction in
            try transaction.schedule(.start, runID: "a", actionKey: "First")
            try transaction.schedule(.start, runID: "b", actionKey: "First")
        }
        let held = try await store.claimWork(limit: 2)
        #expect(held.count == 2)
        let newest = try #require(held.max { $0.id < $1.id })
        try await store.transition { try $0.removeWork(ofRun: newest.runID) }
        try await store.transition { try $0.schedule(.start, runID: "c", actionKey: "First") }
        let fresh = try #require(try await store.claimWork(limit: 1).first)
        #expect(fresh.runID == "c")
        #expect(fresh.id > newest.id)
        // The late removal by the worker holding the deleted item leaves the new one alone.
        try await store.transition { try $0.removeWork(newest.id) }
        try await store.transition { try $0.removeWork(held.min { $0.id < $1.id }?.id ?? 0) }
        try await store.release(fresh)
        #expect(try await store.claimWork(limit: 5).map(\.runID) == ["c"])
    }
}
