import Foundation
import GRDB

/// One session as the organiser's archive lists it (docs/archive.md): where it stands in a
/// group's programme, when it ran, and counts of what the room saw. Counts only, never who:
/// nothing here is finer than a prompt, and nothing changes before a reveal.
public struct ArchiveEntry: Codable, Hashable, Sendable {
    public var id: String
    public var title: String
    /// The group's label and the programme, when the session is a week of one.
    public var group: String?
    public var programme: [String: String]?
    public var week: Int?
    public var weeks: Int?
    /// The room's language: "en", "ur" or "ps".
    public var language: String
    /// Milliseconds since 1970, on the creating facilitator's clock.
    public var createdAt: Int64
    public var closedAt: Int64?
    public var prompts: Int
    /// Prompts that were opened.
    public var promptsHeld: Int
    /// Reflections the room saw (hidden ones left out) and check-in answers revealed.
    public var reflections: Int
    public var answers: Int
    /// Phones that took part: the most that wrote to (or answered) any one prompt, as each
    /// phone writes once per prompt. A number the room saw, never who; no joining is recorded.
    public var phones: Int
    public var perPrompt: [PromptCount]

    public struct PromptCount: Codable, Hashable, Sendable {
        public var number: Int
        public var text: [String: String]
        /// Reflections shown, for a written prompt.
        public var reflections: Int
        /// A check-in's scale ("faces" or "agree") and its revealed answers per option.
        public var scale: String?
        public var counts: [Int]?
    }

    public init(_ state: SessionState) {
        let deck = state.created.deck
        id = state.id.hex
        title = state.created.title
        group = state.created.programme?.group
        programme = state.created.programme?.title.dictionary
        week = state.created.programme?.week
        weeks = state.created.programme?.weeks
        language = (deck.language ?? deck.title.languages.first ?? .en).rawValue
        createdAt = state.createdAt
        closedAt = state.closedAt
        prompts = deck.prompts.count
        promptsHeld = state.prompts.filter { $0.status != .waiting }.count
        var perPrompt: [PromptCount] = []
        var phones = 0
        for (i, prompt) in deck.prompts.enumerated() {
            let revealed = state.revealedCounts(prompt: i)
            phones = max(phones, revealed.shown)
            perPrompt.append(
                PromptCount(
                    number: i + 1, text: prompt.text.dictionary,
                    reflections: prompt.isCheckIn ? 0 : revealed.visible,
                    scale: prompt.scale?.rawValue, counts: state.checkInCounts(prompt: i)))
        }
        self.perPrompt = perPrompt
        self.phones = phones
        reflections = perPrompt.map(\.reflections).reduce(0, +)
        answers = perPrompt.compactMap { $0.counts?.reduce(0, +) }.reduce(0, +)
    }

    /// The programme's title in English (else its first language): what the filter matches.
    public var programmeName: String? { programme.map { LocalizedText(dictionary: $0).preferring(.en) } }

    /// Minutes from creation to closing, when closed.
    public var minutes: Int? { closedAt.map { Int(($0 - createdAt) / 60_000) } }
}

/// Which sessions the archive shows: every field left nil matches all.
public struct ArchiveFilter: Sendable, Hashable {
    public var group: String?
    public var programme: String?
    public var week: Int?
    /// Days as "YYYY-MM-DD" (UTC), both included.
    public var from: String?
    public var to: String?
    public var language: String?

    public init(
        group: String? = nil, programme: String? = nil, week: Int? = nil, from: String? = nil, to: String? = nil, language: String? = nil
    ) {
        self.group = group
        self.programme = programme
        self.week = week
        self.from = from
        self.to = to
        self.language = language
    }

    /// Milliseconds at the start of a "YYYY-MM-DD" day (UTC), or a clear refusal.
    static func day(_ text: String, field: String) throws(MeetingError) -> Int64 {
        let parts = text.split(separator: "-")
        guard parts.count == 3, let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]), (1...12).contains(m),
            (1...31).contains(d), (1970...9999).contains(y)
        else {
            throw MeetingError(.invalidFilter, "\(field) must be a day written YYYY-MM-DD, such as 2026-03-21, not \"\(text)\".")
        }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let components = DateComponents(calendar: calendar, year: y, month: m, day: d)
        guard components.isValidDate, let date = components.date else {
            throw MeetingError(.invalidFilter, "\(field): \(text) is not a day of the calendar.")
        }
        return Int64(date.timeIntervalSince1970 * 1000)
    }

    /// Refuses a day that is not one, before anything is read or sent.
    public func check() throws(MeetingError) { _ = try sql() }

    /// The WHERE clause and its arguments.
    func sql() throws(MeetingError) -> (String, StatementArguments) {
        var clauses: [String] = []
        var arguments: [(any DatabaseValueConvertible)?] = []
        if let group {
            clauses.append("group_label = ?")
            arguments.append(group)
        }
        if let programme {
            clauses.append("programme = ?")
            arguments.append(programme)
        }
        if let week {
            clauses.append("week = ?")
            arguments.append(week)
        }
        if let from {
            clauses.append("created_at >= ?")
            arguments.append(try Self.day(from, field: "From"))
        }
        if let to {
            clauses.append("created_at < ?")
            arguments.append(try Self.day(to, field: "To") + 86_400_000)
        }
        if let language {
            clauses.append("language = ?")
            arguments.append(language)
        }
        return (clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND "), StatementArguments(arguments))
    }
}

