import AsyncHTTPClient
import CallgateExpressions
import CallgateOutbound
import Foundation
import NIOCore
import NIOHTTP1

/// Why an outbound request was not answered.
struct OutboundError: Error, Sendable {
    let message: String
    /// Refused by the egress policy (never retried).
    let isRefusal: Bool
}

/// A response as the engine records it.
struct OutboundResponse: Sendable {
    let status: Int
    let headers: [(name: String, value: String)]
    let body: Data

    func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    /// `Retry-After` in seconds (the delta form).
    var retryAfterSeconds: Double? { header("Retry-After").flatMap(Double.init) }

    /// `{statusCode, headers, body}`, the outputs of Http and webhook steps.
    var outputs: ExpressionValue {
        .object([
            "statusCode": .integer(Int64(status)),
            "headers": HTTPContent.headers(headers),
            "body": HTTPContent.decode(body, contentType: header("Content-Type")),
        ])
    }
}

/// Builds requests from evaluated Logic Apps HTTP inputs (`method`, `uri`, `headers`, `queries`,
/// `body`; `authentication` is applied by the gateway's ``OutboundAuthenticator``) and sends them
/// through the egress policy.
enum OutboundRequest {
    static func make(_ inputs: ExpressionValue) throws(ActionProblem) -> HTTPClientRequest {
        guard let method = inputs["method"]?.string, !method.isEmpty else { throw ActionProblem("inputs.method must be a string such as GET or POST") }
        guard let uri = inputs["uri"]?.string, var components = URLComponents(string: uri),
              let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https", components.host != nil
        else { throw ActionProblem("inputs.uri must be an absolute http or https URL") }
        if case .object(let queries)? = inputs["queries"], !queries.isEmpty {
            var items = components.queryItems ?? []
            for name in queries.keys.sorted() { items.append(URLQueryItem(name: name, value: queries[name]?.stringValue)) }
            components.queryItems = items
        }
        guard let url = components.string else { throw ActionProblem("inputs.uri is not a valid URL") }
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method.uppercased())
        if case .object(let headers)? = inputs["headers"] {
            for name in headers.keys.sorted() {
                guard let value = headers[name] else { continue }
                request.headers.add(name: name, value: value.stringValue)
            }
        }
        if let body = inputs["body"], body != .null {
            let (bytes, contentType) = HTTPContent.encode(body)
            if let contentType, !request.headers.contains(name: "Content-Type") { request.headers.add(name: "Content-Type", value: contentType) }
            request.body = .bytes(ByteBuffer(bytes: bytes))
        }
        return request
    }

    /// The GET that polls a 202's `Location` (authenticated like the action's request).
    static func poll(url: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        return request
    }

    /// The step's `authentication` object, read (its fields are strings once evaluated).
    static func authentication(_ value: ExpressionValue?) throws(ActionProblem) -> OutboundAuthentication? {
        guard let value, value != .null else { return nil }
        guard case .object(let members) = value else { throw ActionProblem("inputs.authentication must be an object with a type") }
        do {
            return try OutboundAuthentication(fields: members.mapValues(\.stringValue))
        } catch {
            throw ActionProblem(error.message)
        }
    }

    static func send(_ request: HTTPClientRequest, client: HTTPClient, egress: EgressPolicy, timeout: TimeAmount) async throws(OutboundError) -> OutboundResponse {
        guard let host = URLComponents(string: request.url)?.host else { throw OutboundError(message: "the URL has no host", isRefusal: true) }
        if let refusal = egress.refusal(forHost: host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))) {
            throw OutboundError(message: "outbound call refused: \(refusal)", isRefusal: true)
        }
        do {
            let response = try await client.execute(request, timeout: timeout)
            let body = try await response.body.collect(upTo: 16 << 20)
            return OutboundResponse(
                status: Int(response.status.code),
                headers: response.headers.map { ($0.name, $0.value) },
                body: Data(body.readableBytesView)
            )
        } catch {
            throw OutboundError(message: "\(request.method.rawValue) \(request.url) failed: \(error)", isRefusal: false)
        }
    }
}
