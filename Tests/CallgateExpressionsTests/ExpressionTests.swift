import CallgateExpressions
import Foundation
import Testing

/// A context with a trigger body and variables, as a run would provide.
struct RunContext: ExpressionContext {
    var now = Date(timeIntervalSince1970: 1_700_000_000)
    var triggerBody: ExpressionValue = .object([
        "order": .object(["id": .integer(42), "items": .array([.string("a"), .string("b")]), "total": .float(12.5)]),
        "customer": .string("Ada"),
    ])
    var variables: [String: ExpressionValue] = ["count": .integer(3)]

    func callContextFunction(_ name: String, arguments: [ExpressionValue]) throws(ExpressionError) -> ExpressionValue? {
        switch name {
        case "triggerBody": return triggerBody
        case "variables":
            guard case .string(let key) = arguments.first else { throw ExpressionError("the function 'variables' expects a String") }
            guard let value = variables[key] else { throw ExpressionError("the variable '\(key)' is not initialized") }
            return value
        default: return nil
        }
    }
}

@Suite struct ExpressionTests {
    func value(_ template: String, _ context: RunContext = RunContext()) throws -> ExpressionValue {
        try Template.parse(template).evaluate(in: context)
    }

    /// Examples from the Logic Apps workflow function reference, and the language's edge cases.
    @Test(arguments: [
        ("@concat('Hello', 'World')", ExpressionValue.string("HelloWorld")),
        ("@substring('hello world', 6, 5)", .string("world")),
        ("@replace('the old string', 'old', 'new')", .string("the new string")),
        ("@toLower('Hello World')", .string("hello world")),
        ("@toUpper('Hello World')", .string("HELLO WORLD")),
        ("@trim(' Hello World  ')", .string("Hello World")),
        ("@split('a_b_c', '_')", .array([.string("a"), .string("b"), .string("c")])),
        ("@join(createArray('a', 'b', 'c'), '.')", .string("a.b.c")),
        ("@string(10)", .string("10")),
        ("@int('10')", .integer(10)),
        ("@float('10.333')", .float(10.333)),
        ("@bool(1)", .bool(true)),
        ("@json('{\"fullName\": \"Sophia Owen\"}')", .object(["fullName": .string("Sophia Owen")])),
        ("@base64('hello')", .string("aGVsbG8=")),
        ("@base64ToString('aGVsbG8=')", .string("hello")),
        ("@length(createArray(0, 1, 2, 3))", .integer(4)),
        ("@length('abcd')", .integer(4)),
        ("@empty('')", .bool(true)),
        ("@empty('abc')", .bool(false)),
        ("@first('hello')", .string("h")),
        ("@last(createArray(0, 1, 2, 3))", .integer(3)),
        ("@contains('hello world', 'world')", .bool(true)),
        ("@contains(createArray('a', 'b'), 'c')", .bool(false)),
        ("@equals('ABC', 'abc')", .bool(true)),
        ("@equals(1, 1.0)", .bool(true)),
        ("@not(equals(1, 2))", .bool(true)),
        ("@and(true, false)", .bool(false)),
        ("@or(false, true)", .bool(true)),
        ("@if(equals(1, 1), 'yes', 'no')", .string("yes")),
        ("@greater(10, 5)", .bool(true)),
        ("@less('apple', 'banana')", .bool(true)),
        ("@greaterOrEquals(5, 5)", .bool(true)),
        ("@lessOrEquals(10.5, 10)", .bool(false)),
        ("@add(1, 1.5)", .float(2.5)),
        ("@add(1, 2)", .integer(3)),
        ("@sub(10.3, 0.3)", .float(10.0)),
        ("@mul(1, 2)", .integer(2)),
        ("@div(11, 5)", .integer(2)),
        ("@div(11, 5.0)", .float(2.2)),
        ("@mod(3, 2)", .integer(1)),
        ("@coalesce(null, 'hello', 'world')", .string("hello")),
        ("@union(createArray(1, 2, 3), createArray(1, 2, 10, 101))", .array([.integer(1), .integer(2), .integer(3), .integer(10), .integer(101)])),
        ("@encodeUriComponent('https://contoso.com')", .string("https%3A%2F%2Fcontoso.com")),
        ("@addDays('2018-03-15T00:00:00Z', 10)", .string("2018-03-25T00:00:00.0000000Z")),
        ("@addHours('2018-03-15T00:00:00Z', -5, 'yyyy-MM-ddTHH:mm:ssZ')", .string("2018-03-14T19:00:00Z")),
        ("@addMinutes('2018-03-15T00:10:00Z', 10)", .string("2018-03-15T00:20:00.0000000Z")),
        ("@addSeconds('2018-03-15T00:00:00Z', -5)", .string("2018-03-14T23:59:55.0000000Z")),
        ("@formatDateTime('2018-03-15T13:00:00.123Z', 'yyyy-MM-dd HH:mm:ss.fff')", .string("2018-03-15 13:00:00.123")),
        ("@utcNow('yyyy-MM-dd')", .string("2023-11-14")),
        ("@triggerBody()?['order']?['id']", .integer(42)),
        ("@triggerBody().order.items[1]", .string("b")),
        ("@triggerBody()?['missing']?['deeper']", .null),
        ("@variables('count')", .integer(3)),
        ("@@literal", .string("@literal")),
        ("plain text", .string("plain text")),
        ("Order @{triggerBody()['order']['id']} for @{triggerBody()?['customer']}", .string("Order 42 for Ada")),
        ("total: @{triggerBody()['order']['total']}", .string("total: 12.5")),
        ("items: @{triggerBody()['order']['items']}", .string("items: [\"a\",\"b\"]")),
        ("@{'it''s'}", .string("it's")),
        ("@createArray()", .array([])),
    ])
    func evaluatesLikeLogicApps(template: String, expected: ExpressionValue) throws {
        #expect(try value(template) == expected, "\(template)")
    }

