/// An error raised by the store, carrying what was being done when it failed.
///
/// Follows the struct-wrapping-a-private-code pattern of `HTTPClientError`, so new cases can be
/// added without breaking callers that switch over the public static values.
public struct StoreError: Error, Equatable, CustomStringConvertible {
    private enum Code: Equatable {
        case overloaded
        case closed
        case cannotOpen
    }

    private let code: Code
    /// What failed, in words an operator can act on.
    public let message: String

    private init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The writer's queue of pending writes is full; the caller should retry later (HTTP 429).
    public static func overloaded(pending: Int) -> StoreError {
        StoreError(.overloaded, "the write queue is full (\(pending) pending writes)")
    }

    /// The writer has been shut down and takes no more writes.
    public static let closed = StoreError(.closed, "the store is closed")

    /// The database file could not be opened or migrated.
    public static func cannotOpen(path: String, reason: String) -> StoreError {
        StoreError(.cannotOpen, "cannot open database at \(path): \(reason)")
    }

    /// True when the error means "try again later" rather than "this will never work".
    public var isOverloaded: Bool { code == .overloaded }

    public static func == (lhs: StoreError, rhs: StoreError) -> Bool { lhs.code == rhs.code }

    public var description: String { message }
}
