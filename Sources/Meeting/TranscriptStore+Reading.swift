import Foundation
import GRDB

/// Reading: a session's events and state, the sessions held, and the file's health.
extension TranscriptStore {
    /// Every stored event of a session.
    public func events(of session: EventID) throws(MeetingError) -> [Event] {
        try events(of: session, main: true)
    }

    /// The same, from the pending file alone unless `main`: what a session that `halqa.sqlite`
    /// holds nothing of (``holds(_:)``) may have.
    func events(of session: EventID, main: Bool) throws(MeetingError) -> [Event] {
        do {
            // The pending file first: a batch settling between the two reads is then read
            // twice (the fold keeps one), never missed.
            var blobs = try pending.read { db in
                try Data.fetchAll(
                    db.cachedStatement(
                        sql: """
                            SELECT bytes FROM reflection WHERE session = ?1
                            UNION ALL SELECT bytes FROM resonance WHERE session = ?1
                            """), arguments: [Data(session.bytes)])
            }
            if main {
                blobs += try pool.read { db in
                    try Data.fetchAll(
                        db.cachedStatement(
                            sql: """
                                SELECT bytes FROM event WHERE session = ?1
                                UNION ALL SELECT bytes FROM reflection WHERE session = ?1
                                UNION ALL SELECT bytes FROM resonance WHERE session = ?1
                                """), arguments: [Data(session.bytes)])
                }
            }
            return try blobs.map { data throws(MeetingError) in try Event(bytes: Array(data)) }
        } catch let error as MeetingError {
            throw MeetingError(.storage, "The database holds a damaged event in session \(session.short): \(error.message)")
        } catch {
            throw MeetingError(.storage, "Cannot read session \(session.short): \(error).")
        }
    }

    /// Whether `halqa.sqlite` holds anything of a session (its row or any reflection of it):
    /// then a whole session arriving again is not written as if it were new
    /// (``save(_:resulting:roomSecret:sessionKey:placed:)``).
    func holds(_ session: EventID) throws(MeetingError) -> Bool {
        do {
            return try pool.read { db in
                try Bool.fetchOne(
                    db.cachedStatement(
                        sql: "SELECT EXISTS (SELECT 1 FROM session WHERE id = ?1) OR EXISTS (SELECT 1 FROM reflection WHERE session = ?1)"),
                    arguments: [Data(session.bytes)]) ?? true
            }
        } catch {
            throw MeetingError(.storage, "Cannot read session \(session.short): \(error).")
        }
    }

    /// The folded state of a stored session.
    public func state(of session: EventID) throws(MeetingError) -> SessionState {
        try SessionState(events: events(of: session), verifySignatures: false)
    }

    /// The room key this node holds for a session it created, if any.
    func roomSecret(of session: EventID) throws(MeetingError) -> SigningKey? {
        do {
            let raw = try pool.read { db in
                try Data.fetchOne(db, sql: "SELECT room_secret FROM session WHERE id = ?", arguments: [Data(session.bytes)])
            }
            return raw.flatMap { SigningKey(raw: $0) }
        } catch {
            throw MeetingError(.storage, "Cannot read session \(session.short): \(error).")
        }
    }

    /// The ids of every stored session, newest first.
    public func sessionIDs() throws(MeetingError) -> [EventID] {
        do {
            return try pool.read { db in
                try Data.fetchAll(db, sql: "SELECT id FROM session ORDER BY created_at DESC, id").compactMap { EventID(bytes: $0) }
            }
        } catch {
            throw MeetingError(.storage, "Cannot list sessions: \(error).")
        }
    }

    /// The sessions held of one group's programme (``ProgrammePlace/isSameCourse(as:)``), by
    /// week, the most recently created of a week last: read from every session's first event
    /// (the one whose id is the session's), in one query.
    public func course(of place: ProgrammePlace) throws(MeetingError) -> [(id: EventID, week: Int)] {
        do {
            let blobs = try pool.read { db in try Data.fetchAll(db, sql: "SELECT bytes FROM event WHERE id = session") }
            var found: [(id: EventID, week: Int, at: Int64)] = []
            for bytes in blobs {
                let event = try Event(bytes: Array(bytes))
                guard case .sessionCreated(let created) = event.body, let other = created.programme, other.isSameCourse(as: place)
                else { continue }
                found.append((event.id, other.week, event.at ?? 0))
            }
            return found.sorted { ($0.week, $0.at, $0.id) < ($1.week, $1.at, $1.id) }.map { ($0.id, $0.week) }
        } catch {
            throw MeetingError(.storage, "Cannot list the sessions of a programme: \(error).")
        }
    }

    /// Finds a session by its id or a unique prefix of at least 4 hex digits.
    public func resolveSession(_ text: String) throws(MeetingError) -> EventID {
        let prefix = text.lowercased()
        guard prefix.count >= 4, prefix.allSatisfy(\.isHexDigit) else {
            throw MeetingError(
                .noSuchSession, "\"\(text)\" is not a session id. Give at least the first 4 characters of an id from `halqa sessions`.")
        }
        let matches = try sessionIDs().filter { $0.hex.hasPrefix(prefix) }
        guard let first = matches.first else {
            throw MeetingError(
                .noSuchSession, "No session here starts with \"\(text)\". `halqa sessions` lists the sessions in this data folder.")
        }
        guard matches.count == 1 else {
            throw MeetingError(.ambiguousSession, "\(matches.count) sessions start with \"\(text)\"; give more characters of the id.")
        }
        return first
    }

    /// Runs `PRAGMA integrity_check`; "ok" when the file is sound.
    public func integrityCheck() throws -> String {
        try pool.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") ?? "" }
    }
}
