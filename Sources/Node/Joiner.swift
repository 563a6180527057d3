import Discovery
import Foundation
import Meeting
import NIOCore

/// What the person at a joining laptop is asked to confirm before it keeps anything: who
/// admitted it, the pairing code to compare with the facilitator's console, and the digest
/// of the session it was sent.
public struct PairingOffer: Sendable {
    /// The host's name as it gave it, with control characters removed.
    public var hostName: String
    /// The host's key in this session, as the handshake proved it.
    public var hostFingerprint: String
    /// This laptop's key for this attempt (the console lists the laptop by it).
    public var nodeFingerprint: String
    /// The six-digit code over both keys and both nonces.
    public var code: String
    /// What the host admitted this laptop as.
    public var role: Replica.Role
    /// The digest of what the host sent (`halqa digest`); the host's console shows the same
    /// beside this laptop until it links.
    public var digest: String
    /// How many events the host sent.
    public var events: Int
}

/// Asks a node that hosts a session to admit this one (`halqa node`), and brings back the
/// session once the facilitator has admitted it **and** the person at this laptop has
/// confirmed the code: a host that admits at once (a stranger's laptop posing as the
/// facilitator's) gets nothing adopted unless someone here says yes.
///
/// Each attempt speaks with a key made for it alone, which becomes this node's key in the
/// session it joins: a host that is not the facilitator's learns nothing that recognises
/// this laptop at another meeting.
public enum Joiner {
    /// A session this node now holds.
    public struct Admitted: Sendable {
        public var session: LiveSession
        public var role: Replica.Role
        /// The session's join code, for a co-facilitator's own participants' page.
        public var joinCode: String?
        public var hostName: String
        /// Where the admitting node takes other nodes' calls.
        public var host: PeerHint
        /// How long the catch-up took, from the admission to the session verified and on disk
        /// (not counting the time the person here took to confirm).
        public var catchUpSeconds: Double
        /// Of that, the transfer: from the admission to the last event received (before any is verified).
        public var transferSeconds: Double
        /// Bytes received from the admission on.
        public var catchUpBytes: Int
    }

    /// How asking one host ended.
    public enum Outcome: Sendable {
        /// Admitted, confirmed here, and stored.
        case admitted(Admitted)
        /// The host refused, broke the protocol, did not answer in time, or went away; why.
        case refused(String)
        /// The person here did not confirm the code; nothing was kept.
        case declined
    }

    /// The most a host may send before the session is complete: as much as an imported
    /// transcript may hold.
    static let maxCatchUpBytes = 256 << 20

