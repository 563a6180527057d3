import Dispatch
import Synchronization

/// Whether a session's signatures all check, for a database transaction that writes the
/// session while they are checked and commits only if they do (``TranscriptStore/importTranscript(_:)``).
final class SignatureGate: Sendable {
    /// Thrown inside the transaction to roll it back when the gate does not open in time.
    struct Closed: Error {}
    static let closed = Closed()

    private let checking: Task<Bool, Never>
    private let result = Mutex<Bool?>(nil)
    private let done = DispatchSemaphore(value: 0)

    /// How long the writer waits for the answer (``wait()``).
    private let patience: DispatchTimeInterval

    init(_ checking: Task<Bool, Never>, patience: DispatchTimeInterval = .seconds(4)) {
        self.checking = checking
        self.patience = patience
        Task {
            let passed = await checking.value
            self.result.withLock { $0 = passed }
            self.done.signal()
        }
    }

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
        guard done.wait(timeout: .now() + patience) == .success else {
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
