import Foundation
import GRDB
import GRDBSQLite
import Synchronization

/// Copies `halqa.sqlite`'s WAL into the database in the background, on a connection of its
/// own, instead of inside whichever commit takes the WAL past 1,000 pages (SQLite's automatic
/// checkpoint, which this replaces on every connection of the store's pool).
///
/// A commit is durable once its WAL frames are fsynced (`synchronous=FULL`, which the store
/// sets on its writer after GRDB has set NORMAL); copying them into
/// the database afterwards is housekeeping. Done inside the commit, it made the writer wait:
/// a settle or a reveal that happened to cross the mark, and every large write (a
/// 100,000-event import or catch-up copied its ~60 MB again, alone on one core, after its
/// signatures were all checked). Here the writer goes on while another connection copies.
/// (`pending.sqlite`, where participants' saves go, keeps SQLite's own checkpoint: it is small.)
///
/// The checkpoint is the PASSIVE one SQLite's own would have been: it copies what no reader
/// still needs and never truncates the WAL. What the WAL holds, and when it is emptied (a
/// reveal, a close: ``TranscriptStore/checkpoint()``; a wipe), is unchanged (docs/storage.md).
/// A store that goes away (a command ending) first waits for a checkpoint under way
/// (``finish()``), so its last connection to close copies what is left and removes the WAL,
/// as SQLite does.
///
/// SQLite writes the WAL from its start again only when a write begins with every frame
/// copied. A writer that commits while the background copies (a long import) always finds
/// newer frames than the copy reached, so the WAL grew by everything written: a year's
/// import would have left gigabytes of WAL, and every frame was appended to a growing file
/// (the kernel zeroing and allocating each block). So a background checkpoint makes at most
/// two passes, and the next commit past the mark copies what they left itself, on the writer:
/// the WAL starts over at the next write (`StoreRaceTests`). A commit copies itself only if it
/// added at most ``restMost`` frames and the background's count leaves at most ``restMost``
/// for it (or the WAL holds ``walMost``): a single large commit (a catch-up) is copied in
/// the background. A restart no hook can see (the WAL's first commit after it larger than
/// the last commit before) leaves an old count, so such a commit of up to that count plus
/// ``restMost`` frames may still be copied inside itself.
final class Checkpointer: Sendable {
    /// WAL pages after a commit from which a checkpoint is started: SQLite's own default.
    static let pages: Int32 = 1000
    /// The most frames a commit copies itself, what the background left by its count, which
    /// may belong to the WAL's previous run (16 MB); and the most a commit that does so may
    /// have added...
    static let restMost: Int32 = 4 * pages
    /// ...unless the WAL holds this many (128 MB): then such a commit copies whatever is left,
    /// so that the WAL starts over even behind a writer that outpaces the background.
    static let walMost: Int32 = 32 * pages

    private enum Phase { case idle, running, runAgain }
    private struct State {
        var phase = Phase.idle
        /// The frames of the WAL's current run that the last checkpoint had copied; 0 when none
        /// has run in it, or a commit copied everything itself (the next write starts the WAL
        /// over) or failed to, or a truncating checkpoint ran. A count kept after a complete
        /// pass outlives a restart no commit noticed (one needs a commit smaller than `latest`).
        var copied: Int32 = 0
        /// The frames in the WAL after the last commit.
        var latest: Int32 = 0
        /// How many times a commit found the WAL started over.
        var restarts = 0
    }
    private let state = Mutex(State())
    private let path: String
    /// The connection that copies, opened by the first checkpoint: a command whose commits
    /// never leave 1,000 pages in the WAL never opens it. One that cannot be opened is tried
    /// again at the next request; until then the WAL is emptied only by a reveal, a close or
    /// a wipe.
    private let connection = Mutex<DatabaseQueue?>(nil)
    private let queue = DispatchQueue(label: "halqa.checkpoint", qos: .utility)
    /// Held while a checkpoint runs: SQLite refuses a second checkpoint at once outright
    /// (`SQLITE_BUSY`, without waiting), so one that must empty the WAL waits here instead.
    private let copying = NSLock()

    /// Checkpoints `path`, a WAL database.
    init(path: String) { self.path = path }

    /// Makes `db` (a connection of the pool) call ``committed(pages:on:)`` after each commit, in
    /// place of its automatic checkpoint. The pool's configuration keeps this object alive for
    /// as long as any of its connections.
    func watch(_ db: Database) {
        sqlite3_wal_hook(
            db.sqliteConnection,
            { context, connection, _, pages in
                Unmanaged<Checkpointer>.fromOpaque(context!).takeUnretainedValue().committed(pages: pages, on: connection!)
                return SQLITE_OK
            }, Unmanaged.passUnretained(self).toOpaque())
    }

