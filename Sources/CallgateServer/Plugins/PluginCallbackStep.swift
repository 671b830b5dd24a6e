import CallgateCallbacks
import CallgateEngine
import CallgateExpressions
import CallgatePluginHost
import CallgateStore
import CallgateWorkflow
import Foundation
import GRDB

/// A plugin's action or trigger type, run by the engine as a waiting step or a subscribed trigger:
/// the plugin's `subscribe` hook gets the step's evaluated inputs and the callback URL the engine
/// minted (`"kind": "action"|"trigger"` says which; a trigger has no run); `unsubscribe` is called
/// through the engine's outbox. A hook answering PENDING finishes through the host service
/// `complete_operation`, whose committed row this waits for.
struct PluginCallbackStep: CallbackStep {
    let plugin: LoadedPlugin
    let type: String
    let kind: Kind
    let stepType: StepType
    let instance: LoadedPlugin.Instance
    let database: GatewayDatabase

    /// Longest wait for a pending hook to complete.
    static let completionTimeout: Double = 150

    enum Kind: String, Sendable { case action, trigger }

    private enum Hook { case subscribe, unsubscribe }

    func subscribe(_ request: CallbackStepRequest) async throws(CallbackStepError) -> ExpressionValue {
        try await call(.subscribe, request, extra: ["callbackUrl": .string(request.callbackURL ?? "")])
    }

    func unsubscribe(_ request: CallbackStepRequest) async throws(CallbackStepError) {
        var extra: [String: ExpressionValue] = ["subscribeResponse": request.subscription ?? .null]
        if let url = request.callbackURL { extra["callbackUrl"] = .string(url) }
        _ = try await call(.unsubscribe, request, extra: extra)
    }

    private func call(_ hook: Hook, _ request: CallbackStepRequest, extra: [String: ExpressionValue]) async throws(CallbackStepError) -> ExpressionValue {
        let operation = "op-" + UUID().uuidString.lowercased()
        var members: [String: ExpressionValue] = [
            "operation": .string(operation), "kind": .string(kind.rawValue), "type": .string(type), "subscription": .string(request.subscriptionID),
            "inputs": request.inputs, "workflow": .string(request.workflow), "runId": .string(request.runID),
            "action": .string(request.actionName),
        ]
        members.merge(extra) { _, new in new }
        let bytes = Array(ExpressionValue.object(members).jsonText.utf8)
        let result: LoadedPlugin.HookResult
        do {
            switch hook {
            case .subscribe: result = try await plugin.subscribe(instance, request: bytes)
            case .unsubscribe: result = try await plugin.unsubscribe(instance, request: bytes)
            }
        } catch let error as PluginError {
            throw CallbackStepError(error.description, retryable: error.status == PluginStatus.retryable)
        } catch {
            throw CallbackStepError("\(error)", retryable: true)
        }
        guard result.status == PluginStatus.pending else { return (try? ExpressionValue(json: Data(result.output))) ?? .null }
        return try await completion(of: operation)
    }

    var linkOwnerKind: String? { "plugin:\(plugin.id)" }

    /// Calls `handle_callback` with the link's request and a snapshot of the waiting step (ABI
    /// 1.2 fields `callbackId`, `scope`, `step`), and reads the plugin's decision and reply.
    func handleLink(_ callback: InboundCallback, step: WaitingStepSnapshot) async throws(CallbackStepError) -> StepLinkAnswer {
        var snapshot: [String: ExpressionValue] = [
            "workflow": .string(step.workflow), "runId": .string(step.runID), "action": .string(step.actionName),
            "status": .string(step.status.rawValue),
        ]
        snapshot["subscribeResponse"] = step.subscription
        snapshot["state"] = step.linkState
        snapshot["outputs"] = step.outputs
        snapshot["error"] = step.error
        let request: ExpressionValue = .object([
            "kind": "link", "type": .string(type), "subscription": .string(step.subscriptionID),
            "callbackId": .string(callback.fields.id), "scope": .string(callback.fields.scope),
            "method": .string(callback.method), "query": .string(callback.query),
            "headers": PluginHTTPMessage.headers(callback.headers.map { ($0.name, $0.value) }),
            "step": .object(snapshot),
        ])
        let result: LoadedPlugin.HookResult
        do {
            result = try await plugin.handleCallback(instance, request: Array(request.jsonText.utf8), body: Array(callback.body))
        } catch let error as PluginError {
            throw CallbackStepError(error.description, retryable: error.status == PluginStatus.retryable)
        } catch {
            throw CallbackStepError("\(error)", retryable: true)
        }
        guard let answer = try? ExpressionValue(json: Data(result.output)) else {
            throw CallbackStepError("plugin \(plugin.id) answered handle_callback with no JSON", retryable: false)
        }
        return try Self.linkAnswer(answer, plugin: plugin.id)
    }

