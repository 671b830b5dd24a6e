/// Why a callback URL was refused or a key operation failed.
///
/// The HTTP layer answers every verification failure with a bare `401`; the reason is for logs and
/// metrics only, so it never carries secrets or signatures.
public struct CallbackError: Error, Equatable, CustomStringConvertible {
    private enum Code: Equatable {
        case malformed
        case unknownKey
        case retiredKey
        case badSignature
        case expired
        case keyNotFound
        case cannotRetirePrimary
        case masterKey
    }

    private let code: Code
    /// A description safe to log: it names the problem, never a secret.
    public let message: String

    private init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The URL lacks a required parameter, repeats one, or one is not well formed.
    public static func malformed(_ detail: String) -> CallbackError { CallbackError(.malformed, "malformed callback URL: \(detail)") }
    /// The URL names a key id this gateway never had.
    public static let unknownKey = CallbackError(.unknownKey, "unknown signing key")
    /// The URL was signed with a key that has been retired.
    public static let retiredKey = CallbackError(.retiredKey, "signing key retired")
    /// The signature does not match the signed fields.
    public static let badSignature = CallbackError(.badSignature, "signature mismatch")
    /// The URL's `exp` lies in the past.
    public static let expired = CallbackError(.expired, "callback URL expired")
    /// A key operation named a key that does not exist.
    public static func keyNotFound(_ id: String) -> CallbackError { CallbackError(.keyNotFound, "no signing key '\(id)'") }
    /// Retiring the primary key would leave nothing to sign with.
    public static func cannotRetirePrimary(_ id: String) -> CallbackError {
        CallbackError(.cannotRetirePrimary, "key '\(id)' is the primary key; rotate first so another key signs new URLs")
    }
    /// The master key file is missing, unreadable or does not open the stored keys.
    public static func masterKey(_ detail: String) -> CallbackError { CallbackError(.masterKey, "master key: \(detail)") }

    /// True for the failures of ``CallbackVerifier`` (answered `401`); false for key-management errors.
    public var isVerificationFailure: Bool {
        switch code {
        case .malformed, .unknownKey, .retiredKey, .badSignature, .expired: true
        case .keyNotFound, .cannotRetirePrimary, .masterKey: false
        }
    }

    /// True when a key operation named a key that does not exist.
    public var isKeyNotFound: Bool { code == .keyNotFound }

    /// A short label without dynamic values, safe as a metric dimension.
    public var shortDescription: String {
        switch code {
        case .malformed: "malformed"
        case .unknownKey: "unknown_key"
        case .retiredKey: "retired_key"
        case .badSignature: "bad_signature"
        case .expired: "expired"
        case .keyNotFound: "key_not_found"
        case .cannotRetirePrimary: "cannot_retire_primary"
        case .masterKey: "master_key"
        }
    }

    public static func == (lhs: CallbackError, rhs: CallbackError) -> Bool { lhs.code == rhs.code }

    public var description: String { message }
}