    @Test func guidIsFreshEveryTime() throws {
        let first = try value("@guid()")
        #expect(first != (try value("@guid()")))
        guard case .string(let text) = first else { Issue.record("guid is not a string"); return }
        #expect(UUID(uuidString: text) != nil)
        #expect(try value("@length(guid('N'))") == .integer(32))
    }

    @Test(arguments: [
        ("@concat('a'", "expected ',' or ')' in the arguments of concat (at character 12)"),
        ("@triggerBody()['x'", "expected ']' (at character 19)"),
        ("@foo", "'foo' is not a function call; write foo() (at character 2)"),
        ("@'unclosed", "string literal is not closed (at character 2)"),
        ("@add(1, 2) 3", "unexpected a number after the expression (at character 12)"),
        ("text @{concat('a'", "'@{' is not closed by '}' (at character 6)"),
        ("@a ! b", "unexpected character '!' (at character 4)"),
    ])
    func parseErrorsNameThePosition(template: String, message: String) {
        do {
            _ = try Template.parse(template)
            Issue.record("\(template) parsed")
        } catch {
            #expect(error.description == message)
        }
    }

    @Test(arguments: [
        ("@substring('abc', 2, 5)", "the function 'substring' has start 2 and length 5 outside a string of 3 characters"),
        ("@int('ten')", "the function 'int' cannot convert 'ten' to an integer"),
        ("@toLower(1)", "the function 'toLower' expects a String for argument 1 but got Integer"),
        ("@div(1, 0)", "the function 'div' cannot divide by zero"),
        ("@concat()", "the function 'concat' expects at least 1 argument but got 0"),
        ("@if(1, 'a', 'b')", "the function 'if' expects a Boolean for argument 1 but got Integer"),
        ("@triggerBody()['missing']", "the property 'missing' does not exist; use '?[' to allow it to be absent"),
        ("@triggerBody()['order']['items'][5]", "index 5 is out of range for an array of 2"),
        ("@nosuch(1)", "the function 'nosuch' does not exist"),
        ("@variables('nope')", "the variable 'nope' is not initialized"),
        ("@add(9223372036854775807, 1)", "the function 'add' overflowed"),
    ])
    func evaluationErrorsNameTheFunctionAndArgument(template: String, message: String) throws {
        do {
            _ = try value(template)
            Issue.record("\(template) evaluated")
        } catch let error as ExpressionError {
            #expect(error.message == message)
        }
    }

