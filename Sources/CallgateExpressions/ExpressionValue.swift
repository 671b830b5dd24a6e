import Foundation

/// A value in the workflow expression language: JSON, with integers and floats kept apart as
/// Logic Apps keeps them (`add(1, 2)` is `3`, `add(1, 2.0)` is `3.0`).
public enum ExpressionValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    case float(Double)
    case string(String)
    case array([ExpressionValue])
    case object([String: ExpressionValue])

    /// The Logic Apps type name used in error messages.
    public var typeName: String {
        switch self {
        case .null: "Null"
        case .bool: "Boolean"
        case .integer: "Integer"
        case .float: "Float"
        case .string: "String"
        case .array: "Array"
        case .object: "Object"
        }
    }

    /// Parses JSON text (numbers without fraction or exponent are integers).
    public init(json data: Data) throws {
        self = try JSONText.parse(data)
    }

    /// Compact JSON text with sorted keys; floats keep a fraction (`3.0`).
    public var jsonText: String {
        JSONText.serialize(self)
    }

    /// How `string()` and interpolation render a value: strings as they are, the rest as JSON.
    public var stringValue: String {
        switch self {
        case .null: ""
        case .bool(let value): value ? "True" : "False"
        case .integer(let value): String(value)
        case .float(let value): Self.format(value)
        case .string(let value): value
        case .array, .object: jsonText
        }
    }

    static func format(_ value: Double) -> String {
        if value.rounded() == value && abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    /// Truthiness for `if`, `and`, `or`, `not`: only booleans are accepted by Logic Apps.
    var isNullOrEmpty: Bool {
        switch self {
        case .null: true
        case .string(let text): text.isEmpty
        case .array(let values): values.isEmpty
        case .object(let members): members.isEmpty
        default: false
        }
    }
}

// Reading values, for code that consumes evaluated inputs (the engine, callback steps).
extension ExpressionValue {
    /// The member `key` of an object (an exact match first, then a case-insensitive one, as
    /// property access in expressions), or nil.
    public subscript(key: String) -> ExpressionValue? {
        guard case .object(let members) = self else { return nil }
        return members[key] ?? members.first { $0.key.caseInsensitiveCompare(key) == .orderedSame }?.value
    }

    /// The members of an object; empty for anything else.
    public var members: [String: ExpressionValue] {
        if case .object(let members) = self { return members }
        return [:]
    }

    /// The text of a string value.
    public var string: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    /// An integer value, a whole float, or a string holding an integer.
    public var integer: Int? {
        switch self {
        case .integer(let value): Int(value)
        case .float(let value) where value.rounded() == value && abs(value) < 9e15: Int(value)
        case .string(let text): Int(text)
        default: nil
        }
    }
}

extension ExpressionValue: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .float(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([ExpressionValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: ExpressionValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .float(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let values): try container.encode(values)
        case .object(let members): try container.encode(members)
        }
    }
}

// Literals, so engine code and tests can write `["code": "ActionFailed", "count": 1]`.
extension ExpressionValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: ExpressionValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, ExpressionValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
    public init(nilLiteral: ()) { self = .null }
}

extension ExpressionValue: ExpressibleByFloatLiteral {
    public init(floatLiteral value: Double) { self = .float(value) }
}
