import Foundation
import HalqaTestSupport
import Testing

@testable import Meeting

/// Check-ins: answers by picture, counted and never attributed (docs/decks.md, "Check-ins").
@Suite("Check-ins")
struct CheckInTests {
    static let deckText = """
        title: Week 1
        title.ur: پہلا ہفتہ
        languages: en ur

        [check-in]
        scale: faces
        en: How was your week?
        ur: آپ کا ہفتہ کیسا رہا؟
        note: Read it aloud for those who do not read.
        note.ur: جو پڑھ نہیں سکتے ان کے لیے اونچی آواز میں پڑھیں۔

        [prompt]
        en: What helped you this week?
        ur: اس ہفتے آپ کو کس چیز سے مدد ملی؟
        time: 8 min

        [check-in]
        scale: agree
        en: A man can ask for help without being weak.
        ur: مرد کمزور ہوئے بغیر مدد مانگ سکتا ہے۔
        """

    static func deck() throws -> Deck { try DeckParser.parse(deckText).get() }

    @Test("a deck holds check-ins with their scale; a check-in's mistakes point at their lines")
    func deckFormat() throws {
        let deck = try Self.deck()
        #expect(deck.prompts.map(\.scale) == [.faces, nil, .agree])
        #expect(deck.prompts[0].facilitatorNote?[.ur] != nil)
        // What a session keeps of the deck reads back the same.
        #expect(try Deck(json: deck.json) == deck)
        let broken = """
            title: Broken

            [check-in]
            en: How was your week?

            [check-in]
            scale: stars
            en: How was your week?

            [prompt]
            scale: faces
            en: What helped?

            [check-in]
            scle: faces
            en: How was your week?
            """
        guard case .failure(let failure) = DeckParser.parse(broken) else {
            Issue.record("a broken deck was accepted")
            return
        }
        let lines = failure.problems.map(\.line)
        #expect(lines == [3, 7, 11, 15], "\(failure)")
        #expect(failure.problems[0].message.contains("no scale"))
        #expect(failure.problems[1].message.contains("unknown scale \"stars\""))
        #expect(failure.problems[2].message.contains("[check-in]"))
        #expect(failure.problems[3].message.contains("Did you mean \"scale\""))
    }

