import HashTreeCollections

/// The state of a session: a deterministic fold over its set of events.
///
/// Any replica holding the same set of events computes the same state, whatever order they
/// arrived in and however often: participants' events form sets, and facilitators' events
/// are applied in the order of their Lamport clocks (ties broken by id). Events whose
/// signature or authority does not check are ignored, and counted in ``ignored``.
///
/// ```swift
/// var state = try SessionState(events: storedEvents)
/// state.insert(newEvent)
/// let shown = state.revealed(prompt: 0)
/// ```
public struct SessionState: Sendable {
    public let id: EventID
    public let created: SessionCreated
    public let creator: PublicKey
    /// When the session was created, in milliseconds since 1970 (the creator's clock).
    public let createdAt: Int64

    public private(set) var prompts: [PromptState]
    public private(set) var openPrompt: Int?
    /// When the session was closed; nil while it runs.
    public private(set) var closedAt: Int64?
    public private(set) var notes: [Note] = []
    public private(set) var facilitators: Set<PublicKey>
    /// Nodes admitted to hold a read-only copy (organisers' archives).
    public private(set) var archivists: Set<PublicKey> = []
    /// The names nodes were admitted under, for the console.
    public private(set) var nodeNames: [PublicKey: String] = [:]
    /// Reasons facilitators gave for hiding reflections. Never exported.
    public private(set) var hiddenReasons: [EventID: String] = [:]
    /// The highest Lamport clock seen; a new facilitator event takes the next.
    public private(set) var clock: Int
    /// Why events were ignored, by id: for decisions (``Ignored/isForgery``), diagnostics and
    /// tests, never for display.
    public private(set) var ignored: [EventID: Ignored] = [:]

    /// Every event held. A persistent map, so that computing the next state (a copy plus one
    /// event) costs a path through the tree, not a copy of the whole session.
    private(set) var events: TreeDictionary<EventID, Event> = [:]
    private var timeline: [Event] = []
    private(set) var reflections: [EventID: (prompt: Int, text: String)] = [:]
    private(set) var resonances: [EventID: Set<EventID>] = [:]
    private(set) var revealedSet: Set<EventID> = []
    private let createdEvent: Event

    /// Why an event held is not applied.
    public enum Ignored: Sendable, Equatable {
        /// It names another session.
        case otherSession
        /// Its signature does not check.
        case badSignature
        /// A reflection for no prompt of the deck, or with text the rules refuse.
        case invalidReflection
        /// Signed by a key that is not a facilitator's when it applies.
        case signerNotFacilitator
        /// A facilitator's event the rules refuse where it falls in the timeline.
        case refused(MeetingError)
        /// A participant's kind of event signed as a facilitator's.
        case notAFacilitatorAction

        /// Forged, or signed without authority: refused from a peer, and not asked for again.
        public var isForgery: Bool { self == .badSignature || self == .signerNotFacilitator }

        /// In words, for logs and errors.
        public var message: String {
            switch self {
            case .otherSession: "belongs to another session"
            case .badSignature: "bad signature"
            case .invalidReflection: "not a valid reflection"
            case .signerNotFacilitator: "signer is not a facilitator"
            case .refused(let error): error.message
            case .notAFacilitatorAction: "not a facilitator action"
            }
        }
    }

    /// What a prompt is doing.
    public struct PromptState: Hashable, Sendable {
        public enum Status: String, Hashable, Sendable { case waiting, open, closed }
        public var status: Status = .waiting
        public var openedAt: Int64?
        public var closedAt: Int64?
        /// Revealed batches, each in the shuffled order the facilitator's node fixed.
        public private(set) var batches: [[EventID]] = []
        /// For each id a batch lists, the first batch that lists it.
        private(set) var batchOf: [EventID: Int] = [:]

        mutating func add(batch: [EventID]) {
            for id in batch where batchOf[id] == nil { batchOf[id] = batches.count }
            batches.append(batch)
        }
    }

    /// A facilitator's note, on a prompt or on the session.
    public struct Note: Hashable, Sendable {
        public var id: EventID
        public var prompt: Int?
        public var text: String
        public var at: Int64
    }