/// A page of the archive's list.
public struct ArchivePage: Codable, Sendable {
    /// How many sessions match the filter in all.
    public var total: Int
    public var entries: [ArchiveEntry]
}

/// What the archive's filters can choose from.
public struct ArchiveChoices: Codable, Sendable {
    public var groups: [String]
    public var programmes: [String]
    public var languages: [String]
}

extension TranscriptStore {
    /// The `archive_entry` table: one row per session, kept by every save, so the archive
    /// lists, filters and reports without folding a session (docs/storage.md).
    static func createArchiveTable(_ db: Database) throws {
        try db.execute(
            sql: """
                -- What the list filters and orders on, narrow so a filter reads little; the
                -- entry itself (counts, texts: a few kilobytes) in archive_detail.
                CREATE TABLE archive_entry (
                    session BLOB PRIMARY KEY REFERENCES session(id) ON DELETE CASCADE,
                    group_label TEXT,
                    programme TEXT,
                    week INTEGER,
                    language TEXT NOT NULL,
                    created_at INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE TABLE archive_detail (
                    session BLOB PRIMARY KEY REFERENCES session(id) ON DELETE CASCADE,
                    entry TEXT NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX archive_by_time ON archive_entry (created_at DESC, session);
                CREATE INDEX archive_by_group ON archive_entry (group_label, week, created_at);
                -- The archive's settings: how many days it keeps sessions.
                CREATE TABLE archive_setting (name TEXT PRIMARY KEY, value) WITHOUT ROWID;
                """)
    }

