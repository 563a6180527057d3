import Foundation
import GRDB

/// This node's keys and the secrets that let people into a session, as stored (never exported).
extension TranscriptStore {
    /// The key this node uses in `session`: its own for that session, or, for a session
    /// stored before sessions had keys of their own, the node's lasting key.
    public func sessionKey(of session: EventID) throws(MeetingError) -> SigningKey {
        do {
            let raw = try pool.read { db in
                try Data.fetchOne(db, sql: "SELECT secret FROM session_key WHERE session = ?", arguments: [Data(session.bytes)])
            }
            return raw.flatMap { SigningKey(raw: $0) } ?? nodeKey
        } catch {
            throw MeetingError(.storage, "Cannot read session \(session.short): \(error).")
        }
    }

    /// The secrets that let people into a session this node hosts.
    public struct Access: Hashable, Sendable {
        /// Typed by participants.
        public var joinCode: String
        /// Opens the console: every facilitator action.
        public var facilitatorSecret: String
        /// Opens the projector's view and nothing else; nil for a session stored before it existed.
        public var screenKey: String?
        public init(joinCode: String, facilitatorSecret: String, screenKey: String?) {
            self.joinCode = joinCode
            self.facilitatorSecret = facilitatorSecret
            self.screenKey = screenKey
        }
    }

    /// The stored access secrets of `session`, if this node hosts it.
    public func access(to session: EventID) throws(MeetingError) -> Access? {
        do {
            return try pool.read { db in
                try Row.fetchOne(
                    db, sql: "SELECT join_code, facilitator_secret, screen_key FROM session_access WHERE session = ?",
                    arguments: [Data(session.bytes)]
                ).map { Access(joinCode: $0[0], facilitatorSecret: $0[1], screenKey: $0[2]) }
            }
        } catch {
            throw MeetingError(.storage, "Cannot read session \(session.short): \(error).")
        }
    }

    /// Stores the access secrets of a session this node hosts.
    public func setAccess(_ access: Access, to session: EventID) throws(MeetingError) {
        do {
            try pool.write { db in
                try db.execute(
                    sql: "INSERT OR REPLACE INTO session_access (session, join_code, facilitator_secret, screen_key) VALUES (?, ?, ?, ?)",
                    arguments: [Data(session.bytes), access.joinCode, access.facilitatorSecret, access.screenKey])
            }
        } catch {
            throw MeetingError(.storage, "Cannot save the session's join code: \(error).")
        }
    }

    static func loadOrMakeNodeKey(_ db: Database) throws -> SigningKey {
        if let raw = try Data.fetchOne(db, sql: "SELECT value FROM node_secret WHERE name = 'node-key'"),
            let key = SigningKey(raw: raw)
        {
            return key
        }
        let key = SigningKey()
        try db.execute(sql: "INSERT INTO node_secret (name, value) VALUES ('node-key', ?)", arguments: [Data(key.raw)])
        return key
    }
}
