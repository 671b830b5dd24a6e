import CallgateCallbacks
import CallgateStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// `/cb/{id}`: where the outside world calls back. The request travels:
///
/// 1. signature check against the in-memory key ring: `401`, no body, before any database work;
/// 2. body read within the limit: `413`, nothing stored;
/// 3. registry lookup: unknown id `404`, closed owner `410`;
/// 4. the handler registered for the owner's kind, whose `2xx` means its effect is committed.
///
/// Failures reveal nothing: no body, no reason. The reason goes to the debug log.
struct CallbackRoute: Sendable {
    let registry: CallbackRegistry
    let handlers: [String: any CallbackHandler]
    let maxBodyBytes: Int
    let logger: Logger

    static let methods: [HTTPRequest.Method] = [.get, .post, .put, .patch, .delete]

    func handle(_ request: Request, id: String) async throws -> Response {
        let query = request.uri.query ?? ""
        let fields: CallbackURLFields
        do {
            fields = try CallbackURLFields.parse(id: id, query: query)
            try registry.signer.verify(fields)
        } catch {
            logger.debug("callback refused", metadata: ["reason": "\(error.shortDescription)"])
            return Response(status: .unauthorized)
        }
        var request = request
        let body = try await request.collectBody(limit: maxBodyBytes)
        guard let registration = try await registry.registration(id: fields.id) else {
            return Response(status: .notFound)
        }
        guard registration.scope == fields.scope else {
            logger.debug("callback refused", metadata: ["reason": "scope differs from registration"])
            return Response(status: .unauthorized)
        }
        guard registration.state == .active else { return Response(status: .gone) }
        guard let handler = handlers[registration.owner.kind] else {
            logger.warning("no handler for callback owner kind", metadata: ["kind": "\(registration.owner.kind)"])
            return Response(status: .notFound)
        }
        let callback = InboundCallback(
            registration: registration,
            fields: fields,
            method: request.method.rawValue,
            query: query,
            headers: request.headers.map { .init(name: $0.name.canonicalName, value: $0.value) },
            body: Data(buffer: body)
        )
        let reply: CallbackReply
        do {
            reply = try await handler.handle(callback)
        } catch let error as StoreError where error.isOverloaded {
            throw APIError.overloaded(retryAfterSeconds: 1)
        }
        var headers = HTTPFields()
        for header in reply.headers {
            if let name = HTTPField.Name(header.name) { headers.append(HTTPField(name: name, value: header.value)) }
        }
        return Response(status: .init(code: reply.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: reply.body)))
    }
}
