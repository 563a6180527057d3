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
        try await wipe(sessions: session.map { [$0] })
    }

    /// Removes every session of `sessions` as ``wipe(_:)`` does one, with one rebuild of each
    /// file for all of them (retention: ``olderThan(days:now:)``). `nil` wipes everything.
    public func wipe(sessions: [EventID]?) async throws(MeetingError) -> Wiped {
        // Nothing more is written for them, not even a submission already in the group commit;
        // the pending file goes first, so a crash midway leaves nothing a second run misses.
        for id in sessions ?? [] { wipedSessions.insert(id) }
        // A few hundred sessions per statement keeps each statement well under SQLite's limit.
        let chunks: [[EventID]?] =
            sessions.map { ids in stride(from: 0, to: ids.count, by: 500).map { Array(ids[$0..<min($0 + 500, ids.count)]) } } ?? [nil]
        do {
            let (reflections, resonances) = try await wipePending(chunks)
            var wiped = try await pool.writeWithoutTransaction { db in
                var wiped = Wiped(sessions: 0, events: 0, reflections: 0)
                try db.inTransaction(.immediate) {
                    for chunk in chunks {
                        let which = TranscriptStore.sessionClause(chunk)
                        wiped.sessions +=
                            try Int.fetchOne(db, sql: "SELECT count(*) FROM session " + TranscriptStore.sessionClause(chunk, column: "id"))
                            ?? 0
                        wiped.events +=
                            (try Int.fetchOne(db, sql: "SELECT count(*) FROM event \(which)") ?? 0)
                            + (try Int.fetchOne(db, sql: "SELECT count(*) FROM resonance \(which)") ?? 0)
                        wiped.reflections += try Int.fetchOne(db, sql: "SELECT count(*) FROM reflection \(which)") ?? 0
                        if let chunk {
                            try TranscriptStore.deletePassages(which, db)
                            // Events, reflections, resonance, keys, access codes and the archive's
                            // row go with it (ON DELETE CASCADE).
                            try db.execute(sql: "DELETE FROM session " + TranscriptStore.sessionClause(chunk, column: "id"))
                        } else {
                            try db.execute(sql: "DELETE FROM passage; DELETE FROM session; DELETE FROM node_secret")
                        }
                    }
                    // FTS5 keeps deleted terms in old index segments until they are merged.
                    try db.execute(sql: "INSERT INTO passage(passage) VALUES ('optimize')")
                    return .commit
                }
                try db.execute(sql: "VACUUM")
                try self.checkpointer.truncate(db)
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

    /// `WHERE column IN (…)` for the sessions given, or nothing for every session.
    static func sessionClause(_ sessions: [EventID]?, column: String = "session") -> String {
        sessions.map { ids in "WHERE \(column) IN (" + ids.map { "x'\($0.hex)'" }.joined(separator: ",") + ")" } ?? ""
    }

    /// How many transactions (each one fsync) participants' events have needed so far.
    public func participantTransactions() async -> Int { await committer.transactions }
}
