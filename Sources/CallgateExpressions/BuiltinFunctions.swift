import Foundation

/// The built-in functions of SPEC §6, with Logic Apps' types and messages that name the function
/// and the argument.
enum BuiltinFunctions {
    typealias Body = @Sendable ([ExpressionValue], Date) throws(ExpressionError) -> ExpressionValue

    struct Function: Sendable {
        let arity: ClosedRange<Int>
        let body: Body
    }

    static func arityMessage(_ name: String, _ arity: ClosedRange<Int>, _ given: Int) -> String {
        let expected = arity.lowerBound == arity.upperBound ? "\(arity.lowerBound)"
            : arity.upperBound == Int.max ? "at least \(arity.lowerBound)" : "\(arity.lowerBound) to \(arity.upperBound)"
        let singular = arity.lowerBound == 1 && (arity.upperBound == 1 || arity.upperBound == Int.max)
        return "the function '\(name)' expects \(expected) argument\(singular ? "" : "s") but got \(given)"
    }

    // MARK: argument readers

    static func string(_ name: String, _ arguments: [ExpressionValue], _ index: Int) throws(ExpressionError) -> String {
        guard case .string(let text) = arguments[index] else {
            throw ExpressionError("the function '\(name)' expects a String for argument \(index + 1) but got \(arguments[index].typeName)")
        }
        return text
    }

    static func integer(_ name: String, _ arguments: [ExpressionValue], _ index: Int) throws(ExpressionError) -> Int64 {
        switch arguments[index] {
        case .integer(let value): return value
        case .float(let value) where value.rounded() == value: return Int64(value)
        default: throw ExpressionError("the function '\(name)' expects an Integer for argument \(index + 1) but got \(arguments[index].typeName)")
        }
    }

    static func bool(_ name: String, _ arguments: [ExpressionValue], _ index: Int) throws(ExpressionError) -> Bool {
        guard case .bool(let value) = arguments[index] else {
            throw ExpressionError("the function '\(name)' expects a Boolean for argument \(index + 1) but got \(arguments[index].typeName)")
        }
        return value
    }

    enum Number { case integer(Int64), float(Double) }

    static func number(_ name: String, _ arguments: [ExpressionValue], _ index: Int) throws(ExpressionError) -> Number {
        switch arguments[index] {
        case .integer(let value): return .integer(value)
        case .float(let value): return .float(value)
        default: throw ExpressionError("the function '\(name)' expects a number for argument \(index + 1) but got \(arguments[index].typeName)")
        }
    }

    /// Integer arithmetic when both are integers (overflow is an error), else floating point.
    static func arithmetic(
        _ name: String, _ arguments: [ExpressionValue],
        integer: (Int64, Int64) -> (Int64, Bool)?, float: (Double, Double) -> Double
    ) throws(ExpressionError) -> ExpressionValue {
        let left = try number(name, arguments, 0)
        let right = try number(name, arguments, 1)
        switch (left, right) {
        case (.integer(let a), .integer(let b)):
            guard let (result, overflow) = integer(a, b) else { throw ExpressionError("the function '\(name)' cannot divide by zero") }
            if overflow { throw ExpressionError("the function '\(name)' overflowed") }
            return .integer(result)
        default:
            let a = switch left { case .integer(let v): Double(v); case .float(let v): v }
            let b = switch right { case .integer(let v): Double(v); case .float(let v): v }
            if (name == "div" || name == "mod") && b == 0 { throw ExpressionError("the function '\(name)' cannot divide by zero") }
            return .float(float(a, b))
        }
    }

    static func compare(_ name: String, _ arguments: [ExpressionValue]) throws(ExpressionError) -> Int {
        switch (arguments[0], arguments[1]) {
        case (.string(let a), .string(let b)): return a < b ? -1 : a == b ? 0 : 1
        default:
            let a = try number(name, arguments, 0)
            let b = try number(name, arguments, 1)
            let x = switch a { case .integer(let v): Double(v); case .float(let v): v }
            let y = switch b { case .integer(let v): Double(v); case .float(let v): v }
            return x < y ? -1 : x == y ? 0 : 1
        }
    }

