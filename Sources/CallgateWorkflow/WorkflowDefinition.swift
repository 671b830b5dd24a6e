import CallgateExpressions

/// A deployed workflow: the Logic Apps definition, decoded and validated.
public struct WorkflowDefinition: Sendable, Equatable {
    /// The statuses `runAfter` can name.
    public enum RunAfterStatus: String, Sendable, Equatable, CaseIterable {
        case succeeded = "Succeeded"
        case failed = "Failed"
        case skipped = "Skipped"
        case timedOut = "TimedOut"
    }

    /// A declared workflow parameter.
    public struct Parameter: Sendable, Equatable {
        public var type: String
        public var defaultValue: ExpressionValue?
    }

    /// A trigger or an action: its type, raw inputs (templates still unevaluated) and structure.
    public struct Step: Sendable, Equatable {
        public var name: String
        public var type: String
        /// The step's JSON path in the definition (`$.definition.actions.Send`).
        public var path: String
        public var inputs: ExpressionValue
        /// Predecessors in the same scope and the statuses that let this step run.
        public var runAfter: [String: [RunAfterStatus]]
        /// `If`: the condition; `Foreach`: the collection (`foreach`).
        public var expression: ExpressionValue?
        /// Nested actions (`If` true branch, `Foreach`, `Scope`).
        public var actions: [Step]
        /// `If` false branch.
        public var elseActions: [Step]
        /// `limit.timeout` (ISO 8601 duration), for webhook-style steps.
        public var timeout: String?
        /// `limit.heartbeat` (ISO 8601 duration): how far a `Callgate-Outcome: heartbeat`
        /// callback moves a waiting step's deadline.
        public var heartbeat: String?
        /// `operationOptions` (`DisableAsyncPattern`, …), as written.
        public var operationOptions: String
        /// `runtimeConfiguration.secureData.properties` includes `inputs` / `outputs`.
        public var secureInputs: Bool
        public var secureOutputs: Bool
        /// Trigger `conditions`: expressions that must all be true for a callback to start a run.
        public var conditions: [String] = []
        /// Trigger `splitOn`: an expression giving an array; each element starts its own run.
        public var splitOn: String?
    }

    public var parameters: [String: Parameter]
    /// The parameter values given beside the definition (`{"definition": …, "parameters": …}`).
    public var parameterValues: [String: ExpressionValue]
    /// Exactly one trigger.
    public var trigger: Step
    /// Top-level actions.
    public var actions: [Step]
    public var outputs: ExpressionValue
}

/// One problem in a definition, with the JSON path where it is.
public struct DefinitionProblem: Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}

/// A definition that failed validation: every problem found, not just the first.
public struct DefinitionError: Error, Sendable, Equatable, CustomStringConvertible {
    public var problems: [DefinitionProblem]
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}
