import CallgateExpressions
import CallgateWorkflow
import Foundation

/// The built-in actions that finish inside one transaction: Compose, Response, variables,
/// Terminate, the containers (If, Foreach, Scope) and Wait (which sets a durable timer).
enum BuiltinActions {
    static func execute(key: String, step: WorkflowDefinition.Step, in mutation: inout RunMutation) throws {
        guard var record = mutation.actions[key] else { return }
        record.status = .running
        record.startedAt = mutation.now
        let context = mutation.context(for: key)
        do {
            switch step.type {
            case "Compose":
                let value = try InputEvaluation.evaluate(step.inputs, in: context)
                record.inputs = Redaction.storedInputs(value)
                try mutation.save(record)
                try mutation.finish(key: key, status: .succeeded, outputs: value)
            case "InitializeVariable", "SetVariable":
                let inputs = try InputEvaluation.evaluate(step.inputs, in: context)
                record.inputs = inputs
                try mutation.save(record)
                if let problem = step.type == "SetVariable" ? setVariable(inputs, in: &mutation) : initializeVariables(inputs, in: &mutation) {
                    try mutation.finish(key: key, status: .failed, error: ActionFailure.coded("InvalidVariable", problem).value)
                } else {
                    try mutation.finish(key: key, status: .succeeded)
                }
            case "Response":
                let inputs = try InputEvaluation.evaluate(step.inputs, in: context)
                record.inputs = Redaction.storedInputs(inputs)
                try mutation.save(record)
                try respond(key: key, inputs: inputs, in: &mutation)
            case "Terminate":
                let inputs = try InputEvaluation.evaluate(step.inputs, in: context)
                record.inputs = inputs
                try terminate(record: record, inputs: inputs, in: &mutation)
            case "If":
                let branch: StepGraph.Branch = try InputEvaluation.condition(step.expression ?? .bool(false), in: context) ? .actions : .else
                record.inputs = .object(["expressionResult": .bool(branch == .actions)])
                record.state["branch"] = .string(branch.rawValue)
                try mutation.save(record)
                // The branch not taken shows as Skipped, as in Logic Apps.
                for skipped in branch == .actions ? step.elseActions : step.actions {
                    var skippedRecord = ActionRecord(runID: mutation.run.id, key: StepGraph.prefix(ofKey: key) + skipped.name, name: skipped.name, type: skipped.type, status: .skipped)
                    skippedRecord.startedAt = mutation.now
                    skippedRecord.endedAt = mutation.now
                    try mutation.save(skippedRecord)
                }
                try mutation.startBranch(containerKey: key, branch: branch, prefix: StepGraph.prefix(ofKey: key))
            case "Scope":
                try mutation.save(record)
                try mutation.startBranch(containerKey: key, branch: .actions, prefix: StepGraph.prefix(ofKey: key))
            case "Foreach":
                let collection = try InputEvaluation.evaluate(step.expression ?? .array([]), in: context)
                guard case .array(let items) = collection else {
                    try mutation.save(record)
                    try mutation.finish(key: key, status: .failed, error: ActionFailure.coded(
                        "InvalidTemplate", "the Foreach expression must give an array; it gave a \(collection.typeName)"
                    ).value)
                    return
                }
                record.inputs = .object(["count": .integer(Int64(items.count))])
                record.state["items"] = .array(items)
                record.state["index"] = .integer(0)
                try mutation.save(record)
                if items.isEmpty {
                    try mutation.finish(key: key, status: .succeeded)
                } else {
                    try mutation.startBranch(containerKey: key, branch: .actions, prefix: mutation.graph.memberPrefix(containerKey: key, iteration: 0))
                }
            case "Wait":
                let inputs = try InputEvaluation.evaluate(step.inputs, in: context)
                record.inputs = inputs
                guard let until = waitUntil(inputs, from: mutation.now) else {
                    try mutation.save(record)
                    try mutation.finish(key: key, status: .failed, error: ActionFailure.coded(
                        "InvalidWait", "Wait needs interval {count, unit: Second|Minute|Hour|Day|Week|Month} or until {timestamp}"
                    ).value)
                    return
                }
                record.state["until"] = .float(until.timeIntervalSince1970)
                try mutation.save(record)
                try mutation.transaction.schedule(.timer, runID: mutation.run.id, actionKey: key, at: until)
                mutation.noteWorkQueued()
            default:
                try mutation.save(record)
                try mutation.finish(key: key, status: .failed, error: ActionFailure.coded(
                    "UnsupportedAction", "no connector that runs actions of type '\(step.type)' is loaded"
                ).value)
            }
        } catch let error as ExpressionError {
            if mutation.actions[key]?.status.isTerminal != true {
                try mutation.save(record)
                try mutation.finish(key: key, status: .failed, error: ActionFailure.template(step.name, error))
            }
        }
    }

    /// A timer of a built-in action fell due (only Wait sets one).
    static func timerFired(key: String, in mutation: inout RunMutation) throws {
        guard let record = mutation.actions[key], record.status == .running else { return }
        if case .float(let until)? = record.state["until"], until > mutation.now.timeIntervalSince1970 + 0.001 {
            // Fired early (clock change): wait for the rest.
            try mutation.transaction.schedule(.timer, runID: mutation.run.id, actionKey: key, at: Date(timeIntervalSince1970: until))
            return
        }
        try mutation.finish(key: key, status: .succeeded)
    }

    // MARK: Variables

