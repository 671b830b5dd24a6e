import CallgateExpressions

/// What run history may show of inputs and outputs.
enum Redaction {
    /// Stands in for a value run history must not show.
    static let marker: ExpressionValue = "<redacted>"

    /// Fields of an `authentication` object that are not secret.
    private static let visibleAuthenticationFields: Set<String> = ["type", "username", "clientid", "tenant", "audience", "authority", "uri"]

    /// Inputs as stored: secrets inside every `authentication` object are replaced, at any depth
    /// (a webhook's `subscribe` and `unsubscribe` carry their own).
    static func storedInputs(_ inputs: ExpressionValue) -> ExpressionValue {
        switch inputs {
        case .object(let members):
            var result: [String: ExpressionValue] = [:]
            for (key, value) in members {
                if key.lowercased() == "authentication", case .object(let authentication) = value {
                    result[key] = .object(authentication.reduce(into: [:]) { redacted, member in
                        redacted[member.key] = visibleAuthenticationFields.contains(member.key.lowercased()) ? member.value : marker
                    })
                } else {
                    result[key] = storedInputs(value)
                }
            }
            return .object(result)
        case .array(let values):
            return .array(values.map(storedInputs))
        default:
            return inputs
        }
    }
}
