import CallgateExpressions
import CallgateWorkflow
import Foundation

/// What a committed transition asks of the process once COMMIT has happened.
enum TransitionEffect: Sendable, Equatable {
    /// Work was queued: wake the workers.
    case workQueued
    /// Outbox calls were queued: wake the outbox.
    case outboxQueued
    /// The run's `Response` action stored its reply.
    case responseReady(runID: String)
    /// The run ended.
    case runEnded(runID: String)
}

/// One run being changed inside one transaction: the scheduler. Every step transition — an
/// action ending, a branch completing, a Foreach moving to its next item, the run ending — is
/// made here, so "commit the step's result and schedule its continuation" is always one
/// transaction.
struct RunMutation {
    let transaction: RunTransaction
    let graph: StepGraph
    let callbackSteps: CallbackStepRegistry
    /// Signs a waiting step's callback URL from its id. URLs are signed when needed, never
    /// stored: a copy of the database cannot call them.
    let callbackURL: @Sendable (String) -> String?
    var run: RunRecord
    var actions: [String: ActionRecord]
    private(set) var effects: [TransitionEffect] = []

    init(
        transaction: RunTransaction, graph: StepGraph, callbackSteps: CallbackStepRegistry,
        callbackURL: @escaping @Sendable (String) -> String?, run: RunRecord
    ) throws {
        self.transaction = transaction
        self.graph = graph
        self.callbackSteps = callbackSteps
        self.callbackURL = callbackURL
        self.run = run
        self.actions = try transaction.actions(of: run.id)
    }

    var now: Date { transaction.now }

    /// The expression context of an action of this run.
    func context(for key: String) -> RunExpressionContext {
        RunExpressionContext(run: run, actions: actions, graph: graph, actionKey: key, now: now)
    }

    // MARK: Saving

    /// Saves an action record (and keeps the in-memory view in step).
    mutating func save(_ record: ActionRecord) throws {
        actions[record.key] = record
        try transaction.save(record)
    }

    /// Saves the run, deriving Waiting/Running from its actions while it is not over.
    mutating func saveRun() throws {
        if !run.status.isTerminal {
            run.status = actions.values.contains { $0.status == .waiting } ? .waiting : .running
        }
        try transaction.update(run)
    }

    /// Records that work or a timer was scheduled directly through the transaction.
    mutating func noteWorkQueued() {
        effects.append(.workQueued)
    }

    /// Records that the run's `Response` reply was stored.
    mutating func noteResponse() {
        effects.append(.responseReady(runID: run.id))
    }

    // MARK: Starting

    /// Queues the top-level actions that run first; a workflow without actions ends at once.
    mutating func startRun() throws {
        try startBranch(containerKey: nil, branch: .actions, prefix: "")
        try saveRun()
    }

    /// Queues an action for a worker.
    mutating func queue(key: String) throws {
        let name = StepGraph.name(ofKey: key)
        guard !run.status.isTerminal, actions[key] == nil, let step = graph.steps[name] else { return }
        try save(ActionRecord(runID: run.id, key: key, name: name, type: step.type, status: .queued))
        try transaction.schedule(.start, runID: run.id, actionKey: key)
        effects.append(.workQueued)
    }

    /// Queues the actions of a branch that have no `runAfter`; an empty branch completes its
    /// container at once.
    mutating func startBranch(containerKey: String?, branch: StepGraph.Branch, prefix: String) throws {
        let members = graph.members(of: containerKey.map(StepGraph.name(ofKey:)), branch: branch)
        if members.isEmpty {
            try branchCompleted(containerKey: containerKey, prefix: prefix, members: [])
            return
        }
        for step in members where step.runAfter.isEmpty {
            try queue(key: prefix + step.name)
        }
    }

    // MARK: Ending actions

    /// Ends an action and schedules what follows it.
    mutating func finish(key: String, status: ActionStatus, outputs: ExpressionValue? = nil, error: ExpressionValue? = nil) throws {
        guard var record = actions[key], !record.status.isTerminal else { return }
        record.status = status
        if record.startedAt == nil { record.startedAt = now }
        record.endedAt = now
        if let outputs { record.outputs = outputs }
        if let error { record.error = error }
        try save(record)
        try propagate(from: key)
    }

