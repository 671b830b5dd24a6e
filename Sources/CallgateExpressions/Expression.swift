/// A parsed expression: a tree of literals, function calls and member/index accesses, each node
/// knowing where it starts in the source text.
public indirect enum Expression: Sendable, Equatable {
    /// A literal value.
    case literal(ExpressionValue, position: Int)
    /// `name(arguments…)`.
    case call(name: String, arguments: [Expression], position: Int)
    /// `base.name`, `base['name']`, `base[index]`; `optional` for `?.` / `?[`: null instead of an error.
    case access(base: Expression, key: Expression, optional: Bool, position: Int)

    /// Where the node starts in the expression text.
    public var position: Int {
        switch self {
        case .literal(_, let position), .call(_, _, let position), .access(_, _, _, let position): position
        }
    }

    /// Every function call in the tree, outermost first (deploy-time validation walks these).
    public var calls: [(name: String, arity: Int, position: Int)] {
        switch self {
        case .literal:
            return []
        case .call(let name, let arguments, let position):
            return [(name, arguments.count, position)] + arguments.flatMap(\.calls)
        case .access(let base, let key, _, _):
            return base.calls + key.calls
        }
    }

    /// Parses expression text, e.g. `triggerBody()?['order']['id']`.
    public static func parse(_ text: String) throws(ExpressionError) -> Expression {
        var lexer = Lexer(text)
        var parser = Parser(tokens: try lexer.tokens())
        let expression = try parser.expression()
        try parser.expectEnd()
        return expression
    }
}

/// Recursive descent over the tokens: expression := primary postfix*.
struct Parser {
    private let tokens: [Token]
    private var index = 0

    init(tokens: [Token]) {
        self.tokens = tokens
    }

    private var current: Token { tokens[index] }

    private mutating func advance() { if index < tokens.count - 1 { index += 1 } }

    mutating func expectEnd() throws(ExpressionError) {
        guard current.kind == .end else { throw ExpressionError("unexpected \(Self.describe(current.kind)) after the expression", at: current.position) }
    }

    mutating func expression() throws(ExpressionError) -> Expression {
        var node = try primary()
        while true {
            let start = current.position
            switch current.kind {
            case .dot:
                advance()
                node = .access(base: node, key: try memberName(), optional: false, position: start)
            case .leftBracket:
                advance()
                node = .access(base: node, key: try bracketKey(), optional: false, position: start)
            case .question:
                advance()
                if current.kind == .leftBracket {
                    advance()
                    node = .access(base: node, key: try bracketKey(), optional: true, position: start)
                } else if current.kind == .dot {
                    advance()
                    node = .access(base: node, key: try memberName(), optional: true, position: start)
                } else {
                    throw ExpressionError("expected '[' or '.' after '?'", at: current.position)
                }
            default:
                return node
            }
        }
    }

    private mutating func memberName() throws(ExpressionError) -> Expression {
        guard case .identifier(let name) = current.kind else {
            throw ExpressionError("expected a property name, found \(Self.describe(current.kind))", at: current.position)
        }
        let position = current.position
        advance()
        return .literal(.string(name), position: position)
    }

    private mutating func bracketKey() throws(ExpressionError) -> Expression {
        let key = try expression()
        guard current.kind == .rightBracket else { throw ExpressionError("expected ']'", at: current.position) }
        advance()
        return key
    }

    private mutating func primary() throws(ExpressionError) -> Expression {
        let token = current
        switch token.kind {
        case .string(let text):
            advance()
            return .literal(.string(text), position: token.position)
        case .integer(let value):
            advance()
            return .literal(.integer(value), position: token.position)
        case .float(let value):
            advance()
            return .literal(.float(value), position: token.position)
        case .identifier(let name):
            advance()
            if current.kind != .leftParen {
                switch name {
                case "true": return .literal(.bool(true), position: token.position)
                case "false": return .literal(.bool(false), position: token.position)
                case "null": return .literal(.null, position: token.position)
                default: throw ExpressionError("'\(name)' is not a function call; write \(name)()", at: token.position)
                }
            }
            advance()
            var arguments: [Expression] = []
            if current.kind != .rightParen {
                while true {
                    arguments.append(try expression())
                    if current.kind == .comma {
                        advance()
                        continue
                    }
                    break
                }
            }
            guard current.kind == .rightParen else {
                throw ExpressionError("expected ',' or ')' in the arguments of \(name)", at: current.position)
            }
            advance()
            return .call(name: name, arguments: arguments, position: token.position)
        default:
            throw ExpressionError("expected a value or a function call, found \(Self.describe(token.kind))", at: token.position)
        }
    }

    static func describe(_ kind: Token.Kind) -> String {
        switch kind {
        case .identifier(let name): "'\(name)'"
        case .string: "a string"
        case .integer, .float: "a number"
        case .leftParen: "'('"
        case .rightParen: "')'"
        case .leftBracket: "'['"
        case .rightBracket: "']'"
        case .comma: "','"
        case .dot: "'.'"
        case .question: "'?'"
        case .end: "the end"
        }
    }
}
