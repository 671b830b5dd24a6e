import CallgateEngine
import Foundation
import Hummingbird

/// `/api/v1/runs`: list (filters `workflow`, `status`; paging `limit`, `after`), get, `:cancel`.
struct RunsAPI: Sendable {
    let engine: WorkflowEngine

    struct RunResult: Encodable { let run: RunSummary }

    func register<Context: RequestContext>(on group: RouterGroup<Context>) {
        group.get("runs") { request, _ in
            let query = request.uri.queryParameters
            var status: RunStatus?
            if let text = query["status"].map(String.init) {
                guard let parsed = RunStatus.allCases.first(where: { $0.rawValue.caseInsensitiveCompare(text) == .orderedSame }) else {
                    throw APIError.badRequest(
                        "status '\(text)' is not one of \(RunStatus.allCases.map(\.rawValue).joined(separator: ", "))", path: "status"
                    )
                }
                status = parsed
            }
            var limit = 50
            if let text = query["limit"].map(String.init) {
                guard let parsed = Int(text), (1...1000).contains(parsed) else {
                    throw APIError.badRequest("limit must be a number from 1 to 1000", path: "limit")
                }
                limit = parsed
            }
            let page = try await engine.listRuns(
                workflow: query["workflow"].map(String.init), status: status, limit: limit, after: query["after"].map(String.init)
            )
            return try jsonResponse(page)
        }
        group.get("runs/{id}") { _, context in
            let id = try context.parameters.require("id")
            guard let detail = try await engine.runDetail(id) else { throw APIError.notFound("no run '\(id)'") }
            return try jsonResponse(detail)
        }
        // `POST /runs/{id}:cancel` (the router sees `id:cancel` as the parameter).
        group.post("runs/{id}") { _, context in
            let target = try context.parameters.require("id")
            guard target.hasSuffix(":cancel") else { throw APIError.notFound("no such run operation '\(target)'") }
            do {
                return try jsonResponse(RunResult(run: try await engine.cancel(runID: String(target.dropLast(":cancel".count)))))
            } catch let error as EngineError {
                throw APIError(engineError: error)
            }
        }
    }
}

extension APIError {
    /// The API form of an engine refusal.
    init(engineError error: EngineError) {
        switch error.kind {
        case .notFound: self = .notFound(error.description)
        case .conflict: self = .conflict(error.description)
        case .invalid: self = .badRequest(error.description)
        case .busy: self = .overloaded(retryAfterSeconds: 1)
        }
    }
}
