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
            let items: ExpressionValue
            do {
                items = try Template.parse(splitOn).evaluate(in: context)
            } catch {
                throw EngineError.invalid("the trigger's splitOn '\(splitOn)' failed: \(error)")
            }
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

    private static func holds(_ conditions: [String], in context: TriggerExpressionContext) throws(EngineError) -> Bool {
        for condition in conditions {
            let value: ExpressionValue
            do {
                value = try Template.parse(condition).evaluate(in: context)
            } catch {
                throw EngineError.invalid("the trigger condition '\(condition)' failed: \(error)")
            }
            guard case .bool(let holds) = value else {
                throw EngineError.invalid("the trigger condition '\(condition)' must give a Boolean; it gave a \(value.typeName)")
            }
            if !holds { return false }
        }
        return true
    }
}
