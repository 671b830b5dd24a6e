import CallgateExpressions
import Foundation
import Testing

/// The JSON codec every stored value goes through.
@Suite struct JSONTextTests {
    static func parse(_ text: String) throws -> ExpressionValue { try ExpressionValue(json: Data(text.utf8)) }

    @Test func integersAndFloatsStayApartBothWays() throws {
        #expect(try Self.parse("3") == .integer(3))
        #expect(try Self.parse("3.0") == .float(3))
        #expect(try Self.parse("-2e3") == .float(-2000))
        #expect(try Self.parse("9223372036854775807") == .integer(.max))
        #expect(try Self.parse("9223372036854775808") == .float(9_223_372_036_854_775_808))
        #expect(ExpressionValue.float(3).jsonText == "3.0")
        #expect(ExpressionValue.float(0.1).jsonText == "0.1")
        #expect(try Self.parse(ExpressionValue.float(1e300).jsonText) == .float(1e300))
    }

    @Test func stringsWithEscapesAndAstralCharactersRoundTrip() throws {
        let text = "quote \" backslash \\ slash / tab \t newline \n bell \u{07} é 😀"
        #expect(try Self.parse(ExpressionValue.string(text).jsonText) == .string(text))
        #expect(try Self.parse(#""\ud83d\ude00 \u00e9 \/""#) == .string("😀 é /"))
        #expect(ExpressionValue.string("\u{07}").jsonText == #""\u0007""#)
    }

    @Test func objectsAreWrittenWithSortedKeysAndParseBack() throws {
        let value: ExpressionValue = ["b": [1, 2.5, nil, true], "a": ["nested": "x"], "": false]
        #expect(value.jsonText == #"{"":false,"a":{"nested":"x"},"b":[1,2.5,null,true]}"#)
        #expect(try Self.parse(" {\n \"b\" : [ 1 , 2.5 , null , true ] , \"a\":{\"nested\":\"x\"},\"\":false } ") == value)
    }

    @Test(arguments: [
        ("", 0), ("{", 1), (#"{"a" 1}"#, 5), ("[1,]", 3), ("tru", 0), (#""abc"#, 4), ("01x", 2), ("1 2", 2),
        (#""\x""#, 3), (#""\ud83d""#, 7), ("\"a\u{01}\"", 2), ("-", 1), ("1e", 0),
    ])
    func malformedTextIsRefusedWithItsPosition(text: String, offset: Int) {
        do {
            _ = try Self.parse(text)
            Issue.record("'\(text)' parsed")
        } catch {
            #expect("\(error)".contains("at byte \(offset)"), "'\(text)': \(error)")
        }
    }

    @Test func deepNestingIsRefusedNotACrash() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: (any Error).self) { try Self.parse(deep) }
    }
}
