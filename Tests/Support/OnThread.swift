import Foundation

/// Runs blocking or CPU-heavy work (child processes, waits in a virtual hall, hundreds of
/// simulated sessions) on a thread of its own, so that it does not hold one of the few
/// threads Swift concurrency runs on (two on a two-core machine): the in-process nodes of
/// other tests answer on those threads meanwhile. `#expect` inside `work` has no test to
/// report to: return what failed and expect on it afterwards.
public func onThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}
