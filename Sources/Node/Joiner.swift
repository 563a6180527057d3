import Foundation
import Meeting
import NIOCore
import Discovery

/// What the person at a joining laptop is asked to confirm before it keeps anything: who
/// admitted it, the pairing code to compare with the facilitator's console, and the digest
/// of the session it was sent.
public struct PairingOffer: Sendable {
    /// The host's name as it gave it, with control characters removed.
    public var hostName: String
    /// The host's key, as the handshake proved it.
    public var hostFingerprint: String
    /// The six-digit code over both keys and both nonces.
    public var code: String
    public var role: Replica.Role
    /// The digest of what the host sent (`halqa digest`, and the console's "Digest").
    public var digest: String
    public var events: Int
}

/// Asks a node that hosts a session to admit this one (`halqa node`), and brings back the
/// session once the facilitator has admitted it **and** the person at this laptop has
/// confirmed the code: a host that admits at once (a stranger's laptop posing as the
/// facilitator's) gets nothing adopted unless someone here says yes.
public enum Joiner {
    public struct Admitted: Sendable {
        public var session: LiveSession
        public var role: Replica.Role
        public var joinCode: String?
        public var hostName: String
        /// Where the admitting node takes other nodes' calls.
        public var host: PeerHint
        /// How long the catch-up took, from the admission to the session verified and on disk
        /// (not counting the time the person here took to confirm), and its bytes.
        public var catchUpSeconds: Double
        /// Of that, the transfer: from the admission to the last event received (before any is verified).
        public var transferSeconds: Double
        public var catchUpBytes: Int
    }

    /// Why a host was not joined.
    public enum Outcome: Sendable {
        case admitted(Admitted)
        /// The host refused, broke the protocol, or went away; its words, if any.
        case refused(String)
        /// The person here did not confirm the code.
        case declined
    }

    /// Calls `host`:`port`; `fingerprint`, when known, pins the host's key. `show` gets what
    /// to print (the pairing code first); `confirm` is asked, once the host has admitted this
    /// node and sent the session, whether to keep it. Nothing is stored before it says yes.
    public static func ask(host: String, port: Int, fingerprint: String?, name: String, peerPort: Int?, store: TranscriptStore,
                           identity: PeerTransportIdentity, show: @escaping @Sendable (String) -> Void,
                           confirm: @escaping @Sendable (PairingOffer) async -> Bool) async throws -> Outcome {
        let connection = try await PeerTransport.connect(host: host, port: port, identity: identity.identity, expect: fingerprint)
        return try await connection.channel.executeThenClose { inbound, outbound -> Outcome in
            try await outbound.write(PeerMessage.hello(PeerHello(name: name, peerPort: peerPort, participantURL: nil, session: nil, wantsAdmission: true)).buffer)
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
            guard case .pairReveal(let hostNonce)? = try await Replicator.next(&messages), Pairing.opens(commitment, with: hostNonce) else {
                return .refused("\(hostName) broke the pairing protocol (its nonce does not match its commitment)")
            }
            let code = Pairing.code(host: hostKey, node: identity.identity.key.publicKey, hostNonce: hostNonce, nodeNonce: nonce)
            show("Asked \(hostName) (key \(hostKey.fingerprint)) to admit this node.\n  Confirmation code: \(code)\n  The facilitator admits it only if the console shows the same code next to this node's key \(identity.identity.key.publicKey.fingerprint).")
            var admission: PeerAdmission?
            var events: [[UInt8]] = []
            var started = ContinuousClock.now
            var bytes = 0
            while let frame = try await messages.next() {
                bytes += frame.readableBytes + 4
                let message = try PeerMessage(decoding: frame.readableBytesView)
                switch message {
                case .admitted(let a):
                    admission = a
                    started = ContinuousClock.now
                    bytes = frame.readableBytes + 4
                case .events(let s, let list) where admission != nil && s == admission?.sessionID:
                    events += list
                case .have where admission != nil:
                    guard let admission, let role = admission.replicaRole else { return .refused("its admission named no role") }
                    let transferred = ContinuousClock.now - started
                    let state = try LiveSession.verify(events)
                    guard state.id == admission.sessionID else { return .refused("it sent another session than it admitted this node to") }
                    var replica = Replica(state: state, role: role)
                    let verified = ContinuousClock.now - started
                    let offer = PairingOffer(hostName: hostName, hostFingerprint: hostKey.fingerprint, code: code, role: role,
                                             digest: replica.digest.short, events: state.allEvents.count)
                    guard await confirm(offer) else { return .declined }
                    let storing = ContinuousClock.now
                    let session = try await LiveSession.adopt(state, roomSecret: role == .coFacilitator ? admission.roomKey : nil, in: store)
                    let stored = ContinuousClock.now - storing
                    return .admitted(Admitted(session: session, role: role, joinCode: admission.joinCode, hostName: hostName,
                                              host: PeerHint(key: hostKey, host: host, port: port),
                                              catchUpSeconds: (verified + stored).seconds, transferSeconds: transferred.seconds, catchUpBytes: bytes))
                case .refused(let why):
                    return .refused("\(hostName) refused: \(Presence.printable(why))")
                default:
                    continue
                }
            }
            return .refused("\(hostName) closed the connection")
        }
    }
}

