import CallgateExpressions
import Foundation

/// What an expression in one action of one run can see: the trigger, the actions before it (in
/// its own Foreach iteration first), variables, parameters, the Foreach item, and — for waiting
/// steps — the step's callback URL and subscribe response.
struct RunExpressionContext: ExpressionContext {
    let run: RunRecord
    let actions: [String: ActionRecord]
    let graph: StepGraph
    /// The key of the action whose expressions are evaluated.
    let actionKey: String
    var callbackURL: String?
    /// Signs the callback URL when `listCallbackUrl()` is actually called (unsubscribe requests
    /// rarely use it, and signing costs an HMAC).
    var signCallbackURL: (@Sendable () -> String?)?
    var subscribeResponse: ExpressionValue?
    let now: Date

    func callContextFunction(_ name: String, arguments: [ExpressionValue]) throws(ExpressionError) -> ExpressionValue? {
        switch name {
        case "trigger":
            return .object(["name": .string(run.triggerName), "outputs": run.triggerOutputs, "startTime": .string(Self.timestamp(run.createdAt))])
        case "triggerOutputs":
            return run.triggerOutputs
        case "triggerBody":
            return run.triggerOutputs["body"] ?? .null
        case "actions":
            return try action(arguments).map(Self.describe) ?? .null
        case "outputs":
            return try action(arguments)?.outputs ?? .null
        case "body":
            guard let outputs = try action(arguments)?.outputs else { return .null }
            if case .object(let members) = outputs, let body = members["body"] { return body }
            return outputs
        case "result":
            return try result(arguments)
        case "variables":
            let name = try Self.string(arguments, "variables")
            guard let value = run.variables[name] else {
                throw ExpressionError("the variable '\(name)' is not initialized; add an InitializeVariable action before this one")
            }
            return value
        case "parameters":
            let name = try Self.string(arguments, "parameters")
            if let value = graph.definition.parameterValues[name] ?? graph.definition.parameters[name]?.defaultValue { return value }
            throw ExpressionError("the workflow parameter '\(name)' is not found")
        case "workflow":
            return .object([
                "name": .string(run.workflow),
                "run": .object(["name": .string(run.id), "id": .string(run.id)]),
                "version": .integer(Int64(run.version)),
            ])
        case "item":
            guard let innermost = StepGraph.iterations(ofKey: actionKey).last else {
                throw ExpressionError("item() is only available inside a Foreach")
            }
            return item(of: innermost.key, iteration: innermost.iteration)
        case "items":
            let loop = try Self.string(arguments, "items")
            guard let match = StepGraph.iterations(ofKey: actionKey).last(where: { StepGraph.name(ofKey: $0.key) == loop }) else {
                throw ExpressionError("items('\(loop)') is only available inside the Foreach '\(loop)'")
            }
            return item(of: match.key, iteration: match.iteration)
        case "listCallbackUrl":
            guard let callbackURL = callbackURL ?? signCallbackURL?() else {
                throw ExpressionError("listCallbackUrl() is not available in this action")
            }
            return .string(callbackURL)
        case "subscribeResponse":
            guard let subscribeResponse else { throw ExpressionError("subscribeResponse() is only available in an unsubscribe request") }
            return subscribeResponse
        default:
            return nil
        }
    }

    private static func string(_ arguments: [ExpressionValue], _ function: String) throws(ExpressionError) -> String {
        guard arguments.count == 1, case .string(let text) = arguments[0] else {
            throw ExpressionError("the function '\(function)' expects one string argument")
        }
        return text
    }

    /// The record an action name resolves to from this action: same iteration first.
    private func action(_ arguments: [ExpressionValue]) throws(ExpressionError) -> ActionRecord? {
        let name = try Self.string(arguments, "actions")
        guard graph.steps[name] != nil else { throw ExpressionError("the action '\(name)' does not exist in the workflow") }
        for key in StepGraph.candidateKeys(for: name, from: actionKey) {
            if let record = actions[key] { return record }
        }
        return nil
    }

