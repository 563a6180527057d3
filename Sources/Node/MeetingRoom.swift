import Foundation
import Meeting
import Synchronization

/// A session this node hosts, with the people in it and everyone watching it live.
///
/// Thread safety: an actor. Participants' submissions go straight to the ``LiveSession``
/// (which shares fsyncs between them); this actor only keeps subscribers and views.
public actor MeetingRoom {
    public nonisolated let session: LiveSession
    nonisolated let links: Links
    nonisolated let access: TranscriptStore.Access
    /// Whether a participant may write only one reflection to each prompt.
    nonisolated let onePerPrompt: Bool
    /// The room's language: what the projector shows, and what phones start in.
    nonisolated let language: Language
    let registry = ParticipantRegistry()
    let throttle = GuessThrottle()
    /// The key phones seal what they say to (``Sealing``): new each time the node starts, in
    /// memory only; and the room key's signature of it, which pages check.
    nonisolated let sealing: Sealing
    nonisolated let sealKeySignature: [UInt8]
    /// The key the room's view is sealed with for phones (``sealedUpdate(since:deflated:)``): the same for
    /// every joined page, as what it opens is the same for every phone, and on every
    /// facilitator's laptop of the session (from the room key), so a page that moves or
    /// outlives a restart keeps reading. A page gets it only in the answer to its sealed join.
    nonisolated let viewKey: [UInt8]
    /// The room's view as phones follow it: the whole view or what changed, sealed once for
    /// each version and way of asking (so every phone in step that asks alike gets the same
    /// bytes, as every phone sees the same room).
    var feed: RoomFeed
    var replay = ReplayGuard()
    /// Addresses whose page said it cannot seal: only their number is shown, to the console.
    var unsealable = Set<String>()
    /// The session's week of a programme, for the console (``Host/programmeView(of:in:)``).
    var programme: ConsoleView.ProgrammeView?

    func setProgramme(_ programme: ConsoleView.ProgrammeView?) { self.programme = programme }
    /// Taps through this node's API since the room last saw counts, and from how many
    /// addresses: a batch must come from as many different phones as the reveal minimum, so
    /// that one man with several tokens cannot make a batch of his taps and one other.
    var tapsSinceBatch = 0
    var tappersSinceBatch = Set<String>()

    enum Audience: Sendable { case participant, sealedParticipant, facilitator, screen }
    /// What a live socket is told: a message to send, or (to a sealed participant's page,
    /// which asks for what changed since the version it holds) that the room changed.
    enum Outgoing: Sendable, Equatable {
        case text(String)
        case roomChanged
    }
    private struct Subscriber {
        var audience: Audience
        var continuation: AsyncStream<Outgoing>.Continuation
    }
    private var subscribers: [UUID: Subscriber] = [:]
    /// Set once the node stops (or the session is wiped): a page that reconnects then is let
    /// go at once, so that no new live connection holds the stopping server open.
    private var closed = false
    /// The node-to-node side, once the node runs one.
    private(set) var replicator: Replicator?
    /// Called once the session was wiped from this node (the node then stops).
    private var onWiped: (@Sendable () async -> Void)?
    public private(set) var wasWiped = false
    /// The console's version: moves with every change the console sees, arrivals included.
    private var consoleVersion = 0
    /// Whether phones' arrivals wait to be told to the console (by ``flushArrivals()``, which
    /// ``RoomService`` calls every 50 ms: a burst of arrivals is one message). Set without
    /// visiting the actor (``arrived()``), as a room's phones all write at once.
    private nonisolated let arrivalsPending = Atomic<Bool>(false)
    /// What the room (participants' pages and the projector) was last shown. It changes only
    /// with what the room may see: a facilitator's action, another node's, and resonance
    /// counts at the cadence; never when one phone writes or taps (anonymity invariant 6).
    private(set) var roomView: ParticipantView
    /// Resonance counts as last published to the room, by reflection id (hex).
    private var publishedResonance: [String: Int] = [:]
    /// Whether a refresh of the room's view is under way, and whether another was asked for
    /// meanwhile: refreshes run one at a time, so an older view never replaces a newer one.
    private var refreshing = false, refreshAgain = false

    init(
        session: LiveSession, access: TranscriptStore.Access, screenKey: String, participantURL: String, onePerPrompt: Bool,
        language: Language = .en
    ) async {
        self.session = session
        self.language = language
        self.access = access
        self.onePerPrompt = onePerPrompt
        // The join link's ticket comes from the room key, which only facilitators' laptops hold
        // (an archivist, which takes no reflections, makes one that opens nothing).
        let roomKey = session.roomKeyForCoFacilitators ?? SigningKey()
        let ticket = AccessCodes.ticket(roomKey: roomKey)
        sealing = Sealing.random()
        sealKeySignature = sealing.signedBy(roomKey)
        viewKey = Sealing.viewKey(roomKey: roomKey.raw)
        feed = RoomFeed(viewKey: viewKey)
        var links = Links(
            joinCode: access.joinCode, participantURL: participantURL, ticket: ticket,
            roomPublicKey: Base64URL.encode(roomKey.publicKey.raw),
            screenKey: screenKey, qr: QRMatrix(nil))
        links.qr = QRMatrix(QRCode(links.joinURL))
        self.links = links
        let state = await session.state
        publishedResonance = MeetingRoom.resonance(in: state)
        roomView = ParticipantView(state, version: 1)
        roomView.epoch = feed.epoch
        feed.record(roomView)
        await registry.promptIs(state.openPrompt)
    }

    nonisolated var joinURL: String { links.joinURL }

    /// Connects the node-to-node side: events from other nodes update every page.
    func attach(_ replicator: Replicator) async {
        self.replicator = replicator
        await replicator.start(onChange: { [weak self] in await self?.changed() })
    }

    // MARK: Views

    /// What every participant's page and the projector show now: the same bytes for
    /// everyone, whatever any one phone did since the room last changed.
    func participantView() -> ParticipantView { roomView }

    func consoleView() async -> ConsoleView {
        var view = ConsoleView(await session.state, version: consoleVersion, links: links, now: Int64(Date().timeIntervalSince1970 * 1000))
        view.nodes = await replicator?.status()
        view.role = await session.role.wireName
        view.unsealablePhones = unsealable.count
        view.programme = programme
        return view
    }

    func screenView() -> ScreenView {
        ScreenView(state: roomView, joinCode: AccessCodes.display(links.joinCode), participantURL: links.participantURL, qr: links.qr)
    }

    /// The room's view of `state`, with resonance counts as last published.
    private func currentRoomView() async -> ParticipantView {
        var view = ParticipantView(await session.state, version: roomView.version)
        view.epoch = feed.epoch
        view.nodes = await replicator?.otherNodes() ?? []
        for i in view.revealed.indices { view.revealed[i].resonance = publishedResonance[view.revealed[i].id] ?? 0 }
        return view
    }

    /// Every shown reflection's resonance count.
    private static func resonance(in state: SessionState) -> [String: Int] {
        var counts: [String: Int] = [:]
        for p in state.prompts.indices {
            for r in state.revealed(prompt: p) where r.hiddenReason == nil { counts[r.id.hex] = r.resonance }
        }
        return counts
    }

    // MARK: Live updates

    /// A stream of what to send one audience: the current state now, then each change. Only
    /// the newest is buffered, so a slow client never makes the node hold more; a sealed
    /// participant's page is told only that the room changed, and its socket asks for what
    /// changed since what it sent last (``sealedUpdate(since:deflated:)``), so none is skipped.
    func subscribe(_ audience: Audience) async -> (UUID, AsyncStream<Outgoing>) {
        let id = UUID()
        let (stream, continuation) = AsyncStream<Outgoing>.makeStream(bufferingPolicy: .bufferingNewest(1))
        guard !closed else {
            continuation.finish()
            return (id, stream)
        }
        subscribers[id] = Subscriber(audience: audience, continuation: continuation)
        continuation.yield(await message(for: audience))
        return (id, stream)
    }

    func unsubscribe(_ id: UUID) {
        subscribers.removeValue(forKey: id)?.continuation.finish()
    }

    var subscriberCount: Int { subscribers.count }

    /// Tells everyone watching that the session may have changed: the console at once, the
    /// room only if what it sees changed. A phone's reflection or tap is ``arrived()`` instead.
    func changed() async {
        await registry.promptIs(await session.state.openPrompt)
        await refreshRoom()
        await sendConsole()
    }

    /// A phone wrote or tapped: the console hears of it with the next burst (``flushArrivals()``);
    /// the room is not even looked at, as one phone writing or tapping never changes what it sees.
    nonisolated func arrived() { arrivalsPending.store(true, ordering: .releasing) }

    /// Tells the console of the phones' arrivals since the last time, if any.
    func flushArrivals() async {
        if arrivalsPending.load(ordering: .acquiring) { await sendConsole() }
    }

    /// Publishes resonance counts to the room. Called at a fixed cadence (``RoomService``), so
    /// taps reach the room in batches, never one by one; and only once at least the session's
    /// reveal minimum of new taps have come since the last batch (fewer wait for the next
    /// tick), so that a batch is never one man's tap. The room's counts may therefore lag by
    /// fewer than the minimum; the console and the transcript have them all.
    func publishResonance() async {
        let state = await session.state
        let counts = MeetingRoom.resonance(in: state)
        guard counts != publishedResonance else { return }
        let new = counts.reduce(0) { $0 + max(0, $1.value - (publishedResonance[$1.key] ?? 0)) }
        // Taps that came another way (from another laptop) count as one phone each.
        let phones = tappersSinceBatch.count + max(0, new - tapsSinceBatch)
        guard new >= state.created.minimumToReveal, phones >= state.created.minimumToReveal else { return }
        publishedResonance = counts
        tapsSinceBatch = 0
        tappersSinceBatch = []
        await refreshRoom()
    }

    /// Recomputes the room's view; if it differs from what the room saw, sends it. One at a
    /// time: a call that comes while one runs makes it run again when it is done.
    private func refreshRoom() async {
        guard !refreshing else {
            refreshAgain = true
            return
        }
        refreshing = true
        defer { refreshing = false }
        repeat {
            refreshAgain = false
            var next = await currentRoomView()
            next.version = roomView.version
            guard next != roomView else { continue }
            next.version += 1
            roomView = next
            feed.record(next)
            var cache: [Audience: Outgoing] = [:]
            for subscriber in subscribers.values where subscriber.audience != .facilitator {
                if cache[subscriber.audience] == nil { cache[subscriber.audience] = await message(for: subscriber.audience) }
                subscriber.continuation.yield(cache[subscriber.audience]!)
            }
        } while refreshAgain
    }

    /// Whether this node takes the room's reflections now. The node that created the session
    /// does; a co-facilitator stands by while it is linked to it, and takes over only while it
    /// cannot reach it, so that one phone cannot write once on each laptop and fill most of a
    /// batch (each laptop counts writers only for itself).
    nonisolated func takesReflections() async -> Bool {
        guard session.acceptsReflections else { return false }
        if session.creator == session.nodeKey.publicKey { return true }
        return await !(replicator?.isLinked(to: session.creator) ?? false)
    }

    private func sendConsole() async {
        // Cleared before the state is read: an arrival after this sets it again (the next
        // burst tells it), and one before is in the view sent now.
        arrivalsPending.store(false, ordering: .releasing)
        consoleVersion += 1
        var text: String?
        for subscriber in subscribers.values where subscriber.audience == .facilitator {
            if text == nil { text = Wire.message("console", await consoleView()) }
            subscriber.continuation.yield(.text(text!))
        }
    }

    private func message(for audience: Audience) async -> Outgoing {
        switch audience {
        case .participant: .text(Wire.message("state", participantView()))
        case .sealedParticipant: .roomChanged
        case .facilitator: .text(Wire.message("console", await consoleView()))
        case .screen: .text(Wire.message("screen", screenView()))
        }
    }

    func whenWiped(_ action: @escaping @Sendable () async -> Void) { onWiped = action }

    /// Wipes the session from this node (the console's button), ends every live page, and
    /// lets the node stop.
    func wipe() async throws(MeetingError) -> TranscriptStore.Wiped {
        let wiped = try await session.wipe()
        wasWiped = true
        closeAll()
        await onWiped?()
        return wiped
    }

    /// Ends every live connection, as the node stops.
    func closeAll() {
        closed = true
        for subscriber in subscribers.values { subscriber.continuation.finish() }
        subscribers.removeAll()
    }
}

/// JSON as the node writes it: sorted keys, so equal states are equal bytes.
enum Wire {
    static func encode(_ value: some Encodable) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Views are plain strings, numbers and arrays; encoding cannot fail.
        return try! encoder.encode(value)
    }

    /// A WebSocket message: `{"type": ..., "data": ...}`.
    static func message<T: Encodable>(_ type: String, _ value: T) -> String {
        String(decoding: encode(Envelope(type: type, data: value)), as: UTF8.self)
    }

    struct Envelope<T: Encodable>: Encodable {
        var type: String
        var data: T
    }
}
