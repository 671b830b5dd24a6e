import CallgateExpressions

/// The HTTP shapes that cross the ABI as JSON, shared by link calls (`handle_callback`) and plugin
/// routes (`handle_request`): request headers going to the plugin, the reply coming back.
enum PluginHTTPMessage {
    /// `{"Name": "value"}`, repeated fields joined with `, ` (RFC 9110 §5.3).
    static func headers(_ fields: some Sequence<(name: String, value: String)>) -> ExpressionValue {
        var headers: [String: ExpressionValue] = [:]
        for field in fields {
            headers[field.name] = .string(headers[field.name]?.string.map { $0 + ", " + field.value } ?? field.value)
        }
        return .object(headers)
    }

    /// A plugin's reply `{"status", "headers", "body"}`: status 200 when absent, a body that is
    /// not text sent as JSON (with that content type unless the plugin named one).
    struct Reply {
        var status: Int
        var headers: [(name: String, value: String)]
        var body: String

        /// Nil when the status is not an HTTP status a reply may have.
        init?(_ value: ExpressionValue?) {
            var headers: [(name: String, value: String)] = []
            if case .object(let fields)? = value?["headers"] {
                for (name, field) in fields.sorted(by: { $0.key < $1.key }) { headers.append((name, field.string ?? field.jsonText)) }
            }
            switch value?["body"] {
            case nil, .null?:
                body = ""
            case .string(let text)?:
                body = text
            case let json?:
                body = json.jsonText
                if !headers.contains(where: { $0.name.lowercased() == "content-type" }) { headers.append(("Content-Type", "application/json")) }
            }
            status = value?["status"]?.integer ?? 200
            guard (200...599).contains(status) else { return nil }
            self.headers = headers
        }
    }
}
