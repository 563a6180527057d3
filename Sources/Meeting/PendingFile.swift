import Foundation
import GRDB

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
/// Resonances wait here until their prompt closes. docs/storage.md says why this cannot leak.
extension TranscriptStore {
    static var pendingMigrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            // The same tables as the main file (no session table here, so no foreign keys).
            try db.execute(sql: """
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

    /// Moves a session's participant events that are no longer pending (``SessionState/placement(of:)``)
    /// from the pending file into `halqa.sqlite`, in one transaction in id order, deletes those
    /// that may not be kept, and rebuilds the pending file if anything left it.
    ///
    /// Safe to run at any time and to repeat: a crash between the copy and the delete leaves
    /// an event in both files, and the next run deletes the pending copy.
    public func settle(_ state: SessionState) async throws(MeetingError) {
        let session = Data(state.id.bytes)
        do {
            let held = try await pending.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT id, 'reflection' AS kind FROM reflection WHERE session = ?1
                    UNION ALL SELECT id, 'resonance' FROM resonance WHERE session = ?1
                    """, arguments: [session]).map { (id: $0["id"] as Data, table: $0["kind"] as String) }
            }
            var leaving: [(id: Data, table: String)] = []
            var moving: [Data] = []
            for row in held {
                guard let id = EventID(bytes: row.id) else { leaving.append(row); continue }
                switch state.placement(of: id) {
                case .pending: continue
                case .settled: moving.append(row.id); leaving.append(row)
                case .discarded: leaving.append(row)
                }
            }
            guard !leaving.isEmpty else {
                if pendingNeedsRebuild.withLock({ $0 }) { await rebuildPending() }
                return
            }
            if !moving.isEmpty {
                let ids = moving
                let events = try await pending.read { db in
                    try ids.flatMap { id in
                        try Data.fetchAll(db, sql: """
                            SELECT bytes FROM reflection WHERE session = ?1 AND id = ?2
                            UNION ALL SELECT bytes FROM resonance WHERE session = ?1 AND id = ?2
                            """, arguments: [session, id])
                    }
                }.compactMap { try? Event(bytes: Array($0)) }.sorted { $0.id < $1.id }
                try await pool.write { db in for event in events { try TranscriptStore.insert(event, db) } }
            }
            let gone = leaving
            try await pending.write { db in
                for row in gone {
                    try db.execute(sql: "DELETE FROM \(row.table) WHERE session = ? AND id = ?", arguments: [session, row.id])
                }
            }
        } catch {
            throw MeetingError(.storage, "Reflections could not be moved out of the pending file (\(error)). Nothing was lost; the next reveal or close tries again.")
        }
        await rebuildPending()
    }

    /// Rebuilds the pending file (``rebuildPending(_:)``); if another program keeps it busy
    /// past the timeout, the next settle tries again rather than fail what was stored.
    func rebuildPending() async {
        do {
            try await pending.writeWithoutTransaction { db in try TranscriptStore.rebuildPending(db) }
            pendingNeedsRebuild.withLock { $0 = false }
        } catch {
            pendingNeedsRebuild.withLock { $0 = true }
        }
    }

    /// Rewrites the pending file from its rows alone (in key order, no free pages) and empties
    /// its WAL. The pending file is small (one prompt's events at most), so this is cheap.
    static func rebuildPending(_ db: Database) throws {
        try db.execute(sql: "VACUUM")
        try db.checkpoint(.truncate)
    }
}