    /// A revealed reflection as the room sees it.
    public struct Revealed: Hashable, Sendable {
        public var id: EventID
        public var text: String
        public var resonance: Int
        /// Set when a facilitator hid it; the reflection is then shown and exported to no one.
        public var hiddenReason: String?
    }

    /// Folds a session from its events. `verifySignatures` may be false only for events
    /// read back from this node's own store, which verified them when they were stored.
    public init(events: some Sequence<Event>, verifySignatures: Bool = true) throws(MeetingError) {
        let all = Array(events)
        let creation = try SessionState.creation(among: all, verify: verifySignatures)
        self.init(creation: creation, events: all, verdicts: nil, trusted: !verifySignatures)
    }

    /// The one valid session-created event among `events`.
    static func creation(among events: [Event], verify: Bool) throws(MeetingError) -> Event {
        let creations = Set(
            events.filter {
                if case .sessionCreated = $0.body { return !verify || $0.hasValidSignature(roomKey: nil) }
                return false
            })
        guard let creation = creations.first else {
            throw MeetingError(.noSuchSession, "These events hold no valid session-created event, so they make no session.")
        }
        guard creations.count == 1 else {
            throw MeetingError(
                .invalidTranscript, "These events belong to \(creations.count) different sessions; give one session at a time.")
        }
        return creation
    }

    /// Folds `events` into the session `creation` made. `verdicts`, when given, says for each
    /// event what has been checked already (``Verdict``); else everything is checked here,
    /// or nothing if `trusted` (this node's own store). Facilitators' events go in in timeline
    /// order, so that none makes the timeline replay.
    init(creation: Event, events all: [Event], verdicts: [Verdict]?, trusted: Bool) {
        guard case .sessionCreated(let created) = creation.body, case .facilitator(let signer, let at, let clock) = creation.authorship
        else {
            fatalError("a session-created event is signed by a facilitator")
        }
        self.id = creation.id
        self.created = created
        self.creator = signer
        self.createdAt = at
        self.clock = clock
        self.createdEvent = creation
        self.facilitators = [signer]
        self.prompts = Array(repeating: PromptState(), count: created.deck.prompts.count)
        self.events[creation.id] = creation
        precondition(verdicts == nil || verdicts?.count == all.count, "a verdict for each event")
        let order = all.indices.filter { all[$0].id != creation.id }.sorted { a, b in
            switch (all[a].body.isParticipant, all[b].body.isParticipant) {
            case (false, true): true
            case (true, false): false
            case (false, false): SessionState.precedes(all[a], all[b])
            case (true, true): a < b
            }
        }
        for i in order { insert(all[i], verdict: verdicts?[i] ?? (trusted ? .sound : .unchecked)) }
    }

    /// What has been checked of an event before it is folded in.
    enum Verdict: Sendable {
        /// Nothing: the fold checks its signature and, for a reflection, its text.
        case unchecked
        /// Its signature does not check.
        case forged
        /// Its signature checks; a reflection's text is yet to be checked.
        case signed
        /// Its signature checks, and a reflection's text too (or it is this node's own).
        case sound

        /// Checks an event as the fold would, given the session's room key: on any thread.
        static func of(_ event: Event, roomKey: PublicKey) -> Verdict {
            event.hasValidSignature(roomKey: roomKey) ? ofSigned(event) : .forged
        }

        /// ``of(_:roomKey:)`` for an event whose signature checks.
        static func ofSigned(_ event: Event) -> Verdict {
            if case .reflectionSubmitted(_, let text, _) = event.body {
                return (try? CheckedText(text, limit: Limits.reflectionCharacters, what: "")) != nil ? .sound : .signed
            }
            return .sound
        }
    }

    /// Folds a session from untrusted events (another node's, or a file's) with their
    /// signatures checked on every core at once; the same state as
    /// ``init(events:verifySignatures:)`` gives, in a fraction of the time for a large session.
    public static func verifying(_ events: [Event]) async throws(MeetingError) -> SessionState {
        try await verifying(events, verdicts: nil, checkedWith: nil)
    }

