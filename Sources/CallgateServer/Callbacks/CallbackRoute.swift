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
/// 4. the handler registered for the owner's kind (``ActionCallbackHandler`` for waiting steps,
///    ``TriggerCallbackHandler`` for triggers, ``StepLinkCallbackHandler`` for links a plugin
///    minted, such as approval links), whose `2xx` means its effect is committed.
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
            return refusal(request)
        }
        var request = request
        let body = try await request.collectBody(limit: maxBodyBytes)
        guard let registration = try await registry.registration(id: fields.id) else {
            return Response(status: .notFound)
        }
        guard registration.scope == fields.scope else {
            logger.debug("callback refused", metadata: ["reason": "scope differs from registration"])
            return refusal(request)
        }
        guard registration.state == .active else { return Response(status: .gone) }
        guard let handler = handler(for: registration.owner.kind) else {
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

    /// `401`: no body for programs; a person who opened a broken link in a browser (an approval
    /// link cut by a mail client) gets a page that says so, and the same page for every reason.
    private func refusal(_ request: Request) -> Response {
        guard request.headers[.accept]?.contains("text/html") == true else { return Response(status: .unauthorized) }
        return Response(
            status: .unauthorized,
            headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: Self.invalidLinkPage))
        )
    }

    static let invalidLinkPage = """
        <!doctype html>
        <html lang="en">
        <head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Link not valid</title></head>
        <body style="font: 16px/1.5 system-ui, sans-serif; max-width: 36rem; margin: 3rem auto; padding: 0 1rem;">
        <main>
        <h1>This link is not valid</h1>
        <p>It may have been cut or changed on its way to you. Open the link from the original mail again, or copy all of it
        into the address bar.</p>
        </main>
        </body>
        </html>

        """

    /// The handler of an owner kind: registered for the kind itself, or for its prefix before
    /// `:` (`plugin:approval-email` is answered by the `plugin` handler).
    private func handler(for kind: String) -> (any CallbackHandler)? {
        handlers[kind] ?? kind.split(separator: ":", maxSplits: 1).first.flatMap { handlers[String($0)] }
    }
}
