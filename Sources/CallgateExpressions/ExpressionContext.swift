import Foundation

/// What an expression can see of its workflow run: the engine implements this.
///
/// Context functions are the ones whose value depends on the run (`triggerBody()`,
/// `body('Step')`, `variables('x')`, `listCallbackUrl()`…); everything else is built in.
public protocol ExpressionContext {
    /// The value of context function `name`, or nil when `name` is not a context function here
    /// (then evaluation reports it as unknown). Throw for a known function used wrongly.
    func callContextFunction(_ name: String, arguments: [ExpressionValue]) throws(ExpressionError) -> ExpressionValue?

    /// The instant `utcNow()` reads.
    var now: Date { get }
}

/// A context with no run: only built-in functions (tests, deploy-time constant folding).
public struct EmptyExpressionContext: ExpressionContext {
    public let now: Date

    public init(now: Date = Date()) {
        self.now = now
    }

    public func callContextFunction(_ name: String, arguments: [ExpressionValue]) throws(ExpressionError) -> ExpressionValue? {
        nil
    }
}

/// The context functions of SPEC §6 with the arities deploy-time validation accepts.
public enum ContextFunctions {
    public static let arities: [String: ClosedRange<Int>] = [
        "trigger": 0...0, "triggerBody": 0...0, "triggerOutputs": 0...0, "body": 1...1, "outputs": 1...1,
        "actions": 1...1, "parameters": 1...1, "variables": 1...1, "workflow": 0...0, "item": 0...0,
        "items": 1...1, "result": 1...1, "listCallbackUrl": 0...0, "subscribeResponse": 0...0,
    ]
}
