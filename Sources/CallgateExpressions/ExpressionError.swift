/// An expression that does not parse or cannot be evaluated, with the offset (in characters,
/// from the start of the expression text) where the problem is.
public struct ExpressionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, naming the function and argument where there is one.
    public let message: String
    /// Character offset in the expression text, when known.
    public let position: Int?

    public init(_ message: String, at position: Int? = nil) {
        self.message = message
        self.position = position
    }

    public var description: String {
        position.map { "\(message) (at character \($0 + 1))" } ?? message
    }
}
