import DequeModule
import Foundation
import Synchronization

/// Threads of their own, one per core, on which `halqa archive import` reads and verifies its
/// files, so that Swift's cooperative pool stays free for what stores them
/// (``TranscriptStore/importFiles(_:passphrase:report:)``).
///
/// On the pool, a stick's files were dozens of jobs queued in order, and every step of storing
/// a batch (the loop taking a verified file, its write's answer) queued behind all of them:
/// storing 8 sessions took about 70 ms, about 35 ms of it waiting its turn, while the writer's
/// own work took about 30 ms. The files verified meanwhile filled the window read ahead, and
/// the cores waited on the writer. docs/archive.md ("Scale") has the figures.
///
/// Jobs run in the order they come, each to its end or its next suspension; a task whose
/// preferred executor this is (`addTask(executorPreference:)`) runs here, and so do the child
/// tasks it makes. The threads wait for work when there is none, for the life of the process.
final class VerifyingExecutor: TaskExecutor, @unchecked Sendable {
    static let shared = VerifyingExecutor(threads: ProcessInfo.processInfo.activeProcessorCount)

    /// Guards `jobs`; the threads wait on it.
    private let condition = NSCondition()
    private var jobs = Deque<UnownedJob>()
    /// The threads' own ids, and how many jobs they have run (for tests).
    private let threads = Mutex<Set<pthread_t>>([])
    private let ran = Atomic<Int>(0)

    /// Another set of threads (the Node tests run a node under test on four of their own).
    init(threads count: Int) {
        for _ in 0..<max(1, count) {
            Thread { [self] in
                threads.withLock { _ = $0.insert(pthread_self()) }
                while true { runNext() }
            }.start()
        }
    }

    private func runNext() {
        condition.lock()
        while jobs.isEmpty { condition.wait() }
        let job = jobs.removeFirst()
        condition.unlock()
        ran.add(1, ordering: .relaxed)
        job.runSynchronously(on: asUnownedTaskExecutor())
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Whether the caller runs on one of these threads.
    var isCurrent: Bool { threads.withLock { $0.contains(pthread_self()) } }

    /// How many jobs these threads have run.
    var jobsRun: Int { ran.load(ordering: .relaxed) }
}
