import Hummingbird
import NIOCore

/// Refuses requests whose target, header fields or declared body exceed the configured limits,
/// each with its own status (414, 431, 413), before any handler runs.
///
/// NIO's parser keeps a hard ceiling above these limits (see ``GatewayServer``); requests beyond
/// that ceiling get `400` and the connection is closed.
struct RequestLimitsMiddleware<Context: RequestContext>: RouterMiddleware {
    let limits: GatewayConfiguration.Limits

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.uri.description.utf8.count > limits.maxURLLength {
            throw APIError(.uriTooLong, code: "uri_too_long", message: "request target exceeds \(limits.maxURLLength) bytes")
        }
        var headerBytes = 0
        for field in request.headers {
            headerBytes += field.name.rawName.utf8.count + field.value.utf8.count + 4
        }
        if headerBytes > limits.maxHeaderBytes {
            throw APIError(.init(code: 431, reasonPhrase: "Request Header Fields Too Large"),
                           code: "headers_too_large", message: "request header fields exceed \(limits.maxHeaderBytes) bytes")
        }
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limits.maxBodyBytes {
            throw APIError.contentTooLarge(limit: limits.maxBodyBytes)
        }
        return try await next(request, context)
    }
}

extension Request {
    /// The whole body, refused with `413` past `limit` bytes (covers chunked bodies with no
    /// `Content-Length`, which the limits middleware cannot see in advance).
    mutating func collectBody(limit: Int) async throws -> ByteBuffer {
        do {
            return try await collectBody(upTo: limit)
        } catch let error as NIOTooManyBytesError {
            _ = error
            throw APIError.contentTooLarge(limit: limit)
        }
    }
}
