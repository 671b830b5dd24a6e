import CCallgatePlugin
import CallgatePluginBuffers

/// ConnectorKit's build information, in static storage as the ABI requires.
private let buildInfo: StaticString = "ConnectorKit 1.2 (Swift)"

/// Answers the gateway's negotiation. Call it from the one exported symbol, with an init that
/// names your connector type:
///
/// ```swift
/// @_cdecl("callgate_plugin_negotiate")
/// public func callgatePluginNegotiate(_ offer: OpaquePointer?, _ answer: OpaquePointer?) -> Int32 {
///     negotiate(offer: offer, answer: answer) { startConnector(MyConnector.self, $0, $1, $2, $3) }
/// }
/// ```
///
/// The init is a C function (the ABI's init takes no user context); a closure that names a
/// concrete type captures nothing, so each connector gets its own and no state is shared between
/// connectors linked into one binary (the gateway bundles several, and may start them at once).
public func negotiate(offer: OpaquePointer?, answer: OpaquePointer?, start: callgate_plugin_init_fn) -> Int32 {
    guard let offer = UnsafePointer<callgate_host_offer>(offer), let answer = UnsafeMutablePointer<callgate_plugin_answer>(answer) else {
        return CALLGATE_ERR_INVALID
    }
    // Write only the fields that lie inside the host's answer struct.
    guard Int(answer.pointee.struct_size) >= MemoryLayout<callgate_plugin_answer>.size else { return CALLGATE_ERR_INCOMPATIBLE }
    answer.pointee.major = UInt16(CALLGATE_ABI_MAJOR)
    answer.pointee.minor = UInt16(CALLGATE_ABI_MINOR)
    answer.pointee.build_info = callgate_bytes(ptr: buildInfo.utf8Start, len: buildInfo.utf8CodeUnitCount)
    answer.pointee.`init` = start
    let major = UInt16(CALLGATE_ABI_MAJOR)
    return offer.pointee.min_major <= major && major <= offer.pointee.max_major ? CALLGATE_OK : CALLGATE_ERR_INCOMPATIBLE
}

private final class ConnectorBox {
    let connector: any Connector
    init(_ connector: any Connector) { self.connector = connector }
}

private final class InstanceBox {
    let instance: any ConnectorInstance
    init(_ instance: any ConnectorInstance) { self.instance = instance }
}

private func connectorBox(_ pointer: UnsafeMutableRawPointer?) -> ConnectorBox? {
    pointer.map { Unmanaged<ConnectorBox>.fromOpaque($0).takeUnretainedValue() }
}

private func instanceBox(_ pointer: UnsafeMutableRawPointer?) -> InstanceBox? {
    pointer.map { Unmanaged<InstanceBox>.fromOpaque($0).takeUnretainedValue() }
}

/// Runs a throwing body for a hook: ok/pending with its result, or the error's status and message.
private func answer(
    _ result: UnsafePointer<callgate_writer>?,
    _ error: UnsafePointer<callgate_writer>?,
    _ body: () throws(ConnectorError) -> HookOutcome
) -> Int32 {
    do {
        switch try body() {
        case .done(let value):
            append(value.bytes, to: result)
            return CALLGATE_OK
        case .pending(let value):
            append(value.bytes, to: result)
            return CALLGATE_PENDING
        }
    } catch let failure {
        append(Array(failure.message.utf8), to: error)
        return failure.status
    }
}

