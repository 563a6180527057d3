import Foundation
import GRDB
import GRDBSQLite
import Synchronization

/// The node's SQLite transcript: every session this node holds, as verified events.
///
/// Two databases in the data folder, both in WAL mode with `synchronous=FULL`, so a commit is
/// on disk before it returns. `halqa.sqlite` holds everything that is no longer pending;
/// `pending.sqlite` holds participants' events while their place in a file could still say
/// when they arrived (a reflection until its batch is revealed, a resonance until the session
/// closes). Participants' events go through a group commit into the pending file: many
/// submitted at once share one transaction and one fsync, and each is acknowledged only after
/// that fsync. ``settle(_:)`` then moves them into `halqa.sqlite` in batches, in id order, and
/// rebuilds the pending file, so that no file keeps their arrival order. The schema and its
/// anonymity properties are documented in `docs/storage.md`.
///
/// ```swift
/// let store = try TranscriptStore(folder: "/home/me/.local/share/halqa")
/// let session = try await LiveSession.start(deck: deck, title: "Tuesday group", in: store)
/// ```
///
/// Thread safety: a `TranscriptStore` may be used from any task; GRDB serialises writes.
public final class TranscriptStore: Sendable {
    /// This node's lasting key. Sessions created or joined since per-session keys exist are
    /// signed with a key of their own (``sessionKey(of:)``), so nothing a node shows in one
    /// meeting recognises it in the next; older sessions use this one.
    public let nodeKey: SigningKey
    public let path: String
    let pool: DatabasePool
    /// `pending.sqlite`: participants' events that are still pending (see ``settle(_:)``).
    let pending: DatabaseQueue
    /// Set when a rebuild of the pending file could not finish (another program was reading
    /// it); the next settle tries again.
    let pendingNeedsRebuild = Mutex(false)
    /// Sessions wiped while this store is open: the group commit writes nothing more for them.
    let wipedSessions = WipedSessions()
    let committer: GroupCommitter
    /// Settles run one at a time.
    let settling = SerialGate()
    /// Copies the WAL into `halqa.sqlite` in the background (SQLite's own automatic
    /// checkpoint ran inside a commit).
    let checkpointer: Checkpointer

    static let wipedError = MeetingError(.wiped, "This session was wiped from this node; nothing more can be added to it here.")

    public static let fileName = "halqa.sqlite"
    public static let pendingFileName = "pending.sqlite"