    /// The same, with what was checked already (``ArrivingSession``): `verdicts` for each
    /// event, reached with the room key `key`. Events not yet checked, or checked against
    /// another key than the session's, are checked here on every core.
    static func verifying(
        _ events: [Event], verdicts given: [Verdict]?, checkedWith key: PublicKey?
    ) async throws(MeetingError) -> SessionState {
        let creation = try SessionState.creation(among: events, verify: true)
        guard case .sessionCreated(let created) = creation.body else { fatalError("a session-created event") }
        var verdicts = given ?? Array(repeating: .unchecked, count: events.count)
        let stale = created.roomKey != key
        // Another session's events stay unchecked: the fold ignores them. The creation was
        // checked in finding it (and the fold takes it as the session's, not by its verdict).
        let late = verdicts.indices.filter {
            (stale || verdicts[$0] == .unchecked) && events[$0].session == creation.id && events[$0].id != creation.id
        }
        let lateVerdicts = await Concurrently.map(late.map { events[$0] }) { Verdict.of($0, roomKey: created.roomKey) }
        for (i, verdict) in zip(late, lateVerdicts) { verdicts[i] = verdict }
        return SessionState(creation: creation, events: events, verdicts: verdicts, trusted: false)
    }

    /// ``verifying(_:)`` in two parts, for a caller that writes the session while its
    /// signatures are checked: the state the events fold to if every signature checks (the
    /// creation's is checked here, and each reflection's text), and a task that checks the
    /// others on every core and says whether all do (telling `progress` how far it has got).
    /// Only when it says so is the state the one ``verifying(_:)`` gives.
    static func foldingWhileVerifying(
        _ events: [Event], progress: CheckProgress? = nil
    ) async throws(MeetingError) -> (SessionState, Task<Bool, Never>) {
        let creation = try SessionState.creation(among: events, verify: true)
        guard case .sessionCreated(let created) = creation.body else { fatalError("a session-created event") }
        // As `verifying`: another session's events stay unchecked (the fold ignores them).
        let session = creation.id
        let own: @Sendable (Event) -> Bool = { $0.session == session && $0.id != session }
        let verdicts = await Concurrently.map(events) { own($0) ? Verdict.ofSigned($0) : .unchecked }
        let key = created.roomKey
        let signed = Task {
            await Concurrently.allSatisfy(events.filter(own), progress: progress) { $0.hasValidSignature(roomKey: key) }
        }
        return (SessionState(creation: creation, events: events, verdicts: verdicts, trusted: false), signed)
    }

    /// Decodes events' bytes on every core, leaving out what is not an event.
    static func decoding(_ list: [[UInt8]]) async -> [Event] {
        await Concurrently.map(list) { try? Event(bytes: $0) }.compactMap { $0 }
    }

    /// Every event this state holds, including those it ignores.
    public var allEvents: [Event] { Array(events.values) }

    /// The event with this id, if held.
    public func event(_ id: EventID) -> Event? { events[id] }

    /// The same session folded without some events (a node that must not keep them).
    func removing(_ ids: Set<EventID>) -> SessionState {
        let kept = events.values.filter { !ids.contains($0.id) && $0.id != createdEvent.id }
        // Signatures were checked when this state took the events (what failed is among `ids`,
        // or stays ignored); a reflection this state refused is checked again, not taken as sound.
        let verdicts = kept.map { event -> Verdict in
            switch ignored[event.id] {
            case .badSignature: .forged
            case .invalidReflection: .signed
            default: .sound
            }
        }
        return SessionState(creation: createdEvent, events: kept, verdicts: verdicts, trusted: true)
    }

    public var isClosed: Bool { closedAt != nil }

    /// Whether reflections to `prompt` are taken now (it is open and the session is not closed).
    public func isAccepting(prompt: Int) -> Bool {
        !isClosed && prompts.indices.contains(prompt) && prompts[prompt].status == .open
    }

    /// Adds one event. Adding an event already held changes nothing.
    public mutating func insert(_ event: Event, verifySignature: Bool = true) {
        insert(event, verdict: verifySignature ? .unchecked : .sound)
    }

