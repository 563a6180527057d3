import Foundation
import GRDB
import Synchronization

/// Lets one task through at a time, across awaits (an actor alone lets others in while it waits).
actor SerialGate {
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func enter() async {
        if busy { await withCheckedContinuation { waiters.append($0) } } else { busy = true }
    }

    func leave() {
        if waiters.isEmpty { busy = false } else { waiters.removeFirst().resume() }
    }
}

/// The sessions wiped while a store is open, shared with its group commit.
final class WipedSessions: Sendable {
    private let ids = Mutex<Set<EventID>>([])
    func insert(_ id: EventID) { ids.withLock { _ = $0.insert(id) } }
    func contains(_ id: EventID) -> Bool { ids.withLock { $0.contains(id) } }
}

/// Collects participants' events and writes them to the pending file in shared transactions:
/// while one transaction is being written and fsynced, new arrivals wait and go in the next.
actor GroupCommitter {
    private let queue: DatabaseQueue
    private let wiped: WipedSessions
    private var waiting: [(event: Event, done: CheckedContinuation<Void, any Error>)] = []
    private var writing = false
    /// Transactions written so far: each is one fsync of the WAL.
    private(set) var transactions = 0

    init(queue: DatabaseQueue, wiped: WipedSessions) {
        self.queue = queue
        self.wiped = wiped
    }

    func commit(_ event: Event) async throws {
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
            waiting.append((event, done))
            if !writing {
                writing = true
                // The one task here that belongs to no caller, on purpose: a batch holds many
                // phones' reflections, and the request that happened to start it may be
                // cancelled (its phone went away) while the others still wait. GRDB interrupts
                // a cancelled task's write, so the writer must be nobody's child. It ends as
                // soon as no event waits, and every waiting caller awaits its own result.
                Task { await self.drain() }
            }
        }
    }

    private func drain() async {
        while !waiting.isEmpty {
            let batch = waiting
            waiting.removeAll(keepingCapacity: true)
            let wiped = self.wiped
            let result: Result<Void, any Error>
            do {
                // Checked inside the transaction: a wipe's delete of the pending file runs
                // either before it (and this skips the session) or after it (and removes it).
                let events = batch.map(\.event)
                try await queue.write { db in
                    for event in events where !wiped.contains(event.session) { try TranscriptStore.insert(event, db) }
                }
                result = .success(())
                transactions += 1
            } catch {
                result = .failure(error)
            }
            for item in batch {
                if case .success = result, wiped.contains(item.event.session) {
                    item.done.resume(throwing: TranscriptStore.wipedError)
                } else {
                    item.done.resume(with: result)
                }
            }
        }
        writing = false
    }
}
