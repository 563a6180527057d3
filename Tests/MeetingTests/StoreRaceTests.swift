import Foundation
import GRDB
import Synchronization
import Testing

@testable import Meeting

/// What the store must keep, or must not keep, when things happen at the same moment: phones
/// writing while a facilitator acts, another node's events arrive, or the session is wiped.
@Suite("The store when things happen at once")
struct StoreRaceTests {
    final class Acknowledged: Sendable {
        let ids = Mutex<[EventID]>([])
        func add(_ id: EventID) { ids.withLock { $0.append(id) } }
        var all: [EventID] { ids.withLock { $0 } }
    }

    /// Threat to the no-loss rule: a reflection is on disk before its writer hears "received";
    /// the session takes it in a moment later, and a facilitator's action in between must not
    /// settle it away.
    @Test("every reflection acknowledged while facilitators act is on disk, after a reveal and after reopening the folder")
    func acknowledgedSurviveConcurrentActions() async throws {
        let folder = TemporaryFolder()
        let store = try TranscriptStore(folder: folder.path)
        let session = try await LiveSession.start(deck: trilingualDeck(prompts: 2), in: store)
        try await session.open(prompt: 0)
        let acknowledged = Acknowledged()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for phone in 0..<8 {
                group.addTask {
                    for i in 0..<25 { acknowledged.add(try await session.submitReflection(prompt: 0, text: "phone \(phone), \(i)")) }
                }
            }
            group.addTask { for i in 0..<40 { try await session.writeNote("while they write, \(i)") } }
            try await group.waitForAll()
        }
        func stored(_ store: TranscriptStore) throws -> Set<EventID> {
            Set(try store.events(of: session.id).filter { if case .reflectionSubmitted = $0.body { true } else { false } }.map(\.id))
        }
        let lost = Set(acknowledged.all).subtracting(try stored(store))
        #expect(lost.isEmpty, "\(lost.count) of \(acknowledged.all.count) acknowledged reflections are not on disk")
        #expect(await session.state.pendingCount(prompt: 0) == 200, "the session lost some it had acknowledged")
        try await session.reveal(prompt: 0)
        let reopened = try TranscriptStore(folder: folder.path)
        #expect(try stored(reopened).count == 200)
        #expect(try reopened.state(of: session.id).revealed(prompt: 0).count == 200)
    }

    /// Threat: someone who takes the laptop after a wipe; phones were still writing when the
    /// facilitator wiped the session.
    @Test("a session wiped while phones are writing leaves none of their text in any file")
    func wipeWhileWriting() async throws {
        let folder = TemporaryFolder()
        let store = try TranscriptStore(folder: folder.path)
        let session = try await LiveSession.start(deck: trilingualDeck(prompts: 1), in: store)
        try await session.open(prompt: 0)
        let acknowledged = Acknowledged()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for phone in 0..<8 {
                group.addTask {
                    for i in 0..<60 {
                        guard let id = try? await session.submitReflection(prompt: 0, text: "wiped words \(phone)-\(i)") else { return }
                        acknowledged.add(id)
                    }
                }
            }
            group.addTask {
                while acknowledged.all.count < 40 { try await Task.sleep(for: .milliseconds(2)) }
                _ = try await session.wipe()
            }
            try await group.waitForAll()
        }
        #expect(acknowledged.all.count >= 40)
        #expect(
            !folder.allBytes().containsSequence(Array("wiped words".utf8)), "a reflection written as the session was wiped is still on disk"
        )
        #expect(try TranscriptStore(folder: folder.path).sessionIDs().isEmpty)
    }

    /// Writes `count` sessions' rows (no events) with titles of about 1 KB holding `marker`, in
    /// one transaction: several megabytes, past the 1,000 WAL pages that start a checkpoint.
    private func writeLarge(_ store: TranscriptStore, count: Int, marker: String) async throws {
        try await store.pool.write { db in
            for i in 0..<count {
                try db.execute(
                    sql: "INSERT INTO session (id, title, created_at) VALUES (?, ?, 0)",
                    arguments: [Data(randomBytes(32)), "\(marker) \(i) " + String(repeating: "x", count: 1000)])
            }
        }
    }

    /// How many sessions' rows `halqa.sqlite` holds by itself: a copy of it alone, without
    /// its WAL, as someone copying "the database" to a stick would take (nil if the copy does
    /// not open, as one taken mid-checkpoint may not).
    private func rowsInFileAlone(_ path: String) async throws -> Int? {
        let copy = TemporaryFolder()
        defer { withExtendedLifetime(copy) {} }
        let alone = copy.path + "/alone.sqlite"
        try FileManager.default.copyItem(atPath: path, toPath: alone)
        return try? await DatabaseQueue(path: alone).read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM session") }
    }

    /// Threat to the no-loss rule: load shedding cuts the power after a settle moved
    /// reflections into `halqa.sqlite` and deleted them from the pending file. Each file's
    /// commit must be on disk before it returns (`synchronous=FULL`, 2) on the connection that
    /// writes it; GRDB sets NORMAL (1) when it turns WAL on, which fsyncs only at checkpoints.
    @Test("both files are written with synchronous=FULL, on the connections that write them")
    func everyCommitIsSynced() async throws {
        let folder = TemporaryFolder()
        let store = try TranscriptStore(folder: folder.path)
        let main = try await store.pool.write { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
        let pending = try await store.pending.write { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
        #expect(main == 2, "halqa.sqlite's writer has synchronous=\(main ?? -1)")
        #expect(pending == 2, "pending.sqlite's writer has synchronous=\(pending ?? -1)")
    }

    /// Threat to the organiser's copy: a data folder copied without its WAL (only
    /// `halqa.sqlite`, as someone copying "the database" to a stick would) must hold what was
    /// committed, soon after, while the node keeps running: nobody closes it or asks for a
    /// checkpoint. The copying happens in the background now, not inside the commit.
    @Test("what a large write committed is in halqa.sqlite itself soon after, without a close or a reveal")
    func largeWriteReachesTheDatabaseFile() async throws {
        let folder = TemporaryFolder()
        let store = try TranscriptStore(folder: folder.path)
        try await writeLarge(store, count: 5000, marker: "copied")
        var held = 0
        for _ in 0..<200 where held < 5000 {
            try await Task.sleep(for: .milliseconds(50))
            held = try await rowsInFileAlone(store.path) ?? 0
        }
        #expect(held == 5000, "halqa.sqlite alone holds \(held) of the 5,000 rows committed, 10 s later")
        withExtendedLifetime(store) {}
    }

    /// Threat to an organiser's laptop: a long import (a year of sessions, many commits one
    /// after another) while the WAL is copied in the background. SQLite writes the WAL from
    /// its start again only when a write begins with every frame copied, which a writer that
    /// never pauses never found: the WAL grew by everything the import wrote (95 MB for 250
    /// sessions, gigabytes for a year) on a laptop's small disk.
    @Test("a long run of commits starts the WAL over instead of growing it by all they wrote")
    func longImportKeepsTheWALSmall() async throws {
        let folder = TemporaryFolder()
        let store = try TranscriptStore(folder: folder.path)
        let wal = store.path + "-wal"
        var largest = 0
        // 160 commits of 120 rows of about 1 KB, written without a pause: each rewrites pages
        // all over the table.
        for commit in 0..<160 {
            try await writeLarge(store, count: 120, marker: "commit \(commit)")
            let size = (try? FileManager.default.attributesOfItem(atPath: wal)[.size] as? Int) ?? 0
            largest = max(largest, size)
        }
        #expect(try await store.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM session") } == 19200)
        // SQLite's own checkpoint keeps it near 1,000 pages (4 MB), the background's about
        // twice that here (9-10 MB); grown by every commit, it reached 252 MB, as it did too
        // when a copy that had caught up was taken to start the WAL over by itself. A quarter
        // of that leaves room for a background thread starved on a busy machine.
        #expect(largest < 60_000_000, "the WAL reached \(largest / 1_000_000) MB: it grew with the commits instead of starting over")
        withExtendedLifetime(folder) {}
    }

    /// Threat to the organiser's copy, again: a command (an import) ends right after a large
    /// write, while the background checkpoint is copying; a process that exited then would
    /// leave the copy undone, and `halqa.sqlite` copied alone to a stick would lack the import.
    /// The store waits for the copy as it goes away.
    @Test("a store that goes away right after a large write leaves it all in halqa.sqlite itself")
    func closingAfterLargeWrite() async throws {
        let folder = TemporaryFolder()
        let path: String
        do {
            let store = try TranscriptStore(folder: folder.path)
            path = store.path
            try await writeLarge(store, count: 8000, marker: "closing")
        }
        let held = try await rowsInFileAlone(path)
        #expect(held == 8000, "halqa.sqlite alone holds \(held ?? 0) of the 8,000 rows once the store is gone")
    }

    /// Threat: someone who takes the laptop after a wipe that began while the WAL was being
    /// copied in the background. SQLite refuses a second checkpoint at the same moment outright;
    /// the wipe must wait for the first, then empty the WAL, not fail or leave it.
    @Test("a wipe right after a large write still empties the WAL and leaves none of its text")
    func wipeDuringBackgroundCheckpoint() async throws {
        for round in 0..<3 {
            let folder = TemporaryFolder()
            let store = try TranscriptStore(folder: folder.path)
            try await writeLarge(store, count: 8000, marker: "checkpointed words")
            let wiped = try await store.wipe(nil)
            #expect(wiped.sessions == 8000, "round \(round)")
            let wal = try FileManager.default.attributesOfItem(atPath: store.path + "-wal")[.size] as? Int
            #expect(wal == 0, "round \(round): the WAL holds \(wal ?? -1) bytes after the wipe")
            #expect(try folder.filesHolding("checkpointed words").isEmpty, "round \(round)")
        }
    }
}
