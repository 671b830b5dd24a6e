import CallgateExpressions
import Foundation

/// Decodes and validates a Logic Apps workflow definition at deploy time, collecting every
/// problem with its JSON path: unknown types, missing required inputs, `runAfter` naming unknown
/// actions or forming a cycle, expressions that do not parse, functions that do not exist, and
/// `listCallbackUrl()` where no callback exists.
public struct DefinitionParser: Sendable {
    public let catalog: StepTypeCatalog

    public init(catalog: StepTypeCatalog = .builtIn) {
        self.catalog = catalog
    }

    /// Parses `{"definition": {...}, "parameters": {...}}` or a bare definition object.
    public func parse(_ data: Data) throws(DefinitionError) -> WorkflowDefinition {
        var reader = Reader(catalog: catalog)
        guard let root = try? ExpressionValue(json: data), case .object(let members) = root else {
            throw DefinitionError(problems: [DefinitionProblem(path: "$", message: "the workflow must be a JSON object")])
        }
        let definition: [String: ExpressionValue]
        let base: String
        var parameterValues: [String: ExpressionValue] = [:]
        if case .object(let wrapped)? = members["definition"] {
            definition = wrapped
            base = "$.definition"
            if case .object(let values)? = members["parameters"] {
                for (name, value) in values {
                    // ARM form {"name": {"value": x}}, or the value itself.
                    if case .object(let holder) = value, let inner = holder["value"] { parameterValues[name] = inner } else { parameterValues[name] = value }
                }
            }
        } else {
            definition = members
            base = "$"
        }
        let result = reader.definition(definition, path: base, parameterValues: parameterValues)
        if !reader.problems.isEmpty || result == nil {
            throw DefinitionError(problems: reader.problems.isEmpty ? [DefinitionProblem(path: base, message: "invalid definition")] : reader.problems)
        }
        guard let result else { throw DefinitionError(problems: reader.problems) }
        return result
    }
}

/// Walks the definition, accumulating problems.
private struct Reader {
    let catalog: StepTypeCatalog
    var problems: [DefinitionProblem] = []
    /// Action names seen so far and where: names are unique in the whole definition, since
    /// expressions such as `body('Name')` refer to actions by name from anywhere.
    var actionPaths: [String: String] = [:]

    mutating func problem(_ path: String, _ message: String) {
        problems.append(DefinitionProblem(path: path, message: message))
    }

