import Dispatch

extension DispatchSemaphore {
    /// Waits for a signal on a dispatch thread, so an async test never blocks one of the
    /// cooperative pool's threads (two on a 2-core machine) while it waits.
    public func waitOffCooperativePool() async {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                self.wait()
                continuation.resume()
            }
        }
    }
}