    /// Calls `host`:`port` with `key` (made for this attempt); `fingerprint`, when known, pins
    /// the host's key. `show` gets what to print (the pairing code first); `confirm` is asked,
    /// once the host has admitted this node and sent the session, whether to keep it. Nothing
    /// is stored before it says yes. Without the whole session within `patience`, gives up.
    /// Throws only for the network or for this laptop's own store; whatever the host does
    /// wrong is a `.refused`.
    public static func ask(
        host: String, port: Int, fingerprint: String?, name: String, peerPort: Int?, key: SigningKey,
        store: TranscriptStore, patience: Duration = .seconds(3600), show: @escaping @Sendable (String) -> Void,
        confirm: @escaping @Sendable (PairingOffer) async -> Bool
    ) async throws -> Outcome {
        let identity = try PeerTransport.Identity(key: key)
        let helloDeadline = PeerLimits().helloDeadline
        let connection = try await PeerTransport.connect(
            host: host, port: port, identity: identity, expect: fingerprint, helloDeadline: helloDeadline)
        // Waiting for the facilitator has a limit: then this laptop can ask another host.
        let channel = connection.channel.channel
        let giveUp = channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(patience.seconds * 1e9))) { channel.close(promise: nil) }
        defer { giveUp.cancel() }
        // A machine that takes the call and says nothing (a wrong address: another program's
        // port) is left at the hello deadline, and the person here told.
        func silence() -> PeerTransport.Silence { .init(after: helloDeadline, keyed: connection.peerKey() != nil) }
        do {
            let outcome = try await connection.channel.executeThenClose { inbound, outbound -> Outcome in
                // Whatever it answered, once it answered, it was not silent.
                defer { connection.greeted() }
                try await outbound.write(
                    PeerMessage.hello(PeerHello(name: name, peerPort: peerPort, participantURL: nil, session: nil, wantsAdmission: true))
                        .buffer
                )
                var messages = inbound.makeAsyncIterator()
                guard case .hello(let theirs)? = try await Replicator.next(&messages), let hostKey = connection.peerKey() else {
                    return .refused("it did not answer as a Halqa host")
                }
                let hostName = Presence.printable(theirs.name)
                let opening = try await Replicator.next(&messages)
                if case .refused(let why)? = opening { return .refused("\(hostName) refused: \(Presence.printable(why))") }
                guard case .pairCommit(let commitment)? = opening else { return .refused("\(hostName) did not start pairing") }
                let nonce = Pairing.nonce()
                try await outbound.write(PeerMessage.pairNonce(nonce).buffer)
                guard case .pairReveal(let hostNonce)? = try await Replicator.next(&messages), Pairing.opens(commitment, with: hostNonce)
                else {
                    return .refused("\(hostName) broke the pairing protocol (its nonce does not match its commitment)")
                }
                // Pairing so far takes a moment with a real host; from here on, the wait is for the
                // facilitator, and `patience` limits it.
                connection.greeted()
                let code = Pairing.code(host: hostKey, node: key.publicKey, hostNonce: hostNonce, nodeNonce: nonce)
                show(
                    "Asked \(hostName) (key \(hostKey.fingerprint)) to admit this laptop (key \(key.publicKey.fingerprint)).\n  Confirmation code: \(code)\n  The facilitator admits it only if that laptop's console shows the same code next to this laptop's key."
                )
                var admission: PeerAdmission?
                var arriving = ArrivingSession(session: nil)
                // Whatever ends this attempt, checking what it received stops with it.
                defer { arriving.cancel() }
                var started = ContinuousClock.now
                var bytes = 0
                // A host that goes away now (its laptop died, its Wi-Fi dropped) ends the wait.
                while let frame = try? await messages.next() {
                    bytes += frame.readableBytes + 4
                    guard bytes <= maxCatchUpBytes else { return .refused("\(hostName) sent more than a session may hold; not joining it") }
                    // What a host sends is untrusted: anything unreadable is its fault, not this laptop's.
                    guard let message = try? PeerMessage(decoding: frame.readableBytesView) else {
                        return .refused("\(hostName) sent something that is not Halqa's protocol")
                    }
                    switch message {
                    case .admitted where admission != nil:
                        return .refused("\(hostName) admitted this laptop twice; that is not Halqa's protocol")
                    case .admitted(let a):
                        admission = a
                        arriving = ArrivingSession(session: a.sessionID)
                        started = ContinuousClock.now
                        bytes = frame.readableBytes + 4
                    case .events(let s, let list) where admission != nil && s == admission?.sessionID:
                        // Decoded and verified while the rest is still arriving.
                        await arriving.take(list)
                    case .have where admission != nil:
                        // The whole session arrived within the patience allowed; now it is this laptop's turn.
                        giveUp.cancel()
                        guard let admission, let role = admission.replicaRole else { return .refused("its admission named no role") }
                        let transferred = ContinuousClock.now - started
                        guard let state = try? await arriving.verified() else {
                            return .refused("\(hostName) sent no session this node can verify")
                        }
                        guard state.id == admission.sessionID else {
                            return .refused("it sent another session than it admitted this node to")
                        }
                        var replica = Replica(state: state, role: role)
                        let verified = ContinuousClock.now - started
                        let offer = PairingOffer(
                            hostName: hostName, hostFingerprint: hostKey.fingerprint, nodeFingerprint: key.publicKey.fingerprint,
                            code: code, role: role,
                            digest: replica.digest.short, events: state.allEvents.count)
                        guard await confirm(offer) else {
                            // The facilitator hears that this laptop kept nothing.
                            try? await outbound.write(
                                PeerMessage.refused("The person at this laptop did not confirm the code, so it kept nothing.").buffer)
                            return .declined
                        }
                        let storing = ContinuousClock.now
                        let session = try await LiveSession.adopt(
                            state, roomSecret: role == .coFacilitator ? admission.roomKey : nil, nodeKey: key, in: store)
                        let stored = ContinuousClock.now - storing
                        return .admitted(
                            Admitted(
                                session: session, role: role, joinCode: admission.joinCode, hostName: hostName,
                                host: PeerHint(key: hostKey, host: host, port: port),
                                catchUpSeconds: (verified + stored).seconds, transferSeconds: transferred.seconds, catchUpBytes: bytes))
                    case .refused(let why):
                        return .refused("\(hostName) refused: \(Presence.printable(why))")
                    default:
                        continue
                    }
                }
                return .refused(
                    admission == nil ? "the call to \(hostName) ended before it admitted this laptop" : "\(hostName) closed the connection")
            }
            if connection.silent() { throw silence() }
            return outcome
        } catch  where connection.silent() {
            throw silence()
        }
    }
}

