import Foundation
import Meeting
import NIOCore

/// Connections other nodes make to this one, and admitting new nodes (docs/replication.md,
/// "Admitting a node"). Who waits, and the limits on waiting, are ``PairingDesk``'s.
extension Replicator {
    /// Handles a connection another node made to this one.
    nonisolated func accept(_ connection: PeerTransport.Connection) async {
        do {
            try await connection.channel.executeThenClose { inbound, outbound in
                var messages = inbound.makeAsyncIterator()
                guard let first = try await Replicator.next(&messages), case .hello(let hello) = first,
                    let key = connection.peerKey()
                else { return }
                let state = await session.state
                if let role = Replicator.role(of: key, in: state), hello.sessionID == session.id, key != myKey {
                    // Only an admitted node learns anything of the session, this greeting included.
                    connection.greeted()
                    try await outbound.write(PeerMessage.hello(await self.hello()).buffer)
                    await self.replicate(
                        with: key, role: role, hello: hello, address: connection.remoteAddress,
                        messages: &messages, writer: outbound, close: connection.close)
                } else if hello.wantsAdmission, hello.sessionID == nil {
                    try await outbound.write(
                        PeerMessage.hello(PeerHello(name: name, peerPort: nil, participantURL: nil, session: nil, wantsAdmission: false))
                            .buffer)
                    try await self.pair(
                        with: key, hello: hello, connectionAddress: connection.remoteAddress, greeted: connection.greeted,
                        line: Line(writer: outbound, close: connection.close), messages: &messages)
                } else {
                    try await outbound.write(
                        PeerMessage.refused(
                            "This node is not admitted to the session. Run `halqa node` on it and ask the facilitator to admit it."
                        ).buffer)
                    await self.warn(
                        "Refused a node that is not admitted (\(Presence.printable(hello.name)), key \(key.fingerprint)): it asked for the session."
                    )
                }
            }
        } catch {
            // A connection that broke mid-way is simply gone; its peer will call again.
        }
    }

    /// How long an admitted node's pairing connection may wait for the facilitator and then
    /// for its person's answer: a connection that went quiet (Wi-Fi lost) does not keep its
    /// place for ever.
    static let waitingExpiry: Duration = .seconds(600)

    /// The host's side of pairing: commit, take the node's nonce, reveal, show the code, wait.
    private nonisolated func pair(
        with key: PublicKey, hello: PeerHello, connectionAddress: String?, greeted: @Sendable () -> Void,
        line: Line, messages: inout NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    ) async throws {
        guard key != myKey else { return }
        let id = UUID()
        let name = Presence.printable(hello.name)
        if let refusal = await seat(id, from: connectionAddress ?? "unknown") {
            try await line.writer.write(PeerMessage.refused(refusal.message).buffer)
            return
        }
        do {
            let nonce = Pairing.nonce()
            try await line.writer.write(PeerMessage.pairCommit(Pairing.commitment(to: nonce)).buffer)
            // Its nonce comes at once from a real node; the hello deadline still runs until it
            // does, so a silent one does not keep its seat.
            guard case .pairNonce(let theirs)? = try await Replicator.next(&messages) else {
                await ended(id, key: key)
                return
            }
            greeted()
            try await line.writer.write(PeerMessage.pairReveal(nonce).buffer)
            let code = Pairing.code(host: myKey, node: key, hostNonce: nonce, nodeNonce: theirs)
            await waits(id, .init(key: key, name: name, code: code, address: connectionAddress, peerPort: hello.peerPort, line: line))
            // Waits for the facilitator (who admits it through ``admit(_:as:)``, or turns it
            // away), and, once admitted, for its person's answer.
            try? await withDeadline(Replicator.waitingExpiry, onExpiry: line.close) {
                while let message = try await Replicator.next(&messages) {
                    // Its person's "no", once admitted: said once, then the connection ends.
                    if case .refused(let why) = message, await self.declined(key, name: name, why: Presence.printable(why)) { break }
                }
            }
        } catch {
            await ended(id, key: key)
            throw error
        }
        await ended(id, key: key)
    }

    private func seat(_ id: UUID, from address: String) -> PairingDesk<Line>.NoSeat? { desk.seat(id, from: address) }

    private func waits(_ id: UUID, _ entry: PairingDesk<Line>.Waiting) async {
        desk.waits(id, entry)
        say(
            "\(entry.name) (\(entry.key.fingerprint)) asks to join; its code is \(entry.code). Admit it on the console if its screen shows the same code."
        )
        await onChange?()
    }

    private func ended(_ id: UUID, key: PublicKey) async {
        if desk.ended(id, key: key) { await onChange?() }
    }

    /// A node admitted here whose person said no: the console warns, and it is not called.
    private func declined(_ key: PublicKey, name: String, why: String) async -> Bool {
        guard desk.declined(key) else { return false }
        addresses[key] = nil
        await warn("\(name) (\(key.fingerprint)) kept nothing: \(why)")
        return true
    }

    /// Admits a waiting node (by the id the console shows) in `role`.
    public func admit(_ id: String, as role: Replica.Role) async throws(MeetingError) {
        // Taken off the list before anything is awaited: a second click, or Turn away, finds
        // it gone rather than admitting it twice.
        guard let uuid = UUID(uuidString: id), let entry = desk.take(uuid) else {
            throw MeetingError(.noSuchNode, "That node is no longer waiting; it may have stopped. Ask it to try again.")
        }
        // A node admitted before (whose person then declined, or that lost its data) is sent
        // its admission again; the session already records it.
        do throws(MeetingError) {
            switch Replicator.role(of: entry.key, in: await session.state) {
            case nil: try await session.admit(entry.key, as: role, name: entry.name)
            case role?: break
            case let other?:
                throw MeetingError(
                    .alreadyAdmitted, "That node is already admitted as \(other.wireName); admit it as \(other.wireName) again.")
            }
        } catch {
            desk.putBack(uuid, entry)
            throw error
        }
        if let address = entry.address, let port = entry.peerPort { addresses[entry.key] = (address, port) }
        let admission = PeerAdmission(
            session: session.id, role: role,
            roomSecret: role == .coFacilitator ? session.roomKeyForCoFacilitators : nil,
            joinCode: role == .coFacilitator ? joinCode : nil)
        // Everything it may hold, then this node's summary, which ends the catch-up.
        var replica = await session.replica
        await write(
            [.admitted(admission)] + replica.send(replica.missing(from: [], for: role)) + [replica.summary(for: role)],
            to: entry.line.writer)
        // What its person now compares with this console, shown until it links or declines.
        var sent = Replica(state: replica.state, role: role)
        desk.admitted(entry.key, code: entry.code, digest: sent.digest.short)
        // The new node closes this connection once it holds the session; from then on the
        // two replicate over a link like any other pair (docs/replication.md).
        say("Admitted \(entry.name) (\(entry.key.fingerprint)) as \(role.wireName).")
        await onChange?()
    }

    /// Turns away a waiting node (by the id the console shows): it is told so and let go.
    public func turnAway(_ id: String) async throws(MeetingError) {
        guard let uuid = UUID(uuidString: id), let entry = desk.take(uuid) else {
            throw MeetingError(.noSuchNode, "That node is no longer waiting.")
        }
        await write([.refused("The facilitator turned this laptop away.")], to: entry.line.writer)
        entry.line.close()
        say("Turned away \(entry.name) (\(entry.key.fingerprint)).")
        await onChange?()
    }

    public func remember(_ key: PublicKey, host: String, port: Int) { addresses[key] = (host, port) }
}
