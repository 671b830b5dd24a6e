import Foundation

/// A callback whose signature verified and whose id is registered and active, as handed to the
/// owner's handler. Plain values only, so engines and plugins need no HTTP framework.
public struct InboundCallback: Sendable {
    /// One request header field.
    public struct Header: Sendable, Equatable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// The registration the URL belongs to.
    public var registration: CallbackRegistration
    /// The verified URL fields.
    public var fields: CallbackURLFields
    /// The HTTP method (`POST`, `GET`, …).
    public var method: String
    /// The raw query string, including the signed parameters.
    public var query: String
    /// The request header fields, in order.
    public var headers: [Header]
    /// The request body, already bounded by the body limit.
    public var body: Data

    public init(registration: CallbackRegistration, fields: CallbackURLFields, method: String, query: String, headers: [Header], body: Data) {
        self.registration = registration
        self.fields = fields
        self.method = method
        self.query = query
        self.headers = headers
        self.body = body
    }

    /// The first value of a header, matched case-insensitively.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }
}

/// The HTTP answer a handler gives to a callback.
public struct CallbackReply: Sendable, Equatable {
    public var status: Int
    public var headers: [InboundCallback.Header]
    public var body: Data

    public init(status: Int, headers: [InboundCallback.Header] = [], body: Data = Data()) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON reply.
    public static func json(status: Int, _ object: [String: any Sendable]) -> CallbackReply {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return CallbackReply(status: status, headers: [.init(name: "Content-Type", value: "application/json")], body: data)
    }
}

/// Answers the callbacks of one owner kind (`trigger`, `action`, `approval`, …).
///
/// Contract: a `2xx` reply means the handler's effect is committed to the store.
public protocol CallbackHandler: Sendable {
    func handle(_ callback: InboundCallback) async throws -> CallbackReply
}
