import Foundation

extension Expression {
    /// Evaluates the expression against a run's context.
    public func evaluate(in context: some ExpressionContext) throws(ExpressionError) -> ExpressionValue {
        switch self {
        case .literal(let value, _):
            return value
        case .call(let name, let arguments, let position):
            var values: [ExpressionValue] = []
            for argument in arguments { values.append(try argument.evaluate(in: context)) }
            do throws(ExpressionError) {
                if let builtin = BuiltinFunctions.table[name] {
                    guard builtin.arity.contains(values.count) else {
                        throw ExpressionError(BuiltinFunctions.arityMessage(name, builtin.arity, values.count))
                    }
                    return try builtin.body(values, context.now)
                }
                if let value = try context.callContextFunction(name, arguments: values) { return value }
            } catch {
                throw ExpressionError(error.message, at: error.position ?? position)
            }
            throw ExpressionError("the function '\(name)' does not exist", at: position)
        case .access(let base, let key, let optional, let position):
            let container = try base.evaluate(in: context)
            let keyValue = try key.evaluate(in: context)
            switch (container, keyValue) {
            case (.object(let members), .string(let name)):
                if let value = members[name] ?? members.first(where: { $0.key.caseInsensitiveCompare(name) == .orderedSame })?.value {
                    return value
                }
                if optional { return .null }
                throw ExpressionError("the property '\(name)' does not exist; use '?[' to allow it to be absent", at: position)
            case (.array(let values), .integer(let index)):
                if index >= 0, index < values.count { return values[Int(index)] }
                if optional { return .null }
                throw ExpressionError("index \(index) is out of range for an array of \(values.count)", at: position)
            case (.null, _) where optional:
                return .null
            case (.null, _):
                throw ExpressionError("cannot read a property of null; use '?[' to allow it", at: position)
            default:
                throw ExpressionError("cannot index a \(container.typeName) with a \(keyValue.typeName)", at: position)
            }
        }
    }

    /// Checks, without evaluating, that every function exists and gets an acceptable number of
    /// arguments. `contextFunctions` are the context functions available where the expression
    /// stands (for example without `listCallbackUrl` where no callback exists).
    public func validate(contextFunctions: [String: ClosedRange<Int>] = ContextFunctions.arities) throws(ExpressionError) {
        for call in calls {
            let arity = BuiltinFunctions.table[call.name]?.arity ?? contextFunctions[call.name]
            guard let arity else {
                if ContextFunctions.arities[call.name] != nil {
                    throw ExpressionError("the function '\(call.name)' cannot be used here", at: call.position)
                }
                throw ExpressionError("the function '\(call.name)' does not exist", at: call.position)
            }
            guard arity.contains(call.arity) else {
                throw ExpressionError(BuiltinFunctions.arityMessage(call.name, arity, call.arity), at: call.position)
            }
        }
    }
}

extension Template {
    /// Evaluates the template: the expression's value, or the interpolated string.
    public func evaluate(in context: some ExpressionContext) throws(ExpressionError) -> ExpressionValue {
        switch self {
        case .literal(let text):
            return .string(text)
        case .expression(let expression):
            return try expression.evaluate(in: context)
        case .interpolation(let parts):
            var text = ""
            for part in parts {
                switch part {
                case .text(let literal): text += literal
                case .expression(let expression): text += try expression.evaluate(in: context).stringValue
                }
            }
            return .string(text)
        }
    }
}