    private mutating func insert(_ event: Event, verdict: Verdict) {
        guard events[event.id] == nil else { return }
        guard event.session == id else {
            ignored[event.id] = .otherSession
            return
        }
        var verdict = verdict
        if verdict == .unchecked { verdict = event.hasValidSignature(roomKey: created.roomKey) ? .signed : .forged }
        if verdict == .forged {
            events[event.id] = event
            ignored[event.id] = .badSignature
            return
        }
        events[event.id] = event
        switch event.body {
        case .reflectionSubmitted(let prompt, let text, _):
            // Text from this node's own store or its own session was checked before it was signed.
            guard prompts.indices.contains(prompt),
                created.deck.prompts[prompt].scale.map({ $0.option(text) != nil })
                    ?? (verdict == .sound || (try? CheckedText(text, limit: Limits.reflectionCharacters, what: "")) != nil)
            else {
                ignored[event.id] = .invalidReflection
                return
            }
            reflections[event.id] = (prompt, text)
        case .resonated(let reflection, _):
            resonances[reflection, default: []].insert(event.id)
        default:
            if let last = timeline.last, SessionState.precedes(last, event) {
                apply(event)
                timeline.append(event)
            } else {
                replayTimeline(adding: event)
            }
        }
    }

    /// Returns a copy with `event` added.
    public func inserting(_ event: Event) -> SessionState {
        var copy = self
        copy.insert(event)
        return copy
    }

    static func precedes(_ a: Event, _ b: Event) -> Bool {
        (a.clock ?? 0, a.id) < (b.clock ?? 0, b.id)
    }

    private mutating func replayTimeline(adding event: Event) {
        timeline.append(event)
        timeline.sort(by: SessionState.precedes)
        prompts = Array(repeating: PromptState(), count: created.deck.prompts.count)
        openPrompt = nil
        closedAt = nil
        notes = []
        facilitators = [creator]
        archivists = []
        nodeNames = [:]
        hiddenReasons = [:]
        revealedSet = []
        // The clock, too, is a function of the applied events alone, not of arrival history.
        clock = createdEvent.clock ?? 0
        for e in timeline { ignored[e.id] = nil }
        for e in timeline { apply(e) }
    }

    /// Applies one facilitator event in timeline order, or records why it is ignored.
    private mutating func apply(_ event: Event) {
        guard case .facilitator(let signer, let at, let eventClock) = event.authorship else { return }
        guard facilitators.contains(signer) else {
            ignored[event.id] = .signerNotFacilitator
            return
        }
        if let reason = SessionState.refusal(of: event.body, in: self, signer: signer) {
            ignored[event.id] = .refused(reason)
            return
        }
        // Only applied events move the clock: a rogue key cannot push it out of range, and
        // the clock does not depend on which refused events a replica happens to hold
        // (those are not replicated).
        clock = max(clock, eventClock)
        switch event.body {
        case .promptOpened(let p):
            if let current = openPrompt {
                prompts[current].status = .closed
                prompts[current].closedAt = at
            }
            prompts[p].status = .open
            prompts[p].openedAt = at
            openPrompt = p
        case .promptClosed(let p):
            prompts[p].status = .closed
            prompts[p].closedAt = at
            openPrompt = nil
        case .reflectionsRevealed(let p, let order):
            prompts[p].add(batch: order)
            revealedSet.formUnion(order)
        case .reflectionHidden(let r, let reason):
            hiddenReasons[r] = reason
        case .noteWritten(let p, let text):
            notes.append(Note(id: event.id, prompt: p, text: text, at: at))
        case .facilitatorGranted(let key):
            facilitators.insert(key)
        case .nodeAdmitted(let key, let role, let name):
            nodeNames[key] = name
            if role == .coFacilitator { facilitators.insert(key) } else { archivists.insert(key) }
        case .sessionClosed:
            if let current = openPrompt {
                prompts[current].status = .closed
                prompts[current].closedAt = at
            }
            openPrompt = nil
            closedAt = at
        case .sessionCreated, .reflectionSubmitted, .resonated:
            ignored[event.id] = .notAFacilitatorAction
        }
    }

}
