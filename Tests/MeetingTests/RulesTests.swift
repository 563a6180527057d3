import Foundation
import Testing

@testable import Meeting

@Suite("The rules of the meeting")
struct RulesTests {
    let folder = TemporaryFolder()

    func started(minimum: Int = 3) async throws -> LiveSession {
        try await LiveSession.start(deck: trilingualDeck(), minimumToReveal: minimum, in: TranscriptStore(folder: folder.path))
    }

    @Test("a reflection to a prompt that is not open is refused, naming the open one")
    func reflectionToClosedPrompt() async throws {
        let session = try await started()
        let none = await expectRefusal(.promptNotOpen) { _ = try await session.submitReflection(prompt: 0, text: "hello") }
        #expect(none.contains("no prompt is open"))
        try await session.open(prompt: 1)
        let other = await expectRefusal(.promptNotOpen) { _ = try await session.submitReflection(prompt: 0, text: "hello") }
        #expect(other.contains("Prompt 1 is not open; prompt 2 is"))
        await expectRefusal(.noSuchPrompt) { _ = try await session.submitReflection(prompt: 9, text: "hello") }
        _ = try await session.submitReflection(prompt: 1, text: "accepted")
        #expect(await session.state.pendingCount(prompt: 1) == 1)
    }

    /// Threat: a co-facilitator's node (or a bug) that signs a reveal listing one real
    /// reflection and ids nobody holds, or another prompt's, so that one man's words would
    /// stand alone on every screen.
    @Test("a reveal that lists unknown ids or another prompt's shows nothing until it holds the minimum of its own prompt's reflections")
    func revealCountsHeldReflections() throws {
        let creator = SigningKey()
        let room = SigningKey()
        let created = SessionCreated(
            title: "t", deck: trilingualDeck(), minimumToReveal: 3, roomKey: room.publicKey, nonce: randomBytes(16))
        let first = Event.facilitator(.sessionCreated(created), session: nil, by: creator, at: 1, clock: 0)
        var state = try SessionState(events: [first])
        func reflection(_ prompt: Int, _ text: String) -> Event {
            Event.participant(.reflectionSubmitted(prompt: prompt, text: text, nonce: randomBytes(16)), session: state.id, roomKey: room)
        }
        state.insert(Event.facilitator(.promptOpened(prompt: 1), session: state.id, by: creator, at: 2, clock: 1))
        let other = reflection(1, "another prompt's words")
        state.insert(other)
        state.insert(Event.facilitator(.promptOpened(prompt: 0), session: state.id, by: creator, at: 3, clock: 2))
        let alone = reflection(0, "the only real one")
        state.insert(alone)
        let unknown = [EventID.of(Array("nobody holds this".utf8)), EventID.of(Array("nor this".utf8))]
        let reveal = Event.facilitator(
            .reflectionsRevealed(prompt: 0, order: [unknown[0], alone.id, other.id, unknown[1]]),
            session: state.id, by: creator, at: 4, clock: 3)
        state.insert(reveal)
        #expect(state.revealed(prompt: 0).isEmpty, "one real reflection is shown alone")
        let aloneShows = state.isRevealed(alone.id)
        #expect(!aloneShows)
        #expect(Transcript(state).prompts[0].reflections.isEmpty)
        #expect(!state.exportableEvents.contains { $0.id == alone.id })
        // The same kind of reveal, once it lists the minimum of its own prompt's reflections
        // that this node holds, shows them (and only them).
        let held = [reflection(0, "held two"), reflection(0, "held three")]
        let enough = Event.facilitator(
            .reflectionsRevealed(prompt: 0, order: [unknown[0], alone.id] + held.map(\.id)),
            session: state.id, by: creator, at: 4, clock: 3)
        var honest = try SessionState(events: Array(state.allEvents.filter { $0.id != reveal.id }) + held)
        #expect(honest.revealed(prompt: 0).isEmpty)
        honest.insert(enough)
        #expect(Set(honest.revealed(prompt: 0).map(\.text)) == ["the only real one", "held two", "held three"])
        // What an export and a store look at all at once is what each reflection's own answer says.
        for s in [state, honest] {
            let each = Set(s.allEvents.map(\.id).filter { s.isRevealed($0) })
            #expect(s.revealedReflections() == each)
        }
        #expect(honest.revealedReflections() == Set([alone.id] + held.map(\.id)))
        // The archive's counts are the room's: what is shown, and of it what is not hidden.
        var hid = honest
        hid.insert(
            Event.facilitator(
                .reflectionHidden(reflection: held[0].id, reason: "names someone"), session: state.id, by: creator, at: 5, clock: 4))
        for s in [state, honest, hid] {
            for p in 0..<2 {
                let shown = s.revealed(prompt: p)
                let counts = s.revealedCounts(prompt: p)
                #expect(counts.shown == shown.count && counts.visible == shown.filter { $0.hiddenReason == nil }.count)
            }
        }
        #expect(hid.revealedCounts(prompt: 0) == (shown: 3, visible: 2))
        #expect(ArchiveEntry(hid).reflections == 2)
        #expect(Set(honest.exportableEvents.map(\.id)).isSuperset(of: [alone.id] + held.map(\.id)))
    }

