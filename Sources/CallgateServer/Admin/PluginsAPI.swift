import CallgatePluginHost
import Foundation
import Hummingbird

/// `/api/v1/plugins`: install (from a package directory on the gateway's machine), list, show,
/// remove.
struct PluginsAPI: Sendable {
    let plugins: PluginManager
    /// Called after an install, so the plugin's action types become runnable at once.
    let installed: @Sendable (String) async -> Void

    struct PluginList: Encodable { let plugins: [PluginManager.Record] }
    struct PluginResult: Encodable { let plugin: PluginManager.Record }
    struct InstallRequest: Decodable { let path: String }

    func register<Context: RequestContext>(on group: RouterGroup<Context>) {
        group.get("plugins") { _, _ in try jsonResponse(PluginList(plugins: try await plugins.list())) }
        group.get("plugins/{id}") { _, context in
            try await mapErrors { try jsonResponse(PluginResult(plugin: try await plugins.record(id: try context.parameters.require("id")))) }
        }
        group.post("plugins") { request, _ in
            var request = request
            let body = try await request.collectBody(limit: 64 * 1024)
            guard let install = try? JSONDecoder().decode(InstallRequest.self, from: Data(buffer: body)) else {
                throw APIError.badRequest("the body must be {\"path\": \"/absolute/package/directory\"}", path: "$.path")
            }
            guard install.path.hasPrefix("/") else {
                throw APIError.badRequest("path must be absolute on the gateway's machine", path: "$.path")
            }
            return try await mapErrors {
                let record = try await plugins.install(packageDirectory: install.path)
                await installed(record.id)
                return try jsonResponse(PluginResult(plugin: record), status: .created)
            }
        }
        group.delete("plugins/{id}") { _, context in
            try await mapErrors {
                try await plugins.remove(id: try context.parameters.require("id"))
                return Response(status: .noContent)
            }
        }
    }

    /// Plugin refusals are the client's problem (422, with the one-line reason); an unknown id is 404.
    private func mapErrors(_ body: () async throws -> Response) async throws -> Response {
        do {
            return try await body()
        } catch let error as PluginError where error.isNotInstalled {
            throw APIError.notFound(error.description)
        } catch let error as PluginError {
            throw APIError(.unprocessableContent, code: "plugin_refused", message: error.description)
        }
    }
}
