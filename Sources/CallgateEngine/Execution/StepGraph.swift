import CallgateWorkflow

/// The shape of a definition the scheduler walks: where each action sits (its container and
/// branch), who runs after whom, and how action keys name Foreach iterations.
///
/// An action's *key* in a run is its name prefixed by the Foreach iterations enclosing it:
/// `Send` at top level, `Loop[2]/Send` inside the third iteration of `Loop`. Action names are
/// unique in a definition (Logic Apps requires it), so `If` and `Scope` add nothing to the key.
struct StepGraph: Sendable {
    /// Which branch of a container an action belongs to.
    enum Branch: String, Sendable {
        case actions
        case `else`
    }

    /// Where an action is: its container (nil at top level) and branch.
    struct Placement: Sendable {
        var container: String?
        var branch: Branch
    }

    let definition: WorkflowDefinition
    private(set) var steps: [String: WorkflowDefinition.Step] = [:]
    private(set) var placement: [String: Placement] = [:]
    /// Siblings that name the action in their `runAfter`.
    private(set) var successors: [String: [String]] = [:]
    /// True when some action is a `Response` (the Request trigger then waits for its reply).
    private(set) var hasResponse = false

    init(definition: WorkflowDefinition) {
        self.definition = definition
        add(definition.actions, container: nil, branch: .actions)
    }

    private mutating func add(_ actions: [WorkflowDefinition.Step], container: String?, branch: Branch) {
        for action in actions {
            steps[action.name] = action
            placement[action.name] = Placement(container: container, branch: branch)
            if action.type == "Response" { hasResponse = true }
            for predecessor in action.runAfter.keys { successors[predecessor, default: []].append(action.name) }
            add(action.actions, container: action.name, branch: .actions)
            add(action.elseActions, container: action.name, branch: .else)
        }
        for name in successors.keys { successors[name]?.sort() }
    }

    /// The actions of a branch: the top level when `container` is nil.
    func members(of container: String?, branch: Branch) -> [WorkflowDefinition.Step] {
        guard let container, let step = steps[container] else { return definition.actions }
        return branch == .else ? step.elseActions : step.actions
    }

    /// The action name in a key (`Loop[2]/Send` → `Send`).
    static func name(ofKey key: String) -> String {
        key.lastIndex(of: "/").map { String(key[key.index(after: $0)...]) } ?? key
    }

    /// The iteration prefix of a key (`Loop[2]/Send` → `Loop[2]/`).
    static func prefix(ofKey key: String) -> String {
        key.lastIndex(of: "/").map { String(key[...$0]) } ?? ""
    }

    /// The prefix of the members of a container's branch: a Foreach adds its iteration.
    func memberPrefix(containerKey: String, iteration: Int?) -> String {
        let name = Self.name(ofKey: containerKey)
        if steps[name]?.type == "Foreach" { return "\(containerKey)[\(iteration ?? 0)]/" }
        return Self.prefix(ofKey: containerKey)
    }

    /// The key of the container enclosing the action at `key`, and the Foreach iteration it is
    /// in; nil at top level.
    func container(ofKey key: String) -> (key: String, iteration: Int?)? {
        let name = Self.name(ofKey: key)
        guard let containerName = placement[name]?.container else { return nil }
        let prefix = Self.prefix(ofKey: key)
        guard steps[containerName]?.type == "Foreach" else { return (prefix + containerName, nil) }
        // prefix ends with "Container[i]/".
        let segment = prefix.dropLast()
        guard let open = segment.lastIndex(of: "["), let iteration = Int(segment[segment.index(after: open)..<segment.index(before: segment.endIndex)]) else {
            return (prefix + containerName, nil)
        }
        return (String(segment[..<open]), iteration)
    }

    /// The Foreach iterations enclosing a key, innermost last: (Foreach key, iteration).
    static func iterations(ofKey key: String) -> [(key: String, iteration: Int)] {
        var result: [(String, Int)] = []
        var consumed = ""
        for segment in prefix(ofKey: key).split(separator: "/") {
            guard let open = segment.lastIndex(of: "["), let index = Int(segment[segment.index(after: open)..<segment.index(before: segment.endIndex)]) else { continue }
            result.append((consumed + segment[..<open], index))
            consumed += segment + "/"
        }
        return result
    }

    /// Keys an action name may resolve to from `key`, innermost iteration first.
    static func candidateKeys(for name: String, from key: String) -> [String] {
        var prefixes = [""]
        var consumed = ""
        for segment in prefix(ofKey: key).split(separator: "/") {
            consumed += segment + "/"
            prefixes.append(consumed)
        }
        return prefixes.reversed().map { $0 + name }
    }
}