    @Test("reveal below the minimum is refused; the facilitator may choose another minimum")
    func revealMinimum() async throws {
        let session = try await started()
        try await session.open(prompt: 0)
        for text in ["one", "two"] { _ = try await session.submitReflection(prompt: 0, text: text) }
        let message = await expectRefusal(.tooFewToReveal) { try await session.reveal(prompt: 0) }
        #expect(message.contains("Only 2 reflections") && message.contains("at least 3"))
        #expect(await session.state.revealed(prompt: 0).isEmpty)
        _ = try await session.submitReflection(prompt: 0, text: "three")
        #expect(try await session.reveal(prompt: 0).count == 3)

        let five = try await started(minimum: 5)
        try await five.open(prompt: 0)
        for i in 0..<4 { _ = try await five.submitReflection(prompt: 0, text: "r\(i)") }
        let fiveMessage = await expectRefusal(.tooFewToReveal) { try await five.reveal(prompt: 0) }
        #expect(fiveMessage.contains("at least 5"))
        for bad in [0, 1, 51] { await expectRefusal(.invalidMinimum) { _ = try await started(minimum: bad) } }
    }

    @Test("a second reveal needs the minimum again, counted among new reflections only")
    func secondReveal() async throws {
        let session = try await started()
        try await session.open(prompt: 0)
        for i in 0..<3 { _ = try await session.submitReflection(prompt: 0, text: "first \(i)") }
        try await session.reveal(prompt: 0)
        _ = try await session.submitReflection(prompt: 0, text: "late one")
        let message = await expectRefusal(.tooFewToReveal) { try await session.reveal(prompt: 0) }
        #expect(message.contains("Only 1 reflection new since the last reveal"))
        for i in 0..<2 { _ = try await session.submitReflection(prompt: 0, text: "late \(i)") }
        #expect(try await session.reveal(prompt: 0).count == 6)
    }

    @Test("nothing can be added after the session is closed")
    func afterClose() async throws {
        let session = try await started()
        try await session.open(prompt: 0)
        for i in 0..<3 { _ = try await session.submitReflection(prompt: 0, text: "r\(i)") }
        let shown = try await session.reveal(prompt: 0)
        try await session.closeSession()
        await expectRefusal(.sessionClosed) { try await session.open(prompt: 1) }
        await expectRefusal(.sessionClosed) { try await session.writeNote("late note") }
        await expectRefusal(.sessionClosed) { try await session.hide(shown[0].id, reason: "late") }
        await expectRefusal(.sessionClosed) { try await session.closeSession() }
        await expectRefusal(.sessionClosed) { _ = try await session.submitReflection(prompt: 0, text: "late") }
    }

