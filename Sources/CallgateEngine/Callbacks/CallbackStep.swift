import CallgateCallbacks
import CallgateExpressions
import CallgateWorkflow
import Foundation
import Synchronization

/// A step type that waits for a callback (the HttpWebhook action, approval mails, plugin actions).
///
/// The engine does the rest: it mints the step's callback URL bound to (run, action), evaluates
/// the inputs with `listCallbackUrl()`, calls ``subscribe(_:)``, persists the waiting state and
/// holds nothing in memory until the callback, the deadline or a cancel arrives; unsubscribes go
/// through the durable outbox and call ``unsubscribe(_:)`` until it succeeds or
/// ``unsubscribeAttempts`` are spent.
public protocol CallbackStep: Sendable {
    /// What deploy-time validation knows of the type.
    var stepType: StepType { get }
    /// Whether the unsubscribe is also sent after the callback resumed the step (HttpWebhook does).
    var unsubscribesAfterCompletion: Bool { get }
    /// Most attempts of one unsubscribe call.
    var unsubscribeAttempts: Int { get }
    /// Input members evaluated only at unsubscribe time (where `subscribeResponse()` exists).
    var deferredInputs: Set<String> { get }

    /// Sends the subscription. Returns what the step records about it (for HttpWebhook, the
    /// subscribe response), which the unsubscribe sees as `subscribeResponse()`. A result
    /// `{"completed": true, "outputs": …}` ends the step at once with those outputs: an action
    /// that does its work here and waits for nothing (EventHub's SendEvent).
    func subscribe(_ request: CallbackStepRequest) async throws(CallbackStepError) -> ExpressionValue

    /// Ends the subscription. Throwing a retryable error makes the outbox try again later.
    func unsubscribe(_ request: CallbackStepRequest) async throws(CallbackStepError)

    /// The callback owner kind of the links this step type mints for its waiting steps (approval
    /// links, one per recipient and option), or nil when it mints none.
    var linkOwnerKind: String? { get }

    /// Answers a call to one of those links: a reply (a page) and what it does to the step. Called
    /// with a snapshot of the step, outside any transaction; see ``StepLinkCallbackHandler``.
    func handleLink(_ callback: InboundCallback, step: WaitingStepSnapshot) async throws(CallbackStepError) -> StepLinkAnswer
}

extension CallbackStep {
    public var unsubscribesAfterCompletion: Bool { true }
    public var unsubscribeAttempts: Int { 8 }
    public var deferredInputs: Set<String> { ["unsubscribe"] }
    public var linkOwnerKind: String? { nil }

    public func handleLink(_ callback: InboundCallback, step: WaitingStepSnapshot) async throws(CallbackStepError) -> StepLinkAnswer {
        StepLinkAnswer(decision: .ignore, reply: CallbackReply(status: 404))
    }
}

/// Everything a callback step is told about one subscription.
public struct CallbackStepRequest: Sendable, Equatable {
    public var workflow: String
    public var runID: String
    public var actionName: String
    public var actionKey: String
    /// The callback id: stable for the step, so it identifies the subscription (`Callgate-Subscription-Id`).
    public var subscriptionID: String
    /// The step's signed callback URL.
    public var callbackURL: String?
    /// The evaluated inputs (for subscribe, without the deferred members).
    public var inputs: ExpressionValue
    /// For unsubscribe: what ``CallbackStep/subscribe(_:)`` returned.
    public var subscription: ExpressionValue?

    public init(
        workflow: String, runID: String, actionName: String, actionKey: String, subscriptionID: String,
        callbackURL: String?, inputs: ExpressionValue, subscription: ExpressionValue? = nil
    ) {
        self.workflow = workflow
        self.runID = runID
        self.actionName = actionName
        self.actionKey = actionKey
        self.subscriptionID = subscriptionID
        self.callbackURL = callbackURL
        self.inputs = inputs
        self.subscription = subscription
    }

    /// The form kept in the outbox: without the callback URL, which is signed again when the
    /// call is made (signed URLs are never stored).
    var stored: ExpressionValue {
        var members: [String: ExpressionValue] = [
            "workflow": .string(workflow), "runId": .string(runID), "actionName": .string(actionName),
            "actionKey": .string(actionKey), "subscriptionId": .string(subscriptionID), "inputs": inputs,
        ]
        if let subscription { members["subscription"] = subscription }
        return .object(members)
    }

    init(stored value: ExpressionValue) {
        self.init(
            workflow: value["workflow"]?.string ?? "", runID: value["runId"]?.string ?? "",
            actionName: value["actionName"]?.string ?? "", actionKey: value["actionKey"]?.string ?? "",
            subscriptionID: value["subscriptionId"]?.string ?? "", callbackURL: nil,
            inputs: value["inputs"] ?? .null, subscription: value["subscription"]
        )
    }
}

/// Why a subscribe or unsubscribe failed.
public struct CallbackStepError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What happened, for run history.
    public var message: String
    /// Whether trying again later may succeed (a 5xx, a refused connection).
    public var isRetryable: Bool
    /// Structured detail for run history (for example the subscriber's response).
    public var detail: ExpressionValue?

    public init(_ message: String, retryable: Bool, detail: ExpressionValue? = nil) {
        self.message = message
        self.isRetryable = retryable
        self.detail = detail
    }

    public var description: String { message }
}

/// The callback step types a gateway runs, by type name: actions that wait for a callback, and
/// triggers that subscribe (the same two calls, made when a workflow is deployed, enabled,
/// disabled or deleted instead of when a run reaches the step). Plugins add theirs when they load.
public final class CallbackStepRegistry: Sendable {
    private struct Steps {
        var actions: [String: any CallbackStep]
        var triggers: [String: any CallbackStep] = [:]
    }

    private let steps: Mutex<Steps>

    public init(_ actions: [String: any CallbackStep] = [:]) {
        self.steps = Mutex(Steps(actions: actions))
    }

    /// The action type `type`.
    public func step(for type: String) -> (any CallbackStep)? {
        steps.withLock { $0.actions[type] }
    }

    /// The trigger type `type`.
    public func trigger(for type: String) -> (any CallbackStep)? {
        steps.withLock { $0.triggers[type] }
    }

    /// Adds (or replaces) the action type `type`.
    public func register(_ step: any CallbackStep, for type: String) {
        steps.withLock { $0.actions[type] = step }
    }

    /// Adds (or replaces) the trigger type `type`.
    public func registerTrigger(_ step: any CallbackStep, for type: String) {
        steps.withLock { $0.triggers[type] = step }
    }

    /// The action types, for deploy-time validation.
    public var stepTypes: [String: StepType] {
        steps.withLock { $0.actions.mapValues(\.stepType) }
    }

    /// The trigger types, for deploy-time validation.
    public var triggerTypes: [String: StepType] {
        steps.withLock { $0.triggers.mapValues(\.stepType) }
    }
}
