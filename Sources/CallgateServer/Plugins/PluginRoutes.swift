import CallgateExpressions
import CallgatePluginHost
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// The one instance of each loaded plugin that serves its action and trigger types and its own
/// routes, created with the gateway's plugin configuration when the plugin starts.
final class PluginInstances: Sendable {
    struct Entry: Sendable {
        let plugin: LoadedPlugin
        let instance: LoadedPlugin.Instance
    }

    private let entries = Mutex<[String: Entry]>([:])

    func register(_ plugin: LoadedPlugin, instance: LoadedPlugin.Instance) {
        entries.withLock { $0[plugin.id] = Entry(plugin: plugin, instance: instance) }
    }

    func entry(_ pluginID: String) -> Entry? {
        entries.withLock { $0[pluginID] }
    }
}

/// Routes a plugin serves itself (ABI 1.3 `handle_request`): `/api/v1/plugins/{id}/…` for
/// operators, behind the admin token (EventHub's hub administration), and `/plugins/{id}/…` for
/// the outside world, where the plugin authenticates the caller (EventHub's ingest with
/// shared-access signatures). The plugin's `2xx` follows its own commit, as every hook's does.
struct PluginRoutes: Sendable {
    enum Access: String, Sendable {
        case admin, `public`
    }

    let instances: PluginInstances
    let maxBodyBytes: Int

    func handle(_ request: Request, pluginID: String, access: Access) async throws -> Response {
        guard let entry = instances.entry(pluginID) else {
            throw APIError.notFound("no plugin '\(pluginID)' is loaded")
        }
        let prefix = access == .admin ? "/api/v1/plugins/\(pluginID)" : "/plugins/\(pluginID)"
        let path = String(request.uri.path.dropFirst(prefix.count))
        // The operator's bearer token is the gateway's business, not the plugin's.
        let headers = PluginHTTPMessage.headers(
            request.headers.filter { $0.name != .authorization || access == .public }.map { ($0.name.canonicalName, $0.value) }
        )
        let meta: ExpressionValue = .object([
            "access": .string(access.rawValue), "method": .string(request.method.rawValue), "path": .string(path.isEmpty ? "/" : path),
            "query": .string(request.uri.query ?? ""), "headers": headers,
        ])
        var request = request
        let body = try await request.collectBody(upTo: maxBodyBytes)
        let result: LoadedPlugin.HookResult
        do {
            result = try await entry.plugin.handleRequest(entry.instance, request: Array(meta.jsonText.utf8), body: Array(buffer: body))
        } catch let error as PluginError where error.status == PluginStatus.unsupported {
            throw APIError.notFound("plugin '\(pluginID)' serves no routes")
        } catch let error as PluginError where error.status == PluginStatus.retryable {
            throw APIError.overloaded(retryAfterSeconds: 1)
        }
        guard let answer = try? ExpressionValue(json: Data(result.output)) else {
            throw APIError(.internalServerError, code: "plugin_failed", message: "plugin '\(pluginID)' answered no JSON")
        }
        guard let reply = PluginHTTPMessage.Reply(answer) else {
            throw APIError(.internalServerError, code: "plugin_failed", message: "plugin '\(pluginID)' answered an HTTP status outside 200–599")
        }
        var fields = HTTPFields()
        for header in reply.headers {
            if let name = HTTPField.Name(header.name) { fields.append(HTTPField(name: name, value: header.value)) }
        }
        return Response(status: .init(code: reply.status), headers: fields, body: .init(byteBuffer: ByteBuffer(string: reply.body)))
    }
}