/// The ABI's init for connector `type`: constructs it with the host services and fills the hook
/// table. Called from the init closure given to ``negotiate(offer:answer:start:)``.
public func startConnector(
    _ type: any Connector.Type, _ host: UnsafePointer<callgate_host_api>?, _ hooks: UnsafeMutablePointer<callgate_plugin_hooks>?,
    _ plugin: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ error: UnsafePointer<callgate_writer>?
) -> Int32 {
    guard let host, let hooks, let plugin else { return CALLGATE_ERR_INVALID }
    let connector: any Connector
    do throws(ConnectorError) {
        connector = try type.init(host: ConnectorHost(api: host))
    } catch let failure {
        append(Array(failure.message.utf8), to: error)
        return failure.status
    }
    plugin.pointee = Unmanaged.passRetained(ConnectorBox(connector)).toOpaque()

    hooks.pointee.describe = { plugin, output in
        guard let box = connectorBox(plugin) else { return CALLGATE_ERR_INVALID }
        append(box.connector.describe().bytes, to: output)
        return CALLGATE_OK
    }
    hooks.pointee.instance_create = { plugin, configuration, instance, error in
        guard let box = connectorBox(plugin), let instance else { return CALLGATE_ERR_INVALID }
        do {
            let created = try box.connector.makeInstance(configuration: JSONValue(parsing: configuration.array) ?? .null)
            instance.pointee = Unmanaged.passRetained(InstanceBox(created)).toOpaque()
            return CALLGATE_OK
        } catch let failure as ConnectorError {
            append(Array(failure.message.utf8), to: error)
            return failure.status
        } catch {
            return CALLGATE_ERR_INTERNAL
        }
    }
    hooks.pointee.instance_free = { _, instance in
        if let instance { Unmanaged<InstanceBox>.fromOpaque(instance).release() }
    }
    hooks.pointee.subscribe = { instance, request, result, error in
        guard let box = instanceBox(instance) else { return CALLGATE_ERR_INVALID }
        return answer(result, error) { () throws(ConnectorError) in try box.instance.subscribe(JSONValue(parsing: request.array) ?? .null) }
    }
    hooks.pointee.unsubscribe = { instance, request, result, error in
        guard let box = instanceBox(instance) else { return CALLGATE_ERR_INVALID }
        return answer(result, error) { () throws(ConnectorError) in try box.instance.unsubscribe(JSONValue(parsing: request.array) ?? .null) }
    }
    hooks.pointee.handle_callback = { instance, request, body, result, error in
        guard let box = instanceBox(instance) else { return CALLGATE_ERR_INVALID }
        let bodyBytes = body.array
        return answer(result, error) { () throws(ConnectorError) in
            try box.instance.handleCallback(JSONValue(parsing: request.array) ?? .null, body: bodyBytes)
        }
    }
    // A slot added after 1.0 exists only inside the table size the host declared (an older host's
    // table is shorter: writing past it would corrupt the host's memory).
    if fits(\.handle_request, in: hooks) {
        hooks.pointee.handle_request = { instance, request, body, result, error in
            guard let box = instanceBox(instance) else { return CALLGATE_ERR_INVALID }
            let bodyBytes = body.array
            return answer(result, error) { () throws(ConnectorError) in
                .done(try box.instance.handleRequest(JSONValue(parsing: request.array) ?? .null, body: bodyBytes))
            }
        }
    }
    hooks.pointee.http_completed = { plugin, requestID, status, response, body in
        guard let box = connectorBox(plugin) else { return }
        let result: Result<ConnectorHTTPResponse, ConnectorError> = status == CALLGATE_OK
            ? .success(ConnectorHTTPResponse(metadata: JSONValue(parsing: response.array) ?? .null, body: body.array))
            : .failure(ConnectorError(status: status, String(decoding: response.array, as: UTF8.self)))
        box.connector.httpCompleted(requestID: requestID, result: result)
    }
    hooks.pointee.shutdown = { plugin in
        guard let plugin else { return }
        let box = Unmanaged<ConnectorBox>.fromOpaque(plugin)
        box.takeUnretainedValue().connector.shutdown()
        box.release()
    }
    return CALLGATE_OK
}

/// Whether a hook slot lies inside the table size the host declared.
private func fits<T>(_ slot: WritableKeyPath<callgate_plugin_hooks, T>, in hooks: UnsafeMutablePointer<callgate_plugin_hooks>) -> Bool {
    guard let offset = MemoryLayout<callgate_plugin_hooks>.offset(of: slot) else { return false }
    return offset + MemoryLayout<T>.size <= Int(hooks.pointee.struct_size)
}
