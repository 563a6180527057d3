/// A node's copy of a session, and the set-union protocol that brings copies together.
///
/// Peers tell each other which events they hold; each sends what the other lacks; every event
/// received is verified by the fold before it is kept. The protocol is idempotent (an event
/// held twice is held once), resumable (a lost or repeated message only delays convergence),
/// and needs no leader. Archivists never receive reflections that are not yet revealed
/// (anonymity invariant 3); anything destroyed is not sent and not taken back.
///
/// This is the protocol's logic only; the transport between nodes (authenticated, encrypted)
/// carries these messages.
public struct Replica: Sendable {
    /// What a peer may hold.
    public enum Role: String, Sendable, Codable {
        /// May run the meeting; holds pending reflections too (the "second node" of durability).
        case coFacilitator
        /// A read-only copy for organisers; never holds pending reflections.
        case archivist

        /// As written in events and shown to people.
        public var wireName: String { self == .coFacilitator ? "co-facilitator" : "archivist" }

        public init?(wireName: String) {
            switch wireName {
            case "co-facilitator": self = .coFacilitator
            case "archivist": self = .archivist
            default: return nil
            }
        }
    }

    public let role: Role
    /// Whether received events' signatures are checked (always, between real nodes; a
    /// simulation of the network alone may skip it).
    public let verifies: Bool
    public private(set) var state: SessionState { didSet { heldCache = nil } }
    /// Events refused because their signature or authority did not check.
    public private(set) var rejected: Set<EventID> = []
    private var heldCache: Set<EventID>?

    public init(state: SessionState, role: Role, verifies: Bool = true) {
        self.state = state
        self.role = role
        self.verifies = verifies
    }

    public var session: EventID { state.id }

    /// The events this replica holds and keeps: everything but ignored events and destroyed
    /// reflections; pending reflections only on co-facilitators.
    public var held: Set<EventID> {
        mutating get {
            if let heldCache { return heldCache }
            let computed = computeHeld()
            heldCache = computed
            return computed
        }
    }

    private func computeHeld() -> Set<EventID> {
        let destroyed = Set(state.destroyedIDs)
        return Set(
            state.allEvents.filter { event in
                guard state.ignored[event.id] == nil, !destroyed.contains(event.id) else { return false }
                return role == .coFacilitator || !isPending(event)
            }.map(\.id))
    }

    /// A digest of what every admitted node holds alike: all kept events but pending
    /// reflections. Two nodes with the same digest show the same meeting.
    public var digest: EventSetDigest {
        mutating get {
            let pending = Set(state.prompts.indices.flatMap { state.pendingIDs(prompt: $0) })
            return EventSetDigest(ids: held.subtracting(pending))
        }
    }

    /// Whether `event` is a reflection that no reveal known to `state` lists (held or not).
    static func isUnrevealedReflection(_ event: Event, in state: SessionState) -> Bool {
        if case .reflectionSubmitted = event.body { return !state.revealedSet.contains(event.id) }
        return false
    }

    func isPending(_ event: Event) -> Bool { Replica.isUnrevealedReflection(event, in: state) }

    /// The message that starts a round with a peer in role `peer`: what this replica holds,
    /// and what it has refused (so that it is not sent again). An archivist is never told the
    /// ids of reflections still waiting: watching them appear, link after link, would tell it
    /// when each arrived, and it learns their texts at the reveal (anonymity invariant 2).
    public mutating func summary(for peer: Role) -> PeerMessage {
        var ids = held.union(rejected)
        if peer == .archivist { ids = ids.filter { id in state.event(id).map { mayHold($0, peer: .archivist) } ?? true } }
        return .have(session: session, ids: Array(ids))
    }

    /// Handles a message from a peer whose role is `peer`, and returns the replies to send it.
    ///
    /// A round is push-only: on a peer's `have`, a replica sends what the peer lacks, and
    /// the peer does the same on this replica's `have`. Each event crosses the wire once.
    /// Events received are acknowledged with what of them this replica now keeps (the
    /// `stored` that a second copy waits for; a node sends it once they are on its disk).
    /// Messages of another session, and those that need a node (pairing), get no reply.
    public mutating func receive(_ message: PeerMessage, from peer: Role) -> [PeerMessage] {
        switch message {
        case .have(let id, let theirs) where id == session:
            return send(missing(from: Set(theirs), for: peer))
        case .events(let id, let list) where id == session:
            accept(list)
            let kept = keeps(among: list.map { EventID.of($0) })
            return kept.isEmpty ? [] : [.stored(session: session, ids: kept)]
        default:
            return []
        }
    }

