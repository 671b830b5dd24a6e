import CallgateExpressions
import Foundation

/// A run's status. `Waiting` is `Running` with at least one step waiting for a callback.
public enum RunStatus: String, Sendable, Codable, CaseIterable {
    case running = "Running"
    case waiting = "Waiting"
    case succeeded = "Succeeded"
    case failed = "Failed"
    case cancelled = "Cancelled"
    case timedOut = "TimedOut"

    /// True once the run can change no more.
    public var isTerminal: Bool { ![.running, .waiting].contains(self) }
}

/// An action's status in a run. `Queued` means its predecessors are done and it waits for a worker.
public enum ActionStatus: String, Sendable, Codable, CaseIterable {
    case queued = "Queued"
    case running = "Running"
    case waiting = "Waiting"
    case succeeded = "Succeeded"
    case failed = "Failed"
    case skipped = "Skipped"
    case timedOut = "TimedOut"
    case cancelled = "Cancelled"

    /// True once the action can change no more.
    public var isTerminal: Bool { ![.queued, .running, .waiting].contains(self) }
}

/// A run as stored.
public struct RunRecord: Sendable, Equatable {
    public var id: String
    public var workflow: String
    public var version: Int
    public var status: RunStatus
    public var triggerName: String
    public var triggerOutputs: ExpressionValue
    public var variables: [String: ExpressionValue]
    /// The declared type of each variable (`integer`, `string`, …), which SetVariable keeps.
    public var variableTypes: [String: String] = [:]
    public var outputs: ExpressionValue?
    public var error: ExpressionValue?
    /// The `Response` action's reply, for a `Request` trigger waiting synchronously.
    public var response: ExpressionValue?
    public var createdAt: Date
    public var endedAt: Date?
}

/// One action of a run as stored. `key` is the name prefixed by its Foreach iterations.
public struct ActionRecord: Sendable, Equatable {
    public var runID: String
    public var key: String
    public var name: String
    public var type: String
    public var status: ActionStatus
    public var startedAt: Date?
    public var endedAt: Date?
    public var inputs: ExpressionValue?
    public var outputs: ExpressionValue?
    public var error: ExpressionValue?
    /// The engine's private state of the action (attempts, callback, subscription, deadline).
    public var state: [String: ExpressionValue]

    public init(runID: String, key: String, name: String, type: String, status: ActionStatus, state: [String: ExpressionValue] = [:]) {
        self.runID = runID
        self.key = key
        self.name = name
        self.type = type
        self.status = status
        self.state = state
    }
}

/// A unit of work claimed from the store: start an action, or fire one of its timers.
public struct WorkItem: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case start
        case timer
    }

    public var id: Int64
    public var runID: String
    public var kind: Kind
    public var actionKey: String
}

/// A call in the durable outbox (an unsubscribe), retried until it succeeds or its attempts are spent.
public struct OutboxEntry: Sendable, Equatable {
    public var id: Int64
    public var runID: String?
    public var actionKey: String?
    public var workflow: String
    public var stepType: String
    public var operation: String
    /// What the step's handler needs to make the call (evaluated inputs, subscription record).
    public var request: ExpressionValue
    public var attempts: Int
    public var maxAttempts: Int
}

extension ExpressionValue {
    /// Decodes stored JSON text; nil for NULL columns.
    init?(storedJSON text: String?) {
        guard let text, let value = try? ExpressionValue(json: Data(text.utf8)) else { return nil }
        self = value
    }
}
