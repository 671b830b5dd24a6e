import AsyncHTTPClient
import CallgateCallbacks
import CallgateExpressions
import CallgateOutbound
import CallgateStore
import CallgateWorkflow
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Runs workflows durably: a pool of workers claims ready work (an action to start, a timer that
/// fell due) from the store, executes it, and commits the result together with what follows.
///
/// Nothing about a run lives in memory between steps: a waiting step is a row, a timer is a row,
/// and after a crash every run continues from its last committed transition.
public final class WorkflowEngine: Service, Sendable {
    /// Tuning of the engine.
    public struct Configuration: Sendable, Equatable {
        /// Work items executed at once (Http calls and subscribes wait on the network).
        public var workers: Int
        /// Outbox calls made at once.
        public var outboxWorkers: Int
        /// How long a `Request` trigger waits for the run's `Response` action before answering 202.
        public var responseWaitSeconds: Double
        /// Longest sleep when nothing is due (work may also come from other processes' writes).
        public var idlePollSeconds: Double
        /// Most runs in progress per workflow that a plugin's trigger (OnEvents) may start; beyond
        /// it the plugin is told to wait, and its events wait where they are (back-pressure).
        public var maxRunsInProgress: Int
        /// Days an ended run's history is kept (Logic Apps keeps 90 by default).
        public var runRetentionDays: Int

        public init(
            workers: Int = 16, outboxWorkers: Int = 4, responseWaitSeconds: Double = 120, idlePollSeconds: Double = 2,
            maxRunsInProgress: Int = 1000, runRetentionDays: Int = 90
        ) {
            self.workers = workers
            self.outboxWorkers = outboxWorkers
            self.responseWaitSeconds = responseWaitSeconds
            self.idlePollSeconds = idlePollSeconds
            self.maxRunsInProgress = maxRunsInProgress
            self.runRetentionDays = runRetentionDays
        }
    }

    let store: RunStore
    let callbacks: CallbackRegistry
    let httpClient: HTTPClient
    let egress: EgressPolicy
    /// Applies outbound `authentication` (Basic, Raw, client certificates, OAuth2 tokens).
    let authenticator: OutboundAuthenticator
    /// The step types that wait for a callback.
    public let callbackSteps: CallbackStepRegistry
    let configuration: Configuration
    let logger: Logger
    let definitions: DefinitionCache
    let responses = ResponseWaiters()
    private let workSignal = WakeSignal()
    private let outboxSignal = WakeSignal()
    /// Wakes the loop of trigger subscribe attempts.
    let triggerSignal = WakeSignal()

    /// - Parameters:
    ///   - parser: Gives the parser for the step types available now (built-in, callback steps,
    ///     loaded plugins); used to read stored definitions.
    public init(
        database: GatewayDatabase,
        callbacks: CallbackRegistry,
        httpClient: HTTPClient,
        egress: EgressPolicy,
        authenticator: OutboundAuthenticator? = nil,
        callbackSteps: CallbackStepRegistry = CallbackStepRegistry(),
        configuration: Configuration = Configuration(),
        parser: @escaping @Sendable () async throws -> DefinitionParser,
        logger: Logger
    ) {
        self.store = RunStore(database: database)
        self.callbacks = callbacks
        self.httpClient = httpClient
        self.egress = egress
        self.authenticator = authenticator ?? OutboundAuthenticator(httpClient: httpClient, egress: egress)
        self.callbackSteps = callbackSteps
        self.configuration = configuration
        self.logger = logger
        self.definitions = DefinitionCache(database: database, parser: parser)
    }

    // MARK: Service

    /// Runs the worker pool, the outbox and trigger subscribe attempts until the service group
    /// shuts down.
    public func run() async throws {
        try await store.releaseStaleClaims()
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.workLoop() }
                group.addTask { await self.outboxLoop() }
                group.addTask { await self.triggerLoop() }
                group.addTask { await self.retentionLoop() }
            }
        } onGracefulShutdown: {
            self.workSignal.signal()
            self.outboxSignal.signal()
            self.triggerSignal.signal()
        }
    }

    private var shuttingDown: Bool { Task.isCancelled || Task.isShuttingDownGracefully }

    private func workLoop() async {
        await claimLoop(
            concurrency: configuration.workers, signal: workSignal, what: "work",
            claim: { try await self.store.claimWork(limit: $0) },
            nextDue: { try await self.store.nextDueDate() },
            process: { await self.process($0) }
        )
    }

    private func outboxLoop() async {
        await claimLoop(
            concurrency: configuration.outboxWorkers, signal: outboxSignal, what: "outbox calls",
            claim: { try await self.store.claimOutbox(limit: $0) },
            nextDue: { try await self.store.nextOutboxDate() },
            process: { await self.deliver($0) }
        )
    }

    private func triggerLoop() async {
        await claimLoop(
            concurrency: configuration.outboxWorkers, signal: triggerSignal, what: "trigger subscriptions",
            claim: { try await self.store.claimTriggerSubscriptions(limit: $0) },
            nextDue: { try await self.store.nextTriggerSubscriptionDate() },
            process: { await self.attemptSubscription($0) }
        )
    }

    /// Sweeps ten minutes after start (start-up is busy enough with recovery) and then every hour.
    private func retentionLoop() async {
        var pause = Duration.seconds(600)
        while true {
            try? await cancelWhenGracefulShutdown { [pause] in try await Task.sleep(for: pause) }
            if shuttingDown { return }
            pause = .seconds(3600)
            do {
                let swept = try await sweepRetention()
                if swept != RetentionSweep() {
                    logger.info("retention sweep", metadata: [
                        "runs": "\(swept.runs)", "dedupe_keys": "\(swept.dedupeKeys)", "outbox_calls": "\(swept.outboxCalls)",
                    ])
                }
            } catch {
                logger.error("retention sweep failed: \(error)")
            }
        }
    }

    /// Deletes what is past retention as of `now`: runs that ended more than
    /// `runRetentionDays` ago (with their actions) and finished outbox calls as old, and trigger
    /// dedupe keys past their 24-hour window (a plugin trigger's: as old as the deleted runs).
    /// Runs every hour by itself; public for tests and tools.
    @discardableResult
    public func sweepRetention(now: Date = Date()) async throws -> RetentionSweep {
        try await store.sweep(
            runsEndedBefore: now.addingTimeInterval(-Double(configuration.runRetentionDays) * 86_400),
            dedupeKeysBefore: now.addingTimeInterval(-Self.dedupeWindow)
        )
    }

    /// Claims what is due, up to `concurrency` at once, processes each in a child task, and sleeps
    /// until the next due instant or a wake-up (new work committed here, a task finished).
    private func claimLoop<Item: Sendable>(
        concurrency: Int,
        signal: WakeSignal,
        what: String,
        claim: @escaping @Sendable (Int) async throws -> [Item],
        nextDue: @escaping @Sendable () async throws -> Date?,
        process: @escaping @Sendable (Item) async -> Void
    ) async {
        let inFlight = InFlightCount()
        await withDiscardingTaskGroup { group in
            while !shuttingDown {
                let free = concurrency - inFlight.value
                var claimed: [Item] = []
                // A read first: claiming is a write, and most wake-ups find nothing due.
                if free > 0, let due = try? await nextDue(), due.timeIntervalSinceNow <= 0 {
                    do {
                        claimed = try await claim(free)
                    } catch {
                        logger.error("claiming \(what) failed: \(error)")
                    }
                }
                for item in claimed {
                    inFlight.add(1)
                    group.addTask {
                        await process(item)
                        inFlight.add(-1)
                        signal.signal()
                    }
                }
                if claimed.count == free && free > 0 { continue }
                let untilDue = (try? await nextDue())?.timeIntervalSinceNow ?? configuration.idlePollSeconds
                await signal.wait(upTo: min(max(untilDue, 0.001), configuration.idlePollSeconds))
            }
        }
    }

    // MARK: Transitions

    /// Signs waiting steps' callback URLs from their ids.
    var signer: @Sendable (String) -> String? {
        { [callbacks] id in
            try? callbacks.signer.sign(id: id, scope: CallbackStepExecution.scope).url(publicBaseURL: callbacks.publicBaseURL)
        }
    }

    /// Commits a transition of one run and applies its effects after COMMIT. Returns nil when
    /// the run does not exist. A caller that already holds the run's graph (a worker with its
    /// snapshot) passes it and saves the read that finds it.
    @discardableResult
    func mutate<T: Sendable>(
        runID: String,
        graph known: StepGraph? = nil,
        _ body: @escaping @Sendable (inout RunMutation) throws -> T
    ) async throws -> T? {
        let graph: StepGraph
        if let known {
            graph = known
        } else {
            guard let workflow = try await store.read({ try $0.run(runID) }) else { return nil }
            graph = try await definitions.graph(workflow: workflow.workflow, version: workflow.version)
        }
        let steps = callbackSteps
        let sign = signer
        let outcome = try await store.transition { transaction -> (T, [TransitionEffect])? in
            guard let run = try transaction.run(runID) else { return nil }
            var mutation = try RunMutation(transaction: transaction, graph: graph, callbackSteps: steps, callbackURL: sign, run: run)
            let result = try body(&mutation)
            return (result, mutation.effects)
        }
        guard let outcome else { return nil }
        apply(outcome.1)
        return outcome.0
    }

    func apply(_ effects: [TransitionEffect]) {
        for effect in effects {
            switch effect {
            case .workQueued: workSignal.signal()
            case .outboxQueued: outboxSignal.signal()
            case .responseReady(let runID), .runEnded(let runID): responses.deliver(runID: runID)
            }
        }
    }

    // MARK: Work

    /// Executes one claimed work item; whatever happens, the item is completed or left for a retry.
    func process(_ item: WorkItem) async {
        do {
            switch item.kind {
            case .start: try await start(item)
            case .timer: try await fire(item)
            }
        } catch {
            // The item keeps its lease until restart or is retried below; an error here is a
            // store failure (overload, disk), so try again shortly rather than lose the step.
            logger.error("work item failed", metadata: ["run": "\(item.runID)", "action": "\(item.actionKey)", "error": "\(error)"])
            try? await Task.sleep(for: .seconds(1))
            try? await store.release(item)
            workSignal.signal()
        }
    }

    /// The record and definition of the action a work item is about; nil (and the item removed)
    /// when the run ended or the action is no longer in the expected state.
    func snapshot(_ item: WorkItem, expecting statuses: Set<ActionStatus>) async throws -> ActionSnapshot? {
        let found = try await store.read { transaction -> (RunRecord, [String: ActionRecord])? in
            guard let run = try transaction.run(item.runID) else { return nil }
            return (run, try transaction.actions(of: item.runID))
        }
        guard let (run, actions) = found, !run.status.isTerminal, let record = actions[item.actionKey], statuses.contains(record.status) else {
            try await store.transition { try $0.removeWork(item.id) }
            return nil
        }
        let graph = try await definitions.graph(workflow: run.workflow, version: run.version)
        guard let step = graph.steps[record.name] else {
            try await mutate(runID: run.id, graph: graph) { mutation in
                try mutation.transaction.removeWork(item.id)
                try mutation.finish(key: item.actionKey, status: .failed, error: ActionFailure.message("the action is not in the workflow's definition").value)
            }
            return nil
        }
        return ActionSnapshot(item: item, run: run, actions: actions, record: record, step: step, graph: graph)
    }

    private func start(_ item: WorkItem) async throws {
        guard let snapshot = try await snapshot(item, expecting: [.queued, .running]) else { return }
        switch snapshot.step.type {
        case "Http":
            try await HttpAction(engine: self).start(snapshot)
        case let type where callbackSteps.step(for: type) != nil:
            try await CallbackStepExecution(engine: self).start(snapshot)
        default:
            try await mutate(runID: item.runID, graph: snapshot.graph) { mutation in
                guard mutation.actions[item.actionKey]?.status == .queued else {
                    try mutation.transaction.removeWork(item.id)
                    return
                }
                try mutation.transaction.removeWork(item.id)
                try BuiltinActions.execute(key: item.actionKey, step: snapshot.step, in: &mutation)
                try mutation.saveRun()
            }
        }
    }

    private func fire(_ item: WorkItem) async throws {
        guard let snapshot = try await snapshot(item, expecting: [.running, .waiting]) else { return }
        switch snapshot.step.type {
        case "Http":
            try await HttpAction(engine: self).start(snapshot)
        case let type where callbackSteps.step(for: type) != nil:
            try await CallbackStepExecution(engine: self).timerFired(snapshot)
        default:
            try await mutate(runID: item.runID, graph: snapshot.graph) { mutation in
                try mutation.transaction.removeWork(item.id)
                try BuiltinActions.timerFired(key: item.actionKey, in: &mutation)
                try mutation.saveRun()
            }
        }
    }

    // MARK: Outbox

    private func deliver(_ entry: OutboxEntry) async {
        var request = CallbackStepRequest(stored: entry.request)
        let isTrigger = entry.operation == Self.triggerUnsubscribeOperation
        request.callbackURL = isTrigger ? triggerSigner(request.subscriptionID) : signer(request.subscriptionID)
        var failure: CallbackStepError?
        if let step = isTrigger ? callbackSteps.trigger(for: entry.stepType) : callbackSteps.step(for: entry.stepType) {
            do {
                try await step.unsubscribe(request)
            } catch {
                failure = error
            }
        } else {
            failure = CallbackStepError("no step type '\(entry.stepType)' is loaded to unsubscribe with", retryable: true)
        }
        let attempt = entry.attempts + 1
        var retryAt: Date?
        if let failure, failure.isRetryable, attempt < entry.maxAttempts {
            // 1 s, 2 s, 4 s … capped at 5 minutes.
            retryAt = Date().addingTimeInterval(min(300, pow(2, Double(attempt - 1))))
        }
        if let failure {
            logger.warning("outbox call failed", metadata: [
                "operation": "\(entry.operation)", "workflow": "\(entry.workflow)", "run": "\(entry.runID ?? "-")", "attempt": "\(attempt)", "error": "\(failure.message)",
            ])
        }
        do {
            try await store.recordOutboxAttempt(entry, error: failure?.message, retryAt: retryAt)
        } catch {
            logger.error("recording an outbox attempt failed: \(error)")
        }
    }
}

/// What a worker knows when it executes an action.
struct ActionSnapshot: Sendable {
    let item: WorkItem
    let run: RunRecord
    let actions: [String: ActionRecord]
    let record: ActionRecord
    let step: WorkflowDefinition.Step
    let graph: StepGraph

    func context() -> RunExpressionContext {
        RunExpressionContext(run: run, actions: actions, graph: graph, actionKey: record.key, now: Date())
    }
}

/// An action's error as run history shows it: `{"code", "message"}`.
enum ActionFailure {
    case message(String)
    case coded(String, String)

    var value: ExpressionValue {
        switch self {
        case .message(let text): .object(["code": "ActionFailed", "message": .string(text)])
        case .coded(let code, let text): .object(["code": .string(code), "message": .string(text)])
        }
    }

    static func template(_ name: String, _ error: any Error) -> ExpressionValue {
        ActionFailure.coded("InvalidTemplate", "Unable to process template language expressions in action '\(name)': \(error)").value
    }
}

/// Tasks a loop has started and not yet seen finish.
private final class InFlightCount: Sendable {
    private let count = Mutex(0)

    var value: Int { count.withLock { $0 } }

    func add(_ delta: Int) {
        count.withLock { $0 += delta }
    }
}
