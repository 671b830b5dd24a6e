import CallgateExpressions

/// What deploy-time validation knows of a trigger or action type.
public struct StepType: Sendable, Equatable {
    /// Input paths that must be present (`subscribe.uri` means `inputs.subscribe.uri`).
    public var requiredInputs: [String]
    /// The step has a callback URL, so `listCallbackUrl()` may appear in these input subtrees
    /// (empty: nowhere; `"*"`: anywhere in the inputs).
    public var callbackInputs: [String]
    /// Input subtrees where `subscribeResponse()` may appear.
    public var subscribeResponseInputs: [String]
    /// The step holds nested actions (`If`, `Foreach`, `Scope`).
    public var isContainer: Bool

    public init(requiredInputs: [String] = [], callbackInputs: [String] = [], subscribeResponseInputs: [String] = [], isContainer: Bool = false) {
        self.requiredInputs = requiredInputs
        self.callbackInputs = callbackInputs
        self.subscribeResponseInputs = subscribeResponseInputs
        self.isContainer = isContainer
    }
}

/// The trigger and action types a gateway runs: the built-in ones of SPEC §6, plus whatever
/// loaded plugins declare.
public struct StepTypeCatalog: Sendable {
    public var triggers: [String: StepType]
    public var actions: [String: StepType]

    public init(triggers: [String: StepType], actions: [String: StepType]) {
        self.triggers = triggers
        self.actions = actions
    }

    /// The built-in types.
    public static let builtIn = StepTypeCatalog(
        triggers: [
            "Request": StepType(),
            "HttpWebhook": StepType(
                requiredInputs: ["subscribe", "subscribe.method", "subscribe.uri"],
                callbackInputs: ["subscribe", "unsubscribe"], subscribeResponseInputs: ["unsubscribe"]
            ),
        ],
        actions: [
            "Http": StepType(requiredInputs: ["method", "uri"]),
            "HttpWebhook": StepType(
                requiredInputs: ["subscribe", "subscribe.method", "subscribe.uri"],
                callbackInputs: ["subscribe", "unsubscribe"], subscribeResponseInputs: ["unsubscribe"]
            ),
            "Compose": StepType(),
            "Response": StepType(requiredInputs: ["statusCode"]),
            "If": StepType(isContainer: true),
            "Foreach": StepType(isContainer: true),
            "Scope": StepType(isContainer: true),
            "Terminate": StepType(requiredInputs: ["runStatus"]),
            // Wait takes interval {count, unit} or until {timestamp}: the parser checks which.
            "Wait": StepType(),
            "InitializeVariable": StepType(requiredInputs: ["variables"]),
            "SetVariable": StepType(requiredInputs: ["name", "value"]),
        ]
    )

    /// This catalog plus the types in plugin `describe` documents
    /// (`{"triggers": [{"type", "inputs": {JSON Schema}}], "actions": [...]}`): an input the schema
    /// lists as `required` is required; plugins mint their own callbacks, so `listCallbackUrl()`
    /// may appear anywhere in their inputs.
    public func adding(pluginDescriptions: [ExpressionValue]) -> StepTypeCatalog {
        var triggers: [String: StepType] = [:]
        var actions: [String: StepType] = [:]
        func types(_ list: ExpressionValue?) -> [String: StepType] {
            guard case .array(let entries)? = list else { return [:] }
            var result: [String: StepType] = [:]
            for entry in entries {
                guard case .object(let members) = entry, case .string(let type)? = members["type"] else { continue }
                var required: [String] = []
                if case .object(let schema)? = members["inputs"], case .array(let names)? = schema["required"] {
                    required = names.compactMap { if case .string(let name) = $0 { name } else { nil } }
                }
                result[type] = StepType(requiredInputs: required, callbackInputs: ["*"])
            }
            return result
        }
        for description in pluginDescriptions {
            guard case .object(let members) = description else { continue }
            triggers.merge(types(members["triggers"])) { old, _ in old }
            actions.merge(types(members["actions"])) { old, _ in old }
        }
        return adding(triggers: triggers, actions: actions)
    }

    /// This catalog plus types declared by plugins.
    public func adding(triggers extraTriggers: [String: StepType], actions extraActions: [String: StepType]) -> StepTypeCatalog {
        StepTypeCatalog(triggers: triggers.merging(extraTriggers) { old, _ in old }, actions: actions.merging(extraActions) { old, _ in old })
    }
}