    /// `result('Scope')`: the records of the actions directly inside a container.
    private func result(_ arguments: [ExpressionValue]) throws(ExpressionError) -> ExpressionValue {
        let name = try Self.string(arguments, "result")
        guard let step = graph.steps[name], !step.actions.isEmpty || !step.elseActions.isEmpty else {
            throw ExpressionError("result('\(name)') needs the name of an If, Foreach or Scope action")
        }
        guard let container = StepGraph.candidateKeys(for: name, from: actionKey).first(where: { actions[$0] != nil }) else { return .array([]) }
        let inner = Set((step.actions + step.elseActions).map(\.name))
        let prefix = step.type == "Foreach" ? container + "[" : StepGraph.prefix(ofKey: container)
        let records = actions.values
            .filter { inner.contains($0.name) && $0.key.hasPrefix(prefix) && $0.status.isTerminal }
            .sorted { $0.key < $1.key }
        return .array(records.map(Self.describe))
    }

    private func item(of loopKey: String, iteration: Int) -> ExpressionValue {
        guard case .array(let items)? = actions[loopKey]?.state["items"], iteration < items.count else { return .null }
        return items[iteration]
    }

    /// `actions('X')`: the action as Logic Apps shows it.
    static func describe(_ record: ActionRecord) -> ExpressionValue {
        var members: [String: ExpressionValue] = [
            "name": .string(record.name), "status": .string(record.status.rawValue),
            "inputs": record.inputs ?? .null, "outputs": record.outputs ?? .null, "error": record.error ?? .null,
        ]
        if let started = record.startedAt { members["startTime"] = .string(timestamp(started)) }
        if let ended = record.endedAt { members["endTime"] = .string(timestamp(ended)) }
        if case .object(let outputs)? = record.outputs, let code = outputs["statusCode"] { members["code"] = code }
        return .object(members)
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}

/// Evaluation of definition values: every string in a tree is a template.
enum InputEvaluation {
    /// Evaluates every string of `value`, leaving the subtrees named in `deferred` (top-level
    /// member names, such as `unsubscribe`) as they are for later.
    static func evaluate(_ value: ExpressionValue, in context: some ExpressionContext, deferring deferred: Set<String> = []) throws(ExpressionError) -> ExpressionValue {
        switch value {
        case .string(let text):
            return try Template.parse(text).evaluate(in: context)
        case .array(let values):
            var result: [ExpressionValue] = []
            for element in values { result.append(try evaluate(element, in: context)) }
            return .array(result)
        case .object(let members):
            var result: [String: ExpressionValue] = [:]
            for (key, member) in members {
                result[key] = deferred.contains(key) ? member : try evaluate(member, in: context)
            }
            return .object(result)
        default:
            return value
        }
    }

    /// An `If` condition: an expression string, or Logic Apps' object form
    /// `{"and": [{"equals": ["@x", 1]}, {"not": {"greater": [...]}}]}`.
    static func condition(_ value: ExpressionValue, in context: RunExpressionContext) throws(ExpressionError) -> Bool {
        switch value {
        case .string(let text):
            let result = try Template.parse(text).evaluate(in: context)
            guard case .bool(let flag) = result else {
                throw ExpressionError("the If condition must give a Boolean; it gave a \(result.typeName)")
            }
            return flag
        case .bool(let flag):
            return flag
        case .object(let members):
            guard members.count == 1, let (operation, operand) = members.first else {
                throw ExpressionError("a condition object has exactly one operator such as \"and\", \"or\", \"not\" or \"equals\"")
            }
            switch operation {
            case "and", "or":
                guard case .array(let terms) = operand else { throw ExpressionError("'\(operation)' takes an array of conditions") }
                var results: [Bool] = []
                for term in terms { results.append(try condition(term, in: context)) }
                return operation == "and" ? results.allSatisfy { $0 } : results.contains(true)
            case "not":
                return !(try condition(operand, in: context))
            default:
                // A function applied to evaluated arguments: {"equals": ["@a", "b"]}.
                guard case .array(let arguments) = operand else { throw ExpressionError("'\(operation)' takes an array of arguments") }
                var values: [ExpressionValue] = []
                for argument in arguments { values.append(try evaluate(argument, in: context)) }
                let call = CallgateExpressions.Expression.call(name: operation, arguments: values.map { .literal($0, position: 0) }, position: 0)
                let result = try call.evaluate(in: context)
                guard case .bool(let flag) = result else {
                    throw ExpressionError("the condition '\(operation)' must give a Boolean; it gave a \(result.typeName)")
                }
                return flag
            }
        default:
            throw ExpressionError("the If expression must be an expression string or a condition object")
        }
    }
}
