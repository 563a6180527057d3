import Foundation
import Meeting

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
    let registry = ParticipantRegistry()
    let throttle = GuessThrottle()

    enum Audience: Sendable { case participant, facilitator, screen }
    private struct Subscriber { var audience: Audience; var continuation: AsyncStream<String>.Continuation }
    private var subscribers: [UUID: Subscriber] = [:]
    /// The node-to-node side, once the node runs one.
    private(set) var replicator: Replicator?
    /// Called once the session was wiped from this node (the node then stops).
    private var onWiped: (@Sendable () async -> Void)?
    public private(set) var wasWiped = false
    private var version = 0
    private var broadcastPending = false
    /// What participants were last sent (without its version), so an unchanged view is not resent.
    private var lastParticipantView: ParticipantView?

    init(session: LiveSession, access: TranscriptStore.Access, participantURL: String, onePerPrompt: Bool) async {
        self.session = session
        self.access = access
        self.onePerPrompt = onePerPrompt
        let joinURL = participantURL + "#code=" + access.joinCode
        links = Links(joinCode: access.joinCode, participantURL: participantURL, qr: QRMatrix(QRCode(joinURL)))
        await registry.promptIs(await session.state.openPrompt)
    }

    nonisolated var joinURL: String { links.joinURL }

    /// Connects the node-to-node side: events from other nodes update every page.
    func attach(_ replicator: Replicator) async {
        self.replicator = replicator
        await replicator.start(onChange: { [weak self] in await self?.changed() })
    }

    // MARK: Views

    func participantView() async -> ParticipantView {
        var view = ParticipantView(await session.state, version: version)
        view.nodes = await replicator?.otherNodes() ?? []
        return view
    }

    func consoleView() async -> ConsoleView {
        var view = ConsoleView(await session.state, version: version, links: links, now: Int64(Date().timeIntervalSince1970 * 1000))
        view.nodes = await replicator?.status()
        view.role = await session.role.wireName
        return view
    }

    func screenView() async -> ScreenView {
        ScreenView(state: await participantView(), joinCode: AccessCodes.display(links.joinCode),
                   participantURL: links.participantURL, qr: links.qr)
    }

    // MARK: Live updates

    /// A stream of JSON texts for one audience: the current state now, then each change.
    /// Only the newest state is buffered, so a slow client never makes the node hold more.
    func subscribe(_ audience: Audience) async -> (UUID, AsyncStream<String>) {
        let id = UUID()
        let (stream, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(1))
        subscribers[id] = Subscriber(audience: audience, continuation: continuation)
        continuation.yield(await message(for: audience))
        return (id, stream)
    }

    func unsubscribe(_ id: UUID) {
        subscribers.removeValue(forKey: id)?.continuation.finish()
    }

    var subscriberCount: Int { subscribers.count }

    /// Tells everyone watching that the session changed. Facilitators' actions are sent at
    /// once; a burst of submissions (which change only the console's count) is sent together.
    func changed(immediately: Bool = true) async {
        await registry.promptIs(await session.state.openPrompt)
        if immediately {
            await broadcast()
        } else if !broadcastPending {
            broadcastPending = true
            Task {
                try? await Task.sleep(for: .milliseconds(50))
                await self.broadcast()
            }
        }
    }

    private func broadcast() async {
        broadcastPending = false
        version += 1
        var cache: [Audience: String] = [:]
        // Participants and the projector see the same view: if it did not change (only the
        // console's count did), they are not sent anything.
        var unversioned = await participantView()
        unversioned.version = 0
        let participantsUnchanged = unversioned == lastParticipantView
        lastParticipantView = unversioned
        for subscriber in subscribers.values {
            if participantsUnchanged && subscriber.audience != .facilitator { continue }
            if cache[subscriber.audience] == nil { cache[subscriber.audience] = await message(for: subscriber.audience) }
            subscriber.continuation.yield(cache[subscriber.audience]!)
        }
    }

    private func message(for audience: Audience) async -> String {
        switch audience {
        case .participant: return Wire.message("state", await participantView())
        case .facilitator: return Wire.message("console", await consoleView())
        case .screen: return Wire.message("screen", await screenView())
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
