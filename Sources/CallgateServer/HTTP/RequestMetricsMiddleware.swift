import Hummingbird
import Metrics

/// Counts requests and times them by route class and status, with a factory owned by the
/// gateway rather than the process-global `MetricsSystem` (several gateways may share a process
/// in tests).
///
/// The route class, not the path, is the label: paths carry callback ids and would make every
/// request its own time series.
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let factory: any MetricsFactory

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let routeClass = Self.routeClass(of: request.uri.path)
        do {
            let response = try await next(request, context)
            record(routeClass: routeClass, status: response.status.code, since: start)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            record(routeClass: routeClass, status: status, since: start)
            throw error
        }
    }

    private func record(routeClass: String, status: Int, since start: ContinuousClock.Instant) {
        let dimensions = [("route", routeClass), ("status", String(status))]
        Counter(label: "callgate_http_requests_total", dimensions: dimensions, factory: factory).increment()
        Metrics.Timer(label: "callgate_http_request_duration_seconds", dimensions: dimensions, factory: factory)
            .recordInterval(since: start)
    }

    /// The coarse class of a path: `health`, `metrics`, `callback`, `admin` or `other`.
    static func routeClass(of path: String) -> String {
        if path == "/healthz" || path == "/readyz" { return "health" }
        if path == "/metrics" { return "metrics" }
        if path.hasPrefix("/cb/") { return "callback" }
        if path.hasPrefix("/api/") { return "admin" }
        return "other"
    }
}

extension Metrics.Timer {
    fileprivate func recordInterval(since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        let nanoseconds = elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
        recordNanoseconds(nanoseconds)
    }
}
