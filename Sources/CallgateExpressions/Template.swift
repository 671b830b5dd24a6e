/// A string from a workflow definition, as the engine evaluates it:
///
/// * `"@expr"`: the whole value is the expression's result, of any type;
/// * `"text @{expr} text"`: interpolation, always a string;
/// * `"@@text"`: an escaped leading `@`, the literal `"@text"`;
/// * anything else: the literal string.
public enum Template: Sendable, Equatable {
    case literal(String)
    case expression(Expression)
    case interpolation([Part])

    public enum Part: Sendable, Equatable {
        case text(String)
        case expression(Expression)
    }

    /// Parses a definition string; errors carry the offset within the whole string.
    public static func parse(_ text: String) throws(ExpressionError) -> Template {
        if text.hasPrefix("@@") { return .literal(String(text.dropFirst())) }
        if text.hasPrefix("@"), !text.hasPrefix("@{") {
            do {
                return .expression(try Expression.parse(String(text.dropFirst())))
            } catch {
                throw ExpressionError(error.message, at: error.position.map { $0 + 1 })
            }
        }
        guard text.contains("@{") else { return .literal(text) }
        var parts: [Part] = []
        var characters = Substring(text)
        var offset = 0
        while let open = characters.range(of: "@{") {
            let before = characters[..<open.lowerBound]
            if !before.isEmpty { parts.append(.text(String(before))) }
            offset += before.count + 2
            let inner = characters[open.upperBound...]
            guard let close = closingBrace(in: inner) else { throw ExpressionError("'@{' is not closed by '}'", at: offset - 2) }
            let source = String(inner[..<close])
            do {
                parts.append(.expression(try Expression.parse(source)))
            } catch {
                throw ExpressionError(error.message, at: (error.position ?? 0) + offset)
            }
            offset += source.count + 1
            characters = inner[inner.index(after: close)...]
        }
        if !characters.isEmpty { parts.append(.text(String(characters))) }
        return .interpolation(parts)
    }

    /// The `}` that closes an interpolation, skipping braces inside string literals.
    private static func closingBrace(in text: Substring) -> Substring.Index? {
        var inString = false
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            if character == "'" { inString.toggle() } else if character == "}" && !inString { return index }
            index = text.index(after: index)
        }
        return nil
    }

    /// Every expression in the template.
    public var expressions: [Expression] {
        switch self {
        case .literal: []
        case .expression(let expression): [expression]
        case .interpolation(let parts): parts.compactMap { if case .expression(let e) = $0 { e } else { nil } }
        }
    }
}
