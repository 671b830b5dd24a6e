import CallgateExpressions
import CallgateWorkflow
import Foundation

/// What expressions of a trigger can see, where no run exists yet: the workflow's parameters and
/// name, the trigger's callback URL (`subscribe`), the subscribe answer (`unsubscribe`), and — for
/// `conditions` and `splitOn` — the callback's trigger outputs.
struct TriggerExpressionContext: ExpressionContext {
    var workflow: String
    var version: Int
    var triggerName: String
    /// Parameter values (given beside the definition, else the declared defaults).
    var parameters: [String: ExpressionValue]
    var callbackURL: String?
    var subscribeResponse: ExpressionValue?
    var triggerOutputs: ExpressionValue?
    let now: Date

    init(workflow: String, version: Int, triggerName: String, parameters: [String: ExpressionValue], now: Date = Date()) {
        self.workflow = workflow
        self.version = version
        self.triggerName = triggerName
        self.parameters = parameters
        self.now = now
    }

    /// The parameter values a definition resolves to.
    static func parameterValues(of definition: WorkflowDefinition) -> [String: ExpressionValue] {
        var values: [String: ExpressionValue] = [:]
        for (name, parameter) in definition.parameters {
            if let value = definition.parameterValues[name] ?? parameter.defaultValue { values[name] = value }
        }
        return values
    }

    func callContextFunction(_ name: String, arguments: [ExpressionValue]) throws(ExpressionError) -> ExpressionValue? {
        switch name {
        case "parameters":
            guard arguments.count == 1, case .string(let parameter) = arguments[0] else {
                throw ExpressionError("the function 'parameters' expects one string argument")
            }
            guard let value = parameters[parameter] else { throw ExpressionError("the workflow parameter '\(parameter)' is not found") }
            return value
        case "workflow":
            return .object(["name": .string(workflow), "version": .integer(Int64(version))])
        case "listCallbackUrl":
            guard let callbackURL else { throw ExpressionError("listCallbackUrl() is only available in the trigger's subscribe and unsubscribe") }
            return .string(callbackURL)
        case "subscribeResponse":
            guard let subscribeResponse else { throw ExpressionError("subscribeResponse() is only available in an unsubscribe request") }
            return subscribeResponse
        case "trigger", "triggerOutputs", "triggerBody":
            guard let triggerOutputs else { throw ExpressionError("\(name)() is not available before a callback arrives") }
            switch name {
            case "trigger": return .object(["name": .string(triggerName), "outputs": triggerOutputs])
            case "triggerOutputs": return triggerOutputs
            default: return triggerOutputs["body"] ?? .null
            }
        case "actions", "outputs", "body", "result", "variables", "item", "items":
            throw ExpressionError("\(name)() is not available in a trigger: no action has run yet")
        default:
            return nil
        }
    }
}