extension Joiner {
    /// Asks to be admitted: to `address` (`HOST:PORT`, the host's peer port) if given, else
    /// to the hosts found on the LAN by mDNS, **one at a time**: each is asked, its code shown
    /// and confirmed or declined here, before the next; a host whose facilitator does not
    /// answer within `patience` is left for the next, and asked again later. Each attempt
    /// has a key of its own (``ask(host:port:fingerprint:name:peerPort:key:store:patience:show:confirm:)``).
    /// Returns when one admits this node and the person here confirms.
    public static func join(
        address: String?, name: String?, peerPort: Int?, store: TranscriptStore, patience: Duration = .seconds(120),
        show: @escaping @Sendable (String) -> Void,
        confirm: @escaping @Sendable (PairingOffer) async -> Bool
    ) async throws -> Admitted {
        func attempt(_ host: String, _ port: Int, patience: Duration) async throws -> Outcome {
            let key = SigningKey()
            do {
                return try await ask(
                    host: host, port: port, fingerprint: nil, name: name ?? Presence.defaultName(for: key.publicKey),
                    peerPort: peerPort, key: key, store: store, patience: patience, show: show, confirm: confirm)
            } catch let error as MeetingError {
                // Not the network or the host: this laptop could not store the session. Say so, and stop.
                throw HostError(message: error.message)
            }
        }
        if let address {
            let parts = address.split(separator: ":")
            guard parts.count == 2, let port = Int(parts[1]) else {
                throw HostError(
                    message: "--join takes HOST:PORT, the address and peer port the host printed, e.g. --join 192.168.1.10:8081.")
            }
            // What went wrong is said once, not every 2 s.
            var said: Set<String> = []
            func tell(_ what: String) {
                guard said.insert(what).inserted else { return }
                show(what + " Trying again every 2 s (Ctrl-C stops).")
            }
            while true {
                do {
                    switch try await attempt(String(parts[0]), port, patience: .seconds(3600)) {
                    case .admitted(let admitted): return admitted
                    case .declined:
                        throw HostError(
                            message:
                                "Not joined: the code was not confirmed here, and nothing was kept. Run `halqa node` again to try again.")
                    case .refused(let why): tell("\(address): \(why).")
                    }
                } catch let error as HostError {
                    throw error
                } catch {
                    tell(
                        "Cannot reach \(address): \(PeerTransport.reason(error)). Check it against the host's line \"Other Halqa nodes reach this one at …\"."
                    )
                }
                try await Task.sleep(for: .seconds(2))
            }
        }
        let browser = try Browser(type: Presence.serviceType)
        defer { browser.stop() }
        show("Looking for Halqa hosts on this network…")
        var declined: Set<String> = []
        while true {
            let hosts = browser.services.filter { $0.txt["s"] != nil && $0.txt["pp"].flatMap(Int.init) != nil }
            for service in hosts {
                let pp = Int(service.txt["pp"]!)!
                let place = "\(service.address):\(pp)"
                let shown = Presence.printable(service.name)
                guard !declined.contains(place) else { continue }
                do {
                    switch try await attempt(service.address, pp, patience: patience) {
                    case .admitted(let admitted): return admitted
                    case .declined:
                        declined.insert(place)
                        show("Not joined to \(shown); nothing was kept. Looking for other hosts…")
                    case .refused(let why): show("\(shown): \(why). Looking for other hosts…")
                    }
                } catch let error as HostError {
                    throw error
                } catch {
                    show("Cannot reach \(shown) at \(place): \(PeerTransport.reason(error)). Looking for other hosts…")
                }
            }
            try await Task.sleep(for: .seconds(2))
        }
    }
}
