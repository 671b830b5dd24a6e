import CallgateExpressions
import CallgateWorkflow
import Foundation

/// A Logic Apps `retryPolicy`: which failed attempts are retried, how often and how long after.
///
/// * `default` (or none given): exponential, 4 retries, intervals scaled by 7.5 s and held
///   between 5 s and 45 s;
/// * `none`: no retry;
/// * `fixed`: `count` retries `interval` apart;
/// * `exponential`: `count` retries, the n-th after `interval × 2^(n-1)` with ±20 % jitter, held
///   between `minimumInterval` and `maximumInterval`.
///
/// Retried: 408, 429, 5xx and failures to connect. A `Retry-After` header lengthens the wait.
struct RetryPolicy: Sendable, Equatable {
    enum Kind: String, Sendable { case none, fixed, exponential }

    var kind: Kind
    var count: Int
    var interval: Double
    var minimumInterval: Double
    var maximumInterval: Double

    static let standard = RetryPolicy(kind: .exponential, count: 4, interval: 7.5, minimumInterval: 5, maximumInterval: 45)

    /// Parses `inputs.retryPolicy`; the message names what is wrong.
    static func parse(_ value: ExpressionValue?) -> Result<RetryPolicy, ActionProblem> {
        guard let value, value != .null else { return .success(.standard) }
        guard let type = value["type"]?.string?.lowercased() else {
            return .failure(ActionProblem("retryPolicy.type must be default, none, fixed or exponential"))
        }
        func count() -> Int? {
            switch value["count"] {
            case .integer(let number)?: Int(number)
            case .string(let text)?: Int(text)
            default: nil
            }
        }
        func duration(_ name: String) -> Double? {
            value[name]?.string.flatMap(ISODuration.init)?.seconds
        }
        switch type {
        case "default":
            return .success(.standard)
        case "none":
            return .success(RetryPolicy(kind: .none, count: 0, interval: 0, minimumInterval: 0, maximumInterval: 0))
        case "fixed":
            guard let count = count(), (1...90).contains(count), let interval = duration("interval") else {
                return .failure(ActionProblem("a fixed retryPolicy needs count (1 to 90) and interval (ISO 8601, such as PT10S)"))
            }
            return .success(RetryPolicy(kind: .fixed, count: count, interval: interval, minimumInterval: interval, maximumInterval: interval))
        case "exponential":
            guard let count = count(), (1...90).contains(count), let interval = duration("interval") else {
                return .failure(ActionProblem("an exponential retryPolicy needs count (1 to 90) and interval (ISO 8601, such as PT7S)"))
            }
            let minimum = duration("minimumInterval") ?? 5
            let maximum = duration("maximumInterval") ?? 86_400
            return .success(RetryPolicy(kind: .exponential, count: count, interval: interval, minimumInterval: minimum, maximumInterval: max(minimum, maximum)))
        default:
            return .failure(ActionProblem("retryPolicy.type '\(type)' is not one of default, none, fixed, exponential"))
        }
    }

    /// Whether an attempt that ended with `status` (nil: no response) is retried.
    static func isRetryable(status: Int?) -> Bool {
        guard let status else { return true }
        return status == 408 || status == 429 || (500...599).contains(status)
    }

    /// The wait before retry number `retry` (1-based), or nil when retries are spent.
    func delay(beforeRetry retry: Int, retryAfter: Double?) -> Double? {
        guard kind != .none, retry <= count else { return nil }
        let computed: Double
        switch kind {
        case .fixed, .none: computed = interval
        case .exponential:
            let scaled = interval * pow(2, Double(retry - 1)) * Double.random(in: 0.8...1.2)
            computed = min(maximumInterval, max(minimumInterval, scaled))
        }
        return max(computed, retryAfter ?? 0)
    }
}

/// A problem with an action's inputs found when it runs.
struct ActionProblem: Error, Sendable, Equatable {
    let message: String

    init(_ message: String) {
        self.message = message
    }
}
