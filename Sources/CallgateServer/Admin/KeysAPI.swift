import CallgateCallbacks
import Hummingbird

/// `/api/v1/keys`: list the callback-signing keys, rotate the primary, retire an old key.
struct KeysAPI: Sendable {
    let keyRing: SigningKeyRing

    struct KeyList: Encodable { let keys: [SigningKeyInfo] }
    struct KeyResult: Encodable { let key: SigningKeyInfo }

    func register<Context: RequestContext>(on group: RouterGroup<Context>) {
        group.get("keys") { _, _ in try jsonResponse(KeyList(keys: keyRing.list())) }
        group.post("keys:rotate") { _, _ in try jsonResponse(KeyResult(key: try await keyRing.rotate()), status: .created) }
        // `POST /keys/{id}:retire`, Google-API style like the rest of SPEC §4.
        group.post("keys/{target}") { _, context in
            let target = try context.parameters.require("target")
            guard target.hasSuffix(":retire") else { throw APIError.notFound("no such key operation '\(target)'") }
            let id = String(target.dropLast(":retire".count))
            do {
                return try jsonResponse(KeyResult(key: try await keyRing.retire(id: id)))
            } catch let error as CallbackError where error.isKeyNotFound {
                throw APIError.notFound(error.message)
            } catch let error as CallbackError {
                throw APIError.conflict(error.message)
            }
        }
    }
}
