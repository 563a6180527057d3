import Foundation
import GRDB
import Synchronization

/// The pending file, `pending.sqlite`: where participants' events wait while their place in
/// a file could still say when they arrived.
///
/// SQLite fills a b-tree page from its end, so rows written one by one keep their arrival
/// order in their byte offsets, whatever their keys (and a deleted row leaves a free block of
/// its size where it was). A reflection must be on disk before it is acknowledged, so it is
/// written alone; it is written here. Once it may be shown (its batch is revealed and every
/// reflection of the batch is held) ``TranscriptStore/settle(_:)`` copies the batch into
/// `halqa.sqlite` in one transaction, in id order (ids are hashes over a random nonce), then
/// deletes it here and rebuilds this file (`VACUUM`, then the WAL is truncated), so that what
/// remains is laid out in key order and nothing of the old layout survives in any file.
/// Resonances wait here until their session closes. docs/storage.md says why this cannot leak.
extension TranscriptStore {
    static var pendingMigrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            // The same tables as the main file (no session table here, so no foreign keys).
            try db.execute(
                sql: """
                    CREATE TABLE reflection (
                        session BLOB NOT NULL,
                        id BLOB NOT NULL,
                        prompt INTEGER NOT NULL,
                        bytes BLOB NOT NULL,
                        PRIMARY KEY (session, id)
                    ) WITHOUT ROWID;
                    CREATE TABLE resonance (
                        session BLOB NOT NULL,
                        id BLOB NOT NULL,
                        reflection BLOB NOT NULL,
                        bytes BLOB NOT NULL,
                        PRIMARY KEY (session, id)
                    ) WITHOUT ROWID;
                    """)
        }
        return m
    }

    static func openPending(in folder: String) throws -> DatabaseQueue {
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL; PRAGMA secure_delete = ON; PRAGMA temp_store = MEMORY")
        }
        let queue = try DatabaseQueue(path: (folder as NSString).appendingPathComponent(pendingFileName), configuration: config)
        // WAL: one fsync per group commit, as in the main file.
        _ = try queue.writeWithoutTransaction { db in try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL") }
        try pendingMigrator.migrate(queue)
        return queue
    }

    /// At opening: drops pending rows of sessions the main file no longer has (a wipe that
    /// stopped midway), and rebuilds the file if it holds anything, so a node that died or
    /// stopped mid-prompt leaves no arrival order once any Halqa command opens its folder.
    static func tidyPending(_ pending: DatabaseQueue, main: DatabasePool) throws {
        let sessions = try pending.read { db in
            try Data.fetchAll(db, sql: "SELECT DISTINCT session FROM reflection UNION SELECT DISTINCT session FROM resonance")
        }
        let known = try main.read { db in Set(try Data.fetchAll(db, sql: "SELECT id FROM session")) }
        let orphans = sessions.filter { !known.contains($0) }
        let walBytes = (try? FileManager.default.attributesOfItem(atPath: pending.path + "-wal")[.size] as? Int) ?? 0
        guard !sessions.isEmpty || !orphans.isEmpty || walBytes > 0 else { return }
        // Another Halqa process may have the file open (a node that runs): then its own
        // settles keep it tidy, and this command does not wait for it.
        try? pending.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA busy_timeout = 200")
            defer { try? db.execute(sql: "PRAGMA busy_timeout = 10000") }
            try db.inTransaction {
                for session in orphans {
                    try db.execute(
                        sql: "DELETE FROM reflection WHERE session = ?1; DELETE FROM resonance WHERE session = ?1", arguments: [session])
                }
                return .commit
            }
            try db.execute(sql: "VACUUM")
            try db.checkpoint(.truncate)
        }
    }

    /// Stores a participant's event durably, sharing the fsync with others submitted at the
    /// same time. Returns only once the event is on disk.
    func commitParticipant(_ event: Event) async throws(MeetingError) {
        do {
            try await committer.commit(event)
        } catch let error as MeetingError {
            throw error
        } catch {
            throw MeetingError(.storage, "The reflection could not be saved (\(error)). Nothing was acknowledged; try again.")
        }
    }

    /// Moves a session's participant events that are no longer pending (``SessionState/placement(of:)``)
    /// from the pending file into `halqa.sqlite`, in one transaction in id order, deletes those
    /// that may not be kept, and rebuilds the pending file if anything left it.
    ///
    /// `state` may be older than what is in the file (an event is committed before the session
    /// takes it in): an event the state does not know stays where it is. A reflection whose
    /// batch already has reflections in the main file (one that reached this node late) is
    /// written again with all of them, in one transaction in id order, so that it does not stand
    /// apart. Safe to run at any time and to repeat: a crash between the copy and the delete
    /// leaves an event in both files, and the next run deletes the pending copy.
    public func settle(_ state: SessionState) async throws(MeetingError) {
        // One at a time: two settles at once could write a batch's members apart.
        await settling.enter()
        do {
            try await settleAlone(state)
        } catch {
            await settling.leave()
            throw error
        }
        await settling.leave()
    }

    private func settleAlone(_ state: SessionState) async throws(MeetingError) {
        let session = Data(state.id.bytes)
        var rewrote = false
        do {
            let held = try await pending.read { db in
                try Row.fetchAll(
                    db.cachedStatement(
                        sql: """
                            SELECT id, 'reflection' AS kind FROM reflection WHERE session = ?1
                            UNION ALL SELECT id, 'resonance' FROM resonance WHERE session = ?1
                            """), arguments: [session]
                ).map { (id: $0["id"] as Data, table: $0["kind"] as String) }
            }
            var leaving: [(id: Data, table: String)] = []
            var moving: [Data] = []
            let ids = held.map { EventID(bytes: $0.id) }
            // Each batch is looked over once, however many of its reflections wait here.
            let places = state.placements(of: ids.compactMap { $0 })
            var next = places.makeIterator()
            for (row, id) in zip(held, ids) {
                guard id != nil, let place = next.next() else {
                    leaving.append(row)
                    continue
                }
                switch place {
                case .pending: continue
                case .settled:
                    moving.append(row.id)
                    leaving.append(row)
                case .discarded: leaving.append(row)
                }
            }
            guard !leaving.isEmpty else {
                if pendingNeedsRebuild.withLock({ $0 }) { await rebuildPending() }
                return
            }
            if !moving.isEmpty {
                // The state holds the same bytes (an event's id is the hash of its bytes).
                var events = moving.compactMap { EventID(bytes: $0).flatMap(state.event) }
                // Batch-mates already in the main file are written again with the newcomers.
                let mates = Set(events.flatMap { state.batchMates(of: $0.id) }).subtracting(events.map(\.id))
                let already = try await pool.read { db in
                    try mates.filter { id in
                        try Bool.fetchOne(
                            db, sql: "SELECT 1 FROM reflection WHERE session = ? AND id = ?", arguments: [session, Data(id.bytes)])
                            ?? false
                    }
                }.compactMap(state.event)
                events += already
                events.sort { $0.id < $1.id }
                let batch = events
                // The whole batch goes in anew, in id order, in one transaction: nothing of it is
                // written apart from the rest (a copy left by a crash is replaced too).
                try await pool.write { db in
                    for event in batch {
                        try db.execute(
                            sql: "DELETE FROM reflection WHERE session = ? AND id = ?", arguments: [session, Data(event.id.bytes)])
                    }
                    for event in batch { try TranscriptStore.insert(event, db) }
                }
                rewrote = !already.isEmpty
            }
            let gone = leaving
            try await pending.write { db in
                for row in gone {
                    try db.execute(sql: "DELETE FROM \(row.table) WHERE session = ? AND id = ?", arguments: [session, row.id])
                }
            }
        } catch {
            throw MeetingError(
                .storage,
                "Reflections could not be moved out of the pending file (\(error)). Nothing was lost; the next reveal or close tries again."
            )
        }
        await rebuildPending()
        // The main file's WAL held the batch before and after the newcomer joined it.
        if rewrote { await checkpoint() }
    }

    /// Rebuilds the pending file (``rebuildPending(_:)``); if another program keeps it busy,
    /// the next settle tries again rather than fail what was stored.
    func rebuildPending() async {
        do {
            try await pending.writeWithoutTransaction { db in try TranscriptStore.rebuildPending(db) }
            pendingNeedsRebuild.withLock { $0 = false }
        } catch {
            pendingNeedsRebuild.withLock { $0 = true }
        }
    }

    /// Rewrites the pending file from its rows alone (in key order, no free pages) and empties
    /// its WAL. The pending file is small (one prompt's reflections, a session's resonances),
    /// so this is cheap. Waits at most a moment for readers (the group commit waits behind it).
    static func rebuildPending(_ db: Database) throws {
        try db.execute(sql: "VACUUM")
        try db.execute(sql: "PRAGMA busy_timeout = 200")
        defer { try? db.execute(sql: "PRAGMA busy_timeout = 10000") }
        try db.checkpoint(.truncate)
    }

    /// Deletes pending events of the sessions in `chunks` (every session for a nil chunk) and rebuilds the file.
    func wipePending(_ chunks: [[EventID]?]) async throws -> (reflections: Int, resonances: Int) {
        try await pending.writeWithoutTransaction { db in
            var counts = (0, 0)
            try db.inTransaction {
                for chunk in chunks {
                    let which = TranscriptStore.sessionClause(chunk)
                    counts.0 += try Int.fetchOne(db, sql: "SELECT count(*) FROM reflection \(which)") ?? 0
                    counts.1 += try Int.fetchOne(db, sql: "SELECT count(*) FROM resonance \(which)") ?? 0
                    try db.execute(sql: "DELETE FROM reflection \(which); DELETE FROM resonance \(which)")
                }
                return .commit
            }
            try db.execute(sql: "VACUUM")
            try db.checkpoint(.truncate)
            return counts
        }
    }
}