    static func equal(_ a: ExpressionValue, _ b: ExpressionValue) -> Bool {
        switch (a, b) {
        case (.integer(let x), .float(let y)), (.float(let y), .integer(let x)): return Double(x) == y
        case (.string(let x), .string(let y)): return x.caseInsensitiveCompare(y) == .orderedSame
        default: return a == b
        }
    }

    // MARK: the table

    static let table: [String: Function] = {
        var table: [String: Function] = [:]
        func add(_ name: String, _ arity: ClosedRange<Int>, _ body: @escaping Body) { table[name] = Function(arity: arity, body: body) }

        // Strings.
        add("concat", 1...Int.max) { arguments, _ in .string(arguments.map(\.stringValue).joined()) }
        add("substring", 2...3) { a, _ throws(ExpressionError) in
            let text = Array(try string("substring", a, 0))
            let start = Int(try integer("substring", a, 1))
            let length = a.count > 2 ? Int(try integer("substring", a, 2)) : text.count - start
            guard start >= 0, length >= 0, start + length <= text.count else {
                throw ExpressionError("the function 'substring' has start \(start) and length \(length) outside a string of \(text.count) characters")
            }
            return .string(String(text[start..<start + length]))
        }
        add("replace", 3...3) { a, _ throws(ExpressionError) in
            let old = try string("replace", a, 1)
            guard !old.isEmpty else { throw ExpressionError("the function 'replace' cannot replace an empty string") }
            return .string(try string("replace", a, 0).replacingOccurrences(of: old, with: try string("replace", a, 2)))
        }
        add("toLower", 1...1) { a, _ throws(ExpressionError) in .string(try string("toLower", a, 0).lowercased()) }
        add("toUpper", 1...1) { a, _ throws(ExpressionError) in .string(try string("toUpper", a, 0).uppercased()) }
        add("trim", 1...1) { a, _ throws(ExpressionError) in .string(try string("trim", a, 0).trimmingCharacters(in: .whitespacesAndNewlines)) }
        add("split", 2...2) { a, _ throws(ExpressionError) in
            let separator = try string("split", a, 1)
            guard !separator.isEmpty else { throw ExpressionError("the function 'split' needs a non-empty separator") }
            return .array(try string("split", a, 0).components(separatedBy: separator).map { .string($0) })
        }
        add("join", 2...2) { a, _ throws(ExpressionError) in
            guard case .array(let values) = a[0] else { throw ExpressionError("the function 'join' expects an Array for argument 1 but got \(a[0].typeName)") }
            return .string(values.map(\.stringValue).joined(separator: try string("join", a, 1)))
        }
        add("encodeUriComponent", 1...1) { a, _ in
            let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-_.!~*'()"))
            return .string(a[0].stringValue.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")
        }
        add("guid", 0...1) { a, _ throws(ExpressionError) in
            let format = a.isEmpty ? "D" : try string("guid", a, 0)
            let uuid = UUID().uuidString.lowercased()
            switch format {
            case "D", "d": return .string(uuid)
            case "N", "n": return .string(uuid.replacingOccurrences(of: "-", with: ""))
            case "B", "b": return .string("{\(uuid)}")
            case "P", "p": return .string("(\(uuid))")
            default: throw ExpressionError("the function 'guid' accepts the formats N, D, B and P, not '\(format)'")
            }
        }

        // Conversions.
        add("string", 1...1) { a, _ in .string(a[0].stringValue) }
        add("int", 1...1) { a, _ throws(ExpressionError) in
            switch a[0] {
            case .integer: return a[0]
            case .float(let value) where value.rounded() == value: return .integer(Int64(value))
            case .string(let text):
                guard let value = Int64(text.trimmingCharacters(in: .whitespaces)) else {
                    throw ExpressionError("the function 'int' cannot convert '\(text)' to an integer")
                }
                return .integer(value)
            default: throw ExpressionError("the function 'int' cannot convert a \(a[0].typeName) to an integer")
            }
        }
        add("float", 1...1) { a, _ throws(ExpressionError) in
            switch a[0] {
            case .integer(let value): return .float(Double(value))
            case .float: return a[0]
            case .string(let text):
                guard let value = Double(text.trimmingCharacters(in: .whitespaces)) else {
                    throw ExpressionError("the function 'float' cannot convert '\(text)' to a float")
                }
                return .float(value)
            default: throw ExpressionError("the function 'float' cannot convert a \(a[0].typeName) to a float")
            }
        }
        add("bool", 1...1) { a, _ throws(ExpressionError) in
            switch a[0] {
            case .bool: return a[0]
            case .integer(let value): return .bool(value != 0)
            case .float(let value): return .bool(value != 0)
            case .string(let text):
                switch text.lowercased() {
                case "true": return .bool(true)
                case "false": return .bool(false)
                default: throw ExpressionError("the function 'bool' cannot convert '\(text)' to a boolean")
                }
            default: throw ExpressionError("the function 'bool' cannot convert a \(a[0].typeName) to a boolean")
            }
        }
        add("json", 1...1) { a, _ throws(ExpressionError) in
            if case .object = a[0] { return a[0] }
            if case .array = a[0] { return a[0] }
            let text = try string("json", a, 0)
            do {
                return try ExpressionValue(json: Data(text.utf8))
            } catch {
                throw ExpressionError("the function 'json' cannot parse its argument as JSON")
            }
        }
        add("base64", 1...1) { a, _ in .string(Data(a[0].stringValue.utf8).base64EncodedString()) }
        add("base64ToString", 1...1) { a, _ throws(ExpressionError) in
            guard let data = Data(base64Encoded: try string("base64ToString", a, 0)) else {
                throw ExpressionError("the function 'base64ToString' got a string that is not base64")
            }
            return .string(String(decoding: data, as: UTF8.self))
        }

        // Collections.
        add("length", 1...1) { a, _ throws(ExpressionError) in
            switch a[0] {
            case .string(let text): return .integer(Int64(text.count))
            case .array(let values): return .integer(Int64(values.count))
            case .object(let members): return .integer(Int64(members.count))
            default: throw ExpressionError("the function 'length' expects a String or an Array but got \(a[0].typeName)")
            }
        }
        add("empty", 1...1) { a, _ in .bool(a[0].isNullOrEmpty) }
        add("first", 1...1) { a, _ throws(ExpressionError) in
            switch a[0] {
            case .string(let text): return text.first.map { .string(String($0)) } ?? .null
            case .array(let values): return values.first ?? .null
            default: throw ExpressionError("the function 'first' expects a String or an Array but got \(a[0].typeName)")
            }
        }
        add("last", 1...1) { a, _ throws(ExpressionError) in
            switch a[0] {
            case .string(let text): return text.last.map { .string(String($0)) } ?? .null
            case .array(let values): return values.last ?? .null
            default: throw ExpressionError("the function 'last' expects a String or an Array but got \(a[0].typeName)")
            }
        }
        add("contains", 2...2) { a, _ throws(ExpressionError) in
            switch a[0] {
            case .string(let text): return .bool(text.contains(a[1].stringValue))
            case .array(let values): return .bool(values.contains { equal($0, a[1]) })
            case .object(let members): return .bool(members[a[1].stringValue] != nil)
            default: throw ExpressionError("the function 'contains' expects a String, Array or Object but got \(a[0].typeName)")
            }
        }
        add("createArray", 0...Int.max) { a, _ in .array(a) }
        add("union", 2...Int.max) { a, _ throws(ExpressionError) in
            switch a[0] {
            case .array:
                var result: [ExpressionValue] = []
                for (index, value) in a.enumerated() {
                    guard case .array(let values) = value else { throw ExpressionError("the function 'union' expects Arrays but argument \(index + 1) is \(value.typeName)") }
                    for value in values where !result.contains(value) { result.append(value) }
                }
                return .array(result)
            case .object:
                var result: [String: ExpressionValue] = [:]
                for (index, value) in a.enumerated() {
                    guard case .object(let members) = value else { throw ExpressionError("the function 'union' expects Objects but argument \(index + 1) is \(value.typeName)") }
                    result.merge(members) { $1 }
                }
                return .object(result)
            default: throw ExpressionError("the function 'union' expects Arrays or Objects but got \(a[0].typeName)")
            }
        }
        add("coalesce", 1...Int.max) { a, _ in a.first { $0 != .null } ?? .null }

        // Logic and comparison.
        add("equals", 2...2) { a, _ in .bool(equal(a[0], a[1])) }
        add("not", 1...1) { a, _ throws(ExpressionError) in .bool(!(try bool("not", a, 0))) }
        add("and", 1...Int.max) { a, _ throws(ExpressionError) in
            for index in a.indices where !(try bool("and", a, index)) { return .bool(false) }
            return .bool(true)
        }
        add("or", 1...Int.max) { a, _ throws(ExpressionError) in
            for index in a.indices where try bool("or", a, index) { return .bool(true) }
            return .bool(false)
        }
        add("if", 3...3) { a, _ throws(ExpressionError) in try bool("if", a, 0) ? a[1] : a[2] }
        add("greater", 2...2) { a, _ throws(ExpressionError) in .bool(try compare("greater", a) > 0) }
        add("less", 2...2) { a, _ throws(ExpressionError) in .bool(try compare("less", a) < 0) }
        add("greaterOrEquals", 2...2) { a, _ throws(ExpressionError) in .bool(try compare("greaterOrEquals", a) >= 0) }
        add("lessOrEquals", 2...2) { a, _ throws(ExpressionError) in .bool(try compare("lessOrEquals", a) <= 0) }

        // Arithmetic.
        add("add", 2...2) { a, _ throws(ExpressionError) in
            try arithmetic("add", a, integer: { $0.addingReportingOverflow($1) }, float: +)
        }
        add("sub", 2...2) { a, _ throws(ExpressionError) in
            try arithmetic("sub", a, integer: { $0.subtractingReportingOverflow($1) }, float: -)
        }
        add("mul", 2...2) { a, _ throws(ExpressionError) in
            try arithmetic("mul", a, integer: { $0.multipliedReportingOverflow(by: $1) }, float: *)
        }
        add("div", 2...2) { a, _ throws(ExpressionError) in
            try arithmetic("div", a, integer: { $1 == 0 ? nil : $0.dividedReportingOverflow(by: $1) }, float: /)
        }
        add("mod", 2...2) { a, _ throws(ExpressionError) in
            try arithmetic("mod", a, integer: { $1 == 0 ? nil : $0.remainderReportingOverflow(dividingBy: $1) }, float: { $0.truncatingRemainder(dividingBy: $1) })
        }

        // Dates (UTC; formats are .NET's, as Logic Apps uses them).
        add("utcNow", 0...1) { a, now throws(ExpressionError) in
            .string(try DateFormat.format(now, a.isEmpty ? "o" : try string("utcNow", a, 0), function: "utcNow"))
        }
        add("formatDateTime", 1...2) { a, _ throws(ExpressionError) in
            let date = try DateFormat.parse(try string("formatDateTime", a, 0), function: "formatDateTime")
            return .string(try DateFormat.format(date, a.count > 1 ? try string("formatDateTime", a, 1) : "o", function: "formatDateTime"))
        }
        for (name, seconds) in [("addSeconds", 1.0), ("addMinutes", 60.0), ("addHours", 3600.0), ("addDays", 86_400.0)] {
            add(name, 2...3) { a, _ throws(ExpressionError) in
                let date = try DateFormat.parse(try string(name, a, 0), function: name)
                let amount = Double(try integer(name, a, 1))
                return .string(try DateFormat.format(date.addingTimeInterval(amount * seconds), a.count > 2 ? try string(name, a, 2) : "o", function: name))
            }
        }
        return table
    }()
}
