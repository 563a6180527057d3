import Foundation
import Meeting
import NIOCore
import Discovery
import Synchronization

/// Keeps this node's copy of a session in step with the other admitted nodes, and admits new
/// ones when the facilitator says so (docs/replication.md).
///
/// Every connection is ``PeerTransport`` (TLS 1.3, pinned Ed25519 keys). A node that is
/// admitted replicates: each side sends what it holds, each pushes what the other lacks, then
/// every new event is pushed as it happens. A node that is not admitted may only ask to be:
/// it gets a pairing code and waits; everything else it is refused, and the facilitator is
/// warned.
///
/// Thread safety: an actor.
public actor Replicator {
    public nonisolated let session: LiveSession
    nonisolated let identity: PeerTransport.Identity
    nonisolated let name: String
    nonisolated let participantURL: String?
    nonisolated let joinCode: String?
    private var peerPort: Int?
    nonisolated let say: @Sendable (String) -> Void
    private var onChange: (@Sendable () async -> Void)?

    struct Link {
        var key: PublicKey
        var role: Replica.Role
        var name: String
        var participantURL: String?
        var writer: NIOAsyncChannelOutboundWriter<ByteBuffer>
    }
    private var links: [UUID: Link] = [:]

    struct Waiting {
        var key: PublicKey
        var name: String
        var code: String
        /// Where it called from, and the port it said it takes calls on.
        var address: String?
        var peerPort: Int?
        var writer: NIOAsyncChannelOutboundWriter<ByteBuffer>
        /// Ends the connection (the node is turned away).
        var close: @Sendable () -> Void
    }
    private var waiting: [UUID: Waiting] = [:]
    /// Nodes admitted here whose person has not yet confirmed: the console keeps showing
    /// the code and the digest they are comparing, until they link or decline.
    private var confirming: [PublicKey: (code: String, digest: String)] = [:]
    /// Where admitted nodes were last reached (a link, their greeting): host and peer port.
    private var addresses: [PublicKey: (host: String, port: Int)] = [:]
    /// What mDNS said, by node tag (``Presence/nodeTag(of:in:)``): a few addresses per tag,
    /// newest first, so that a spoofed announcement cannot hide the real one; kept for nodes
    /// not (yet) admitted, which may be soon. Hints only: every call pins the node's key.
    private var hints: [String: [(host: String, port: Int)]] = [:]
    static let hintsPerNode = 4, maxHintedNodes = 256
    /// Pairings in progress or waiting for the facilitator, with the address each came from;
    /// a handful at most, and two per address.
    private var seats: [UUID: String] = [:]
    static let maxWaiting = 5, maxWaitingPerAddress = 2
    static let maxWarnings = 20
    private var dialing: Set<PublicKey> = []
    private var ackWaiters: [EventID: [CheckedContinuation<Bool, Never>]] = [:]
    /// Participants' events waiting for a second copy, and acknowledgements that came first.
    private var expecting: Set<EventID> = []
    private var arrived: Set<EventID> = []
    /// What the facilitator should know: refused nodes, refused events (the newest few).
    private(set) var warnings: [String] = []
    var warningCount: Int { warnings.count }

    /// How long a participant's acknowledgement waits for a second node before the local copy stands.
    let secondCopyTimeout: Duration
    /// What one address may take of the node-to-node port.
    nonisolated let limits: PeerLimits

    public init(session: LiveSession, identity: PeerTransportIdentity, name: String, participantURL: String?, joinCode: String?,
                secondCopyTimeout: Duration = .seconds(2), limits: PeerLimits = PeerLimits(), say: @escaping @Sendable (String) -> Void) {
        self.secondCopyTimeout = secondCopyTimeout
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

    // MARK: What the console shows

    public struct Status: Codable, Sendable, Equatable {
        public struct Waiting: Codable, Sendable, Equatable { public var id: String; public var name: String; public var fingerprint: String; public var code: String }
        public struct Admitted: Codable, Sendable, Equatable {
            public var name: String
            public var fingerprint: String
            public var role: String
            public var connected: Bool
            /// While its person has not confirmed: the code and digest its screen shows.
            public var code: String?
            public var digest: String?
        }
        public var waiting: [Waiting]
        public var admitted: [Admitted]
        /// No co-facilitator is connected: this node holds the meeting's only copy.
        public var singleCopy: Bool
        public var warnings: [String]
        public var fingerprint: String
    }

    public func status() async -> Status {
        let state = await session.state
        let connected = Set(links.values.map(\.key))
        var admitted: [Status.Admitted] = []
        for key in state.facilitators.union(state.archivists) where key != myKey {
            admitted.append(.init(name: state.nodeNames[key] ?? (key == state.creator ? "creator" : "node"), fingerprint: key.fingerprint,
                                  role: state.archivists.contains(key) ? "archivist" : "co-facilitator", connected: connected.contains(key),
                                  code: confirming[key]?.code, digest: confirming[key]?.digest))
        }
        return Status(waiting: waiting.map { .init(id: $0.key.uuidString, name: $0.value.name, fingerprint: $0.value.key.fingerprint, code: $0.value.code) }
                        .sorted { $0.name < $1.name },
                      admitted: admitted.sorted { ($0.name, $0.fingerprint) < ($1.name, $1.fingerprint) },
                      singleCopy: !links.values.contains { $0.role == .coFacilitator }, warnings: warnings,
                      fingerprint: myKey.fingerprint)
    }

    /// Turns away a waiting node (by the id the console shows): it is told so and let go.
    public func turnAway(_ id: String) async throws(MeetingError) {
        guard let uuid = UUID(uuidString: id), let entry = waiting.removeValue(forKey: uuid) else {
            throw MeetingError(.noSuchNode, "That node is no longer waiting.")
        }
        try? await entry.writer.write(PeerMessage.refused("The facilitator turned this laptop away.").buffer)
        entry.close()
        say("Turned away \(entry.name) (\(entry.key.fingerprint)).")
        await onChange?()
    }

    /// Whether a link with `key`'s node is up now.
    func isLinked(to key: PublicKey) -> Bool { links.values.contains { $0.key == key } }

    /// The participant addresses of connected co-facilitators, for pages to move to.
    /// The session's creator comes first: a page on a laptop that stands by goes there.
    func otherNodes() async -> [String] {
        let creator = await session.state.creator
        return links.values.filter { $0.role == .coFacilitator }
            .sorted { ($0.key == creator ? 0 : 1, $0.participantURL ?? "") < ($1.key == creator ? 0 : 1, $1.participantURL ?? "") }
            .compactMap(\.participantURL)
    }

    private func warn(_ text: String) async {
        warnings.append(text)
        if warnings.count > Replicator.maxWarnings { warnings.removeFirst(warnings.count - Replicator.maxWarnings) }
        say(text)
        await onChange?()
    }

    // MARK: Admission

    /// Admits a waiting node (by the id the console shows) in `role`.
    public func admit(_ id: String, as role: Replica.Role) async throws(MeetingError) {
        // Taken off the list before anything is awaited: a second click, or Turn away, finds
        // it gone rather than admitting it twice.
        guard let uuid = UUID(uuidString: id), let entry = waiting.removeValue(forKey: uuid) else {
            throw MeetingError(.noSuchNode, "That node is no longer waiting; it may have stopped. Ask it to try again.")
        }
        // A node admitted before (whose person then declined, or that lost its data) is sent
        // its admission again; the session already records it.
        do throws(MeetingError) {
            switch Replicator.role(of: entry.key, in: await session.state) {
            case nil: try await session.admit(entry.key, as: role, name: entry.name)
            case role?: break
            case let other?:
                throw MeetingError(.alreadyAdmitted, "That node is already admitted as \(other.wireName); admit it as \(other.wireName) again.")
            }
        } catch {
            waiting[uuid] = entry
            throw error
        }
        if let address = entry.address, let port = entry.peerPort { addresses[entry.key] = (address, port) }
        let admission = PeerAdmission(session: session.id, role: role,
                                      roomSecret: role == .coFacilitator ? session.roomKeyForCoFacilitators : nil,
                                      joinCode: role == .coFacilitator ? joinCode : nil)
        try? await entry.writer.write(PeerMessage.admitted(admission).buffer)
        // Everything it may hold, then this node's summary, which ends the catch-up.
        var replica = await session.replica
        await send(replica.missing(from: [], for: role), to: entry.writer)
        await sendSummary(of: &replica, to: entry.writer)
        // What its person now compares with this console, shown until it links or declines.
        var sent = Replica(state: replica.state, role: role)
        confirming[entry.key] = (entry.code, sent.digest.short)
        // The new node closes this connection once it holds the session; from then on the
        // two replicate over a link like any other pair (docs/replication.md).
        say("Admitted \(entry.name) (\(entry.key.fingerprint)) as \(role.wireName).")
        await onChange?()
    }

    // MARK: Connections

    /// Handles a connection another node made to this one.
    nonisolated func accept(_ connection: PeerTransport.Connection) async {
        do {
            try await connection.channel.executeThenClose { inbound, outbound in
                var messages = inbound.makeAsyncIterator()
                guard let first = try await Replicator.next(&messages), case .hello(let hello) = first,
                      let key = connection.peerKey() else { return }
                let state = await session.state
                if let role = Replicator.role(of: key, in: state), hello.sessionID == session.id, key != myKey {
                    // Only an admitted node learns anything of the session, this greeting included.
                    connection.greeted()
                    try await outbound.write(PeerMessage.hello(await self.hello()).buffer)
                    await self.replicate(with: key, role: role, hello: hello, address: connection.remoteAddress,
                                         messages: &messages, writer: outbound)
                } else if hello.wantsAdmission, hello.sessionID == nil {
                    try await outbound.write(PeerMessage.hello(PeerHello(name: name, peerPort: nil, participantURL: nil, session: nil, wantsAdmission: false)).buffer)
                    let channel = connection.channel.channel
                    try await self.pair(with: key, hello: hello, connectionAddress: connection.remoteAddress, greeted: connection.greeted,
                                        close: { channel.close(promise: nil) }, messages: &messages, writer: outbound)
                } else {
                    try await outbound.write(PeerMessage.refused("This node is not admitted to the session. Run `halqa node` on it and ask the facilitator to admit it.").buffer)
                    await self.warn("Refused a node that is not admitted (\(Presence.printable(hello.name)), key \(key.fingerprint)): it asked for the session.")
                }
            }
        } catch {
            // A connection that broke mid-way is simply gone; its peer will call again.
        }
    }

    func hello() -> PeerHello {
        PeerHello(name: name, peerPort: peerPort, participantURL: participantURL, session: session.id, wantsAdmission: false)
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

    /// The host's side of pairing: commit, take the node's nonce, reveal, show the code, wait.
    private nonisolated func pair(with key: PublicKey, hello: PeerHello, connectionAddress: String?, greeted: @Sendable () -> Void,
                                  close: @escaping @Sendable () -> Void,
                                  messages: inout NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator,
                                  writer: NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws {
        guard key != myKey else { return }
        let id = UUID(), name = Presence.printable(hello.name)
        if let refusal = await takeSeat(id, from: connectionAddress ?? "unknown") {
            try await writer.write(PeerMessage.refused(refusal).buffer)
            return
        }
        defer { Task { await self.leaveSeat(id) } }
        let nonce = Pairing.nonce()
        try await writer.write(PeerMessage.pairCommit(Pairing.commitment(to: nonce)).buffer)
        // Its nonce comes at once from a real node; the hello deadline still runs until it does,
        // so a silent one does not keep its seat.
        guard case .pairNonce(let theirs)? = try await Replicator.next(&messages) else { return }
        greeted()
        try await writer.write(PeerMessage.pairReveal(nonce).buffer)
        let code = Pairing.code(host: myKey, node: key, hostNonce: nonce, nodeNonce: theirs)
        await addWaiting(id, Waiting(key: key, name: name, code: code, address: connectionAddress, peerPort: hello.peerPort,
                                     writer: writer, close: close))
        // Waits for the facilitator (who admits it through ``admit(_:as:)``, or turns it away),
        // and, once admitted, for its person's answer; ten minutes at most, so a connection
        // that went quiet (Wi-Fi lost) does not keep its place for ever.
        let expiry = Task {
            try await Task.sleep(for: .seconds(600))
            close()
        }
        defer { expiry.cancel() }
        do {
            while let message = try await Replicator.next(&messages) {
                // Its person's "no", once admitted: said once, then the connection ends.
                if case .refused(let why) = message, await declined(key, name: name, why: Presence.printable(why)) { break }
            }
        } catch {}
        await removeWaiting(id)
        await forgetUnconfirmed(key)
    }

    /// A node admitted here whose person said no: the console warns, and it is not called.
    private func declined(_ key: PublicKey, name: String, why: String) async -> Bool {
        guard confirming.removeValue(forKey: key) != nil else { return false }
        addresses[key] = nil
        await warn("\(name) (\(key.fingerprint)) kept nothing: \(why)")
        return true
    }

    /// A node that went away without confirming is no longer shown as about to.
    private func forgetUnconfirmed(_ key: PublicKey) async {
        if confirming.removeValue(forKey: key) != nil { await onChange?() }
    }

    private func addWaiting(_ id: UUID, _ entry: Waiting) async {
        waiting[id] = entry
        say("\(entry.name) (\(entry.key.fingerprint)) asks to join; its code is \(entry.code). Admit it on the console if its screen shows the same code.")
        await onChange?()
    }

    public func remember(_ key: PublicKey, host: String, port: Int) { addresses[key] = (host, port) }

    /// A seat for a pairing from `address`, or why there is none.
    private func takeSeat(_ id: UUID, from address: String) -> String? {
        guard seats.count < Replicator.maxWaiting else {
            return "\(Replicator.maxWaiting) laptops are already waiting to be admitted here. Ask the facilitator to admit or turn them away, then try again."
        }
        guard seats.values.filter({ $0 == address }).count < Replicator.maxWaitingPerAddress else {
            return "This laptop is already waiting to be admitted here. Ask the facilitator to admit or turn it away."
        }
        seats[id] = address
        return nil
    }

    private func leaveSeat(_ id: UUID) { seats[id] = nil }

    private func removeWaiting(_ id: UUID) async {
        if waiting.removeValue(forKey: id) != nil { await onChange?() }
    }

    /// Runs one replication link until it closes.
    nonisolated func replicate(with key: PublicKey, role: Replica.Role, hello: PeerHello, address: String?,
                               messages: inout NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator,
                               writer: NIOAsyncChannelOutboundWriter<ByteBuffer>) async {
        let id = UUID()
        await addLink(id, Link(key: key, role: role, name: Presence.printable(hello.name), participantURL: hello.participantURL, writer: writer),
                      address: address, peerPort: hello.peerPort)
        do {
            while let message = try await Replicator.next(&messages) {
                await handle(message, from: id, key: key, role: role, writer: writer)
            }
        } catch {
            if !(error is CancellationError) { say("The link with \(Presence.printable(hello.name)) closed: \(error).") }
        }
        await dropped(id)
    }

    private func addLink(_ id: UUID, _ link: Link, address: String?, peerPort: Int?) async {
        // One link per node: a newer one replaces an older (the node restarted).
        for (other, old) in links where old.key == link.key { links[other] = nil; old.writer.finish() }
        links[id] = link
        confirming[link.key] = nil
        if let address, let peerPort { addresses[link.key] = (address, peerPort) }
        say("Linked with \(link.name) (\(link.key.fingerprint)), \(link.role.wireName).")
        await onChange?()
        var replica = await session.replica
        await sendSummary(of: &replica, to: link.writer)
    }

    private func dropped(_ id: UUID) async {
        if let link = links.removeValue(forKey: id) {
            say("Lost the link with \(link.name) (\(link.key.fingerprint)).")
            await onChange?()
        }
    }

    /// One message on a replication link.
    private func handle(_ message: PeerMessage, from id: UUID, key: PublicKey, role: Replica.Role,
                        writer: NIOAsyncChannelOutboundWriter<ByteBuffer>) async {
        switch message {
        case .have(let s, let ids) where s == session.id:
            var replica = await session.replica
            await send(replica.missing(from: Set(ids), for: role), to: writer)
        case .events(let s, let list) where s == session.id:
            do {
                let merge = try await session.merge(list, from: role)
                try? await writer.write(PeerMessage.stored(session: s, ids: merge.stored).buffer)
                if !merge.refused.isEmpty {
                    await warn("Refused \(merge.refused.count) event\(merge.refused.count == 1 ? "" : "s") from \(links[id]?.name ?? "a node") (\(key.fingerprint)): a bad signature or a signer without authority.")
                }
                if !merge.added.isEmpty {
                    await push(merge.added, except: id)
                    await onChange?()
                }
            } catch {
                say("Events from \(key.fingerprint) could not be stored: \(error). They will be sent again.")
            }
        case .stored(let s, let ids) where s == session.id && role == .coFacilitator:
            for id in ids where expecting.contains(id) {
                if let waiters = ackWaiters.removeValue(forKey: id) { waiters.forEach { $0.resume(returning: true) } } else { arrived.insert(id) }
            }
        default:
            break
        }
    }

    /// Sends what this node holds (and has refused), which starts a round on a link.
    private func sendSummary(of replica: inout Replica, to writer: NIOAsyncChannelOutboundWriter<ByteBuffer>) async {
        guard case .have(let s, let ids) = replica.summary() else { return }
        try? await writer.write(PeerMessage.have(session: s, ids: Array(ids)).buffer)
    }

    /// Sends events in messages of bounded size.
    private func send(_ list: [[UInt8]], to writer: NIOAsyncChannelOutboundWriter<ByteBuffer>) async {
        var batch: [[UInt8]] = []
        var size = 0
        for bytes in list {
            if batch.count == PeerMessage.maxEventsPerMessage || size + bytes.count + 4 > PeerMessage.maxFrame - 64 {
                try? await writer.write(PeerMessage.events(session: session.id, events: batch).buffer)
                batch = []
                size = 0
            }
            batch.append(bytes)
            size += bytes.count + 4
        }
        if !batch.isEmpty { try? await writer.write(PeerMessage.events(session: session.id, events: batch).buffer) }
    }

    /// Pushes new events to every link that may hold them, except the one they came from.
    /// An archivist gets a reveal together with the reflections it reveals.
    private func push(_ events: [Event], except source: UUID?) async {
        let state = await session.state
        for (id, link) in links where id != source {
            var list: [[UInt8]] = []
            for event in events {
                if link.role == .archivist {
                    if case .reflectionSubmitted = event.body, !state.isRevealed(event.id) { continue }
                    list.append(event.bytes)
                    if case .reflectionsRevealed(_, let order) = event.body {
                        list += order.compactMap { state.event($0)?.bytes }
                    }
                } else {
                    list.append(event.bytes)
                }
            }
            if !list.isEmpty { await send(list, to: link.writer) }
        }
    }

    /// A participant's event: pushed, and the acknowledgement waits until a co-facilitator
    /// holds it durably, if one is connected (otherwise this node's fsync stands).
    private func pushWaitingForSecondCopy(_ event: Event) async {
        guard links.values.contains(where: { $0.role == .coFacilitator }) else {
            await push([event], except: nil)
            return
        }
        let id = event.id
        expecting.insert(id)
        await push([event], except: nil)
        let timeout = Task {
            try? await Task.sleep(for: self.secondCopyTimeout)
            await self.giveUp(id)
        }
        let confirmed: Bool
        if arrived.remove(id) != nil {
            confirmed = true
        } else {
            confirmed = await withCheckedContinuation { continuation in ackWaiters[id, default: []].append(continuation) }
        }
        timeout.cancel()
        expecting.remove(id)
        if !confirmed { say("No second node confirmed a reflection within \(secondCopyTimeout); this node's copy stands.") }
    }

    private func giveUp(_ id: EventID) {
        if expecting.contains(id), ackWaiters[id] == nil { arrived.remove(id); expecting.remove(id) }
        ackWaiters.removeValue(forKey: id)?.forEach { $0.resume(returning: false) }
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

// MARK: Calling other nodes

extension Replicator {
    /// Listens for other nodes on `port` and keeps calling the admitted nodes this one should
    /// call, until cancelled. Of two nodes, the one with the smaller key calls the other, so
    /// that they never hold two links to each other.
    public nonisolated func run(host: String, port: Int, bound: @escaping @Sendable (Int) -> Void) async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                try await PeerTransport.listen(host: host, port: port, identity: self.identity, limits: self.limits, bound: { p in
                    Task { await self.setPeerPort(p) }
                    bound(p)
                }, handle: { connection in await self.accept(connection) })
            }
            group.addTask {
                try await withThrowingDiscardingTaskGroup { calls in
                    while !Task.isCancelled {
                        for (key, candidates) in await self.toCall() {
                            calls.addTask { await self.dial(key, candidates: candidates) }
                        }
                        try await Task.sleep(for: .milliseconds(500))
                    }
                }
            }
        }
    }

    private func setPeerPort(_ port: Int) { peerPort = port }

    /// Admitted nodes with no link, a larger key than this node's, and somewhere to call:
    /// the address that last worked first, then what mDNS said.
    private func toCall() async -> [(PublicKey, [(host: String, port: Int)])] {
        let state = await session.state
        let linked = Set(links.values.map(\.key))
        var out: [(PublicKey, [(host: String, port: Int)])] = []
        for key in state.facilitators.union(state.archivists) where myKey < key && !linked.contains(key) && !dialing.contains(key) {
            var candidates = addresses[key].map { [$0] } ?? []
            for hint in hints[Presence.nodeTag(of: key, in: session.id)] ?? [] where !candidates.contains(where: { $0 == hint }) {
                candidates.append(hint)
            }
            if !candidates.isEmpty {
                dialing.insert(key)
                out.append((key, candidates))
            }
        }
        return out
    }

    private func doneDialing(_ key: PublicKey) { dialing.remove(key) }

    /// Where a node was seen on the LAN (an mDNS hint, never proof: the call pins its key).
    func seen(nodeTag: String, host: String, peerPort: Int) {
        var list = hints[nodeTag] ?? []
        list.removeAll { $0.host == host && $0.port == peerPort }
        list.insert((host, peerPort), at: 0)
        hints[nodeTag] = Array(list.prefix(Replicator.hintsPerNode))
        guard hints.count > Replicator.maxHintedNodes else { return }
        // A flood of announcements evicts a stranger's hint, never an admitted node's.
        Task { await self.evictHint(except: nodeTag) }
    }

    private func evictHint(except kept: String) async {
        let state = await session.state
        let admitted = Set(state.facilitators.union(state.archivists).map { Presence.nodeTag(of: $0, in: session.id) })
        if hints.count > Replicator.maxHintedNodes, let stranger = hints.keys.first(where: { $0 != kept && !admitted.contains($0) }) {
            hints[stranger] = nil
        }
    }

    /// Calls an admitted node at each candidate address in turn (the call pins its key, so a
    /// wrong or spoofed address fails at once) and replicates with it until the link closes.
    nonisolated func dial(_ key: PublicKey, candidates: [(host: String, port: Int)]) async {
        defer { Task { await self.doneDialing(key) } }
        for (host, port) in candidates {
            // TCP connects before TLS checks the key: a wrong or spoofed address fails inside,
            // and the next candidate is tried.
            guard let connection = try? await PeerTransport.connect(host: host, port: port, identity: identity, expect: key.fingerprint) else { continue }
            let linked: Bool? = try? await connection.channel.executeThenClose { inbound, outbound in
                try await outbound.write(PeerMessage.hello(await self.hello()).buffer)
                var messages = inbound.makeAsyncIterator()
                let first = try await Replicator.next(&messages)
                guard case .hello(let theirs)? = first, let role = Replicator.role(of: key, in: await session.state) else {
                    if case .refused(let why)? = first { say("\(host) refused this node: \(Presence.printable(why))") }
                    return false
                }
                await self.replicate(with: key, role: role, hello: theirs, address: host, messages: &messages, writer: outbound)
                return true
            }
            if linked == true { return }
        }
        // Nowhere answered as that node: wait before calling again.
        try? await Task.sleep(for: .seconds(1))
    }
}
