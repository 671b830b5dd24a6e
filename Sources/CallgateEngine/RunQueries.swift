import CallgateExpressions
import Foundation
import GRDB

/// A run as lists show it.
public struct RunSummary: Sendable, Codable, Equatable {
    public var id: String
    public var workflow: String
    public var version: Int
    public var status: String
    public var trigger: String
    public var startTime: Date
    public var endTime: Date?
    public var error: ExpressionValue?
}

/// A run with every step, as `run show` prints it. Secure inputs and outputs are redacted.
public struct RunDetail: Sendable, Codable, Equatable {
    /// One action of the run.
    public struct Action: Sendable, Codable, Equatable {
        /// What a waiting step waits for. The callback id is shown, never the signature.
        public struct Waiting: Sendable, Codable, Equatable {
            public var waitingFor: String
            public var since: Date?
            public var deadline: Date?
            public var callbackId: String?
        }

        public var key: String
        public var name: String
        public var type: String
        public var status: String
        public var startTime: Date?
        public var endTime: Date?
        public var attempts: Int?
        public var inputs: ExpressionValue?
        public var outputs: ExpressionValue?
        public var error: ExpressionValue?
        public var waiting: Waiting?
    }

    /// An outbox call of the run (an unsubscribe) and how it went.
    public struct OutboxCall: Sendable, Codable, Equatable {
        public var action: String?
        public var operation: String
        public var status: String
        public var attempts: Int
        public var lastError: String?
        public var completedAt: Date?
    }

    public var run: RunSummary
    public var triggerOutputs: ExpressionValue
    public var variables: [String: ExpressionValue]
    public var outputs: ExpressionValue?
    public var actions: [Action]
    public var outbox: [OutboxCall]
}

/// A page of runs, newest first; `next` is the cursor for the following page.
public struct RunPage: Sendable, Codable, Equatable {
    public var runs: [RunSummary]
    public var next: String?
}

extension WorkflowEngine {
    /// Runs, newest first, optionally of one workflow and one status, `limit` at a time after
    /// the cursor `after` (a run id from the previous page's `next`).
    public func listRuns(workflow: String?, status: RunStatus?, limit: Int, after: String?) async throws -> RunPage {
        let pageSize = max(1, min(limit, 1000))
        let summaries = try await store.read { transaction -> [RunSummary] in
            var conditions: [String] = []
            var arguments: [any DatabaseValueConvertible] = []
            if let workflow {
                conditions.append("workflow = ?")
                arguments.append(workflow)
            }
            if let status {
                conditions.append("status = ?")
                arguments.append(status.rawValue)
            }
            if let after {
                conditions.append("id < ?")
                arguments.append(after)
            }
            let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            let rows = try Row.fetchAll(
                transaction.db, sql: "SELECT * FROM run \(filter) ORDER BY id DESC LIMIT ?",
                arguments: StatementArguments(arguments + [pageSize + 1])
            )
            return rows.map { Self.summary(RunTransaction.runRecord($0)) }
        }
        let page = Array(summaries.prefix(pageSize))
        return RunPage(runs: page, next: summaries.count > pageSize ? page.last?.id : nil)
    }

    /// One run's summary, or nil.
    public func runSummary(_ runID: String) async throws -> RunSummary? {
        try await store.read { try $0.run(runID) }.map(Self.summary)
    }

    /// One run with its actions and outbox calls, or nil.
    public func runDetail(_ runID: String) async throws -> RunDetail? {
        let found = try await store.read { transaction -> (RunRecord, [ActionRecord], [RunDetail.OutboxCall])? in
            guard let run = try transaction.run(runID) else { return nil }
            let actions = try transaction.actions(of: runID).values.sorted {
                ($0.startedAt ?? .distantFuture, $0.key) < ($1.startedAt ?? .distantFuture, $1.key)
            }
            let outbox = try Row.fetchAll(
                transaction.db, sql: "SELECT * FROM run_outbox WHERE run_id = ? ORDER BY id", arguments: [runID]
            ).map { row in
                let completed: Double? = row["completed_at"]
                return RunDetail.OutboxCall(
                    action: row["action_key"], operation: row["operation"], status: row["status"], attempts: row["attempts"],
                    lastError: row["last_error"], completedAt: completed.map { Date(timeIntervalSince1970: $0) }
                )
            }
            return (run, actions, outbox)
        }
        guard let (run, actions, outbox) = found else { return nil }
        let graph = try? await definitions.graph(workflow: run.workflow, version: run.version)
        let views = actions.map { record -> RunDetail.Action in
            let step = graph?.steps[record.name]
            var waiting: RunDetail.Action.Waiting?
            if record.status == .waiting || (record.status == .running && record.state["callbackId"] != nil) {
                waiting = .init(
                    waitingFor: "a callback to \(record.type) '\(record.name)'",
                    since: Self.date(record.state["waitingSince"]) ?? record.startedAt,
                    deadline: Self.date(record.state["deadline"]),
                    callbackId: record.state["callbackId"]?.string
                )
            } else if record.status == .running, let until = Self.date(record.state["until"]) {
                waiting = .init(waitingFor: "the Wait interval", since: record.startedAt, deadline: until, callbackId: nil)
            } else if record.status == .running, let retry = record.state["attempts"], record.type == "Http" {
                waiting = .init(waitingFor: record.state["pollUrl"] != nil ? "the next poll of the operation" : "the next retry (after attempt \(retry.stringValue))", since: record.startedAt, deadline: nil, callbackId: nil)
            }
            var attempts: Int?
            if case .integer(let count)? = record.state["attempts"] { attempts = Int(count) }
            return RunDetail.Action(
                key: record.key, name: record.name, type: record.type, status: record.status.rawValue,
                startTime: record.startedAt, endTime: record.endedAt, attempts: attempts,
                inputs: step?.secureInputs == true && record.inputs != nil ? Redaction.marker : record.inputs,
                outputs: step?.secureOutputs == true && record.outputs != nil ? Redaction.marker : record.outputs,
                error: record.error, waiting: waiting
            )
        }
        return RunDetail(
            run: Self.summary(run), triggerOutputs: run.triggerOutputs, variables: run.variables, outputs: run.outputs,
            actions: views, outbox: outbox
        )
    }

    static func summary(_ run: RunRecord) -> RunSummary {
        RunSummary(
            id: run.id, workflow: run.workflow, version: run.version, status: run.status.rawValue, trigger: run.triggerName,
            startTime: run.createdAt, endTime: run.endedAt, error: run.error
        )
    }

    private static func date(_ value: ExpressionValue?) -> Date? {
        if case .float(let seconds)? = value { return Date(timeIntervalSince1970: seconds) }
        return nil
    }
}