    static func member(_ path: String, _ name: String) -> String {
        let plain = name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" } && !name.isEmpty
        return plain ? "\(path).\(name)" : "\(path)['\(name.replacingOccurrences(of: "'", with: "''"))']"
    }

    mutating func definition(_ definition: [String: ExpressionValue], path: String, parameterValues: [String: ExpressionValue]) -> WorkflowDefinition? {
        var parameters: [String: WorkflowDefinition.Parameter] = [:]
        if let declared = definition["parameters"] {
            if case .object(let members) = declared {
                for (name, value) in members {
                    let parameterPath = Self.member(path + ".parameters", name)
                    guard case .object(let spec) = value, case .string(let type)? = spec["type"] else {
                        problem(parameterPath, "a parameter needs a \"type\"")
                        continue
                    }
                    parameters[name] = .init(type: type, defaultValue: spec["defaultValue"])
                }
            } else {
                problem(path + ".parameters", "must be an object")
            }
        }
        for name in parameterValues.keys where parameters[name] == nil {
            problem(Self.member("$.parameters", name), "no parameter '\(name)' is declared in the definition")
        }

        var trigger: WorkflowDefinition.Step?
        switch definition["triggers"] {
        case .object(let triggers)? where triggers.count == 1:
            if let (name, value) = triggers.first {
                trigger = step(name: name, value: value, path: Self.member(path + ".triggers", name), isTrigger: true)
            }
        case .object(let triggers)?:
            problem(path + ".triggers", "a workflow has exactly one trigger; found \(triggers.count)")
        default:
            problem(path + ".triggers", "missing: a workflow has exactly one trigger")
        }

        var actions: [WorkflowDefinition.Step] = []
        switch definition["actions"] {
        case nil: break
        case .object(let members)?: actions = scope(members, path: path + ".actions")
        default: problem(path + ".actions", "must be an object")
        }
        guard let trigger else { return nil }
        if trigger.splitOn != nil, let response = Self.firstStep(ofType: "Response", in: actions) {
            // As in Logic Apps: one callback starting several runs cannot get one run's reply.
            problem(trigger.path + ".splitOn", "splitOn cannot be used with a Response action (\(response.path)); each split item starts its own run")
        }
        return WorkflowDefinition(
            parameters: parameters, parameterValues: parameterValues, trigger: trigger, actions: actions,
            outputs: definition["outputs"] ?? .object([:])
        )
    }

    /// The actions of one scope, with `runAfter` checked against their siblings.
    mutating func scope(_ members: [String: ExpressionValue], path: String) -> [WorkflowDefinition.Step] {
        var steps: [WorkflowDefinition.Step] = []
        for name in members.keys.sorted() {
            let actionPath = Self.member(path, name)
            if let earlier = actionPaths[name] {
                problem(actionPath, "the action name '\(name)' is already used at \(earlier); names must be unique in a workflow")
            } else {
                actionPaths[name] = actionPath
            }
            if let step = step(name: name, value: members[name] ?? .null, path: Self.member(path, name), isTrigger: false) {
                steps.append(step)
            }
        }
        let names = Set(steps.map(\.name))
        for step in steps {
            for predecessor in step.runAfter.keys.sorted() where !names.contains(predecessor) {
                problem(step.path + ".runAfter", "names '\(predecessor)', which is not an action in the same scope")
            }
        }
        if let cycle = Self.cycle(in: steps) {
            problem(path, "runAfter forms a cycle: \(cycle.joined(separator: " → "))")
        }
        return steps
    }

    /// A runAfter cycle among sibling steps, as the names along it, or nil.
    static func cycle(in steps: [WorkflowDefinition.Step]) -> [String]? {
        let edges = Dictionary(uniqueKeysWithValues: steps.map { ($0.name, $0.runAfter.keys.sorted()) })
        var state: [String: Int] = [:]  // 1 visiting, 2 done
        var stack: [String] = []
        func visit(_ name: String) -> [String]? {
            if state[name] == 2 { return nil }
            if state[name] == 1 {
                guard let start = stack.firstIndex(of: name) else { return [name] }
                return Array(stack[start...]) + [name]
            }
            state[name] = 1
            stack.append(name)
            for next in edges[name] ?? [] where edges[next] != nil {
                if let cycle = visit(next) { return cycle }
            }
            stack.removeLast()
            state[name] = 2
            return nil
        }
        for name in edges.keys.sorted() {
            if let cycle = visit(name) { return cycle }
        }
        return nil
    }

    mutating func step(name: String, value: ExpressionValue, path: String, isTrigger: Bool) -> WorkflowDefinition.Step? {
        guard case .object(let members) = value else {
            problem(path, "must be an object")
            return nil
        }
        guard case .string(let type)? = members["type"] else {
            problem(path + ".type", "missing: every \(isTrigger ? "trigger" : "action") has a \"type\"")
            return nil
        }
        let known = isTrigger ? catalog.triggers[type] : catalog.actions[type]
        guard let stepType = known else {
            let kinds = (isTrigger ? catalog.triggers : catalog.actions).keys.sorted().joined(separator: ", ")
            problem(path + ".type", "unknown \(isTrigger ? "trigger" : "action") type '\(type)' (known: \(kinds))")
            return nil
        }
        let inputs = members["inputs"] ?? .null
        for required in stepType.requiredInputs where Self.lookup(inputs, required) == nil {
            problem(path + ".inputs." + required, "missing: \(type) needs inputs.\(required)")
        }
        if type == "Wait", !isTrigger {
            let required = Self.lookup(inputs, "until") != nil ? ["until.timestamp"] : ["interval", "interval.count", "interval.unit"]
            for input in required where Self.lookup(inputs, input) == nil {
                problem(path + ".inputs." + input, "missing: Wait needs inputs.\(input)")
            }
        }
        checkTemplates(inputs, path: path + ".inputs", relative: "", stepType: stepType)

        var runAfter: [String: [WorkflowDefinition.RunAfterStatus]] = [:]
        if !isTrigger, let declared = members["runAfter"] {
            if case .object(let entries) = declared {
                for (predecessor, statuses) in entries {
                    guard case .array(let list) = statuses else {
                        problem(Self.member(path + ".runAfter", predecessor), "must be an array of statuses")
                        continue
                    }
                    var parsed: [WorkflowDefinition.RunAfterStatus] = []
                    for (index, status) in list.enumerated() {
                        if case .string(let text) = status, let value = WorkflowDefinition.RunAfterStatus(rawValue: text) {
                            parsed.append(value)
                        } else {
                            problem(Self.member(path + ".runAfter", predecessor) + "[\(index)]", "must be one of Succeeded, Failed, Skipped, TimedOut")
                        }
                    }
                    runAfter[predecessor] = parsed
                }
            } else {
                problem(path + ".runAfter", "must be an object")
            }
        }

        var expression: ExpressionValue?
        var actions: [WorkflowDefinition.Step] = []
        var elseActions: [WorkflowDefinition.Step] = []
        if stepType.isContainer {
            switch type {
            case "If":
                expression = members["expression"]
                if let condition = expression {
                    checkTemplates(condition, path: path + ".expression", relative: "", stepType: StepType())
                } else {
                    problem(path + ".expression", "missing: If needs an expression")
                }
                if case .object(let branch)? = members["else"], case .object(let elseMembers)? = branch["actions"] {
                    elseActions = scope(elseMembers, path: path + ".else.actions")
                }
            case "Foreach":
                expression = members["foreach"]
                if case .string(let collection)? = expression {
                    checkTemplate(collection, path: path + ".foreach", relative: "", stepType: StepType())
                } else {
                    problem(path + ".foreach", "missing: Foreach needs \"foreach\", an expression giving an array")
                }
            default:
                break
            }
            if case .object(let nested)? = members["actions"] {
                actions = scope(nested, path: path + ".actions")
            } else if type != "If" || members["actions"] != nil {
                problem(path + ".actions", "missing: \(type) needs an \"actions\" object")
            }
        }

        var timeout: String?
        var heartbeat: String?
        if case .object(let limit)? = members["limit"] {
            for (name, value) in limit.sorted(by: { $0.key < $1.key }) where name == "timeout" || name == "heartbeat" {
                guard case .string(let text) = value, ISODuration(text) != nil else {
                    problem(path + ".limit." + name, "must be an ISO 8601 duration such as PT1H or P1DT12H")
                    continue
                }
                if name == "timeout" { timeout = text } else { heartbeat = text }
            }
        }
        var operationOptions = ""
        if let options = members["operationOptions"] {
            if case .string(let text) = options { operationOptions = text } else { problem(path + ".operationOptions", "must be a string") }
        }
        var secureInputs = false
        var secureOutputs = false
        if case .object(let runtime)? = members["runtimeConfiguration"], case .object(let secure)? = runtime["secureData"],
           case .array(let properties)? = secure["properties"] {
            secureInputs = properties.contains(.string("inputs"))
            secureOutputs = properties.contains(.string("outputs"))
        }
        var conditions: [String] = []
        var splitOn: String?
        if isTrigger {
            (conditions, splitOn) = triggerFilters(members, path: path)
        }
        return WorkflowDefinition.Step(
            name: name, type: type, path: path, inputs: inputs, runAfter: runAfter, expression: expression,
            actions: actions, elseActions: elseActions, timeout: timeout, heartbeat: heartbeat,
            operationOptions: operationOptions, secureInputs: secureInputs, secureOutputs: secureOutputs,
            conditions: conditions, splitOn: splitOn
        )
    }

    /// A trigger's `conditions` (`[{"expression": "@…"}]`) and `splitOn` (`"@triggerBody()?['items']"`).
    mutating func triggerFilters(_ members: [String: ExpressionValue], path: String) -> (conditions: [String], splitOn: String?) {
        var conditions: [String] = []
        switch members["conditions"] {
        case nil:
            break
        case .array(let entries)?:
            for (index, entry) in entries.enumerated() {
                let entryPath = path + ".conditions[\(index)].expression"
                guard case .string(let text)? = entry["expression"] else {
                    problem(entryPath, "missing: each condition is {\"expression\": \"@…\"}")
                    continue
                }
                checkTemplate(text, path: entryPath, relative: "", stepType: StepType())
                conditions.append(text)
            }
        default:
            problem(path + ".conditions", "must be an array of {\"expression\": \"@…\"}")
        }
        var splitOn: String?
        switch members["splitOn"] {
        case nil:
            break
        case .string(let text)? where text.hasPrefix("@"):
            checkTemplate(text, path: path + ".splitOn", relative: "", stepType: StepType())
            splitOn = text
        default:
            problem(path + ".splitOn", "must be an expression such as \"@triggerBody()?['items']\"")
        }
        return (conditions, splitOn)
    }

    /// The first step of `type` in `steps` or nested in them.
    static func firstStep(ofType type: String, in steps: [WorkflowDefinition.Step]) -> WorkflowDefinition.Step? {
        for step in steps {
            if step.type == type { return step }
            if let nested = firstStep(ofType: type, in: step.actions + step.elseActions) { return nested }
        }
        return nil
    }

    /// The value at a dotted input path, or nil.
    static func lookup(_ value: ExpressionValue, _ dotted: String) -> ExpressionValue? {
        var current = value
        for key in dotted.split(separator: ".") {
            guard case .object(let members) = current, let next = members[String(key)] else { return nil }
            current = next
        }
        return current
    }

    /// Checks every string in an inputs subtree as a template.
    mutating func checkTemplates(_ value: ExpressionValue, path: String, relative: String, stepType: StepType) {
        switch value {
        case .string(let text):
            checkTemplate(text, path: path, relative: relative, stepType: stepType)
        case .array(let values):
            for (index, element) in values.enumerated() {
                checkTemplates(element, path: path + "[\(index)]", relative: relative, stepType: stepType)
            }
        case .object(let members):
            for key in members.keys.sorted() {
                checkTemplates(members[key] ?? .null, path: Self.member(path, key), relative: relative.isEmpty ? key : relative + "." + key, stepType: stepType)
            }
        default:
            break
        }
    }

    mutating func checkTemplate(_ text: String, path: String, relative: String, stepType: StepType) {
        let template: Template
        do {
            template = try Template.parse(text)
        } catch {
            problem(path, "expression does not parse: \(error)")
            return
        }
        var functions = ContextFunctions.arities
        func within(_ roots: [String]) -> Bool {
            roots.contains { $0 == "*" || relative == $0 || relative.hasPrefix($0 + ".") }
        }
        if !within(stepType.callbackInputs) { functions["listCallbackUrl"] = nil }
        if !within(stepType.subscribeResponseInputs) { functions["subscribeResponse"] = nil }
        for expression in template.expressions {
            do {
                try expression.validate(contextFunctions: functions)
            } catch {
                let reason = error.message.hasSuffix("cannot be used here") && error.message.contains("listCallbackUrl")
                    ? "listCallbackUrl() is used where no callback exists" : error.message
                problem(path, reason)
            }
        }
    }
}

/// An ISO 8601 duration (`P[nY][nM][nW][nD][T[nH][nM][nS]]`), as `limit.timeout` and `Wait` use.
public struct ISODuration: Sendable, Equatable {
    /// The duration in seconds (months count 30 days, years 365, as Logic Apps approximates them).
    public let seconds: Double

    public init?(_ text: String) {
        let pattern = #"^P(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$"#
        guard text != "P", text != "PT", !text.hasSuffix("T"),
              let regex = try? NSRegularExpression(pattern: pattern),
              let match = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text))
        else { return nil }
        let factors: [Double] = [365 * 86_400, 30 * 86_400, 7 * 86_400, 86_400, 3600, 60, 1]
        var total = 0.0
        for (index, factor) in factors.enumerated() {
            let range = match.range(at: index + 1)
            if range.location != NSNotFound, let swiftRange = Range(range, in: text), let value = Double(text[swiftRange]) {
                total += value * factor
            }
        }
        seconds = total
    }
}
