import CallgateCallbacks
import CallgateExpressions
import Foundation

/// A waiting step as a link callback sees it: enough to render a page and to decide.
public struct WaitingStepSnapshot: Sendable, Equatable {
    public var workflow: String
    public var runID: String
    public var actionName: String
    public var actionKey: String
    /// The step's callback id, which its links name as their subscription.
    public var subscriptionID: String
    /// `Running` while it subscribes, `Waiting`, or how it ended.
    public var status: ActionStatus
    /// What the step's subscribe returned (nil until it returned).
    public var subscription: ExpressionValue?
    /// What earlier link calls stored with ``StepLinkDecision/wait(state:)``.
    public var linkState: ExpressionValue?
    /// The outputs and error the step ended with.
    public var outputs: ExpressionValue?
    public var error: ExpressionValue?
    /// Counts the link decisions committed; a decision commits only on the version it was made on.
    var version: Int64
}

/// What a link call does to its step.
public enum StepLinkDecision: Sendable, Equatable {
    /// Nothing (a page was shown, or the call came too late).
    case ignore
    /// Keep waiting, storing `state` for later link calls (a response of several required).
    case wait(state: ExpressionValue)
    /// The step succeeds with these outputs (and keeps `state`).
    case resume(outputs: ExpressionValue, state: ExpressionValue?)
    /// The step fails with this error.
    case fail(error: ExpressionValue)
}

/// A step type's answer to a link call.
public struct StepLinkAnswer: Sendable, Equatable {
    public var decision: StepLinkDecision
    /// Sent once the decision is committed.
    public var reply: CallbackReply

    public init(decision: StepLinkDecision, reply: CallbackReply) {
        self.decision = decision
        self.reply = reply
    }
}

/// Callbacks to links a callback step minted for one of its waiting steps (owner kind
/// `plugin:{id}`, the owner's step naming the waiting step's callback id): approval links, one
/// per recipient and option.
///
/// The step type answers on a snapshot of the step, outside any transaction (a plugin hook must
/// never run inside one); its decision is then committed only if the step is unchanged since the
/// snapshot, or the step type is asked again on a fresh one. So two concurrent choices never both
/// resume a run: the later one is answered from the state the first committed ("already decided"),
/// and a choice racing a timeout or a cancel is answered as the step ended. Every `2xx` that
/// records something is sent after its commit.
public struct StepLinkCallbackHandler: CallbackHandler {
    /// The owner kind prefix of links minted through plugins (`plugin:{id}`).
    public static let ownerKindPrefix = "plugin"

    let engine: WorkflowEngine

    public init(engine: WorkflowEngine) {
        self.engine = engine
    }

    /// Snapshots taken before giving up on a step that keeps changing under the decision.
    static let maximumRounds = 8

    public func handle(_ callback: InboundCallback) async throws -> CallbackReply {
        guard let subscriptionID = callback.registration.owner.step,
              let owner = try await engine.callbacks.registration(id: subscriptionID),
              owner.owner.kind == ActionCallbackHandler.ownerKind,
              let runID = owner.owner.runID, let key = owner.owner.step
        else { return CallbackReply(status: 410) }
        for _ in 0..<Self.maximumRounds {
            guard let (snapshot, type) = try await snapshot(runID: runID, key: key, subscriptionID: subscriptionID) else {
                return CallbackReply(status: 410)
            }
            // Only the step type that minted the link may answer it.
            guard let step = engine.callbackSteps.step(for: type), step.linkOwnerKind == callback.registration.owner.kind else {
                return CallbackReply(status: 410)
            }
            let answer: StepLinkAnswer
            do {
                answer = try await step.handleLink(callback, step: snapshot)
            } catch {
                engine.logger.warning("a link callback failed", metadata: ["run": "\(runID)", "step": "\(key)", "error": "\(error.message)"])
                return CallbackReply(status: error.isRetryable ? 503 : 500)
            }
            if answer.decision == .ignore { return answer.reply }
            if try await commit(answer.decision, to: snapshot) { return answer.reply }
        }
        return CallbackReply(status: 503, headers: [.init(name: "Retry-After", value: "1")])
    }

    private func snapshot(runID: String, key: String, subscriptionID: String) async throws -> (WaitingStepSnapshot, String)? {
        try await engine.store.read { transaction -> (WaitingStepSnapshot, String)? in
            guard let run = try transaction.run(runID), let record = try transaction.action(runID, key: key) else { return nil }
            let snapshot = WaitingStepSnapshot(
                workflow: run.workflow, runID: runID, actionName: record.name, actionKey: key, subscriptionID: subscriptionID,
                status: record.status, subscription: record.state["subscription"], linkState: record.state["linkState"],
                outputs: record.outputs, error: record.error, version: record.state["linkVersion"]?.integer.map(Int64.init) ?? 0
            )
            return (snapshot, record.type)
        }
    }

    /// Commits `decision` if the step is as the snapshot saw it; false when it changed.
    private func commit(_ decision: StepLinkDecision, to snapshot: WaitingStepSnapshot) async throws -> Bool {
        let committed = try await engine.mutate(runID: snapshot.runID) { mutation -> Bool in
            guard var record = mutation.actions[snapshot.actionKey], record.status == snapshot.status,
                  (record.state["linkVersion"]?.integer.map(Int64.init) ?? 0) == snapshot.version
            else { return false }
            // A decision on a step that already ended changes nothing; the step type knew that.
            guard !record.status.isTerminal, !mutation.run.status.isTerminal else { return true }
            record.state["linkVersion"] = .integer(snapshot.version + 1)
            switch decision {
            case .ignore:
                return true
            case .wait(let state):
                record.state["linkState"] = state
                try mutation.save(record)
                try mutation.saveRun()
            case .resume(let outputs, let state):
                if let state { record.state["linkState"] = state }
                try mutation.endWaitingStep(&record, status: .succeeded, outputs: outputs)
            case .fail(let error):
                try mutation.endWaitingStep(&record, status: .failed, error: error)
            }
            return true
        }
        return committed ?? false
    }
}
