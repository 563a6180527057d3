import Foundation
import Synchronization

/// Work spread over every core, for what a large session costs: decoding and verifying its
/// events when a node catches up or a transcript is imported.
enum Concurrently {
    /// `transform` over `items`, in order, in chunks run as child tasks (the cooperative pool
    /// has a thread per core; in `halqa archive import`, the ``VerifyingExecutor``'s threads).
    /// Few items are mapped in place. Every chunk is queued at once and keeps its thread until
    /// done: not for a node that serves phones meanwhile (joining runs before the node serves;
    /// an import is a process of its own).
    static func map<T: Sendable, U: Sendable>(
        _ items: [T], chunk: Int = 256, _ transform: @escaping @Sendable (T) -> U
    ) async -> [U] {
        guard items.count > chunk else { return items.map(transform) }
        let parts = await withTaskGroup(of: (Int, [U]).self) { group in
            for start in stride(from: 0, to: items.count, by: chunk) {
                let slice = items[start..<min(start + chunk, items.count)]
                group.addTask { (start / chunk, slice.map(transform)) }
            }
            var parts = [[U]](repeating: [], count: (items.count + chunk - 1) / chunk)
            for await (k, part) in group { parts[k] = part }
            return parts
        }
        return Array(parts.joined())
    }

    /// Whether `test` holds of every item: one worker per core takes chunks in turn and
    /// yields between them, so what else waits for the pool meanwhile (a fold, a save) runs
    /// too; a false answer stops the others, and so does cancelling.
    /// `progress`, if given, hears how many items there are, how many each chunk checked, and
    /// when the check ends, however it ends.
    static func allSatisfy<T: Sendable>(
        _ items: [T], chunk: Int = Concurrently.chunk, progress: CheckProgress? = nil, _ test: @escaping @Sendable (T) -> Bool
    ) async -> Bool {
        let shared = Shared()
        let workers = max(1, ProcessInfo.processInfo.activeProcessorCount)
        progress?.began(total: items.count, firstRound: workers * chunk)
        defer { progress?.ended() }
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<workers {
                group.addTask {
                    while !Task.isCancelled, !shared.failed.withLock({ $0 }) {
                        let start = shared.next.withLock { next in
                            defer { next += chunk }
                            return next
                        }
                        guard start < items.count else { return }
                        let piece = items[start..<min(start + chunk, items.count)]
                        if !piece.allSatisfy(test) { shared.failed.withLock { $0 = true } }
                        progress?.checked(piece.count)
                        await Task.yield()
                    }
                }
            }
        }
        return !Task.isCancelled && !shared.failed.withLock { $0 }
    }

    /// How many items ``allSatisfy(_:chunk:progress:_:)`` gives a worker at a time.
    static let chunk = 256

    /// Frees `value` on a background thread: a large session's events and state are a few
    /// hundred thousand allocations (about 0.15 s to free for 100,000 events, on one core, after
    /// the other has nothing left to do), and whoever waits for an import need not wait for
    /// that. The caller gives up its own copy (`consume`); if it kept one, it frees the value
    /// itself, which is only slower.
    static func free<T: Sendable>(_ value: consuming T) {
        DispatchQueue.global(qos: .utility).async { [value] in withExtendedLifetime(value) {} }
    }

    private final class Shared: Sendable {
        let next = Mutex(0)
        let failed = Mutex(false)
    }
}