    /// The events among `ids` this replica keeps (held, not ignored, not destroyed), without
    /// looking at the rest of the session: a live event must cost little.
    public func keeps(among ids: [EventID]) -> [EventID] {
        let events = ids.compactMap { state.event($0) }
        let destroyed = Set(state.destroyedIDs(after: events))
        return events.filter { state.ignored[$0.id] == nil && !destroyed.contains($0.id) && mayHold($0, peer: role) }.map(\.id)
    }

    /// `list` as `events` messages of bounded size (``PeerMessage/maxFrame``, ``PeerMessage/maxEventsPerMessage``).
    public func send(_ list: [[UInt8]]) -> [PeerMessage] {
        var out: [PeerMessage] = []
        var batch: [[UInt8]] = []
        var size = 0
        for bytes in list {
            if batch.count == PeerMessage.maxEventsPerMessage || size + bytes.count + 4 > PeerMessage.maxFrame - 64 {
                out.append(.events(session: session, events: batch))
                batch = []
                size = 0
            }
            batch.append(bytes)
            size += bytes.count + 4
        }
        if !batch.isEmpty { out.append(.events(session: session, events: batch)) }
        return out
    }

    /// What to push to a peer in role `peer` of events this replica just added: everything to
    /// a co-facilitator; to an archivist, only what it may hold, and a reveal together with
    /// the reflections it reveals.
    public func push(_ added: [Event], to peer: Role) -> [[UInt8]] {
        guard peer == .archivist else { return added.map(\.bytes) }
        var list: [[UInt8]] = []
        for event in added {
            if case .reflectionSubmitted = event.body, !state.isRevealed(event.id) { continue }
            list.append(event.bytes)
            if case .reflectionsRevealed(_, let order) = event.body {
                list += order.compactMap { state.event($0)?.bytes }
            }
        }
        return list
    }

    /// The events (their bytes) that a peer whose `have` listed `theirs` lacks and may hold.
    public mutating func missing(from theirs: Set<EventID>, for peer: Role) -> [[UInt8]] {
        events(held.subtracting(theirs), for: peer)
    }

    /// Whether a peer in role `peer` may hold this event now.
    public func mayHold(_ event: Event, peer: Role) -> Bool { peer == .coFacilitator || !isPending(event) }

    /// The events among `ids` that `peer` may hold, session-created first.
    private func events(_ ids: Set<EventID>, for peer: Role) -> [[UInt8]] {
        ids.compactMap { state.event($0) }.filter { mayHold($0, peer: peer) }
            .sorted { ($0.clock ?? Int.max, $0.id) < ($1.clock ?? Int.max, $1.id) }
            .map(\.bytes)
    }

    /// Verifies and keeps events from a peer; a bad one is refused and does not stop the others.
    public mutating func accept(_ list: [[UInt8]]) {
        for bytes in list { accept(bytes) }
    }

    /// Verifies and keeps one event.
    private mutating func accept(_ bytes: [UInt8]) {
        guard let event = try? Event(bytes: bytes), event.session == session else { return }
        if isPending(event), role == .archivist { return }
        // In place: a copy of a large session for every event would cost more than the event.
        state.insert(event, verifySignature: verifies)
        if state.ignored[event.id]?.isForgery == true {
            rejected.insert(event.id)
            state = state.removing([event.id])
            return
        }
        if role == .archivist, !event.body.isParticipant {
            // A facilitator's event can reorder the timeline so that a reveal seen earlier no
            // longer stands: an archivist lets go of any reflection that is not revealed now.
            let unrevealed = Set(state.allEvents.filter { Replica.isUnrevealedReflection($0, in: state) }.map(\.id))
            if !unrevealed.isEmpty { state = state.removing(unrevealed) }
        }
    }

    /// Adds an event made on this node (already checked by the rules).
    public mutating func record(_ event: Event) { state.insert(event, verifySignature: false) }
}

/// The digest of a set of events: SHA-256 over their sorted ids, and a short code people can
/// compare aloud.
public struct EventSetDigest: Hashable, Sendable, CustomStringConvertible {
    public let value: EventID
    public let count: Int

    public init(ids: Set<EventID>) {
        value = EventID.of(ids.sorted().flatMap(\.bytes))
        count = ids.count
    }

    /// Eight characters in two groups, e.g. `7F3K-9QPA`.
    public var short: String {
        let letters = Base32.letters(of: value.bytes, count: 8)
        return String(letters[0..<4]) + "-" + String(letters[4..<8])
    }

    public var description: String { short }
}