    static func writeEntry(_ state: SessionState, _ db: Database) throws {
        let entry = ArchiveEntry(state)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        try db.cachedStatement(
            sql: """
                INSERT OR REPLACE INTO archive_entry (session, group_label, programme, week, language, created_at)
                VALUES (?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [Data(state.id.bytes), entry.group, entry.programmeName, entry.week, entry.language, entry.createdAt])
        try db.cachedStatement(sql: "INSERT OR REPLACE INTO archive_detail (session, entry) VALUES (?, ?)")
            .execute(arguments: [Data(state.id.bytes), String(decoding: try encoder.encode(entry), as: UTF8.self)])
    }

    /// Writes the archive's row and the search passages of every session that has none (a
    /// data folder from before the archive), each folded once; run by the commands that read
    /// the archive or search, not at every open (a wipe must never wait for it). A session
    /// that cannot be read is left as it is and named in what this returns.
    @discardableResult
    public func fillArchive() throws(MeetingError) -> [String] {
        let missing: [EventID]
        do {
            missing = try pool.read { db in
                try Data.fetchAll(db, sql: "SELECT id FROM session WHERE id NOT IN (SELECT session FROM archive_entry)")
                    .compactMap { EventID(bytes: $0) }
            }
        } catch {
            throw MeetingError(.storage, "Cannot read the list of sessions: \(error).")
        }
        var problems: [String] = []
        for id in missing {
            do {
                let state = try state(of: id)
                try pool.write { db in
                    try TranscriptStore.writePassages(of: [state], db)
                    try TranscriptStore.writeEntry(state, db)
                }
            } catch let error as MeetingError {
                problems.append("session \(id.short) could not be indexed for the archive: \(error.message)")
            } catch {
                problems.append("session \(id.short) could not be indexed for the archive: \(error)")
            }
        }
        return problems
    }

    /// The sessions that match `filter`, newest first, `limit` from `offset`, and how many
    /// match in all: read from one table, so a year of sessions lists as fast as a week's.
    public func archive(_ filter: ArchiveFilter = .init(), offset: Int = 0, limit: Int = 50) throws(MeetingError) -> ArchivePage {
        let (clause, arguments) = try filter.sql()
        do {
            return try pool.read { db in
                let total = try Int.fetchOne(db, sql: "SELECT count(*) FROM archive_entry \(clause)", arguments: arguments) ?? 0
                // The page's sessions from the narrow table and its index alone; then their entries.
                let entries = try TranscriptStore.entries(
                    db,
                    sql: """
                        SELECT archive_detail.entry FROM (
                            SELECT session, created_at FROM archive_entry \(clause) ORDER BY created_at DESC, session LIMIT ? OFFSET ?
                        ) AS page JOIN archive_detail USING (session) ORDER BY page.created_at DESC, page.session
                        """,
                    arguments: arguments + [max(0, min(limit, 1000)), max(0, offset)])
                return ArchivePage(total: total, entries: entries)
            }
        } catch let error as MeetingError {
            throw error
        } catch {
            throw MeetingError(.storage, "Cannot list the archive: \(error).")
        }
    }

    /// Every session of `filter` at once, oldest first (for reports and a group's chart).
    public func archiveAll(_ filter: ArchiveFilter = .init()) throws(MeetingError) -> [ArchiveEntry] {
        let (clause, arguments) = try filter.sql()
        return try readEntries(
            "SELECT entry FROM archive_entry JOIN archive_detail USING (session) \(clause) ORDER BY created_at, session", arguments)
    }

    /// The entries an SQL query of `entry` columns gives, decoded.
    static func entries(_ db: Database, sql: String, arguments: StatementArguments) throws -> [ArchiveEntry] {
        let decoder = JSONDecoder()
        return try String.fetchAll(db, sql: sql, arguments: arguments).map { try decoder.decode(ArchiveEntry.self, from: Data($0.utf8)) }
    }

    func readEntries(_ sql: String, _ arguments: StatementArguments) throws(MeetingError) -> [ArchiveEntry] {
        do {
            return try pool.read { db in try TranscriptStore.entries(db, sql: sql, arguments: arguments) }
        } catch {
            throw MeetingError(.storage, "Cannot read the archive: \(error).")
        }
    }

    /// The groups, programmes and languages present, for the archive's filters.
    public func archiveChoices() throws(MeetingError) -> ArchiveChoices {
        do {
            return try pool.read { db in
                func distinct(_ column: String) throws -> [String] {
                    try String.fetchAll(
                        db, sql: "SELECT DISTINCT \(column) FROM archive_entry WHERE \(column) IS NOT NULL ORDER BY \(column)")
                }
                return ArchiveChoices(
                    groups: try distinct("group_label"), programmes: try distinct("programme"), languages: try distinct("language"))
            }
        } catch {
            throw MeetingError(.storage, "Cannot read the archive: \(error).")
        }
    }

    /// Sessions created before `days` days before `now` (milliseconds), oldest first.
    public func olderThan(days: Int, now: Int64) throws(MeetingError) -> [ArchiveEntry] {
        guard (1...Limits.keepDays).contains(days) else {
            throw MeetingError(.invalidFilter, "Keep sessions for 1 to \(Limits.keepDays) days (0 keeps everything), not \(days).")
        }
        return try createdBefore(now - Int64(days) * 86_400_000)
    }

    /// Sessions created before `cutoff` (milliseconds), oldest first.
    public func createdBefore(_ cutoff: Int64) throws(MeetingError) -> [ArchiveEntry] {
        try readEntries(
            "SELECT entry FROM archive_entry JOIN archive_detail USING (session) WHERE created_at < ? ORDER BY created_at, session",
            [cutoff])
    }
}

extension TranscriptStore {
    /// The archive's rows of the sessions given, by id (sessions not held are left out).
    public func entries(_ ids: [String]) throws(MeetingError) -> [String: ArchiveEntry] {
        let keys = ids.compactMap { EventID(hex: $0) }.map { Data($0.bytes) }
        guard !keys.isEmpty else { return [:] }
        let found = try readEntries(
            "SELECT entry FROM archive_detail WHERE session IN (\(Array(repeating: "?", count: keys.count).joined(separator: ",")))",
            StatementArguments(keys))
        return Dictionary(found.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// How many days the archive keeps sessions (``olderThan(days:now:)``), nil for ever.
    public func keepDays() throws(MeetingError) -> Int? {
        do {
            return try pool.read { db in try Int.fetchOne(db, sql: "SELECT value FROM archive_setting WHERE name = 'keep-days'") }
        } catch {
            throw MeetingError(.storage, "Cannot read the archive's settings: \(error).")
        }
    }

    public func setKeepDays(_ days: Int?) throws(MeetingError) {
        do {
            try pool.write { db in
                if let days {
                    try db.execute(sql: "INSERT OR REPLACE INTO archive_setting (name, value) VALUES ('keep-days', ?)", arguments: [days])
                } else {
                    try db.execute(sql: "DELETE FROM archive_setting WHERE name = 'keep-days'")
                }
            }
        } catch {
            throw MeetingError(.storage, "Cannot save the archive's settings: \(error).")
        }
    }
}