    @Test func validationFindsUnknownFunctionsWrongAritiesAndMisplacedContextFunctions() throws {
        #expect(throws: ExpressionError("the function 'nosuch' does not exist", at: 7)) {
            try Expression.parse("concat(nosuch(), 'a')").validate()
        }
        #expect(throws: ExpressionError("the function 'substring' expects 2 to 3 arguments but got 1", at: 0)) {
            try Expression.parse("substring('a')").validate()
        }
        var withoutCallback = ContextFunctions.arities
        withoutCallback["listCallbackUrl"] = nil
        #expect(throws: ExpressionError("the function 'listCallbackUrl' cannot be used here", at: 0)) {
            try Expression.parse("listCallbackUrl()").validate(contextFunctions: withoutCallback)
        }
        try Expression.parse("concat(triggerBody()?['a'], body('Step').x, listCallbackUrl())").validate()
    }

    /// Round trip: rendering a value as a JSON literal and parsing it back with json() gives the value.
    @Test(arguments: 0..<200)
    func jsonRoundTripOfGeneratedValues(seed: Int) throws {
        var generator = SeededGenerator(seed: UInt64(seed) + 1)
        let original = ExpressionValue.generate(depth: 3, using: &generator)
        let quoted = original.jsonText.replacingOccurrences(of: "'", with: "''")
        let parsed: ExpressionValue
        do {
            parsed = try value("@json('\(quoted)')")
        } catch {
            Issue.record("json('\(quoted)') failed: \(error)")
            return
        }
        #expect(parsed == original, "json('\(quoted)')")
    }

    /// Laws the evaluator must keep, over generated integers.
    @Test(arguments: 0..<200)
    func arithmeticLaws(seed: Int) throws {
        var generator = SeededGenerator(seed: UInt64(seed) + 1000)
        let a = Int64.random(in: -1_000_000...1_000_000, using: &generator)
        let b = Int64.random(in: -1_000_000...1_000_000, using: &generator)
        #expect(try value("@add(\(a), \(b))") == (try value("@add(\(b), \(a))")))
        #expect(try value("@sub(add(\(a), \(b)), \(b))") == .integer(a))
        #expect(try value("@equals(\(a), \(a))") == .bool(true))
        #expect(try value("@not(and(greater(\(a), \(b)), less(\(a), \(b))))") == .bool(true))
        if b != 0 {
            #expect(try value("@add(mul(div(\(a), \(b)), \(b)), mod(\(a), \(b)))") == .integer(a))
        }
    }
}

/// A small deterministic generator for the property tests.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension ExpressionValue {
    var isContainer: Bool {
        switch self {
        case .array, .object: true
        default: false
        }
    }

    static func generate(depth: Int, using generator: inout SeededGenerator) -> ExpressionValue {
        let choice = Int.random(in: 0..<(depth > 0 ? 7 : 5), using: &generator)
        switch choice {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &generator))
        case 2: return .integer(Int64.random(in: -1_000_000...1_000_000, using: &generator))
        case 3: return .float(Double(Int.random(in: -100_000...100_000, using: &generator)) + 0.5)
        case 4:
            let alphabet = Array("abc XYZ'\"\\é中-_/{}@")
            return .string(String((0..<Int.random(in: 0...8, using: &generator)).map { _ in alphabet.randomElement(using: &generator) ?? "a" }))
        case 5:
            return .array((0..<Int.random(in: 0...3, using: &generator)).map { _ in generate(depth: depth - 1, using: &generator) })
        default:
            var members: [String: ExpressionValue] = [:]
            for index in 0..<Int.random(in: 0...3, using: &generator) { members["k\(index)"] = generate(depth: depth - 1, using: &generator) }
            return .object(members)
        }
    }
}