    /// Opens (creating if needed) the store in `folder`, readable by this user only.
    ///
    /// Opening rebuilds the pending file (``rebuildPending()``): whatever a node that died or
    /// stopped mid-prompt left there, in arrival order, is laid out again in key order before
    /// anything else reads the folder.
    ///
    /// `forWipe`: the folder is migrated only as far as what it stores changes
    /// (``lastStoredMigration``), not through a migration that rebuilds the search index (a
    /// year's archive: half a minute), which the next opening does over what the wipe left.
    /// A wipe must never wait; its statements read the same with either index.
    public init(folder: String, forWipe: Bool = false) throws(MeetingError) {
        let manager = FileManager.default
        do {
            try manager.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw MeetingError(
                .storage, "Cannot create the data folder \(folder): \(error.localizedDescription). Choose another with --data.")
        }
        path = (folder as NSString).appendingPathComponent(TranscriptStore.fileName)
        let checkpointer = Checkpointer(path: path)
        var config = Configuration()
        // Another Halqa command reading the folder (sessions, digest, export) holds a lock for
        // milliseconds: wait for it rather than fail.
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in
            // FULL: in WAL mode, every commit fsyncs the WAL before it returns.
            // secure_delete: destroyed reflections are overwritten, not left in free pages.
            // temp_store: VACUUM and sorting never write text to a temporary file elsewhere.
            try db.execute(
                sql: "PRAGMA synchronous = FULL; PRAGMA secure_delete = ON; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY")
            // The WAL is copied into the database in the background, not inside a commit.
            checkpointer.watch(db)
        }
        let migrator = TranscriptStore.migrator
        var update: SchemaUpdate?
        do {
            let previous = umask(0o077)
            defer { umask(previous) }
            // Which migrations the folder has, read without writing a byte (opening a pool
            // writes to make its WAL): a folder a newer Halqa migrated is never written to
            // by an older one.
            var applied: [String] = []
            if manager.fileExists(atPath: path) {
                var readOnly = Configuration()
                readOnly.readonly = true
                readOnly.busyMode = .timeout(10)
                let probe = try DatabaseQueue(path: path, configuration: readOnly)
                let newer = try probe.read { db in
                    applied = try migrator.appliedMigrations(db)
                    return try migrator.hasBeenSuperseded(db)
                }
                try probe.close()
                if newer { throw Superseded() }
            }
            pool = try DatabasePool(path: path, configuration: config)
            // GRDB turns WAL on after `prepareDatabase`, and with it `synchronous = NORMAL`
            // (commits not fsynced until a checkpoint): set FULL again on the one connection
            // that writes, or a settle's reflections, a facilitator's reveal or an import
            // could be gone after a power cut that the pending file's delete survived.
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            if forWipe, !applied.contains(TranscriptStore.smallerIndex) {
                try migrator.migrate(pool, upTo: TranscriptStore.lastStoredMigration)
            } else {
                try migrator.migrate(pool)
            }
            let now = try pool.read { db in try migrator.appliedMigrations(db) }
            if let last = applied.last, let current = now.last, last != current { update = SchemaUpdate(from: last, to: current) }
            nodeKey = try pool.write { db in try TranscriptStore.loadOrMakeNodeKey(db) }
            pending = try TranscriptStore.openPending(in: folder)
            try TranscriptStore.tidyPending(pending, main: pool)
        } catch is Superseded {
            throw MeetingError(
                .storage,
                "The data folder \(folder) was written by a newer version of Halqa, which this one cannot read safely. Nothing was changed: install that version (or a newer one) again."
            )
        } catch {
            throw MeetingError(
                .storage,
                "Cannot open the transcript database in \(folder): \(error). If another program holds it, stop that program; if the disk is full, free space."
            )
        }
        committer = GroupCommitter(queue: pending, wiped: wipedSessions)
        self.checkpointer = checkpointer
        schemaUpdate = update
    }

    // A command that ends (an import) lets its last connection copy the WAL and remove it,
    // rather than exit while a background checkpoint holds one open.
    deinit { checkpointer.finish() }

    private struct Superseded: Error {}

    /// This opening updated a data folder an older Halqa made (its schema's last migration
    /// before and now), keeping every session; commands say so (docs/packaging.md, "Upgrades").
    public struct SchemaUpdate: Sendable, Equatable {
        public let from: String
        public let to: String
        /// A line for the person at the laptop.
        public func message(folder: String) -> String {
            "The data folder \(folder) was made by an older Halqa and is now updated for this one (schema \(from) → \(to)). Every session is kept."
        }
    }
    /// Set when this opening migrated an older data folder.
    public let schemaUpdate: SchemaUpdate?

    /// The search index's columns and options as migration v6 made it, each word's places kept.
    static let passageColumnsV6 = """
        session UNINDEXED, kind UNINDEXED, prompt UNINDEXED, text, original UNINDEXED, tokenize = 'unicode61 remove_diacritics 2'
        """

    /// The search index's columns and options (migration v7, docs/storage.md).
    static let passageColumns = """
        session UNINDEXED, kind UNINDEXED, prompt UNINDEXED, text, original UNINDEXED,
        tokenize = '\(passageTokenizer.joined(separator: " "))', detail = none, columnsize = 0
        """

    /// How the index reads words: search asks for each word as the index holds it.
    static let passageTokenizer = ["unicode61", "remove_diacritics", "2"]

    /// The last migration that changes what is stored, not only how it is indexed: a wipe
    /// opens a folder migrated this far and no further (``init(folder:forWipe:)``). A new
    /// migration that changes what is stored becomes this one, and `init` then asks for it.
    static let lastStoredMigration = "v6: the organiser's archive"
    static let smallerIndex = "v7: a smaller search index"

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            // Every table is WITHOUT ROWID: no hidden insertion counter exists anywhere.
            try db.execute(
                sql: """
                    CREATE TABLE node_secret (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
                    CREATE TABLE session (
                        id BLOB PRIMARY KEY,
                        title TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        closed_at INTEGER,
                        room_secret BLOB
                    ) WITHOUT ROWID;
                    -- Facilitators' signed events and the session-created event.
                    CREATE TABLE event (
                        session BLOB NOT NULL REFERENCES session(id) ON DELETE CASCADE,
                        id BLOB NOT NULL,
                        bytes BLOB NOT NULL,
                        PRIMARY KEY (session, id)
                    ) WITHOUT ROWID;
                    -- Participants' reflections: keyed by an id that hashes a random nonce,
                    -- with no author, device, address, time or order column.
                    CREATE TABLE reflection (
                        session BLOB NOT NULL REFERENCES session(id) ON DELETE CASCADE,
                        id BLOB NOT NULL,
                        prompt INTEGER NOT NULL,
                        bytes BLOB NOT NULL,
                        PRIMARY KEY (session, id)
                    ) WITHOUT ROWID;
                    CREATE TABLE resonance (
                        session BLOB NOT NULL REFERENCES session(id) ON DELETE CASCADE,
                        id BLOB NOT NULL,
                        reflection BLOB NOT NULL,
                        bytes BLOB NOT NULL,
                        PRIMARY KEY (session, id)
                    ) WITHOUT ROWID;
                    -- Search over closed sessions only, filled when a session closes, in deck
                    -- and reveal order (already public), so its rowids record no arrival order.
                    CREATE VIRTUAL TABLE passage USING fts5(
                        session UNINDEXED, kind UNINDEXED, prompt UNINDEXED, text,
                        tokenize = 'unicode61 remove_diacritics 2'
                    );
                    """)
        }
        m.registerMigration("v2: access secrets") { db in
            // What lets people into a session this node hosts: the join code participants
            // type and the facilitator's secret. Kept so a restarted node keeps both.
            try db.execute(
                sql: """
                    CREATE TABLE session_access (
                        session BLOB PRIMARY KEY REFERENCES session(id) ON DELETE CASCADE,
                        join_code TEXT NOT NULL,
                        facilitator_secret TEXT NOT NULL
                    ) WITHOUT ROWID;
                    """)
        }
        m.registerMigration("v3: projector key") { db in
            // The projector's own key: it shows the room's view and can do nothing else.
            try db.execute(sql: "ALTER TABLE session_access ADD COLUMN screen_key TEXT")
        }
        m.registerMigration("v4: session keys") { db in
            // The key this node signs and speaks with in one session, so that nothing it shows
            // in one meeting (its TLS certificate, its name) recognises it in the next.
            try db.execute(
                sql: """
                    CREATE TABLE session_key (
                        session BLOB PRIMARY KEY REFERENCES session(id) ON DELETE CASCADE,
                        secret BLOB NOT NULL
                    ) WITHOUT ROWID;
                    """)
        }
        m.registerMigration("v5: search folds look-alike letters") { db in
            // Passages indexed before were indexed as typed: fold them as new ones are
            // (``SearchText``), in place, in the same order.
            let rows = try Row.fetchAll(db, sql: "SELECT rowid, text FROM passage")
            for row in rows {
                let text: String = row["text"]
                let folded = SearchText.fold(text)
                if folded != text {
                    try db.execute(sql: "UPDATE passage SET text = ? WHERE rowid = ?", arguments: [folded, row["rowid"] as Int64])
                }
            }
        }
        m.registerMigration(TranscriptStore.lastStoredMigration) { db in
            // One row per session for the archive's list (``ArchiveEntry``); sessions already
            // held get theirs from the first command that reads the archive (``fillArchive()``).
            try TranscriptStore.createArchiveTable(db)
            // Search keeps each passage as written beside its folded form, so results show
            // what was written. Every session is indexed again from its events, with its
            // archive row, by the first command that reads the archive or searches
            // (``fillArchive()``).
            try db.execute(
                sql: """
                    DROP TABLE passage;
                    CREATE VIRTUAL TABLE passage USING fts5(\(TranscriptStore.passageColumnsV6));
                    -- Where a session's passages are: FTS5 cannot look a row up by an UNINDEXED
                    -- column, so replacing them by session read the whole index (a year's
                    -- archive: every import and every facilitator's event read 900,000 rows).
                    -- A session's passages are written together, so their rowids are one run.
                    CREATE TABLE passage_span (
                        session BLOB PRIMARY KEY REFERENCES session(id) ON DELETE CASCADE,
                        first INTEGER NOT NULL,
                        last INTEGER NOT NULL
                    ) WITHOUT ROWID;
                    """)
        }
        // It touches no table with a foreign key: no check of the whole database after it.
        m.registerMigration(TranscriptStore.smallerIndex, foreignKeyChecks: .immediate) { db in
            // The index records which passages hold a word, not where in them (`detail=none`),
            // and no column sizes (nothing ranks by them); each session's id as its 32 bytes,
            // not 64 hex digits; `original` only where it differs from the folded `text`. Search
            // asks for words, never phrases (``TranscriptStore/search(_:limit:)``), and
            // highlights by reading the passage again. A year's archive (bench-archive): the
            // import wrote 170 MB for each 250 sessions, 63 MB of them the index's. Copied in
            // rowid order, so the rows keep the deck and reveal order they had.
            // A session id that is not one (none was ever written) stops the copy: the
            // migration is rolled back and the folder left as it was.
            let unhex = DatabaseFunction("halqa_unhex", argumentCount: 1, pure: true) { values in
                guard let id = String.fromDatabaseValue(values[0]).flatMap(EventID.init(hex:)) else {
                    throw MeetingError(.storage, "The search index holds a passage of no session (\(values[0])).")
                }
                return Data(id.bytes)
            }
            db.add(function: unhex)
            defer { db.remove(function: unhex) }
            try db.execute(
                sql: """
                    CREATE VIRTUAL TABLE passage_v7 USING fts5(\(TranscriptStore.passageColumns));
                    INSERT INTO passage_v7 (rowid, session, kind, prompt, text, original)
                        SELECT rowid, halqa_unhex(session), kind, prompt, text, nullif(original, text) FROM passage ORDER BY rowid;
                    DROP TABLE passage;
                    ALTER TABLE passage_v7 RENAME TO passage;
                    """)
        }
        #if HALQA_UPGRADE_TEST
            // Only in the package test's next version (Package.swift, HALQA_UPGRADE_TEST): a
            // migration like a real one, over a data folder the version before made.
            m.registerMigration("upgrade test") { db in
                try db.execute(sql: "CREATE INDEX archive_entry_by_language_and_day ON archive_entry(language, created_at)")
            }
        #endif
        return m
    }

    // MARK: Writing

    /// Stores events (verified by the caller's fold): facilitators' events, the session's row
    /// (closing, the room key and this node's key for it, if given) and, once it is closed, its
    /// search passages in `halqa.sqlite`; participants' events in the pending file, in id order
    /// (the order of a batch from another node or a file says nothing either). The caller then
    /// settles the session with its current state (``settle(_:)``).
    ///
    /// `placed`: the events are a whole session arriving at once (a catch-up, an import), so
    /// each participant's event goes where `state` places it (``SessionState/placement(of:)``):
    /// those that may be shown straight into `halqa.sqlite` with the rest, in id order in the
    /// same transaction (as a settle would copy them), the others to the pending file, and
    /// none that may not be kept.
    func save(
        _ events: [Event], resulting state: SessionState, roomSecret: SigningKey? = nil,
        sessionKey: SigningKey? = nil, placed: Bool = false
    ) async throws(MeetingError) {
        let write = SessionWrite(events, resulting: state, roomSecret: roomSecret, sessionKey: sessionKey, placed: placed)
        if let error = await save(all: [write]).first ?? nil { throw error }
    }

    /// Several sessions' saves (``save(_:resulting:roomSecret:sessionKey:placed:)``) in one
    /// transaction of each file, each session in a savepoint of its own: one that cannot be
    /// stored (wiped meanwhile) is left out of both files and the others are stored. For each,
    /// nil or why it was not stored. As with one session, if the pending file's write fails
    /// after `halqa.sqlite`'s, what went into `halqa.sqlite` stays (it is sound alone) and
    /// saving again adds the rest. Many small sessions (an import) cost less this way: one
    /// commit of each file for all of them.
    ///
    /// With `gate`, `halqa.sqlite`'s transaction commits only once it opens, and rolls back if
    /// it does not, or not soon enough (each session then fails, and the pending file is not
    /// written).
    func save(all writes: [SessionWrite], gate: SignatureGate? = nil) async -> [MeetingError?] {
        guard !writes.isEmpty else { return [] }
        let wiped = wipedSessions
        var errors = [MeetingError?](repeating: nil, count: writes.count)
        do {
            let failed = try await pool.write { db in
                let failed = try TranscriptStore.eachInSavepoint(writes, Array(writes.indices), wiped: wiped, db) {
                    try $0.writeMain(db)
                }
                // The search passages of the sessions stored, after every savepoint: FTS5
                // writes the index it holds in memory as a new piece of the index at each
                // savepoint, so written inside them a batch made a piece per session, each
                // merged again later. (Failing here fails the whole batch: only storage
                // itself can.)
                try TranscriptStore.writePassages(of: writes.indices.filter { failed[$0] == nil }.map { writes[$0].state }, db)
                if let gate, gate.wait() != true { throw SignatureGate.closed }
                return failed
            }
            for (i, error) in failed { errors[i] = error }
        } catch {
            return writes.map { _ in TranscriptStore.saveFailure(error) }
        }
        let participants = writes.indices.filter { errors[$0] == nil && !writes[$0].participants.isEmpty }
        guard !participants.isEmpty else { return errors }
        do {
            let failed = try await pending.write { db in
                try TranscriptStore.eachInSavepoint(writes, participants, wiped: wiped, db) { try $0.writePending(db) }
            }
            for (i, error) in failed { errors[i] = error }
        } catch {
            // Only the sessions with participants' events to write missed something.
            for i in participants { errors[i] = TranscriptStore.saveFailure(error) }
        }
        return errors
    }

    /// `write` of each of `writes` at `indices`, each in a savepoint of the caller's
    /// transaction: what one wrote before failing is undone, the others' kept. Why each that
    /// failed did; a single one's failure is thrown instead.
    private static func eachInSavepoint(
        _ writes: [SessionWrite], _ indices: [Int], wiped: WipedSessions, _ db: Database, _ write: (SessionWrite) throws -> Void
    ) throws -> [Int: MeetingError] {
        // Inside the transaction: a wipe's own runs wholly before (and this sees the mark) or
        // after (and removes what this wrote). Nothing brings a wiped session back.
        func one(_ i: Int) throws {
            guard !wiped.contains(writes[i].state.id) else { throw TranscriptStore.wipedError }
            try write(writes[i])
        }
        // One session alone (a live save) needs no savepoint: its failure undoes the transaction.
        if indices.count == 1 {
            try one(indices[0])
            return [:]
        }
        var failed: [Int: MeetingError] = [:]
        for i in indices {
            do {
                try db.inSavepoint {
                    try one(i)
                    return .commit
                }
            } catch {
                failed[i] = saveFailure(error)
            }
        }
        return failed
    }

    private static func saveFailure(_ error: any Error) -> MeetingError {
        error as? MeetingError
            ?? MeetingError(.storage, "The session could not be saved (\(error)). Try again; what was saved is kept once.")
    }

    /// One session's part of a save: which events go to `halqa.sqlite` and which to the
    /// pending file, and whether its archive row changes.
    struct SessionWrite: Sendable {
        let state: SessionState
        let others: [Event]
        let participants: [Event]
        let roomSecret: SigningKey?
        let sessionKey: SigningKey?
        let changesEntry: Bool

        init(_ events: [Event], resulting state: SessionState, roomSecret: SigningKey?, sessionKey: SigningKey?, placed: Bool) {
            // Participants' events in id order, sorted as positions: a large session's events
            // are each copied once, into where they are written.
            let arriving = events.indices.filter { events[$0].body.isParticipant }.sorted { events[$0].id < events[$1].id }
            let places = placed ? state.placements(ofHeld: arriving.map { events[$0] }) : []
            self.state = state
            var participants: [Event] = []
            var others = events.filter { !$0.body.isParticipant }
            others.reserveCapacity(events.count)
            for (n, i) in arriving.enumerated() {
                switch placed ? places[n] : .pending {
                case .pending: participants.append(events[i])
                case .settled: others.append(events[i])
                case .discarded: continue
                }
            }
            self.participants = participants
            self.others = others
            self.roomSecret = roomSecret
            self.sessionKey = sessionKey
            // The archive's row changes with what facilitators do (a reveal, a close), a
            // whole session arriving, or a reflection of a batch already shown arriving
            // after its reveal (its count is the room's already), never with a pending
            // participant's event (docs/storage.md).
            changesEntry = placed || events.contains(where: { !$0.body.isParticipant || state.isRevealed($0.id) })
        }

        /// Its rows in `halqa.sqlite` but its search passages (``writePassages(of:_:)``), in
        /// the caller's transaction.
        func writeMain(_ db: Database) throws {
            try db.cachedStatement(
                sql: """
                    INSERT INTO session (id, title, created_at, closed_at, room_secret) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (id) DO UPDATE SET closed_at = excluded.closed_at,
                        room_secret = coalesce(session.room_secret, excluded.room_secret)
                    """
            ).execute(
                arguments: [
                    Data(state.id.bytes), state.created.title, state.createdAt, state.closedAt, roomSecret.map { Data($0.raw) },
                ])
            if let sessionKey {
                // The key the running session uses: a node that joins a session again takes
                // the new key it was admitted with.
                try db.execute(
                    sql: "INSERT OR REPLACE INTO session_key (session, secret) VALUES (?, ?)",
                    arguments: [Data(state.id.bytes), Data(sessionKey.raw)])
            }
            for event in others { try TranscriptStore.insert(event, db) }
            if changesEntry { try TranscriptStore.writeEntry(state, db) }
        }

        /// Its participants' events in the pending file, in the caller's transaction.
        func writePending(_ db: Database) throws {
            for event in participants { try TranscriptStore.insert(event, db) }
        }
    }

    /// Replaces sessions' search passages: folded for the index, and as written where that
    /// differs (`original`, else NULL). Only a closed session's are kept (docs/storage.md): its
    /// rows are written in deck and reveal order, already public, one session after another. The old are deleted first and the
    /// sessions' runs recorded last, so that FTS5, which writes the index it holds in memory
    /// as a new piece of the index at the first statement that may need undoing, makes one
    /// piece of them all.
    static func writePassages(of states: [SessionState], _ db: Database) throws {
        guard !states.isEmpty else { return }
        // A session at most once (the last state given): a second run would clash in passage_span.
        var last: [EventID: Int] = [:]
        for (i, state) in states.enumerated() { last[state.id] = i }
        let states = states.indices.filter { last[states[$0].id] == $0 }.map { states[$0] }
        try deletePassages(TranscriptStore.sessionClause(states.map(\.id)), db)
        let insert = try db.cachedStatement(sql: "INSERT INTO passage (session, kind, prompt, text, original) VALUES (?, ?, ?, ?, ?)")
        var spans: [(session: EventID, first: Int64, last: Int64)] = []
        for state in states where state.isClosed {
            var first: Int64?
            var last: Int64 = 0
            let session = Data(state.id.bytes)
            for p in Passage.all(of: state) {
                let folded = SearchText.fold(p.text)
                try insert.execute(arguments: [session, p.kind.rawValue, p.prompt, folded, folded == p.text ? nil : p.text])
                last = db.lastInsertedRowID
                if first == nil { first = last }
            }
            if let first { spans.append((state.id, first, last)) }
        }
        let insertSpan = try db.cachedStatement(sql: "INSERT INTO passage_span (session, first, last) VALUES (?, ?, ?)")
        for span in spans { try insertSpan.execute(arguments: [Data(span.session.bytes), span.first, span.last]) }
    }

    /// Deletes the passages of the sessions `clause` picks (``sessionClause(_:column:)``) by
    /// their runs of rowids, and the runs.
    static func deletePassages(_ clause: String, _ db: Database) throws {
        // The runs first: FTS5's deletes, held in memory, then join the inserts that follow
        // in one piece of the index (``writePassages(of:_:)``).
        let spans = try Row.fetchAll(db, sql: "SELECT first, last FROM passage_span \(clause)")
        try db.execute(sql: "DELETE FROM passage_span \(clause)")
        for span in spans {
            try db.execute(
                sql: "DELETE FROM passage WHERE rowid BETWEEN ? AND ?", arguments: [span["first"] as Int64, span["last"] as Int64])
        }
    }

    static func insert(_ event: Event, _ db: Database) throws {
        switch event.body {
        case .reflectionSubmitted(let prompt, _, _):
            let statement = try db.cachedStatement(sql: "INSERT OR IGNORE INTO reflection (session, id, prompt, bytes) VALUES (?, ?, ?, ?)")
            try insert(event, with: statement, bytesAt: 4, db) { sqlite3_bind_int64($0, 3, Int64(prompt)) }
        case .resonated(let reflection, _):
            let statement = try db.cachedStatement(
                sql: "INSERT OR IGNORE INTO resonance (session, id, reflection, bytes) VALUES (?, ?, ?, ?)")
            try reflection.withBytes { reflection in
                try insert(event, with: statement, bytesAt: 4, db) { bindBlob($0, 3, reflection) }
            }
        default:
            let statement = try db.cachedStatement(sql: "INSERT OR IGNORE INTO event (session, id, bytes) VALUES (?, ?, ?)")
            try insert(event, with: statement, bytesAt: 3, db) { _ in SQLITE_OK }
        }
    }

    /// Runs `statement` once with the event's session (parameter 1), id (2) and bytes
    /// (`bytesAt`), and what `more` binds, each blob bound without a copy: the bytes from the
    /// event's own array, the ids from copies on the stack. An import or a catch-up inserts
    /// hundreds of thousands of events, and copying each into `Data` for GRDB's arguments cost
    /// more than SQLite's own work on a row.
    private static func insert(
        _ event: Event, with statement: Statement, bytesAt column: Int32, _ db: Database, _ more: (OpaquePointer) -> Int32
    ) throws {
        let raw = statement.sqliteStatement
        let failure: (code: Int32, message: String)? = event.session.withBytes { session in
            event.id.withBytes { id in
                event.bytes.withUnsafeBytes { bytes in
                    // The bindings point into this memory: cleared before it may go.
                    defer {
                        sqlite3_reset(raw)
                        sqlite3_clear_bindings(raw)
                    }
                    var code = bindBlob(raw, 1, session)
                    if code == SQLITE_OK { code = bindBlob(raw, 2, id) }
                    if code == SQLITE_OK { code = bindBlob(raw, column, bytes) }
                    if code == SQLITE_OK { code = more(raw) }
                    if code == SQLITE_OK { code = sqlite3_step(raw) }
                    // The message is read before the reset above can change it.
                    return code == SQLITE_DONE ? nil : (code, String(cString: sqlite3_errmsg(db.sqliteConnection)))
                }
            }
        }
        if let failure { throw DatabaseError(resultCode: ResultCode(rawValue: failure.code), message: failure.message, sql: statement.sql) }
    }

    /// Binds `bytes` without a copy (SQLITE_STATIC): they must stay where they are until the
    /// statement's bindings are cleared. Never empty: SQLite would bind NULL for no bytes.
    private static func bindBlob(_ statement: OpaquePointer, _ index: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32 {
        precondition(!bytes.isEmpty, "an event, its id and its session are never empty")
        return sqlite3_bind_blob(statement, index, bytes.baseAddress, Int32(bytes.count), nil)
    }

    /// Removes reflections from `halqa.sqlite` (a reveal this node saw no longer stands, or a
    /// data folder from before the pending file). The pending file is ``settle(_:)``'s.
    func destroy(_ ids: [EventID], in session: EventID) async throws(MeetingError) {
        guard !ids.isEmpty else { return }
        do {
            try await pool.write { db in
                for id in ids {
                    try db.execute(
                        sql: "DELETE FROM reflection WHERE session = ? AND id = ?", arguments: [Data(session.bytes), Data(id.bytes)])
                }
            }
        } catch {
            throw MeetingError(.storage, "Could not remove reflections that may not be kept (\(error)).")
        }
    }

    /// Moves each WAL's contents into its database and empties it.
    public func checkpoint() async {
        // Fails harmlessly while a reader is active; the next reveal or close tries again.
        _ = try? await pool.writeWithoutTransaction { db in try checkpointer.truncate(db) }
        _ = try? await pending.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
    }

}