    /// Reads `{"decision", "outputs", "state", "error", "reply": {"status", "headers", "body"}}`.
    static func linkAnswer(_ answer: ExpressionValue, plugin: String) throws(CallbackStepError) -> StepLinkAnswer {
        let decision: StepLinkDecision
        switch answer["decision"]?.string ?? "ignore" {
        case "ignore": decision = .ignore
        case "wait": decision = .wait(state: answer["state"] ?? .null)
        case "resume": decision = .resume(outputs: answer["outputs"] ?? .object([:]), state: answer["state"])
        case "fail": decision = .fail(error: answer["error"] ?? .object(["code": "LinkReportedFailure"]))
        case let other: throw CallbackStepError("plugin \(plugin) answered an unknown decision '\(other)'", retryable: false)
        }
        guard let reply = PluginHTTPMessage.Reply(answer["reply"]) else {
            throw CallbackStepError("plugin \(plugin) answered an HTTP status outside 200–599", retryable: false)
        }
        return StepLinkAnswer(
            decision: decision,
            reply: CallbackReply(status: reply.status, headers: reply.headers.map { .init(name: $0.name, value: $0.value) }, body: Data(reply.body.utf8))
        )
    }

    /// Waits for the plugin's `complete_operation` row and consumes it.
    private func completion(of operation: String) async throws(CallbackStepError) -> ExpressionValue {
        let pluginID = plugin.id
        let deadline = Date().addingTimeInterval(Self.completionTimeout)
        var pause = 0.005
        while Date() < deadline {
            let found = try? await database.read { db -> (Int, Data)? in
                guard let row = try Row.fetchOne(
                    db, sql: "SELECT status, outputs FROM plugin_operation_result WHERE plugin_id = ? AND operation_id = ?",
                    arguments: [pluginID, operation]
                ) else { return nil }
                return (row[0], row[1])
            }
            if let (status, outputs) = found {
                _ = try? await database.write { db in
                    try db.execute(sql: "DELETE FROM plugin_operation_result WHERE plugin_id = ? AND operation_id = ?", arguments: [pluginID, operation])
                }
                let value = (try? ExpressionValue(json: outputs)) ?? .string(String(decoding: outputs, as: UTF8.self))
                guard status == Int(PluginStatus.ok) else {
                    let message = value["message"]?.string ?? value.string ?? "the plugin reported status \(status)"
                    throw CallbackStepError(message, retryable: Int32(status) == PluginStatus.retryable, detail: value)
                }
                return value
            }
            try? await Task.sleep(for: .seconds(pause))
            pause = min(0.1, pause * 2)
        }
        throw CallbackStepError("plugin \(pluginID) did not complete \(type) within \(Int(Self.completionTimeout)) s", retryable: true)
    }
}

extension PluginCallbackStep {
    /// The callback steps of a loaded plugin: one per action and trigger type its description
    /// declares, sharing the plugin's instance.
    static func steps(of plugin: LoadedPlugin, instance: LoadedPlugin.Instance, database: GatewayDatabase) async throws -> [PluginCallbackStep] {
        guard let description = try? ExpressionValue(json: Data(try await plugin.describe())) else { return [] }
        let declared: [(Kind, String)] = [Kind.action, .trigger].flatMap { kind in
            guard case .array(let entries)? = description[kind == .action ? "actions" : "triggers"] else { return [(Kind, String)]() }
            return entries.compactMap { entry in entry["type"]?.string.map { (kind, $0) } }
        }
        guard !declared.isEmpty else { return [] }
        let catalog = StepTypeCatalog(triggers: [:], actions: [:]).adding(pluginDescriptions: [description])
        return declared.compactMap { kind, type in
            guard let stepType = kind == .action ? catalog.actions[type] : catalog.triggers[type] else { return nil }
            return PluginCallbackStep(plugin: plugin, type: type, kind: kind, stepType: stepType, instance: instance, database: database)
        }
    }
}
