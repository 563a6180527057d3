import Foundation
import GRDB

/// Wiping: a session, or everything, gone from this node's files (docs/storage.md).
extension TranscriptStore {
    /// What a wipe removed.
    public struct Wiped: Sendable {
        public var sessions: Int
        public var events: Int
        public var reflections: Int
    }

    /// Removes sessions from this node so that their text cannot be recovered from its files:
    /// the rows are deleted (overwritten, `secure_delete`), the search index is rewritten
    /// without them, the database is rebuilt (`VACUUM`, so no free page keeps old bytes) and
    /// the WAL is emptied. `nil` wipes every session and the node's own keys.
    public func wipe(_ session: EventID?) async throws(MeetingError) -> Wiped {
        // Nothing more is written for it, not even a submission already in the group commit;
        // the pending file goes first, so a crash midway leaves nothing a second run misses.
        if let session { wipedSessions.insert(session) }
        do {
            let (reflections, resonances) = try await wipePending(session)
            var wiped = try await pool.writeWithoutTransaction { db in
                var wiped = Wiped(sessions: 0, events: 0, reflections: 0)
                try db.inTransaction(.immediate) {
                    let which = session.map { "WHERE session = x'\($0.hex)'" } ?? ""
                    wiped = Wiped(
                        sessions: try Int.fetchOne(
                            db, sql: "SELECT count(*) FROM session " + (session.map { "WHERE id = x'\($0.hex)'" } ?? "")) ?? 0,
                        events: (try Int.fetchOne(db, sql: "SELECT count(*) FROM event \(which)") ?? 0)
                            + (try Int.fetchOne(db, sql: "SELECT count(*) FROM resonance \(which)") ?? 0),
                        reflections: try Int.fetchOne(db, sql: "SELECT count(*) FROM reflection \(which)") ?? 0)
                    if let session {
                        try db.execute(sql: "DELETE FROM passage WHERE session = ?", arguments: [session.hex])
                        // Events, reflections, resonance, keys and access codes go with it (ON DELETE CASCADE).
                        try db.execute(sql: "DELETE FROM session WHERE id = ?", arguments: [Data(session.bytes)])
                    } else {
                        try db.execute(sql: "DELETE FROM passage; DELETE FROM session; DELETE FROM node_secret")
                    }
                    // FTS5 keeps deleted terms in old index segments until they are merged.
                    try db.execute(sql: "INSERT INTO passage(passage) VALUES ('optimize')")
                    return .commit
                }
                try db.execute(sql: "VACUUM")
                try db.checkpoint(.truncate)
                return wiped
            }
            wiped.reflections += reflections
            wiped.events += resonances
            return wiped
        } catch {
            throw MeetingError(
                .storage,
                "The wipe could not finish (\(error)). Stop any Halqa using this data folder and run it again; nothing was left half-done that a second run does not finish."
            )
        }
    }

    /// How many transactions (each one fsync) participants' events have needed so far.
    public func participantTransactions() async -> Int { await committer.transactions }
}