extension Joiner {
    /// Asks to be admitted: to `address` (`HOST:PORT`, the host's peer port) if given, else
    /// to the hosts found on the LAN by mDNS, **one at a time**, in the order they appear:
    /// each is asked, its code shown and confirmed or declined here, before the next. Returns
    /// when one admits this node and the person here confirms.
    public static func join(address: String?, name: String, peerPort: Int?, store: TranscriptStore, identity: PeerTransportIdentity,
                            show: @escaping @Sendable (String) -> Void,
                            confirm: @escaping @Sendable (PairingOffer) async -> Bool) async throws -> Admitted {
        if let address {
            let parts = address.split(separator: ":")
            guard parts.count == 2, let port = Int(parts[1]) else {
                throw HostError(message: "--join takes HOST:PORT, the address and peer port the host printed, e.g. --join 192.168.1.10:8081.")
            }
            while true {
                do {
                    switch try await ask(host: String(parts[0]), port: port, fingerprint: nil, name: name, peerPort: peerPort, store: store,
                                         identity: identity, show: show, confirm: confirm) {
                    case .admitted(let admitted): return admitted
                    case .declined: throw HostError(message: "Not joined: the code was not confirmed here, and nothing was kept. Run `halqa node` again to try again.")
                    case .refused(let why): show("\(address): \(why); trying again in 2 s.")
                    }
                } catch let error as HostError {
                    throw error
                } catch {
                    show("Cannot reach \(address) (\(error)); trying again in 2 s.")
                }
                try await Task.sleep(for: .seconds(2))
            }
        }
        let browser = try Browser(type: Presence.serviceType)
        defer { browser.stop() }
        show("Looking for Halqa hosts on this network…")
        var asked: Set<String> = []
        for await event in browser.events {
            guard case .appeared(let service) = event, service.txt["s"] != nil,
                  let pp = service.txt["pp"].flatMap(Int.init), !asked.contains("\(service.address):\(pp)") else { continue }
            asked.insert("\(service.address):\(pp)")
            // Not pinned: mDNS names no lasting key (docs/discovery.md); the code compared on
            // both screens is what authenticates the host.
            do {
                switch try await ask(host: service.address, port: pp, fingerprint: nil, name: name, peerPort: peerPort, store: store,
                                     identity: identity, show: show, confirm: confirm) {
                case .admitted(let admitted): return admitted
                case .declined: show("Not joined to \(Presence.printable(service.name)); nothing was kept. Looking for other hosts…")
                case .refused(let why): show("\(Presence.printable(service.name)): \(why). Looking for other hosts…")
                }
            } catch {
                show("Cannot reach \(Presence.printable(service.name)) at \(service.address):\(pp) (\(error)). Looking for other hosts…")
            }
        }
        throw CancellationError()
    }
}
