import Dispatch
import Synchronization

/// Whether a session's signatures all check, for a database transaction that writes the
/// session while the end of their check is near and commits only if they all do
/// (``TranscriptStore/importTranscript(_:)``).
final class SignatureGate: Sendable {
    /// Thrown inside the transaction to roll it back when the gate does not open in time.
    struct Closed: Error {}
    static let closed = Closed()

    private let checking: Task<Bool, Never>
    private let result = Mutex<Bool?>(nil)
    private let done = DispatchSemaphore(value: 0)
    private let progress: CheckProgress?

    /// How long the writer waits for the answer (``wait()``). Half of it is how near its end
    /// the check must be before the writer begins (``nearEnd()``).
    private let patience: Duration

    /// `progress`, if given, is how far `checking` has got (``nearEnd()``); the gate tells it
    /// when `checking` ends, whether or not the check did.
    init(_ checking: Task<Bool, Never>, progress: CheckProgress? = nil, patience: Duration = .seconds(4)) {
        self.checking = checking
        self.progress = progress
        self.patience = patience
        Task {
            let passed = await checking.value
            self.result.withLock { $0 = passed }
            progress?.ended()
            self.done.signal()
        }
    }

    /// Returns once the rest of the check should take at most half the writer's patience, at
    /// the pace it has kept so far (at once without a `progress`). A writer that begins then
    /// does not finish long before it may commit: a 100,000-event file's write took a few
    /// seconds while its check took ten, so it waited out its patience, was rolled back and
    /// was written again.
    func nearEnd() async {
        await progress?.nearEnd(within: patience / 2)
    }

    /// Whether the check has ended (passed, failed or cancelled): known from its `progress`.
    var checkEnded: Bool { progress?.hasEnded ?? false }

    /// Whether the writer gave up waiting (``wait()``): what it wrote was rolled back,
    /// and is written again once the signatures are checked.
    var gaveUp: Bool { waitedTooLong.withLock { $0 } }
    private let waitedTooLong = Mutex(false)

    /// Blocks until the signatures are checked, for at most its patience: whether every one does,
    /// or nil if they were not all checked by then. Only on the database's writer thread,
    /// which is not one of the pool's that check them. Patience keeps the write lock from
    /// being held much longer than the write itself: another process writing the same data
    /// folder waits at most 10 s (its busy timeout).
    func wait() -> Bool? {
        if let known = result.withLock({ $0 }) { return known }
        let (seconds, attoseconds) = patience.components
        guard done.wait(timeout: .now() + .nanoseconds(Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000))) == .success
        else {
            waitedTooLong.withLock { $0 = true }
            return nil
        }
        done.signal()
        return result.withLock { $0 } ?? false
    }

    /// The same, for a task.
    var passed: Bool {
        get async { await checking.value }
    }
}

/// How far a check of many signatures has got (``Concurrently/allSatisfy(_:chunk:progress:_:)``
/// tells it), for a writer that waits to begin until the end is near (``SignatureGate/nearEnd()``).
final class CheckProgress: Sendable {
    private let state = Mutex(State())

    private struct State {
        var total: Int?
        /// How many items the workers take at once between them: a check no larger is near
        /// from its start, its pace never measured.
        var firstRound = 0
        var checked = 0
        var started = ContinuousClock.now
        var ended = false
        var waiting: [(within: Duration, continuation: CheckedContinuation<Void, Never>)] = []

        /// Whether what is left should take at most `within` at the pace so far.
        func isNear(_ within: Duration) -> Bool {
            if ended { return true }
            guard let total else { return false }
            if total - checked <= 0 || total <= firstRound { return true }
            guard checked > 0 else { return false }
            return (ContinuousClock.now - started) * (Double(total - checked) / Double(checked)) <= within
        }

        /// The waiting writers whose end is near, taken off the list.
        mutating func takeNear() -> [CheckedContinuation<Void, Never>] {
            var near: [CheckedContinuation<Void, Never>] = []
            var still: [(within: Duration, continuation: CheckedContinuation<Void, Never>)] = []
            for waiter in waiting {
                if isNear(waiter.within) { near.append(waiter.continuation) } else { still.append(waiter) }
            }
            waiting = still
            return near
        }
    }

    /// The check begins, of `total` items, `firstRound` of them taken at once.
    func began(total: Int, firstRound: Int) {
        resume(
            state.withLock { s in
                precondition(s.total == nil, "a CheckProgress follows one check")
                s.total = total
                s.firstRound = firstRound
                s.started = .now
                return s.takeNear()
            })
    }

    /// `count` more items were checked.
    func checked(_ count: Int) {
        resume(
            state.withLock { s in
                s.checked += count
                return s.takeNear()
            })
    }

    /// The check stopped: finished, failed or cancelled. Every writer waiting goes on.
    func ended() {
        resume(
            state.withLock { s in
                s.ended = true
                return s.takeNear()
            })
    }

    /// Whether the check stopped (``ended()``).
    var hasEnded: Bool { state.withLock { $0.ended } }

    /// Returns once what is left of the check should take at most `within` at its pace so
    /// far, or once it ends.
    func nearEnd(within: Duration) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s in
                if s.isNear(within) { return true }
                s.waiting.append((within, continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }

    private func resume(_ continuations: [CheckedContinuation<Void, Never>]) {
        for continuation in continuations { continuation.resume() }
    }
}