    /// Runs, skips or waits on the successors of a finished action, then checks its branch.
    private mutating func propagate(from key: String) throws {
        let name = StepGraph.name(ofKey: key)
        let prefix = StepGraph.prefix(ofKey: key)
        for successor in graph.successors[name] ?? [] {
            let successorKey = prefix + successor
            guard actions[successorKey] == nil, let step = graph.steps[successor] else { continue }
            var ready = true
            var allowed = true
            for (predecessor, statuses) in step.runAfter {
                guard let record = actions[prefix + predecessor], record.status.isTerminal else {
                    ready = false
                    break
                }
                let accepted = statuses.isEmpty ? [.succeeded] : statuses
                if !accepted.contains(where: { $0.rawValue == record.status.rawValue }) { allowed = false }
            }
            guard ready else { continue }
            if allowed {
                try queue(key: successorKey)
            } else {
                var skipped = ActionRecord(runID: run.id, key: successorKey, name: successor, type: step.type, status: .skipped)
                skipped.startedAt = now
                skipped.endedAt = now
                skipped.error = .object(["code": "ActionConditionFailed", "message": .string("the runAfter conditions of '\(successor)' were not met")])
                try save(skipped)
                try propagate(from: successorKey)
            }
        }
        let container = graph.container(ofKey: key)
        let members = graph.members(of: container.map { StepGraph.name(ofKey: $0.key) }, branch: graph.placement[name]?.branch ?? .actions)
        try branchCompleted(containerKey: container?.key, prefix: prefix, members: members)
    }

    /// When every action of a branch has ended: completes its container (or the run), or moves
    /// a Foreach to its next item.
    private mutating func branchCompleted(containerKey: String?, prefix: String, members: [WorkflowDefinition.Step]) throws {
        let records = members.map { actions[prefix + $0.name] }
        guard records.allSatisfy({ $0?.status.isTerminal == true }) else { return }
        let failed = Self.unhandledFailure(members.compactMap { actions[prefix + $0.name] }, graph: graph)
        guard let containerKey else {
            guard !run.status.isTerminal else { return }
            try endRun(
                status: failed ? .failed : .succeeded,
                error: failed ? .object(["code": "ActionFailed", "message": "An action failed. No dependent actions succeeded."]) : nil
            )
            return
        }
        guard var container = actions[containerKey], !container.status.isTerminal else { return }
        if container.type == "Foreach" {
            guard case .array(let items)? = container.state["items"], case .integer(let index)? = container.state["index"],
                  prefix == graph.memberPrefix(containerKey: containerKey, iteration: Int(index))
            else { return }
            if failed { container.state["failedIterations"] = .integer((container.state["failedIterations"].flatMap { if case .integer(let n) = $0 { n } else { nil } } ?? 0) + 1) }
            let next = Int(index) + 1
            if next < items.count {
                container.state["index"] = .integer(Int64(next))
                try save(container)
                try startBranch(containerKey: containerKey, branch: .actions, prefix: graph.memberPrefix(containerKey: containerKey, iteration: next))
                return
            }
            try save(container)
            let anyFailed = container.state["failedIterations"] != nil
            try finish(key: containerKey, status: anyFailed ? .failed : .succeeded,
                       error: anyFailed ? .object(["code": "ActionFailed", "message": "An action failed in at least one iteration."]) : nil)
            return
        }
        try finish(key: containerKey, status: failed ? .failed : .succeeded,
                   error: failed ? .object(["code": "ActionFailed", "message": "An action failed. No dependent actions succeeded."]) : nil)
    }

