/// A token of the expression language with its character offset.
struct Token: Equatable {
    enum Kind: Equatable {
        case identifier(String)
        case string(String)
        case integer(Int64)
        case float(Double)
        case leftParen, rightParen, leftBracket, rightBracket, comma, dot, question
        case end
    }

    let kind: Kind
    let position: Int
}

/// Splits expression text (`triggerBody()?['name']`) into tokens.
struct Lexer {
    private let characters: [Character]
    private var index = 0

    init(_ text: String) {
        characters = Array(text)
    }

    mutating func tokens() throws(ExpressionError) -> [Token] {
        var result: [Token] = []
        while true {
            let token = try next()
            result.append(token)
            if token.kind == .end { return result }
        }
    }

    private mutating func next() throws(ExpressionError) -> Token {
        while index < characters.count, characters[index].isWhitespace { index += 1 }
        let start = index
        guard index < characters.count else { return Token(kind: .end, position: start) }
        let character = characters[index]
        let single: [Character: Token.Kind] = [
            "(": .leftParen, ")": .rightParen, "[": .leftBracket, "]": .rightBracket, ",": .comma, ".": .dot, "?": .question,
        ]
        if let kind = single[character] {
            index += 1
            return Token(kind: kind, position: start)
        }
        if character == "'" { return Token(kind: .string(try string()), position: start) }
        if character.isNumber || (character == "-" && index + 1 < characters.count && characters[index + 1].isNumber) {
            return Token(kind: try number(), position: start)
        }
        if character.isLetter || character == "_" {
            var name = ""
            while index < characters.count, characters[index].isLetter || characters[index].isNumber || characters[index] == "_" {
                name.append(characters[index])
                index += 1
            }
            return Token(kind: .identifier(name), position: start)
        }
        throw ExpressionError("unexpected character '\(character)'", at: start)
    }

    /// A single-quoted string; `''` inside stands for one quote.
    private mutating func string() throws(ExpressionError) -> String {
        let start = index
        index += 1
        var text = ""
        while index < characters.count {
            if characters[index] == "'" {
                if index + 1 < characters.count, characters[index + 1] == "'" {
                    text.append("'")
                    index += 2
                    continue
                }
                index += 1
                return text
            }
            text.append(characters[index])
            index += 1
        }
        throw ExpressionError("string literal is not closed", at: start)
    }

    private mutating func number() throws(ExpressionError) -> Token.Kind {
        let start = index
        var text = ""
        if characters[index] == "-" {
            text.append("-")
            index += 1
        }
        var isFloat = false
        while index < characters.count {
            let character = characters[index]
            if character.isNumber {
                text.append(character)
            } else if character == "." && !isFloat && index + 1 < characters.count && characters[index + 1].isNumber {
                isFloat = true
                text.append(character)
            } else if (character == "e" || character == "E") && !text.isEmpty {
                isFloat = true
                text.append(character)
                if index + 1 < characters.count, characters[index + 1] == "-" || characters[index + 1] == "+" {
                    index += 1
                    text.append(characters[index])
                }
            } else {
                break
            }
            index += 1
        }
        if !isFloat, let value = Int64(text) { return .integer(value) }
        guard let value = Double(text) else { throw ExpressionError("'\(text)' is not a number", at: start) }
        return .float(value)
    }
}