    @Test("empty, oversized, non-UTF-8 and control-character reflections are refused with a clear message")
    func badText() async throws {
        let session = try await started()
        try await session.open(prompt: 0)
        await expectRefusal(.emptyText) { _ = try await session.submitReflection(prompt: 0, text: "") }
        await expectRefusal(.emptyText) { _ = try await session.submitReflection(prompt: 0, text: " \n\t ") }
        let long = await expectRefusal(.textTooLong) {
            _ = try await session.submitReflection(prompt: 0, text: String(repeating: "a", count: 1001))
        }
        #expect(long.contains("1001 characters") && long.contains("limit is 1000"))
        await expectRefusal(.invalidUTF8) { _ = try await session.submitReflection(prompt: 0, utf8: [0x68, 0xC3, 0x28]) }
        await expectRefusal(.controlCharacters) { _ = try await session.submitReflection(prompt: 0, text: "a\u{0}b") }
        // Counted as a person counts: 1,000 Urdu letters with marks, or family emoji, fit.
        let urdu = String(repeating: "ہِ", count: 1000)
        let family = String(repeating: "👨‍👩‍👦", count: 1000)
        #expect(urdu.unicodeScalars.count == 2000 && family.utf8.count > 10_000)
        _ = try await session.submitReflection(prompt: 0, text: urdu)
        _ = try await session.submitReflection(prompt: 0, utf8: Array(family.utf8))
        await expectRefusal(.textTooLong) { _ = try await session.submitReflection(prompt: 0, text: urdu + "ے") }
        #expect(await session.state.pendingCount(prompt: 0) == 2)
    }

    @Test("prompts open once; opening the next closes the current and destroys its unrevealed reflections")
    func promptLifecycle() async throws {
        let session = try await started()
        try await session.open(prompt: 0)
        _ = try await session.submitReflection(prompt: 0, text: "alone")
        try await session.open(prompt: 1)
        let state = await session.state
        #expect(state.prompts[0].status == .closed && state.openPrompt == 1)
        #expect(state.pendingCount(prompt: 0) == 0)
        let message = await expectRefusal(.promptAlreadyOpened) { try await session.open(prompt: 0) }
        #expect(message.contains("closed prompt stays closed"))
        await expectRefusal(.promptNotOpen) { try await session.close(prompt: 2) }
        await expectRefusal(.noSuchPrompt) { try await session.open(prompt: 3) }
    }

    @Test("hiding needs a revealed reflection and a reason; resonating needs a visible one")
    func hideAndResonate() async throws {
        let session = try await started()
        try await session.open(prompt: 0)
        var ids: [EventID] = []
        for i in 0..<3 { ids.append(try await session.submitReflection(prompt: 0, text: "r\(i)")) }
        _ = try await session.submitReflection(prompt: 0, text: "pending")
        let pending = await session.state.pendingIDs(prompt: 0)
        await expectRefusal(.notRevealed) { try await session.hide(pending[0], reason: "x") }
        await expectRefusal(.noSuchReflection) { try await session.resonate(with: pending[0]) }
        let shown = try await session.reveal(prompt: 0)
        await expectRefusal(.emptyText) { try await session.hide(shown[0].id, reason: "  ") }
        try await session.resonate(with: shown[1].id)
        try await session.resonate(with: shown[1].id)
        try await session.hide(shown[0].id, reason: "named a neighbour")
        await expectRefusal(.alreadyHidden) { try await session.hide(shown[0].id, reason: "again") }
        await expectRefusal(.noSuchReflection) { try await session.resonate(with: shown[0].id) }
        let after = await session.state.revealed(prompt: 0)
        #expect(after.first { $0.id == shown[1].id }?.resonance == 2)
        #expect(after.first { $0.id == shown[0].id }?.hiddenReason == "named a neighbour")
        // The room taps what it sees now: once the next prompt opens, the last one's are not tapped.
        try await session.open(prompt: 1)
        await expectRefusal(.notResonable) { try await session.resonate(with: shown[1].id) }
    }

    @Test("a node that holds a session without its room key cannot take reflections")
    func archiveCannotTakeReflections() async throws {
        let session = try await started()
        try await session.open(prompt: 0)
        let other = TemporaryFolder()
        let archive = try TranscriptStore(folder: other.path)
        _ = try await archive.importTranscript(Transcript(await session.state).json())
        let copy = try await LiveSession.resume(session.id, in: archive)
        await expectRefusal(.cannotAcceptReflections) { _ = try await copy.submitReflection(prompt: 0, text: "hi") }
    }
}
