import Atomics
import Foundation

/// Counts hooks in flight in a memory-mapped file, so that a gateway that died inside a plugin's
/// hook leaves a non-zero count behind for the next start to find.
///
/// A mapped page survives the process (the kernel writes it back), and an atomic increment costs
/// nanoseconds where a file or database write per hook would cost microseconds.
final class InFlightMarker: @unchecked Sendable {
    // The mapping is never unmapped: plugins are never unloaded, so neither is their marker.
    private let counter: UnsafeAtomic<Int64>
    /// The count found when the marker was opened: non-zero means the last process died in a hook.
    let countAtOpen: Int64

    init(path: String) throws {
        let descriptor = open(path, O_RDWR | O_CREAT, 0o600)
        guard descriptor >= 0 else { throw PluginError.loadFailed(plugin: path, reason: "cannot open in-flight marker") }
        defer { close(descriptor) }
        guard ftruncate(descriptor, 8) == 0,
              let mapping = mmap(nil, 8, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0), mapping != MAP_FAILED
        else {
            throw PluginError.loadFailed(plugin: path, reason: "cannot map in-flight marker")
        }
        let pointer = mapping.bindMemory(to: UnsafeAtomic<Int64>.Storage.self, capacity: 1)
        counter = UnsafeAtomic(at: pointer)
        countAtOpen = counter.load(ordering: .relaxed)
        counter.store(0, ordering: .relaxed)
    }

    func enter() { counter.wrappingIncrement(ordering: .relaxed) }
    func leave() { counter.wrappingDecrement(ordering: .relaxed) }
}
