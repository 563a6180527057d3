import Foundation
@_exported import HalqaTestSupport
import Testing

@testable import Meeting

/// A small deterministic generator, so a failing random case can be replayed from its seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A three-prompt deck in English, Urdu and Pashto.
func trilingualDeck(prompts: Int = 3) -> Deck {
    Deck(
        title: LocalizedText([.en: "Fathers and sons", .ur: "باپ اور بیٹے", .ps: "پلرونه او زامن"]),
        prompts: (0..<prompts).map { i in
            Prompt(
                text: LocalizedText([
                    .en: "Prompt \(i + 1): what did your father teach you?",
                    .ur: "سوال \(i + 1): آپ کے والد نے آپ کو کیا سکھایا؟",
                    .ps: "پوښتنه \(i + 1): ستا پلار تا ته څه ور زده کړل؟",
                ]),
                timeBox: 300, facilitatorNote: LocalizedText([.en: "Allow silence."]))
        })
}

/// Expects `work` to be refused with `code`, and returns the message a person would see.
@discardableResult
func expectRefusal(
    _ code: MeetingError.Code, sourceLocation: SourceLocation = #_sourceLocation,
    _ work: () async throws -> Void
) async -> String {
    do {
        try await work()
        Issue.record("expected a refusal \(code), but it was accepted", sourceLocation: sourceLocation)
    } catch let error as MeetingError {
        #expect(error.code == code, "\(error.message)", sourceLocation: sourceLocation)
        return error.message
    } catch {
        Issue.record("expected MeetingError \(code), got \(error)", sourceLocation: sourceLocation)
    }
    return ""
}

/// Everything about a state that a person, an export or a later action could observe.
struct Snapshot: Hashable, CustomStringConvertible {
    var transcript: Transcript
    var pending: [Set<EventID>]
    var destroyed: Set<EventID>
    var hidden: [EventID: String]
    var openPrompt: Int?
    var clock: Int
    var facilitators: Set<PublicKey>

    init(_ state: SessionState) {
        transcript = Transcript(state)
        pending = state.prompts.indices.map { Set(state.pendingIDs(prompt: $0)) }
        destroyed = Set(state.destroyedIDs)
        hidden = state.hiddenReasons
        openPrompt = state.openPrompt
        clock = state.clock
        facilitators = state.facilitators
    }

    /// Short, so that a failure names what differs without printing every event.
    var description: String {
        let shown = transcript.prompts.map { "\($0.status):\($0.reflections.count)" }.joined(separator: ",")
        return "prompts[\(shown)] pending\(pending.map(\.count)) destroyed:\(destroyed.count) hidden:\(hidden.count) "
            + "open:\(openPrompt.map(String.init) ?? "-") clock:\(clock) events:\(transcript.events.count) notes:\(transcript.notes.count)"
    }
}

/// Generates plausible random sessions as events, as two facilitators (sometimes acting on
/// a stale view, as two nodes would), participants, and forgers would produce them.
struct RandomSession {
    var rng: SplitMix64
    let creator = SigningKey()
    let cofacilitator = SigningKey()
    let outsider = SigningKey()
    let room = SigningKey()
    let wrongRoom = SigningKey()
    var events: [Event] = []
    var forged: Set<EventID> = []
    var state: SessionState
    var stale: SessionState
    var at: Int64 = 1_700_000_000_000

    init(seed: UInt64, prompts: Int = 4) {
        rng = SplitMix64(seed: seed)
        let created = SessionCreated(
            title: "Session \(seed)", deck: trilingualDeck(prompts: prompts),
            minimumToReveal: Int.random(in: 2...3, using: &rng), roomKey: room.publicKey, nonce: randomBytes(16))
        let first = Event.facilitator(.sessionCreated(created), session: nil, by: creator, at: at, clock: 0)
        state = try! SessionState(events: [first])
        stale = state
        events = [first]
        add(Event.facilitator(.facilitatorGranted(key: cofacilitator.publicKey), session: state.id, by: creator, at: at, clock: 1))
    }

    mutating func add(_ event: Event, forged isForged: Bool = false) {
        events.append(event)
        if isForged { forged.insert(event.id) }
        state.insert(event)
        if Int.random(in: 0..<3, using: &rng) == 0 { stale = state }
    }

    mutating func facilitator(_ body: EventBody) {
        at += Int64.random(in: 1...5000, using: &rng)
        let useStale = Bool.random(using: &rng)
        let key = Bool.random(using: &rng) ? creator : cofacilitator
        let clock = (useStale ? stale.clock : state.clock) + 1
        add(Event.facilitator(body, session: state.id, by: key, at: at, clock: clock))
    }

    mutating func run(steps: Int) -> [Event] {
        let n = state.prompts.count
        for _ in 0..<steps {
            let revealed = state.prompts.indices.flatMap { state.revealed(prompt: $0).map(\.id) }
            let prompt = state.openPrompt ?? Int.random(in: 0..<n, using: &rng)
            switch Int.random(in: 0..<100, using: &rng) {
            case 0..<10: facilitator(.promptOpened(prompt: Int.random(in: 0..<n, using: &rng)))
            case 10..<50:
                add(
                    Event.participant(
                        .reflectionSubmitted(prompt: prompt, text: "words \(rng.next() % 1000) غصہ", nonce: randomBytes(16)),
                        session: state.id, roomKey: room))
            case 50..<60:
                var pending = state.pendingIDs(prompt: prompt).sorted()
                pending.shuffle(using: &rng)
                if Bool.random(using: &rng), pending.count > 1 { pending.removeLast() }
                facilitator(.reflectionsRevealed(prompt: prompt, order: pending))
            case 60..<65:
                if let r = revealed.randomElement(using: &rng) { facilitator(.reflectionHidden(reflection: r, reason: "names a person")) }
            case 65..<80:
                if let r = revealed.randomElement(using: &rng) {
                    add(Event.participant(.resonated(reflection: r, nonce: randomBytes(16)), session: state.id, roomKey: room))
                }
            case 80..<85: facilitator(.noteWritten(prompt: Bool.random(using: &rng) ? prompt : nil, text: "note \(rng.next() % 100)"))
            case 85..<90: facilitator(.promptClosed(prompt: prompt))
            case 90..<92: facilitator(.sessionClosed)
            case 92..<96:
                // A rogue key acting as a facilitator.
                add(
                    Event.facilitator(
                        .promptOpened(prompt: Int.random(in: 0..<n, using: &rng)), session: state.id, by: outsider,
                        at: at, clock: state.clock + 1), forged: true)
            default:
                // A reflection signed with a key that is not the session's room key.
                add(
                    Event.participant(
                        .reflectionSubmitted(prompt: prompt, text: "forged", nonce: randomBytes(16)),
                        session: state.id, roomKey: wrongRoom), forged: true)
            }
        }
        return events
    }
}