    /// A branch failed when one of its actions failed (or timed out, or was cancelled) and no
    /// sibling ran after it to handle that.
    static func unhandledFailure(_ records: [ActionRecord], graph: StepGraph) -> Bool {
        let byName = Dictionary(records.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for record in records where [.failed, .timedOut, .cancelled].contains(record.status) {
            let handled = (graph.successors[record.name] ?? []).contains { successor in
                guard let next = byName[successor], next.status != .skipped else { return false }
                return true
            }
            if !handled { return true }
        }
        return false
    }

    // MARK: Ending the run

    /// Ends the run: every unfinished action is cancelled (waiting steps unsubscribed, their URLs
    /// closed), and pending work and timers are dropped. URLs of steps a callback resumed stay
    /// open so that a repeat of that call is still told `already-resumed`; anything else gets 410.
    mutating func endRun(status: RunStatus, error: ExpressionValue?) throws {
        guard !run.status.isTerminal else { return }
        for key in actions.keys.sorted() {
            guard var record = actions[key], !record.status.isTerminal else { continue }
            try unsubscribeIfSubscribed(&record)
            record.status = .cancelled
            record.endedAt = now
            try save(record)
        }
        try transaction.removeWork(ofRun: run.id)
        run.status = status
        run.error = error
        run.endedAt = now
        run.outputs = evaluateOutputs()
        try saveRun()
        effects.append(.runEnded(runID: run.id))
    }

    /// The definition's `outputs`, each `{"type", "value"}` evaluated; an output that fails to
    /// evaluate records its error instead.
    private func evaluateOutputs() -> ExpressionValue? {
        guard case .object(let declared) = graph.definition.outputs, !declared.isEmpty else { return nil }
        var result: [String: ExpressionValue] = [:]
        let context = context(for: "")
        for (name, output) in declared {
            do {
                result[name] = try InputEvaluation.evaluate(output["value"] ?? .null, in: context)
            } catch {
                result[name] = .object(["error": .string(error.description)])
            }
        }
        return .object(result)
    }

    // MARK: Waiting steps

    /// Ends a waiting step because its callback decided it: its timers go, the unsubscribe is
    /// queued when its type wants one after completion (or once the subscribe returns), and the
    /// step ends with `status`, its continuation scheduled in the same transaction.
    mutating func endWaitingStep(
        _ record: inout ActionRecord, status: ActionStatus, outputs: ExpressionValue? = nil, error: ExpressionValue? = nil
    ) throws {
        try transaction.removeTimers(runID: run.id, actionKey: record.key)
        if let step = callbackSteps.step(for: record.type), step.unsubscribesAfterCompletion {
            if let subscription = record.state["subscription"] {
                try queueUnsubscribe(record, subscription: subscription, step: step)
            } else {
                record.state["unsubscribeWhenSubscribed"] = .bool(true)
            }
        }
        try save(record)
        try finish(key: record.key, status: status, outputs: outputs, error: error)
        try saveRun()
    }

    /// Ends a step that holds no subscription (its subscribe failed, or it completed in the
    /// subscribe): its callback URL closes and its timers go, with nothing to unsubscribe.
    mutating func endUnsubscribedStep(
        _ record: ActionRecord, status: ActionStatus, outputs: ExpressionValue? = nil, error: ExpressionValue? = nil
    ) throws {
        if case .string(let id)? = record.state["callbackId"] { try transaction.closeCallback(id: id) }
        try transaction.removeTimers(runID: run.id, actionKey: record.key)
        try save(record)
        try finish(key: record.key, status: status, outputs: outputs, error: error)
    }

    /// Queues the unsubscribe of a waiting step through the outbox (its callback URL closes).
    /// A step still subscribing is marked so the unsubscribe is queued once the subscribe returns.
    mutating func unsubscribeIfSubscribed(_ record: inout ActionRecord) throws {
        guard case .string(let callbackID)? = record.state["callbackId"] else { return }
        try transaction.closeCallback(id: callbackID)
        guard let step = callbackSteps.step(for: record.type) else { return }
        guard let subscription = record.state["subscription"] else {
            record.state["unsubscribeWhenSubscribed"] = .bool(true)
            return
        }
        try queueUnsubscribe(record, subscription: subscription, step: step)
    }

    /// Puts the unsubscribe request of a step in the outbox, its inputs evaluated now with
    /// `subscribeResponse()` available.
    mutating func queueUnsubscribe(_ record: ActionRecord, subscription: ExpressionValue, step: any CallbackStep) throws {
        guard let definition = graph.steps[record.name] else { return }
        var context = context(for: record.key)
        context.subscribeResponse = subscription
        let callbackID = record.state["callbackId"]?.string
        context.signCallbackURL = { [callbackURL] in callbackID.flatMap(callbackURL) }
        let inputs: ExpressionValue
        do {
            inputs = try InputEvaluation.evaluate(definition.inputs, in: context)
        } catch {
            inputs = .object(["error": .string("unsubscribe inputs failed to evaluate: \(error)")])
        }
        let request = CallbackStepRequest(
            workflow: run.workflow, runID: run.id, actionName: record.name, actionKey: record.key,
            subscriptionID: callbackID ?? "", callbackURL: nil,
            inputs: inputs, subscription: subscription
        )
        try transaction.enqueueOutbox(
            runID: run.id, actionKey: record.key, workflow: run.workflow, stepType: record.type, operation: "unsubscribe",
            request: request.stored, maxAttempts: step.unsubscribeAttempts
        )
        effects.append(.outboxQueued)
    }
}
