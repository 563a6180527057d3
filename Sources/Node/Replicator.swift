import Foundation
import Meeting
import NIOCore
import Synchronization

/// Keeps this node's copy of a session in step with the other admitted nodes, and admits new
/// ones when the facilitator says so (docs/replication.md).
///
/// The decisions are pure state machines in `Meeting`: ``Replica`` (what to send, what to
/// keep), ``PairingDesk`` (who waits to be admitted) and ``SecondCopy`` (when a phone's
/// reflection is acknowledged). This actor is the thin loop around them: it reads each
/// link's messages, feeds them in, and writes what they return. Its parts:
/// - this file: links and what flows over them;
/// - `Replicator+Pairing.swift`: connections other nodes make, and admitting them;
/// - `Replicator+Dialing.swift`: calling admitted nodes;
/// - `Replicator+Status.swift`: what the console shows.
///
/// Every connection is ``PeerTransport`` (TLS 1.3, pinned Ed25519 keys). A node that is
/// admitted replicates: each side sends what it holds, each pushes what the other lacks, then
/// every new event is pushed as it happens. A node that is not admitted may only ask to be:
/// it gets a pairing code and waits; everything else it is refused, and the facilitator is
/// warned.
public actor Replicator {
    public nonisolated let session: LiveSession
    nonisolated let identity: PeerTransport.Identity
    nonisolated let name: String
    nonisolated let participantURL: String?
    nonisolated let joinCode: String?
    /// The port this node takes other nodes' calls on, once it listens.
    nonisolated let peerPort = Mutex<Int?>(nil)
    nonisolated let say: @Sendable (String) -> Void
    var onChange: (@Sendable () async -> Void)?

    typealias Writer = NIOAsyncChannelOutboundWriter<ByteBuffer>

    struct Link {
        var key: PublicKey
        var role: Replica.Role
        var name: String
        var participantURL: String?
        var writer: Writer
    }
    var links: [UUID: Link] = [:]
    /// Where the pages of every co-facilitator this node linked with while it ran were served
    /// ("http://host:port"): a page from there may move here after its laptop vanished.
    private(set) var participantOrigins: Set<String> = []

    /// What a waiting laptop's connection needs: where to write, and how to end it.
    struct Line: Sendable {
        var writer: Writer
        var close: @Sendable () -> Void
    }
    var desk = PairingDesk<Line>()
    /// Where admitted nodes were last reached (a link, their greeting): host and peer port.
    var addresses: [PublicKey: (host: String, port: Int)] = [:]
    /// What mDNS said, by node tag (``Presence/nodeTag(of:in:)``): a few addresses per tag,
    /// newest first, so that a spoofed announcement cannot hide the real one; kept for nodes
    /// not (yet) admitted, which may be soon. Hints only: every call pins the node's key.
    var hints: [String: [(host: String, port: Int)]] = [:]
    static let hintsPerNode = 4, maxHintedNodes = 256
    static let maxWarnings = 20
    var dialing: Set<PublicKey> = []
    var secondCopies = SecondCopy()
    var ackWaiters: [EventID: CheckedContinuation<Bool, Never>] = [:]
    /// What the facilitator should know: refused nodes, refused events (the newest few).
    private(set) var warnings: [String] = []
    var warningCount: Int { warnings.count }

    /// How long a participant's acknowledgement waits for a second node before the local copy stands.
    let secondCopyTimeout: Duration
    /// How often each side of a link says it is there, and how long a silent link is kept.
    nonisolated let linkBeat: Duration
    nonisolated let linkSilence: Duration
    /// What one address may take of the node-to-node port.
    nonisolated let limits: PeerLimits

    public init(
        session: LiveSession, identity: PeerTransportIdentity, name: String, participantURL: String?, joinCode: String?,
        secondCopyTimeout: Duration = .seconds(2), limits: PeerLimits = PeerLimits(), linkBeat: Duration = .seconds(1),
        linkSilence: Duration = .milliseconds(3500), say: @escaping @Sendable (String) -> Void
    ) {
        self.secondCopyTimeout = secondCopyTimeout
        self.linkBeat = linkBeat
        self.linkSilence = linkSilence
        self.limits = limits
        self.session = session
        self.identity = identity.identity
        self.name = name
        self.participantURL = participantURL
        self.joinCode = joinCode
        self.say = say
    }

    /// Starts observing the session: local events are pushed to peers as they happen.
    public func start(onChange: @escaping @Sendable () async -> Void) async {
        self.onChange = onChange
        await session.observe { [weak self] event, origin in
            guard let self else { return }
            switch origin {
            case .participant: await self.pushWaitingForSecondCopy(event)
            case .facilitator: await self.push([event], except: nil)
            case .peer: break  // forwarded by the link it came from, which knows its source
            }
        }
    }

    public nonisolated var myKey: PublicKey { identity.key.publicKey }

    func warn(_ text: String) async {
        warnings.append(text)
        if warnings.count > Replicator.maxWarnings { warnings.removeFirst(warnings.count - Replicator.maxWarnings) }
        say(text)
        await onChange?()
    }

    func hello() -> PeerHello {
        PeerHello(
            name: name, peerPort: peerPort.withLock { $0 }, participantURL: participantURL, session: session.id, wantsAdmission: false)
    }

    static func role(of key: PublicKey, in state: SessionState) -> Replica.Role? {
        if state.facilitators.contains(key) { return .coFacilitator }
        if state.archivists.contains(key) { return .archivist }
        return nil
    }

    static func next(_ messages: inout NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator) async throws -> PeerMessage? {
        guard let frame = try await messages.next() else { return nil }
        return try PeerMessage(decoding: frame.readableBytesView)
    }

    /// Writes messages on a link; a link that broke is ended by its reading side.
    func write(_ messages: [PeerMessage], to writer: Writer) async {
        for message in messages { try? await writer.write(message.buffer) }
    }

    // MARK: Links

    /// Runs one replication link until it closes, or until the other node has been silent too
    /// long (``beat(on:heard:name:close:)``, which then calls `close`).
    nonisolated func replicate(
        with key: PublicKey, role: Replica.Role, hello: PeerHello, address: String?,
        messages: inout NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator, writer: Writer, close: @escaping @Sendable () -> Void
    ) async {
        let id = UUID()
        let name = Presence.printable(hello.name)
        await addLink(
            id, Link(key: key, role: role, name: name, participantURL: hello.participantURL, writer: writer),
            address: address, peerPort: hello.peerPort)
        let heard = Heard()
        let watch = beat(on: writer, heard: heard, name: name, close: close)
        defer { watch.cancel() }
        do {
            while let message = try await Replicator.next(&messages) {
                heard.message()
                if message != .beat { await handle(message, from: id, key: key, role: role, writer: writer) }
                heard.done()
            }
        } catch {
            if !(error is CancellationError) { say("The link with \(name) closed: \(error).") }
        }
        await dropped(id)
    }

    private func addLink(_ id: UUID, _ link: Link, address: String?, peerPort: Int?) async {
        // One link per node: a newer one replaces an older (the node restarted).
        for (other, old) in links where old.key == link.key {
            links[other] = nil
            old.writer.finish()
        }
        links[id] = link
        if link.role == .coFacilitator, let url = link.participantURL, url.hasPrefix("http://") {
            // As a browser names it: no trailing slash, no default port.
            var origin = url.hasSuffix("/") ? String(url.dropLast()) : url
            if origin.hasSuffix(":80") { origin.removeLast(3) }
            participantOrigins.insert(origin)
        }
        desk.linked(link.key)
        if let address, let peerPort { addresses[link.key] = (address, peerPort) }
        say("Linked with \(link.name) (\(link.key.fingerprint)), \(link.role.wireName).")
        await onChange?()
        var replica = await session.replica
        await write([replica.summary(for: link.role)], to: link.writer)
    }

    private func dropped(_ id: UUID) async {
        guard let link = links.removeValue(forKey: id) else { return }
        say("Lost the link with \(link.name) (\(link.key.fingerprint)).")
        // With no co-facilitator left, no copy can come: phones waiting for one are answered
        // now, on this node's copy alone.
        if !links.values.contains(where: { $0.role == .coFacilitator }) {
            for id in secondCopies.noneCanCome() { ackWaiters.removeValue(forKey: id)?.resume(returning: false) }
        }
        await onChange?()
    }

    /// One message on a replication link. A summary is answered from the session's replica;
    /// events are merged (verified and on disk) before they are acknowledged and forwarded.
    private func handle(_ message: PeerMessage, from id: UUID, key: PublicKey, role: Replica.Role, writer: Writer) async {
        switch message {
        case .have(let s, _) where s == session.id:
            var replica = await session.replica
            await write(replica.receive(message, from: role), to: writer)
        case .events(let s, let list) where s == session.id:
            do {
                let merge = try await session.merge(list, from: role)
                // The facilitator is warned before the sender hears what was stored: once it
                // has its answer, the console already says what was refused.
                if !merge.refused.isEmpty {
                    await warn(
                        "Refused \(merge.refused.count) event\(merge.refused.count == 1 ? "" : "s") from \(links[id]?.name ?? "a node") (\(key.fingerprint)): a bad signature or a signer without authority."
                    )
                }
                await write([.stored(session: s, ids: merge.stored)], to: writer)
                if !merge.added.isEmpty {
                    await push(merge.added, except: id)
                    await onChange?()
                }
            } catch {
                say("Events from \(key.fingerprint) could not be stored: \(error). They will be sent again.")
            }
        case .stored(let s, let ids) where s == session.id:
            for id in secondCopies.stored(ids, from: role) { ackWaiters.removeValue(forKey: id)?.resume(returning: true) }
        default:
            break
        }
    }

    /// Pushes new events to every link that may hold them, except the one they came from.
    func push(_ events: [Event], except source: UUID?) async {
        // Alone, nothing is copied: a reflection taken on a laptop with no other costs no more.
        guard links.keys.contains(where: { $0 != source }) else { return }
        let replica = await session.replica
        for (id, link) in links where id != source {
            let list = replica.push(events, to: link.role)
            if !list.isEmpty { await write(replica.send(list), to: link.writer) }
        }
    }

    // MARK: The second copy

    /// A participant's event: pushed, and the acknowledgement waits until a co-facilitator
    /// holds it durably, if one is connected (otherwise this node's fsync stands).
    private func pushWaitingForSecondCopy(_ event: Event) async {
        guard links.values.contains(where: { $0.role == .coFacilitator }) else {
            await push([event], except: nil)
            return
        }
        let id = event.id
        secondCopies.sent(id)
        await push([event], except: nil)
        let confirmed = await withTaskGroup(of: Void.self) { group -> Bool in
            group.addTask { [secondCopyTimeout] in
                try? await Task.sleep(for: secondCopyTimeout)
                await self.timedOut(id)
            }
            defer { group.cancelAll() }
            return await self.waitForSecondCopy(id)
        }
        if !confirmed { say("No second node confirmed a reflection within \(secondCopyTimeout); this node's copy stands.") }
    }

    private func waitForSecondCopy(_ id: EventID) async -> Bool {
        switch secondCopies.wait(for: id) {
        case .confirmed: return true
        case .ownCopyStands: return false
        case .wait: return await withCheckedContinuation { ackWaiters[id] = $0 }
        }
    }

    private func timedOut(_ id: EventID) {
        if secondCopies.timedOut(id) { ackWaiters.removeValue(forKey: id)?.resume(returning: false) }
    }
}

/// Where a node takes other nodes' calls.
public struct PeerHint: Sendable {
    public var key: PublicKey
    public var host: String
    public var port: Int
}

/// A node's TLS identity, made once from its key.
public struct PeerTransportIdentity: Sendable {
    let identity: PeerTransport.Identity
    public init(key: SigningKey) throws { identity = try PeerTransport.Identity(key: key) }
}
