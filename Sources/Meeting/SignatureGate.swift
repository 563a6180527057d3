import Dispatch
import Synchronization

/// Whether a session's signatures all check, for a database transaction that writes the
/// session while they are checked and commits only if they do (``TranscriptStore/importTranscript(_:)``).
final class SignatureGate: Sendable {
    /// Thrown inside the transaction to roll it back when the gate stays closed.
    struct Closed: Error {}
    static let closed = Closed()

    private let checking: Task<Bool, Never>
    private let result = Mutex<Bool?>(nil)
    private let done = DispatchSemaphore(value: 0)

    init(_ checking: Task<Bool, Never>) {
        self.checking = checking
        Task {
            let passed = await checking.value
            self.result.withLock { $0 = passed }
            self.done.signal()
        }
    }

    /// Blocks until the signatures are checked; whether every one does. Only on the
    /// database's writer thread, which is not one of the pool's that check them.
    func wait() -> Bool {
        if let known = result.withLock({ $0 }) { return known }
        done.wait()
        done.signal()
        return result.withLock { $0 } ?? false
    }

    /// The same, for a task.
    var passed: Bool {
        get async { await checking.value }
    }
}
