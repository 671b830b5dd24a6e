/// What deploy-time validation knows of a trigger or action type.
public struct StepType: Sendable, Equatable {
    /// Input paths that must be present (`subscribe.uri` means `inputs.subscribe.uri`).
    public var requiredInputs: [String]
    /// The step has a callback URL, so `listCallbackUrl()` may appear in these input subtrees
    /// (empty: nowhere).
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
            "Wait": StepType(requiredInputs: ["interval", "interval.count", "interval.unit"]),
            "InitializeVariable": StepType(requiredInputs: ["variables"]),
            "SetVariable": StepType(requiredInputs: ["name", "value"]),
        ]
    )

    /// This catalog plus types declared by plugins.
    public func adding(triggers extraTriggers: [String: StepType], actions extraActions: [String: StepType]) -> StepTypeCatalog {
        StepTypeCatalog(triggers: triggers.merging(extraTriggers) { old, _ in old }, actions: actions.merging(extraActions) { old, _ in old })
    }
}
