import Foundation

/// A message between two nodes, as carried in one frame of their encrypted connection.
///
/// Binary, so that events travel as their exact canonical bytes with a few bytes of framing
/// (a catch-up costs little more than the events themselves). The first byte says what
/// follows; every length is checked before anything is allocated, so a hostile peer's frame
/// can be refused but cannot make this node hold more than the frame itself.
///
/// ```swift
/// let frame = PeerMessage.have(session: id, ids: held).encoded()
/// let back = try PeerMessage(decoding: frame)
/// ```
public enum PeerMessage: Sendable, Equatable {
    /// The first message each side sends: who it is (its key is proven by the connection).
    case hello(PeerHello)
    /// Pairing, step 1 (the host): SHA-256 of the host's pairing nonce.
    case pairCommit([UInt8])
    /// Pairing, step 2 (the joining node): its nonce, sent only after it has the commitment.
    case pairNonce([UInt8])
    /// Pairing, step 3 (the host): its nonce, which must match the commitment.
    case pairReveal([UInt8])
    /// The host admitted this node; co-facilitators also get what they need to take
    /// reflections (the room key) and the join code participants already have.
    case admitted(PeerAdmission)
    /// "These are the events I hold (or have refused) of this session."
    case have(session: EventID, ids: [EventID])
    /// Events, as their canonical bytes.
    case events(session: EventID, events: [[UInt8]])
    /// "These events are on my disk now" (the second copy of the no-loss rule).
    case stored(session: EventID, ids: [EventID])
    /// The peer refuses: why, in words for the log.
    case refused(String)
    /// "I am still here": sent on every link every second, whatever else flows, so that a laptop that went
    /// silent (its battery, its lid, its Wi-Fi) is noticed without waiting for TCP.
    case beat

    /// The largest frame either side sends or accepts.
    public static let maxFrame = 4 << 20
    /// An events message is padded to a multiple of this: a reflection of 1,000 characters in
    /// any script, with its event's fields, fits in one (8 KiB of text at most, as phones seal).
    public static let eventsPadding = 16 << 10
    /// The most events one `events` message carries; larger sets are sent in several.
    public static let maxEventsPerMessage = 2_000
    static let maxIDs = maxFrame / 32

    private enum Kind: UInt8 {
        case hello = 1
        case pairCommit = 2
        case pairNonce = 3
        case pairReveal = 4
        case admitted = 5
        case have = 10
        case events = 11
        case stored = 12
        case refused = 13
        case beat = 14
    }

    /// The message's bytes (one frame).
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        switch self {
        case .hello(let hello):
            out.append(Kind.hello.rawValue)
            out += PeerMessage.json(hello)
        case .pairCommit(let bytes):
            out.append(Kind.pairCommit.rawValue)
            out += bytes
        case .pairNonce(let bytes):
            out.append(Kind.pairNonce.rawValue)
            out += bytes
        case .pairReveal(let bytes):
            out.append(Kind.pairReveal.rawValue)
            out += bytes
        case .admitted(let admission):
            out.append(Kind.admitted.rawValue)
            out += PeerMessage.json(admission)
        case .have(let session, let ids):
            out.append(Kind.have.rawValue)
            out += session.bytes
            for id in ids { out += id.bytes }
        case .stored(let session, let ids):
            out.append(Kind.stored.rawValue)
            out += session.bytes
            for id in ids { out += id.bytes }
        case .events(let session, let events):
            out.reserveCapacity(33 + events.reduce(0) { $0 + 4 + $1.count })
            out.append(Kind.events.rawValue)
            out += session.bytes
            for event in events {
                let n = UInt32(event.count)
                out += [UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)]
                out += event
            }
            // Padded with zeros (after a zero length) to a multiple of ``eventsPadding``: a
            // reflection pushed to another laptop a moment after a phone sent it must not show
            // its length on the air (TLS does not hide it), or its length would link the phone
            // to the revealed text.
            let padded = (out.count + 4 + PeerMessage.eventsPadding - 1) / PeerMessage.eventsPadding * PeerMessage.eventsPadding
            out += [UInt8](repeating: 0, count: padded - out.count)
        case .refused(let why):
            out.append(Kind.refused.rawValue)
            // At most 1,000 characters (not bytes: a cut inside a character would not be UTF-8).
            out += Array(String(why.prefix(1000)).utf8)
        case .beat:
            out.append(Kind.beat.rawValue)
        }
        return out
    }

    /// Reads one frame; anything malformed is refused with a reason for the log.
    public init(decoding frame: some Collection<UInt8>) throws(MeetingError) {
        let bytes = Array(frame)
        guard bytes.count <= PeerMessage.maxFrame else { throw PeerMessage.bad("a frame of \(bytes.count) bytes is over the limit") }
        guard let first = bytes.first, let kind = Kind(rawValue: first) else { throw PeerMessage.bad("unknown message type") }
        let body = bytes[1...]
        switch kind {
        case .hello: self = .hello(try PeerMessage.decodeJSON(PeerHello.self, body).checked())
        case .pairCommit: self = .pairCommit(try PeerMessage.fixed(body, 32))
        case .pairNonce: self = .pairNonce(try PeerMessage.fixed(body, 32))
        case .pairReveal: self = .pairReveal(try PeerMessage.fixed(body, 32))
        case .admitted: self = .admitted(try PeerMessage.decodeJSON(PeerAdmission.self, body).checked())
        case .have:
            let (session, ids) = try PeerMessage.idList(body)
            self = .have(session: session, ids: ids)
        case .stored:
            let (session, ids) = try PeerMessage.idList(body)
            self = .stored(session: session, ids: ids)
        case .events:
            guard body.count >= 32 else { throw PeerMessage.bad("an events message without a session") }
            let session = EventID(bytes: Array(body.prefix(32)))!
            var events: [[UInt8]] = []
            var i = body.startIndex + 32
            while i < body.endIndex {
                guard body.endIndex - i >= 4 else { throw PeerMessage.bad("a cut-off event length") }
                let n = Int(body[i]) << 24 | Int(body[i + 1]) << 16 | Int(body[i + 2]) << 8 | Int(body[i + 3])
                i += 4
                // A zero length ends the events; only padding (zeros) may follow.
                if n == 0 {
                    guard body[i...].allSatisfy({ $0 == 0 }) else { throw PeerMessage.bad("padding that is not zeros") }
                    break
                }
                guard n <= Limits.eventBytes, body.endIndex - i >= n else {
                    throw PeerMessage.bad("an event length of \(n) bytes that does not fit")
                }
                guard events.count < PeerMessage.maxEventsPerMessage else {
                    throw PeerMessage.bad("more than \(PeerMessage.maxEventsPerMessage) events in one message")
                }
                events.append(Array(body[i..<i + n]))
                i += n
            }
            self = .events(session: session, events: events)
        case .refused:
            guard let text = String(validating: body, as: UTF8.self) else { throw PeerMessage.bad("a refusal that is not UTF-8") }
            self = .refused(String(text.prefix(1000)))
        case .beat:
            guard body.isEmpty else { throw PeerMessage.bad("a beat that carries something") }
            self = .beat
        }
    }

    static func bad(_ what: String) -> MeetingError {
        MeetingError(.invalidEvent, "A node sent a malformed message: \(what).")
    }

    private static func fixed(_ body: ArraySlice<UInt8>, _ count: Int) throws(MeetingError) -> [UInt8] {
        guard body.count == count else { throw bad("a pairing value of \(body.count) bytes, not \(count)") }
        return Array(body)
    }

    private static func idList(_ body: ArraySlice<UInt8>) throws(MeetingError) -> (EventID, [EventID]) {
        guard body.count >= 32, body.count % 32 == 0 else { throw bad("a list of ids whose length is not a multiple of 32") }
        let session = EventID(bytes: Array(body.prefix(32)))!
        var ids: [EventID] = []
        ids.reserveCapacity(body.count / 32 - 1)
        var i = body.startIndex + 32
        while i < body.endIndex {
            ids.append(EventID(bytes: Array(body[i..<i + 32]))!)
            i += 32
        }
        return (session, ids)
    }

    private static func json(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Plain strings, numbers and optionals: encoding cannot fail.
        return Array(try! encoder.encode(value))
    }

    private static func decodeJSON<T: Decodable>(_ type: T.Type, _ body: ArraySlice<UInt8>) throws(MeetingError) -> T {
        guard body.count <= 16 << 10 else { throw bad("a \(type) of \(body.count) bytes") }
        do {
            return try JSONDecoder().decode(T.self, from: Data(body))
        } catch {
            throw bad("a \(type) that does not decode")
        }
    }
}

