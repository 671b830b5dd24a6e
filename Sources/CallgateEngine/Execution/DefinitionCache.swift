import CallgateStore
import CallgateWorkflow
import Foundation
import GRDB
import Synchronization

/// Parsed definitions by (workflow, version). Versions never change once deployed, so an entry
/// never goes stale; runs of an old version keep their definition after a redeploy.
final class DefinitionCache: Sendable {
    private let database: GatewayDatabase
    private let parser: @Sendable () async throws -> DefinitionParser
    private let graphs = Mutex<[String: StepGraph]>([:])

    init(database: GatewayDatabase, parser: @escaping @Sendable () async throws -> DefinitionParser) {
        self.database = database
        self.parser = parser
    }

    /// The step graph of a deployed version.
    func graph(workflow: String, version: Int) async throws -> StepGraph {
        let key = "\(workflow)\u{0}\(version)"
        if let graph = graphs.withLock({ $0[key] }) { return graph }
        let text = try await database.read { db in
            try String.fetchOne(db, sql: "SELECT definition FROM workflow_version WHERE workflow = ? AND version = ?", arguments: [workflow, version])
        }
        guard let text else { throw EngineError.notFound("no version \(version) of workflow '\(workflow)'") }
        let definition: WorkflowDefinition
        do {
            definition = try await parser().parse(Data(text.utf8))
        } catch {
            throw EngineError.invalid("version \(version) of workflow '\(workflow)' no longer validates: \(error)")
        }
        let graph = StepGraph(definition: definition)
        graphs.withLock { $0[key] = graph }
        return graph
    }
}

/// `Request` triggers waiting for their run's `Response`: woken when the reply is committed (or
/// the run ended without one).
final class ResponseWaiters: Sendable {
    private let waiters = Mutex<[String: WakeSignal]>([:])

    /// Registers interest before the run is committed, so the reply cannot be missed.
    func register(runID: String) -> WakeSignal {
        let signal = WakeSignal()
        waiters.withLock { $0[runID] = signal }
        return signal
    }

    func remove(runID: String) {
        _ = waiters.withLock { $0.removeValue(forKey: runID) }
    }

    func deliver(runID: String) {
        waiters.withLock { $0[runID] }?.signal()
    }
}

/// An engine operation refused, with what the caller should be told.
public struct EngineError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case notFound
        case conflict
        case invalid
        /// Not now: the caller should try again later (back-pressure).
        case busy
    }

    public let kind: Kind
    public let description: String

    static func notFound(_ message: String) -> EngineError { EngineError(kind: .notFound, description: message) }
    static func conflict(_ message: String) -> EngineError { EngineError(kind: .conflict, description: message) }
    static func invalid(_ message: String) -> EngineError { EngineError(kind: .invalid, description: message) }
    static func busy(_ message: String) -> EngineError { EngineError(kind: .busy, description: message) }
}
