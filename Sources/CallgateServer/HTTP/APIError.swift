import Foundation
import Hummingbird

/// An error answered as SPEC §4 JSON: `{"error": {"code": "...", "message": "...", "path": "..."}}`.
///
/// Only errors of this type reach clients with a body; anything else becomes a bodyless 500
/// (Hummingbird's rule), so internal details never leak.
public struct APIError: HTTPResponseError, Sendable {
    /// The HTTP status.
    public let status: HTTPResponse.Status
    /// A stable machine-readable code (`unauthorized`, `not_found`, …).
    public let code: String
    /// What went wrong, for a person.
    public let message: String
    /// The JSON path of the offending input, when there is one.
    public let path: String?
    /// Extra response headers (`Retry-After`, `WWW-Authenticate`).
    public let headers: HTTPFields
    /// Every problem, when there are several (a definition's validation); `path` names the first.
    public let problems: [Problem]?

    /// One of several problems, with its JSON path.
    public struct Problem: Encodable, Sendable {
        public let path: String
        public let message: String
    }

    public init(
        _ status: HTTPResponse.Status, code: String, message: String, path: String? = nil, headers: HTTPFields = [:], problems: [Problem]? = nil
    ) {
        self.status = status
        self.code = code
        self.message = message
        self.path = path
        self.headers = headers
        self.problems = problems
    }

    private struct Envelope: Encodable {
        struct Body: Encodable {
            let code: String
            let message: String
            let path: String?
            let problems: [Problem]?
        }
        let error: Body
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(Envelope(error: .init(code: code, message: message, path: path, problems: problems)))
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

extension APIError {
    static func unauthorized() -> APIError {
        APIError(.unauthorized, code: "unauthorized", message: "a valid bearer token is required", headers: [.wwwAuthenticate: "Bearer"])
    }
    static func notFound(_ message: String) -> APIError { APIError(.notFound, code: "not_found", message: message) }
    static func badRequest(_ message: String, path: String? = nil) -> APIError {
        APIError(.badRequest, code: "bad_request", message: message, path: path)
    }
    static func conflict(_ message: String) -> APIError { APIError(.conflict, code: "conflict", message: message) }
    static func contentTooLarge(limit: Int) -> APIError {
        APIError(.contentTooLarge, code: "content_too_large", message: "request body exceeds \(limit) bytes")
    }
    static func overloaded(retryAfterSeconds: Int) -> APIError {
        APIError(.tooManyRequests, code: "overloaded", message: "the gateway is overloaded; retry later",
                 headers: [.retryAfter: String(retryAfterSeconds)])
    }
}