/// Who a node says it is (its key is proven by the encrypted connection, not by this).
public struct PeerHello: Codable, Sendable, Equatable {
    /// The node's name on the LAN.
    public var name: String
    /// The port where it takes other nodes' connections, so it can be called back.
    public var peerPort: Int?
    /// Where participants can reach its pages, if it serves them.
    public var participantURL: String?
    /// The session it holds (hex id), if any; a node asking to be admitted holds none.
    public var session: String?
    /// Whether it asks to be admitted to the other side's session.
    public var wantsAdmission: Bool

    public init(name: String, peerPort: Int?, participantURL: String?, session: EventID?, wantsAdmission: Bool) {
        self.name = name
        self.peerPort = peerPort
        self.participantURL = participantURL
        self.session = session?.hex
        self.wantsAdmission = wantsAdmission
    }

    public var sessionID: EventID? { session.flatMap(EventID.init(hex:)) }

    func checked() throws(MeetingError) -> PeerHello {
        guard (try? CheckedText(name, limit: Limits.nodeNameCharacters, what: "")) != nil,
            peerPort.map({ (1...65535).contains($0) }) ?? true,
            (participantURL?.utf8.count ?? 0) <= 200,
            participantURL.map({ $0.hasPrefix("http://") || $0.hasPrefix("https://") }) ?? true,
            session.map({ EventID(hex: $0) != nil }) ?? true
        else {
            throw PeerMessage.bad("a greeting with a bad name, port, address or session")
        }
        return self
    }
}

/// What an admitted node is told.
public struct PeerAdmission: Codable, Sendable, Equatable {
    public var session: String
    public var role: String
    /// The session's room key (co-facilitators only), base64.
    public var roomSecret: String?
    /// The join code participants use (co-facilitators only), so pages can move between nodes.
    public var joinCode: String?

    public init(session: EventID, role: Replica.Role, roomSecret: SigningKey?, joinCode: String?) {
        self.session = session.hex
        self.role = role.wireName
        self.roomSecret = roomSecret.map { Data($0.raw).base64EncodedString() }
        self.joinCode = joinCode
    }

    public var sessionID: EventID? { EventID(hex: session) }
    public var replicaRole: Replica.Role? { Replica.Role(wireName: role) }
    public var roomKey: SigningKey? { roomSecret.flatMap { Data(base64Encoded: $0) }.flatMap { SigningKey(raw: $0) } }

    func checked() throws(MeetingError) -> PeerAdmission {
        guard sessionID != nil, replicaRole != nil, roomSecret == nil || roomKey != nil,
            (joinCode?.count ?? 0) <= 32
        else {
            throw PeerMessage.bad("an admission with a bad session, role or key")
        }
        return self
    }
}