    /// The connection that copies, opened if it is not yet (nil if it cannot be: the next
    /// request tries again).
    private func opened() -> DatabaseQueue? {
        connection.withLock { queue in
            if queue == nil {
                var config = Configuration()
                config.label = "halqa.checkpoint"
                config.busyMode = .timeout(10)
                config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL; PRAGMA secure_delete = ON") }
                queue = try? DatabaseQueue(path: path, configuration: config)
            }
            return queue
        }
    }

    /// Copies the whole WAL into the database and empties it (a reveal's, a close's or a
    /// wipe's checkpoint), on `db`, the pool's writer. It waits for a background checkpoint of
    /// this store to end and keeps another from starting; one that another program runs on the
    /// same folder (it closing) is retried for 10 s more, where SQLite would refuse at once
    /// (each try may itself wait up to the busy timeout for readers).
    func truncate(_ db: Database) throws {
        try copying.withLock {
            // Even one that gave up may have copied everything, and the WAL then starts over
            // unseen: a count too low costs only a background checkpoint more.
            defer { state.withLock { $0 = State(phase: $0.phase) } }
            let deadline = ContinuousClock.now + .seconds(10)
            while true {
                do {
                    try db.checkpoint(.truncate)
                    return
                } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY && ContinuousClock.now < deadline {
                    Thread.sleep(forTimeInterval: 0.02)
                }
            }
        }
    }

    /// Waits for a checkpoint under way (or asked for) to end.
    func finish() {
        queue.sync {}
    }

    /// Called after every commit, on the connection `db` that committed (the pool's writer),
    /// with the number of pages in the WAL.
    func committed(pages: Int32, on db: OpaquePointer) {
        enum Action { case none, background, rest }
        let action = state.withLock { state -> Action in
            // Fewer than after the last commit: the WAL started over, and none of it is copied.
            let added = pages - state.latest
            if pages < state.latest {
                state.copied = 0
                state.restarts += 1
            }
            state.latest = pages
            guard pages >= Checkpointer.pages else { return .none }
            switch state.phase {
            case .idle
            where state.copied > 0 && added <= Checkpointer.restMost
                && (pages - state.copied <= Checkpointer.restMost || pages >= Checkpointer.walMost):
                return .rest
            case .idle:
                state.phase = .running
                return .background
            case .running, .runAgain:
                state.phase = .runAgain
                return .none
            }
        }
        switch action {
        case .none: return
        case .background: queue.async { self.run() }
        case .rest:
            // What commits wrote while the background copied, copied here, so that the next
            // write starts the WAL over. No background checkpoint runs (the phase is idle, and
            // only this writer starts one). It fails harmlessly, as the background's does.
            var frames: Int32 = 0
            var copied: Int32 = 0
            copying.withLock {
                let code = sqlite3_wal_checkpoint_v2(db, "main", SQLITE_CHECKPOINT_PASSIVE, &frames, &copied)
                state.withLock { $0.copied = code == SQLITE_OK && copied != frames ? copied : 0 }
            }
        }
    }

    /// Copies the WAL, and once more if a commit asked meanwhile; what commits write during
    /// the second pass stays in the WAL (durable: each commit synced it) for the next commit to
    /// copy (``committed(pages:on:)``) or the last connection's close, or the WAL would never
    /// start over while a writer outpaces the copy.
    private func run() {
        var passes = 0
        repeat {
            passes += 1
            // Copies what no reader holds back, or fails harmlessly (another program's
            // checkpoint at the same time): the next commit past the mark asks again.
            copying.withLock {
                let run = state.withLock { $0.restarts }
                guard let done = try? opened()?.writeWithoutTransaction({ try $0.checkpoint(.passive) }) else { return }
                // Kept even when it copied everything: the writer had most likely begun its next
                // transaction on the WAL meanwhile, and it starts the WAL over only once a
                // commit has copied the rest itself. Not if the WAL started over meanwhile (if
                // that commit's hook could tell: it left fewer frames than the last), when
                // nothing of the new run is copied.
                state.withLock { state in
                    if state.restarts == run { state.copied = Int32(done.checkpointedFrameCount) }
                }
            }
        } while state.withLock { state -> Bool in
            if state.phase == .runAgain && passes < 2 {
                state.phase = .running
                return true
            }
            state.phase = .idle
            return false
        }
    }
}
