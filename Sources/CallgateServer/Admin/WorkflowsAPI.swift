import CallgateEngine
import CallgateExpressions
import CallgateWorkflow
import Foundation
import Hummingbird

/// `/api/v1/workflows`: deploy (PUT, create or replace), list, show, enable, disable, delete,
/// and the Request trigger's callback URL.
struct WorkflowsAPI: Sendable {
    let workflows: WorkflowRepository
    let engine: WorkflowEngine
    /// The parser for the step types available now.
    let parser: @Sendable () async throws -> DefinitionParser
    let maxBodyBytes: Int

    struct WorkflowList: Encodable { let workflows: [WorkflowRepository.Summary] }
    struct WorkflowResult: Encodable { let workflow: WorkflowRepository.Summary }
    struct WorkflowDetail: Encodable {
        let workflow: WorkflowRepository.Summary
        /// The trigger's subscription, for triggers that subscribe.
        let subscription: TriggerSubscriptionStatus?
        let definition: ExpressionValue
    }

    /// Logic Apps' listCallbackUrl answer.
    struct CallbackURL: Encodable {
        let value: String
        let method: String
        let basePath: String
        let queries: [String: String]
    }

    func register<Context: RequestContext>(on group: RouterGroup<Context>) {
        registerCallbackURL(on: group)
        group.get("workflows") { _, _ in
            try jsonResponse(WorkflowList(workflows: try await workflows.list(parser: try await parser())))
        }
        group.put("workflows/{name}") { request, context in
            let name = try context.parameters.require("name")
            var request = request
            let body = try await request.collectBody(limit: maxBodyBytes)
            return try await mapErrors {
                let (summary, created) = try await workflows.deploy(name: name, definition: Data(buffer: body), parser: try await parser())
                try await engine.workflowChanged(name)
                return try jsonResponse(WorkflowResult(workflow: summary), status: created ? .created : .ok)
            }
        }
        group.get("workflows/{name}") { _, context in
            try await mapErrors {
                let name = try context.parameters.require("name")
                let (summary, text) = try await workflows.show(name: name, parser: try await parser())
                return try jsonResponse(WorkflowDetail(
                    workflow: summary, subscription: try await engine.triggerStatus(workflow: name),
                    definition: (try? ExpressionValue(json: Data(text.utf8))) ?? .null
                ))
            }
        }
        group.delete("workflows/{name}") { _, context in
            try await mapErrors {
                let name = try context.parameters.require("name")
                try await workflows.delete(name: name)
                try await engine.workflowChanged(name)
                return Response(status: .noContent)
            }
        }
        // `POST /workflows/{name}:enable` and `:disable` (the router sees `name:enable` as the
        // parameter; every route at this position must use the same parameter name).
        group.post("workflows/{name}") { _, context in
            let target = try context.parameters.require("name")
            let enable: Bool
            if target.hasSuffix(":enable") {
                enable = true
            } else if target.hasSuffix(":disable") {
                enable = false
            } else {
                throw APIError.notFound("no such workflow operation '\(target)'")
            }
            let name = String(target.prefix(upTo: target.lastIndex(of: ":") ?? target.endIndex))
            return try await mapErrors {
                let summary = try await workflows.setEnabled(name: name, enable, parser: try await parser())
                // Subscribes or unsubscribes a subscribing trigger (enable also retries a failed subscribe).
                try await engine.workflowChanged(name)
                return try jsonResponse(WorkflowResult(workflow: summary))
            }
        }
    }

    /// `POST /workflows/{name}/triggers/{trigger}/callback-url`.
    func registerCallbackURL<Context: RequestContext>(on group: RouterGroup<Context>) {
        group.post("workflows/{name}/triggers/{trigger}/callback-url") { _, context in
            let name = try context.parameters.require("name")
            let trigger = try context.parameters.require("trigger")
            let url: String
            do {
                url = try await engine.triggerCallbackURL(workflow: name, trigger: trigger)
            } catch let error as EngineError {
                throw APIError(engineError: error)
            }
            let components = URLComponents(string: url)
            var queries: [String: String] = [:]
            for item in components?.queryItems ?? [] { queries[item.name] = item.value ?? "" }
            let basePath = url.components(separatedBy: "?").first ?? url
            return try jsonResponse(CallbackURL(value: url, method: "POST", basePath: basePath, queries: queries))
        }
    }

    private func mapErrors(_ body: () async throws -> Response) async throws -> Response {
        do {
            return try await body()
        } catch let failure as WorkflowRepository.Failure {
            switch failure.kind {
            case .notFound: throw APIError.notFound(failure.description)
            case .invalidName: throw APIError.badRequest(failure.description)
            case .invalidDefinition:
                throw APIError(
                    .badRequest, code: "invalid_definition", message: failure.description, path: failure.problems.first?.path,
                    problems: failure.problems.map { .init(path: $0.path, message: $0.message) }
                )
            }
        }
    }
}
