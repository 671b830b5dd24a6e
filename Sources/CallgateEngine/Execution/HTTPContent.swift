import CallgateExpressions
import Foundation

/// Bodies as workflows see them (SPEC §5): JSON is parsed; text stays text; anything else is
/// `{"$content-type": "...", "$content": "<base64>"}` as in Logic Apps.
enum HTTPContent {
    static func decode(_ bytes: Data, contentType: String?) -> ExpressionValue {
        if bytes.isEmpty { return .null }
        let type = contentType?.lowercased() ?? ""
        if type.contains("json") || type.isEmpty, let value = try? ExpressionValue(json: bytes) { return value }
        if type.hasPrefix("text/") || type.contains("xml") || type.contains("x-www-form-urlencoded"), let text = String(data: bytes, encoding: .utf8) {
            return .string(text)
        }
        return .object(["$content-type": .string(contentType ?? "application/octet-stream"), "$content": .string(bytes.base64EncodedString())])
    }

    /// A body to send: strings as they are, `$content` objects decoded, anything else as JSON.
    static func encode(_ value: ExpressionValue) -> (bytes: Data, contentType: String?) {
        switch value {
        case .null:
            return (Data(), nil)
        case .string(let text):
            return (Data(text.utf8), "text/plain; charset=utf-8")
        case .object(let members):
            if case .string(let content)? = members["$content"], let bytes = Data(base64Encoded: content) {
                return (bytes, members["$content-type"]?.string)
            }
            return (Data(value.jsonText.utf8), "application/json")
        default:
            return (Data(value.jsonText.utf8), "application/json")
        }
    }

    /// Header fields as an object; repeated fields are joined with ", ".
    static func headers(_ fields: [(name: String, value: String)]) -> ExpressionValue {
        var members: [String: String] = [:]
        for field in fields {
            if let existing = members[field.name] { members[field.name] = existing + ", " + field.value } else { members[field.name] = field.value }
        }
        return .object(members.mapValues { .string($0) })
    }
}
