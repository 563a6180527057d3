import Foundation
import Meeting
import Testing

/// Threat: someone who later takes the laptop (or its disk) and searches its files.
@Suite("halqa wipe: the text is gone from every file of the data folder")
struct WipeTests {
    // "zanzibarquartz" is a word of its own, so the search index holds it whole too.
    let wiped = (1...40).map { "wipe-me \($0): zanzibarquartz میرے والد نے کبھی معافی نہیں مانگی \($0)" }
    let kept = ["keep-me 1: the other group's words stay.", "keep-me 2", "keep-me 3"]

    /// A closed session whose reflections were revealed (so also indexed for search), with a note,
    /// and one left pending (destroyed when the session closes), through the library.
    func session(_ title: String, _ texts: [String], in store: TranscriptStore, close: Bool = true) async throws -> EventID {
        let deck = try DeckParser.parse(fileAt: CLI.repository.path + "/seeds/decks/real-man.deck").get()
        let session = try await LiveSession.start(deck: deck, title: title, in: store)
        try await session.open(prompt: 0)
        for text in texts.dropLast() { _ = try await session.submitReflection(prompt: 0, text: text) }
        try await session.reveal(prompt: 0)
        try await session.open(prompt: 1)
        _ = try await session.submitReflection(prompt: 1, text: texts.last!)
        try await session.writeNote("note of \(title)", prompt: 1)
        if close { try await session.closeSession() }
        return session.id
    }

    @Test("wiping a session leaves none of its text in the database, WAL or free pages; the other session is untouched")
    func wipeOne() async throws {
        let folder = TemporaryFolder()
        var ids: [EventID] = []
        do {
            let store = try TranscriptStore(folder: folder.path)
            ids.append(try await session("Secret circle", wiped, in: store, close: true))
            ids.append(try await session("Kept circle", kept + ["kept pending"], in: store, close: false))
        }
        // Before: the text is there (so the search below can find it).
        #expect(try !folder.filesHolding(wiped[0]).isEmpty)

        let refused = try CLI.run(["wipe", ids[0].short, "--data", folder.path])
        #expect(refused.status == 1 && refused.stderr.contains("--yes"), "\(refused.stderr)")
        #expect(try !folder.filesHolding(wiped[0]).isEmpty, "nothing is wiped without confirmation")

        let result = try CLI.run(["wipe", ids[0].short, "--yes", "--data", folder.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("Wiped session \(ids[0].short) \"Secret circle\": 1 session, 39 reflections"), "\(result.stdout)")
        for text in wiped + ["Secret circle", "note of Secret circle", "wipe-me", "zanzibarquartz", "معافی"] {
            let holding = try folder.filesHolding(text)
            #expect(holding.isEmpty, "\(text) is still in \(holding)")
        }
        let sessions = try CLI.run(["sessions", "--data", folder.path])
        #expect(!sessions.stdout.contains(ids[0].short) && sessions.stdout.contains(ids[1].short))
        let store = try TranscriptStore(folder: folder.path)
        #expect(try store.state(of: ids[1]).revealed(prompt: 0).map(\.text).sorted() == kept)
        #expect(try store.state(of: ids[1]).pendingCount(prompt: 1) == 1)
        #expect(try store.integrityCheck() == "ok")
    }

    @Test("wipe --all removes every session and the node's key")
    func wipeAll() async throws {
        let folder = TemporaryFolder()
        let before: String
        do {
            let store = try TranscriptStore(folder: folder.path)
            before = store.nodeKey.publicKey.fingerprint
            _ = try await session("Secret circle", wiped, in: store)
            _ = try await session("Kept circle", kept + ["kept pending"], in: store)
        }
        let result = try CLI.run(["wipe", "--all", "--yes", "--data", folder.path])
        #expect(result.status == 0 && result.stdout.contains("2 sessions"), "\(result.stdout)\(result.stderr)")
        for text in wiped + kept + ["Secret circle", "Kept circle"] {
            #expect(try folder.filesHolding(text).isEmpty, "\(text)")
        }
        #expect(try TranscriptStore(folder: folder.path).nodeKey.publicKey.fingerprint != before, "a new key, not the old one")
    }
}
