import Crypto
import Foundation

/// A session this node is running: every action is checked against the rules, made into an
/// event, stored durably, then folded into ``state``.
///
/// ```swift
/// let session = try await LiveSession.start(deck: deck, title: "Tuesday group", in: store)
/// try await session.open(prompt: 0)
/// _ = try await session.submitReflection(prompt: 0, text: "I learned anger at home.")
/// ```
///
/// Thread safety: an actor. Participants' submissions run concurrently and share fsyncs;
/// facilitator actions run one at a time, in the order they were asked for.
public actor LiveSession {
    public nonisolated let id: EventID
    public nonisolated let store: TranscriptStore
    /// The key this node signs and speaks with in this session (``TranscriptStore/sessionKey(of:)``).
    public nonisolated let nodeKey: SigningKey
    /// The key that created the session (it never changes). Its node takes the room's
    /// reflections; a co-facilitator only while it cannot reach it (`MeetingRoom.takesReflections()`).
    public nonisolated let creator: PublicKey
    /// This node's copy of the session: its state, and what it holds for other nodes.
    public internal(set) var replica: Replica
    public var state: SessionState { replica.state }
    nonisolated let roomSecret: SigningKey?
    /// The deck the session was created with (it never changes).
    public nonisolated let deck: Deck
    var facilitatorBusy = false
    var facilitatorQueue: [CheckedContinuation<Void, Never>] = []
    var observer: (@Sendable (Event, Origin) async -> Void)?
    /// Events another node sent that this one holds in memory and is writing to disk now.
    var saving: Set<EventID> = []
    /// Set once the session is wiped from this node: nothing more is written for it.
    private var isWiped = false

    private init(store: TranscriptStore, state: SessionState, roomSecret: SigningKey?, nodeKey: SigningKey) {
        self.id = state.id
        self.store = store
        self.nodeKey = nodeKey
        self.creator = state.creator
        self.deck = state.created.deck
        // A node holds everything unless it was admitted only as an archivist.
        let role: Replica.Role = state.facilitators.contains(nodeKey.publicKey) ? .coFacilitator : .archivist
        self.replica = Replica(state: state, role: role)
        // Only a co-facilitator takes reflections, whatever room key the store kept from before.
        self.roomSecret = role == .coFacilitator ? roomSecret : nil
    }

    /// This node's role in the session.
    public var role: Replica.Role { replica.role }

    /// Where an event this node took came from.
    public enum Origin: Sendable {
        /// A participant on this node; the acknowledgement waits for the observer to return,
        /// so the observer can wait for a second node to hold it.
        case participant
        /// A facilitator on this node.
        case facilitator
        /// Another node.
        case peer
    }

    /// Calls `observer` with every event this node takes, made here or received (for live
    /// pages and other nodes), once it is on this node's disk.
    public func observe(_ observer: @escaping @Sendable (Event, Origin) async -> Void) { self.observer = observer }

    /// Folds a session from events another node sent, decoded and verified on every core;
    /// refused events (a bad signature, a signer without authority) are left out. Nothing is stored.
    public static func verify(_ list: [[UInt8]]) async throws(MeetingError) -> SessionState {
        var arriving = ArrivingSession(session: nil)
        await arriving.take(list)
        return try await arriving.verified()
    }

    /// Starts holding a session this node was admitted to (its state from ``ArrivingSession/verified()``)
    /// under `nodeKey`, the key it was admitted with, and the room key if this node is a
    /// co-facilitator.
    public static func adopt(
        _ state: SessionState, roomSecret: SigningKey?, nodeKey: SigningKey,
        in store: TranscriptStore
    ) async throws(MeetingError) -> LiveSession {
        var state = state
        // An archivist keeps no reflection that is not shown, whatever a host sent.
        if !state.facilitators.contains(nodeKey.publicKey) {
            let unshown = Set(state.allEvents.filter { Replica.isUnrevealedReflection($0, in: state) }.map(\.id))
            if !unshown.isEmpty { state = state.removing(unshown) }
        }
        // A session new to this store is written once, each event in its place; one it held
        // before (a node that joins again) goes through the pending file, so that a newcomer
        // to a batch already settled here is written again with its whole batch.
        let placed = try !store.holds(state.id)
        try await store.save(state.allEvents, resulting: state, roomSecret: roomSecret, sessionKey: nodeKey, placed: placed)
        try? await store.settle(state)
        return LiveSession(store: store, state: state, roomSecret: roomSecret, nodeKey: nodeKey)
    }

    /// The result of taking events from another node.
    public struct Merge: Sendable {
        /// Events this node did not hold before and now keeps.
        public var added: [Event]
        /// Ids among those received that this node now holds durably.
        public var stored: [EventID]
        /// Ids refused: bad signature, or a signer without authority.
        public var refused: [EventID]
    }

    /// Verifies and keeps events from another node (set union). Bad ones are refused and
    /// the rest kept; what is kept is on disk before this returns.
    public func merge(_ list: [[UInt8]], from peer: Replica.Role) async throws(MeetingError) -> Merge {
        try refuseIfWiped()
        let ids = list.map { EventID.of($0) }
        let refusedBefore = replica.rejected
        // Only what is new is looked at again; nothing held is copied (a session may hold
        // tens of thousands of events, and a live event must cost little).
        let fresh = Set(ids.filter { replica.state.event($0) == nil })
        let needsRefold = replica.role == .archivist
        let heldBefore = needsRefold ? replica.held : []
        replica.accept(list)
        let state = replica.state
        let added = fresh.compactMap { state.event($0) }.filter { event in
            state.ignored[event.id] == nil && (replica.role == .coFacilitator || !Replica.isUnrevealedReflection(event, in: state))
        }
        let dropped = needsRefold ? heldBefore.subtracting(replica.held) : []
        // Held in memory from here, on disk only once saved: a phone sending one again meanwhile
        // waits (``keeps(_:)``) rather than hear "received" for what may yet be lost.
        let unsaved = Set(added.map(\.id))
        saving.formUnion(unsaved)
        defer { saving.subtract(unsaved) }
        do {
            if !added.isEmpty || !dropped.isEmpty {
                try await store.save(added, resulting: state)
                if !dropped.isEmpty { try await store.destroy(Array(dropped), in: id) }
            }
        } catch {
            // What is on disk is the truth: start again from it.
            if let stored = try? store.state(of: id) { replica = Replica(state: stored, role: replica.role) }
            throw error
        }
        if !added.isEmpty { await settle() }
        if added.contains(where: { if case .reflectionsRevealed = $0.body { true } else { false } }) { await store.checkpoint() }
        if let observer { for event in added { await observer(event, .peer) } }
        // What it now keeps, as the protocol core says (``Replica/keeps(among:)``).
        return Merge(added: added, stored: replica.keeps(among: ids), refused: Array(replica.rejected.subtracting(refusedBefore)))
    }

    /// Creates a session from a deck and stores it.
    public static func start(
        deck: Deck, title: String? = nil, minimumToReveal: Int = Limits.defaultMinimumToReveal, programme: ProgrammePlace? = nil,
        in store: TranscriptStore, now: Date = Date()
    ) async throws(MeetingError) -> LiveSession {
        guard Limits.minimumToReveal.contains(minimumToReveal) else {
            throw MeetingError(
                .invalidMinimum,
                "The reveal minimum must be between \(Limits.minimumToReveal.lowerBound) and \(Limits.minimumToReveal.upperBound); \(minimumToReveal) was given. Below 2, one person's words would stand alone."
            )
        }
        let title = try CheckedText(title ?? deck.title.preferring(.en), limit: Limits.titleCharacters, what: "The session title").value
        let room = SigningKey()
        // A key of this node's own for this session alone.
        let key = SigningKey()
        let created = SessionCreated(
            title: title, deck: deck, minimumToReveal: minimumToReveal,
            roomKey: room.publicKey, nonce: randomBytes(16), programme: programme)
        let event = Event.facilitator(.sessionCreated(created), session: nil, by: key, at: milliseconds(now), clock: 0)
        let state = try SessionState(events: [event])
        try await store.save([event], resulting: state, roomSecret: room, sessionKey: key)
        return LiveSession(store: store, state: state, roomSecret: room, nodeKey: key)
    }

    /// Continues a stored session, for example after the node restarted.
    public static func resume(_ id: EventID, in store: TranscriptStore) async throws(MeetingError) -> LiveSession {
        let state = try store.state(of: id)
        let session = LiveSession(
            store: store, state: state, roomSecret: try store.roomSecret(of: id), nodeKey: try store.sessionKey(of: id))
        // A crash between storing a reflection and destroying or settling it must not keep it
        // where it was (older data folders kept pending reflections in the main file).
        try await store.destroy(state.destroyedIDs, in: id)
        await session.settle()
        return session
    }

    /// Whether this node can take participants' reflections (it holds the room key).
    public nonisolated var acceptsReflections: Bool { roomSecret != nil }

    // MARK: Participants

    /// A participant's reflection or tap, made and signed (by the room key), not yet taken.
    public struct Submission: Sendable {
        let event: Event
    }

    /// A reflection to submit (``submit(_:)``). `once` is what the phone drew for this one
    /// reflection (16 random bytes, never reused, forgotten once it is acknowledged): the
    /// event's nonce is made from it and the room key, so the same reflection sent again — to
    /// this laptop or, after a move, to another of the session's — is the very same event
    /// (same bytes, same id) and is kept once. Without it, the nonce is random.
    public nonisolated func reflection(prompt: Int, text: String, once: [UInt8]? = nil) throws(MeetingError) -> Submission {
        let checked = try CheckedText(text, limit: Limits.reflectionCharacters, what: "A reflection")
        return try submission(
            .reflectionSubmitted(
                prompt: prompt, text: checked.value, nonce: nonce(once, for: Self.saying(prompt: prompt, text: checked.value))))
    }

    /// A check-in's answer to submit: one of the prompt's pictures (`option`, from 0, in the
    /// scale's order). It is taken as a reflection whose text is the option's number, so it is
    /// kept, copied, revealed in a batch and destroyed exactly as reflections are; the room
    /// sees only the counts (``SessionState/checkInCounts(prompt:)``). `once` as for a reflection.
    public nonisolated func answer(prompt: Int, option: Int, once: [UInt8]? = nil) throws(MeetingError) -> Submission {
        guard deck.prompts.indices.contains(prompt) else {
            throw MeetingError(.noSuchPrompt, "There is no prompt \(prompt + 1); this deck has \(deck.prompts.count).")
        }
        guard let scale = deck.prompts[prompt].scale else {
            throw MeetingError(.notACheckIn, "Prompt \(prompt + 1) asks for words, not a picture: write your reflection.")
        }
        guard (0..<scale.options).contains(option) else {
            throw MeetingError(.notAnOption, "Prompt \(prompt + 1) has \(scale.options) pictures to choose from: tap one of them.")
        }
        return try submission(
            .reflectionSubmitted(
                prompt: prompt, text: String(option), nonce: nonce(once, for: Self.saying(prompt: prompt, text: String(option)))))
    }

    /// A tap to submit: one more for a revealed reflection's resonance count, with who tapped
    /// not recorded; `once` as for a reflection.
    public nonisolated func resonance(with reflection: EventID, once: [UInt8]? = nil) throws(MeetingError) -> Submission {
        try submission(.resonated(reflection: reflection, nonce: nonce(once, for: reflection.bytes)))
    }

    /// Whether this node already keeps it: sent again with the same `once`, it reached this
    /// laptop, or another that pushed it here, before the phone heard back.
    public func keeps(_ submission: Submission) async -> Bool {
        while saving.contains(submission.event.id) {
            do { try await Task.sleep(for: .milliseconds(5)) } catch { return false }
        }
        return state.keeps(submission.event.id)
    }

    /// Submits a reflection and returns once it is on disk. The returned id is random.
    @discardableResult
    public nonisolated func submitReflection(prompt: Int, text: String, once: [UInt8]? = nil) async throws(MeetingError) -> EventID {
        try await submit(reflection(prompt: prompt, text: text, once: once))
    }

    /// Submits a reflection given as raw bytes, refusing bytes that are not UTF-8.
    public nonisolated func submitReflection(prompt: Int, utf8: [UInt8]) async throws(MeetingError) -> EventID {
        let checked = try CheckedText(utf8: utf8, limit: Limits.reflectionCharacters, what: "A reflection")
        return try await submitReflection(prompt: prompt, text: checked.value)
    }

    /// Adds one to a revealed reflection's resonance count.
    public nonisolated func resonate(with reflection: EventID, once: [UInt8]? = nil) async throws(MeetingError) {
        try await submit(resonance(with: reflection, once: once))
    }

    /// The nonce of a participant's event: from the phone's `once`, what the event says
    /// (`saying`), and the room key (the same on every laptop that takes reflections; nothing
    /// that identifies the phone, and nothing an archivist or an export can turn back into the
    /// `once`), else random. What the event says is in it so that a page that sent the same
    /// `once` with other words or another picture makes an unrelated event, never two events
    /// that share a nonce and so say "one phone sent both".
    nonisolated func nonce(_ once: [UInt8]?, for saying: [UInt8]) -> [UInt8] {
        guard let once, let roomSecret else { return randomBytes(16) }
        let key = SymmetricKey(data: Array("halqa once v1".utf8) + roomSecret.raw)
        return Array(HMAC<SHA256>.authenticationCode(for: once + saying, using: key).prefix(16))
    }

    /// What a reflection or an answer says, for its nonce: its prompt and its text.
    static func saying(prompt: Int, text: String) -> [UInt8] {
        withUnsafeBytes(of: UInt32(prompt).bigEndian) { Array($0) } + Array(text.utf8)
    }

    private nonisolated func submission(_ body: EventBody) throws(MeetingError) -> Submission {
        guard let roomSecret else {
            throw MeetingError(
                .cannotAcceptReflections,
                "This node holds a copy of the session but cannot take reflections for it. Send them to the facilitator's node.")
        }
        return Submission(event: Event.participant(body, session: id, roomKey: roomSecret))
    }

    /// Takes a reflection or tap and returns once it is on disk. Signed off the actor (so
    /// submitters use every core), checked and recorded on it, written through the group
    /// commit in between. One this node already keeps (sent again) is not stored twice.
    @discardableResult
    public nonisolated func submit(_ submission: Submission) async throws(MeetingError) -> EventID {
        let event = submission.event
        if try await alreadyKept(orCheck: submission) { return event.id }
        try await store.commitParticipant(event)
        if let observer = try await record(event) { await observer(event, .participant) }
        return event.id
    }

    /// True if this node already keeps it (sent again): nothing is to be stored. Otherwise
    /// checks it against the rules, throwing what they refuse, and returns false. One visit to
    /// the actor: a weak laptop takes a room's reflections at once.
    private func alreadyKept(orCheck submission: Submission) async throws(MeetingError) -> Bool {
        if await keeps(submission) { return true }
        try refuseIfWiped()
        try state.check(submission.event.body, by: nil)
        return false
    }

    func refuseIfWiped() throws(MeetingError) {
        if isWiped { throw TranscriptStore.wipedError }
    }

    /// Removes the session from this node's store so that its text cannot be recovered (see
    /// ``TranscriptStore/wipe(_:)``); from then on this node writes nothing more for it.
    public func wipe() async throws(MeetingError) -> TranscriptStore.Wiped {
        isWiped = true
        return try await store.wipe(id)
    }

    /// Takes a participant's event that is on disk into the session; returns who to tell.
    private func record(_ event: Event) async throws(MeetingError) -> (@Sendable (Event, Origin) async -> Void)? {
        try refuseIfWiped()
        replica.record(event)
        if case .reflectionSubmitted(let prompt, _, _) = event.body, !state.isAccepting(prompt: prompt), !state.isRevealed(event.id) {
            // The prompt closed while this was being written: it may not be kept.
            await settle()
            throw MeetingError(.promptNotOpen, "Prompt \(prompt + 1) closed before your reflection arrived, so it was not kept.")
        }
        // A resonance that came after the session closed has nothing to wait for.
        if state.placement(of: event.id) != .pending { await settle() }
        return observer
    }

    /// Brings the pending file into line with the current state (``TranscriptStore/settle(_:)``).
    /// Never fails the action that called it: what was acknowledged is on disk either way, and
    /// a settle that could not finish is done again by the next one.
    func settle() async {
        try? await store.settle(state)
    }

    static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
}
