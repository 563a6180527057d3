import DequeModule
import Foundation

/// Threads of their own, one per core, on which an import reads and verifies its files, so
/// that Swift's cooperative pool stays free for what stores them (``TranscriptStore/importFiles(_:passphrase:report:)``).
///
/// On the pool, a stick's files were dozens of jobs queued in order, and every step of storing
/// a batch (the loop taking a verified file, its write's answer) queued behind all of them:
/// storing 8 sessions took about 70 ms, of which about 35 ms was waiting its turn, while the
/// writer's own work took about 30 ms. Files verified meanwhile then filled the window read
/// ahead, and the cores waited on the writer (bench-archive's small year, this machine: the
/// import used 1.85 of its 2 cores, and ran ×1.51–1.52 its floor; here, 1.88–1.90, and
/// ×1.47–1.50).
///
/// Jobs run in the order they come, each to its end or its next suspension; a task whose
/// preferred executor this is (`addTask(executorPreference:)`) runs here, and so do the child
/// tasks it makes. The threads wait for work when there is none, for the life of the process.
final class VerifyingExecutor: TaskExecutor, @unchecked Sendable {
    static let shared = VerifyingExecutor(threads: ProcessInfo.processInfo.activeProcessorCount)

    /// Guards `jobs`; the threads wait on it.
    private let condition = NSCondition()
    private var jobs = Deque<UnownedJob>()

    private init(threads: Int) {
        for n in 0..<max(1, threads) {
            let thread = Thread { [self] in
                // What `top` and `perf` show, and a test checks (at most 15 bytes). Named from
                // within: a thread otherwise keeps the name of the one that started it.
                Thread.current.name = "halqa.verify.\(n)"
                while true { runNext() }
            }
            thread.start()
        }
    }

    private func runNext() {
        condition.lock()
        while jobs.isEmpty { condition.wait() }
        let job = jobs.removeFirst()
        condition.unlock()
        job.runSynchronously(on: asUnownedTaskExecutor())
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }
}