    @Test("answered by 2 phones a check-in shows nothing anywhere; by 3, the counts appear together, and only counts")
    func countsOnlyAtTheMinimum() async throws {
        let folder = TemporaryFolder()
        let session = try await LiveSession.start(deck: try Self.deck(), in: TranscriptStore(folder: folder.path))
        try await session.open(prompt: 0)
        var nonces: [String] = []
        func answer(_ option: Int) async throws {
            let id = try await session.submit(session.answer(prompt: 0, option: option))
            guard case .reflectionSubmitted(_, _, let nonce)? = await session.state.event(id)?.body else { return }
            nonces.append(Data(nonce).base64EncodedString())
        }
        try await answer(1)
        try await answer(3)
        // Two answers: no reveal, no count, and nothing of them in the main file or any export.
        await expectRefusal(.tooFewToReveal) { try await session.reveal(prompt: 0) }
        var state = await session.state
        #expect(state.checkInCounts(prompt: 0) == [0, 0, 0, 0, 0])
        #expect(state.pendingCount(prompt: 0) == 2)
        var transcript = Transcript(state)
        #expect(transcript.prompts[0].checkIn?.counts.map(\.count) == [0, 0, 0, 0, 0])
        #expect(transcript.events.allSatisfy { encoded in nonces.allSatisfy { !encoded.contains($0) } })
        let main = try Data(contentsOf: URL(fileURLWithPath: folder.path + "/halqa.sqlite"))
        let inMain = nonces.contains { !ArrivalOrder.offsets(of: Array($0.utf8), in: main).isEmpty }
        #expect(!inMain, "a pending answer is in the main file")
        // A third answer: the reveal shows the three together, as counts.
        try await answer(3)
        try await session.reveal(prompt: 0)
        state = await session.state
        #expect(state.checkInCounts(prompt: 0) == [0, 1, 0, 2, 0])
        transcript = Transcript(state)
        #expect(transcript.prompts[0].reflections.isEmpty)
        #expect(
            transcript.prompts[0].checkIn
                == .init(scale: "faces", counts: zip(CheckInScale.faces.optionNames, [0, 1, 0, 2, 0]).map { .init(option: $0, count: $1) }))
        let markdown = transcript.markdown()
        #expect(
            markdown.contains("| bad | 1 |") && markdown.contains("| good | 2 |") && markdown.contains("_Check-in: 3 answers, counted._"))
        // Nothing of an answer is there to search, tap or hide: it is a count.
        #expect(!Passage.all(of: state).contains { $0.kind == .reflection })
        let shown = try #require(state.revealed(prompt: 0).first)
        await expectRefusal(.noSuchReflection) { try await session.resonate(with: shown.id) }
        await expectRefusal(.notRevealed) { try await session.hide(shown.id, reason: "test") }
        // A picture sent to a written prompt, or words or a missing option to a check-in, are refused.
        try await session.open(prompt: 1)
        #expect(throws: MeetingError.self) { try session.answer(prompt: 1, option: 0) }
        try await session.open(prompt: 2)
        #expect(throws: MeetingError.self) { try session.answer(prompt: 2, option: 3) }
        await expectRefusal(.notAnOption) { try await session.submitReflection(prompt: 2, text: "I agree") }
        _ = try await session.submit(session.answer(prompt: 2, option: 2))
    }

    @Test(
        "a check-in is revealed once and takes no answer after; a page that sends its once with another picture makes an unrelated event; a batch counts only once complete"
    )
    func revealedOnce() async throws {
        let folder = TemporaryFolder()
        let session = try await LiveSession.start(deck: try Self.deck(), in: TranscriptStore(folder: folder.path))
        try await session.open(prompt: 0)
        // The same once: the same picture is the very same event; another picture is another event, with another nonce.
        let once = randomBytes(16)
        let first = try session.answer(prompt: 0, option: 1, once: once)
        #expect(try session.answer(prompt: 0, option: 1, once: once).event.id == first.event.id)
        let other = try session.answer(prompt: 0, option: 4, once: once)
        guard case .reflectionSubmitted(_, _, let a) = first.event.body, case .reflectionSubmitted(_, _, let b) = other.event.body else {
            Issue.record("not answers")
            return
        }
        #expect(a != b, "two answers sent with one once share a nonce")
        for option in [1, 2, 2, 3] { _ = try await session.submit(session.answer(prompt: 0, option: option)) }
        try await session.reveal(prompt: 0)
        await expectRefusal(.promptNotOpen) { _ = try await session.submit(session.answer(prompt: 0, option: 0)) }
        await expectRefusal(.tooFewToReveal) { try await session.reveal(prompt: 0) }
        // A node holding the reveal but only three of its four answers (the minimum) shows no count yet.
        let state = await session.state
        let answers = state.revealed(prompt: 0).map(\.id)
        let partial = state.removing([answers[0]])
        #expect(partial.checkInCounts(prompt: 0) == [0, 0, 0, 0, 0])
        #expect(state.checkInCounts(prompt: 0) == [0, 1, 2, 1, 0])
    }

    @Test("no file lays a check-in's answers out in arrival order, after the reveal or after the close (byte offsets, 26 runs)")
    func noArrivalOrderOfAnswers() async throws {
        var order = ArrivalOrder()
        for n in Array(3...15) + Array(3...15) {
            let folder = TemporaryFolder()
            let session = try await LiveSession.start(deck: try Self.deck(), in: TranscriptStore(folder: folder.path))
            try await session.open(prompt: 0)
            var nonces: [String] = []
            for i in 0..<n {
                let id = try await session.submit(session.answer(prompt: 0, option: i % 5))
                if case .reflectionSubmitted(_, _, let nonce)? = await session.state.event(id)?.body {
                    nonces.append(Data(nonce).base64EncodedString())
                }
            }
            try await session.reveal(prompt: 0)
            order.add(texts: nonces, folders: [("host", folder.path)], phase: "after a reveal")
            try await session.closeSession()
            order.add(texts: nonces, folders: [("host", folder.path)], phase: "after the close")
        }
        let worst = try #require(order.worst, "no answer was found in any file")
        #expect(abs(worst.z) < ArrivalOrder.limit, "placement in the files follows arrival order:\n\(order.report)")
    }

    @Test("the answers' byte-offset test catches a planted leak: answers written one by one into the main file")
    func plantedAnswerLeakIsCaught() async throws {
        var order = ArrivalOrder()
        for n in 3...14 {
            let folder = TemporaryFolder()
            let store = try TranscriptStore(folder: folder.path)
            let session = try await LiveSession.start(deck: try Self.deck(), in: store)
            var nonces: [String] = []
            for i in 0..<n {
                let nonce = randomBytes(16)
                nonces.append(Data(nonce).base64EncodedString())
                let event = Event.participant(
                    .reflectionSubmitted(prompt: 0, text: String(i % 5), nonce: nonce), session: session.id, roomKey: SigningKey())
                try await store.pool.write { db in try TranscriptStore.insert(event, db) }
            }
            await store.checkpoint()
            order.add(texts: nonces, folders: [("host", folder.path)], phase: "planted")
        }
        #expect(abs(order.worst?.z ?? 0) > ArrivalOrder.limit, "a planted leak went unnoticed:\n\(order.report)")
    }
}
