import CCallgatePlugin
import CallgatePluginBuffers

/// Builds the `callgate_host_api` table a plugin receives: C function pointers that find their
/// ``PluginHostContext`` through the table's `host` pointer and never let a Swift error cross.
enum HostServiceTable {
    /// A table that lives as long as the process (plugins are never unloaded).
    static func make(for hostContext: PluginHostContext) -> UnsafeMutablePointer<callgate_host_api> {
        let table = UnsafeMutablePointer<callgate_host_api>.allocate(capacity: 1)
        table.initialize(to: callgate_host_api())
        table.pointee.struct_size = UInt32(MemoryLayout<callgate_host_api>.size)
        table.pointee.abi_major = UInt16(CALLGATE_ABI_MAJOR)
        table.pointee.abi_minor = UInt16(CALLGATE_ABI_MINOR)
        // Retained for the life of the process, like the library it serves.
        table.pointee.host = Unmanaged.passRetained(hostContext).toOpaque()

        table.pointee.log = { host, level, message in
            serviceContext(host)?.log(level: level, message: message.array)
        }
        table.pointee.clock_now_ms = { host in
            serviceContext(host)?.environment.clock() ?? 0
        }
        table.pointee.state_get = { host, key, valueOut in
            var found = false
            let status = serviceAnswer(host, error: nil) { context in
                guard let value = try context.stateGet(key: key.array) else { return }
                found = true
                append(value, to: valueOut)
            }
            return status == PluginStatus.ok && !found ? PluginStatus.notFound : status
        }
        table.pointee.state_put = { host, key, value in
            serviceAnswer(host, error: nil) { try $0.statePut(key: key.array, value: value.array) }
        }
        table.pointee.state_delete = { host, key in
            serviceAnswer(host, error: nil) { try $0.stateDelete(key: key.array) }
        }
        table.pointee.mint_callback_url = { host, request, result, error in
            serviceAnswer(host, error: error) { context in append(try context.mintCallbackURL(request: request.array), to: result) }
        }
        table.pointee.http_send = { host, request, body, requestID, error in
            let outcome = serviceAnswer(host, error: error) { context in
                requestID?.pointee = try context.httpSend(request: request.array, body: body.array)
            }
            // Started requests answer PENDING: their result arrives through http_completed.
            return outcome == PluginStatus.ok ? PluginStatus.pending : outcome
        }
        table.pointee.http_cancel = { host, requestID in
            serviceContext(host)?.httpCancel(id: requestID) ?? PluginStatus.internalError
        }
        table.pointee.fire_trigger = { host, request, dedupeKey, result, error in
            serviceAnswer(host, error: error) { context in
                append(try context.fireTrigger(request: request.array, dedupeKey: dedupeKey.array), to: result)
            }
        }
        table.pointee.complete_operation = { host, operationID, status, outputs in
            serviceAnswer(host, error: nil) { try $0.completeOperation(id: operationID.array, status: status, outputs: outputs.array) }
        }
        table.pointee.set_gauge = { host, name, labels, value in
            serviceAnswer(host, error: nil) { try $0.setGauge(name: name.array, labels: labels.array, value: value) }
        }
        return table
    }
}

private func serviceContext(_ host: UnsafeMutableRawPointer?) -> PluginHostContext? {
    host.map { Unmanaged<PluginHostContext>.fromOpaque($0).takeUnretainedValue() }
}

/// Runs a service body, turning thrown errors into a status and an error text.
private func serviceAnswer(
    _ host: UnsafeMutableRawPointer?,
    error errorOut: UnsafePointer<callgate_writer>?,
    _ body: (PluginHostContext) throws -> Void
) -> Int32 {
    guard let context = serviceContext(host) else { return PluginStatus.internalError }
    do {
        try body(context)
        return PluginStatus.ok
    } catch let failure as HostServiceError {
        append(Array(failure.message.utf8), to: errorOut)
        return failure.status
    } catch {
        append(Array("\(error)".utf8), to: errorOut)
        return PluginStatus.internalError
    }
}