    static let variableTypes = ["integer", "float", "boolean", "string", "array", "object"]

    private static func initializeVariables(_ inputs: ExpressionValue, in mutation: inout RunMutation) -> String? {
        guard case .array(let variables)? = inputs["variables"] else { return "inputs.variables must be an array of {name, type, value}" }
        for variable in variables {
            guard case .string(let name)? = variable["name"], case .string(let type)? = variable["type"] else {
                return "each variable needs a name and a type"
            }
            guard variableTypes.contains(type.lowercased()) else {
                return "the variable '\(name)' has type '\(type)'; use one of \(variableTypes.joined(separator: ", "))"
            }
            if mutation.run.variables[name] != nil { return "the variable '\(name)' is already initialized" }
            let value = variable["value"] ?? defaultValue(type.lowercased())
            guard let converted = conform(value, to: type.lowercased()) else {
                return "the value of variable '\(name)' is a \(value.typeName), not a \(type)"
            }
            mutation.run.variables[name] = converted
            mutation.run.variableTypes[name] = type.lowercased()
        }
        return nil
    }

    private static func setVariable(_ inputs: ExpressionValue, in mutation: inout RunMutation) -> String? {
        guard case .string(let name)? = inputs["name"] else { return "inputs.name must be a string" }
        guard let type = mutation.run.variableTypes[name] else {
            return "the variable '\(name)' is not initialized; add an InitializeVariable action before this one"
        }
        let value = inputs["value"] ?? .null
        guard let converted = conform(value, to: type) else { return "the variable '\(name)' is a \(type); the new value is a \(value.typeName)" }
        mutation.run.variables[name] = converted
        return nil
    }

    private static func defaultValue(_ type: String) -> ExpressionValue {
        switch type {
        case "integer": .integer(0)
        case "float": .float(0)
        case "boolean": .bool(false)
        case "string": .string("")
        case "array": .array([])
        default: .object([:])
        }
    }

    private static func conform(_ value: ExpressionValue, to type: String) -> ExpressionValue? {
        switch (type, value) {
        case ("integer", .integer), ("float", .float), ("boolean", .bool), ("string", .string), ("array", .array), ("object", .object):
            return value
        case ("float", .integer(let number)):
            return .float(Double(number))
        case (_, .null):
            return value
        default:
            return nil
        }
    }

    // MARK: Response and Terminate

    private static func respond(key: String, inputs: ExpressionValue, in mutation: inout RunMutation) throws {
        let status: Int64
        switch inputs["statusCode"] {
        case .integer(let code)?: status = code
        case .string(let text)?: status = Int64(text) ?? 0
        default: status = 0
        }
        guard (100...599).contains(status) else {
            try mutation.finish(key: key, status: .failed, error: ActionFailure.coded("InvalidResponse", "statusCode must be an HTTP status between 100 and 599").value)
            return
        }
        guard mutation.run.response == nil else {
            try mutation.finish(key: key, status: .failed, error: ActionFailure.coded(
                "ResponseAlreadySent", "the run has already replied to its trigger request"
            ).value)
            return
        }
        let reply: ExpressionValue = .object([
            "statusCode": .integer(status), "headers": inputs["headers"] ?? .object([:]), "body": inputs["body"] ?? .null,
        ])
        mutation.run.response = reply
        mutation.noteResponse()
        try mutation.finish(key: key, status: .succeeded, outputs: reply)
    }

    private static func terminate(record: ActionRecord, inputs: ExpressionValue, in mutation: inout RunMutation) throws {
        var record = record
        let requested = inputs["runStatus"]?.string ?? ""
        let status: RunStatus
        switch requested {
        case "Succeeded": status = .succeeded
        case "Failed": status = .failed
        case "Cancelled": status = .cancelled
        default:
            try mutation.save(record)
            try mutation.finish(key: record.key, status: .failed, error: ActionFailure.coded(
                "InvalidTerminate", "runStatus must be Succeeded, Failed or Cancelled; got '\(requested)'"
            ).value)
            return
        }
        record.status = .succeeded
        record.endedAt = mutation.now
        try mutation.save(record)
        var error: ExpressionValue?
        if status == .failed {
            error = inputs["runError"] ?? .object(["code": "Terminated", "message": .string("the run was terminated by '\(record.name)'")])
        } else if status == .cancelled {
            error = .object(["code": "Terminated", "message": .string("the run was cancelled by '\(record.name)'")])
        }
        try mutation.endRun(status: status, error: error)
    }

    // MARK: Wait

    /// The instant a Wait action ends: `interval {count, unit}` or `until {timestamp}`.
    static func waitUntil(_ inputs: ExpressionValue, from now: Date) -> Date? {
        if let interval = inputs["interval"] {
            let count: Double
            switch interval["count"] {
            case .integer(let value)?: count = Double(value)
            case .float(let value)?: count = value
            case .string(let text)?: count = Double(text) ?? -1
            default: count = -1
            }
            let units: [String: Double] = ["second": 1, "minute": 60, "hour": 3600, "day": 86_400, "week": 604_800, "month": 2_592_000]
            guard count >= 0, let unit = interval["unit"]?.string?.lowercased(), let factor = units[unit] else { return nil }
            return now.addingTimeInterval(count * factor)
        }
        if let timestamp = inputs["until"]?["timestamp"]?.string {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            return formatter.date(from: timestamp) ?? ISO8601DateFormatter().date(from: timestamp)
        }
        return nil
    }
}
