import CCallgatePlugin

/// Collects what the other side of the plugin ABI appends to a `callgate_writer`. Used by the
/// host (results of hooks) and by ConnectorKit (results of host services) alike.
public final class ByteSink {
    /// The bytes appended so far.
    public var bytes: [UInt8] = []

    public init() {}

    /// The bytes as UTF-8 text.
    public var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Calls `body` with a writer that appends to this sink; the writer is valid only inside.
    public func withWriter<R>(_ body: (UnsafePointer<callgate_writer>) throws -> R) rethrows -> R {
        var writer = callgate_writer(
            context: Unmanaged.passUnretained(self).toOpaque(),
            append: { context, pointer, length in
                guard let context, let pointer, length > 0 else { return }
                Unmanaged<ByteSink>.fromOpaque(context).takeUnretainedValue().bytes
                    .append(contentsOf: UnsafeBufferPointer(start: pointer, count: length))
            }
        )
        return try withExtendedLifetime(self) { try withUnsafePointer(to: &writer) { try body($0) } }
    }
}

extension callgate_bytes {
    /// A copy of the borrowed bytes (the ABI lends them for one call only).
    public var array: [UInt8] {
        guard let ptr, len > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: ptr, count: len))
    }
}

/// Calls `body` with `bytes` lent as a `callgate_bytes`, valid only inside.
public func withBorrowedBytes<R>(_ bytes: [UInt8], _ body: (callgate_bytes) throws -> R) rethrows -> R {
    try bytes.withUnsafeBufferPointer { buffer in try body(callgate_bytes(ptr: buffer.baseAddress, len: buffer.count)) }
}

/// Appends `bytes` to a writer the other side lent (a nil writer is ignored).
public func append(_ bytes: [UInt8], to writer: UnsafePointer<callgate_writer>?) {
    guard let writer, let append = writer.pointee.append else { return }
    bytes.withUnsafeBufferPointer { buffer in
        if let base = buffer.baseAddress { append(writer.pointee.context, base, buffer.count) }
    }
}
