import CallgateExpressions
import CallgateWorkflow
import Foundation

/// What one trigger callback turns into: the trigger outputs of each run to start, after the
/// trigger's `splitOn` and `conditions` (Logic Apps semantics).
enum TriggerFiring {
    /// With `splitOn`, one set of outputs per array element (the element becomes `body`, the
    /// headers stay); then only those for which every condition is true. Conditions are checked
    /// per split item, so a condition can pick items out of a batch.
    static func outputs(
        of definition: WorkflowDefinition, workflow: String, version: Int, triggerOutputs: ExpressionValue
    ) throws(EngineError) -> [ExpressionValue] {
        let trigger = definition.trigger
        guard trigger.splitOn != nil || !trigger.conditions.isEmpty else { return [triggerOutputs] }
        var context = TriggerExpressionContext(
            workflow: workflow, version: version, triggerName: trigger.name,
            parameters: TriggerExpressionContext.parameterValues(of: definition)
        )
        var firings = [triggerOutputs]
        if let splitOn = trigger.splitOn {
            context.triggerOutputs = triggerOutputs
            let items = try evaluate(splitOn, as: "the trigger's splitOn", in: context)
            guard case .array(let elements) = items else {
                throw EngineError.invalid("the trigger's splitOn '\(splitOn)' must give an array; it gave a \(items.typeName)")
            }
            firings = elements.map { element in
                guard case .object(var members) = triggerOutputs else { return .object(["body": element]) }
                members["body"] = element
                return .object(members)
            }
        }
        var passing: [ExpressionValue] = []
        for outputs in firings {
            context.triggerOutputs = outputs
            if try holds(trigger.conditions, in: context) { passing.append(outputs) }
        }
        return passing
    }

    /// One expression, its failure named as `what` with the expression text.
    private static func evaluate(_ expression: String, as what: String, in context: TriggerExpressionContext) throws(EngineError) -> ExpressionValue {
        do {
            return try Template.parse(expression).evaluate(in: context)
        } catch {
            throw EngineError.invalid("\(what) '\(expression)' failed: \(error)")
        }
    }

    private static func holds(_ conditions: [String], in context: TriggerExpressionContext) throws(EngineError) -> Bool {
        for condition in conditions {
            let value = try evaluate(condition, as: "the trigger condition", in: context)
            guard case .bool(let holds) = value else {
                throw EngineError.invalid("the trigger condition '\(condition)' must give a Boolean; it gave a \(value.typeName)")
            }
            if !holds { return false }
        }
        return true
    }
}
