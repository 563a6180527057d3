import Foundation

/// What a session was created with: its title, the deck (copied in, so every replica holds
/// it), the reveal minimum, and the public half of the session's room key.
public struct SessionCreated: Hashable, Sendable {
    public var title: String
    public var deck: Deck
    public var minimumToReveal: Int
    /// Verifies participants' reflections and resonances (see ``SigningKey``).
    public var roomKey: PublicKey
    /// Makes two sessions from the same deck in the same millisecond distinct.
    public var nonce: [UInt8]
    /// The group and week, when the session is a week of a programme (``ProgrammePlace``).
    public var programme: ProgrammePlace? = nil

    public init(
        title: String, deck: Deck, minimumToReveal: Int, roomKey: PublicKey, nonce: [UInt8], programme: ProgrammePlace? = nil
    ) {
        self.title = title
        self.deck = deck
        self.minimumToReveal = minimumToReveal
        self.roomKey = roomKey
        self.nonce = nonce
        self.programme = programme
    }
}

/// A change to a session. Every change is one immutable event.
public enum EventBody: Hashable, Sendable {
    // Signed by a facilitator's node key.
    case sessionCreated(SessionCreated)
    case promptOpened(prompt: Int)
    case promptClosed(prompt: Int)
    /// Reveals a batch of pending reflections in the shuffled order every node shows.
    case reflectionsRevealed(prompt: Int, order: [EventID])
    /// Hides a revealed reflection; the reason is kept for facilitators only.
    case reflectionHidden(reflection: EventID, reason: String)
    case noteWritten(prompt: Int?, text: String)
    case facilitatorGranted(key: PublicKey)
    /// Admits another node to the session after the facilitator compared its pairing code:
    /// a co-facilitator may run the meeting, an archivist holds a read-only copy.
    case nodeAdmitted(key: PublicKey, role: Replica.Role, name: String)
    case sessionClosed
    // Signed by the session's room key: from some admitted node, never saying which.
    case reflectionSubmitted(prompt: Int, text: String, nonce: [UInt8])
    case resonated(reflection: EventID, nonce: [UInt8])

    /// Participants' events carry no signer, time or clock.
    public var isParticipant: Bool {
        switch self {
        case .reflectionSubmitted, .resonated: true
        default: false
        }
    }

    var kind: String {
        switch self {
        case .sessionCreated: "session-created"
        case .promptOpened: "prompt-opened"
        case .promptClosed: "prompt-closed"
        case .reflectionsRevealed: "revealed"
        case .reflectionHidden: "hidden"
        case .noteWritten: "note"
        case .facilitatorGranted: "facilitator-granted"
        case .nodeAdmitted: "node-admitted"
        case .sessionClosed: "session-closed"
        case .reflectionSubmitted: "reflection"
        case .resonated: "resonance"
        }
    }
}

/// Who vouches for an event.
public enum Authorship: Hashable, Sendable {
    /// A facilitator's node: its key, its wall-clock time in milliseconds (informative),
    /// and a Lamport clock that orders facilitator actions the same way on every node.
    case facilitator(signer: PublicKey, at: Int64, clock: Int)
    /// Some admitted node, through the session's shared room key.
    case room
}

/// One immutable, content-addressed, signed event of a session.
///
/// ```swift
/// let event = try Event(bytes: received)   // checks form and id; signatures are checked by the fold
/// ```
public struct Event: Hashable, Sendable, CustomDebugStringConvertible {
    public var id: EventID { fields.id }
    /// The canonical bytes: what is stored, exported and sent.
    public var bytes: [UInt8] { fields.bytes }
    /// The session this belongs to; a session-created event's is its own id.
    public var session: EventID { fields.session }
    public var body: EventBody { fields.body }
    public var authorship: Authorship { fields.authorship }
    var signature: [UInt8] { fields.signature }
    /// The canonical bytes without the signature: what was signed.
    var signedBytes: [UInt8] { fields.signedBytes }

    /// An event never changes once made, so its fields are held once and shared: a copy (into
    /// a fold's tables, a batch, a plan) is one reference, not seven, which a year's import
    /// makes millions of.
    private let fields: Fields

    private final class Fields: Sendable {
        let id: EventID
        let bytes: [UInt8]
        let session: EventID
        let body: EventBody
        let authorship: Authorship
        let signature: [UInt8]
        let signedBytes: [UInt8]

        init(
            id: EventID, bytes: [UInt8], session: EventID, body: EventBody, authorship: Authorship, signature: [UInt8],
            signedBytes: [UInt8]
        ) {
            self.id = id
            self.bytes = bytes
            self.session = session
            self.body = body
            self.authorship = authorship
            self.signature = signature
            self.signedBytes = signedBytes
        }
    }

    /// The same event: its id is the hash of its bytes, and everything else is read from them.
    public static func == (a: Event, b: Event) -> Bool {
        a.fields === b.fields || (a.id == b.id && a.bytes == b.bytes)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(id)
    }

    /// As a failing test prints it.
    public var debugDescription: String { "Event(\(id.short), \(body.kind))" }

    static let version: Int64 = 1

    /// Decodes and checks an event's bytes (size, canonical JSON, known fields).
    public init(bytes: [UInt8]) throws(MeetingError) {
        guard bytes.count <= Limits.eventBytes else {
            throw MeetingError(.invalidEvent, "The event is \(bytes.count) bytes; the limit is \(Limits.eventBytes).")
        }
        var members: [JSONParser.Member]? = []
        let json = try JSONValue.parseCanonical(bytes, members: &members)
        var reader = try FieldReader(json, context: "An event")
        guard try reader.int("v", in: 1...1000) == Event.version else {
            throw MeetingError(.invalidEvent, "The event was written by a newer Halqa (format version not 1). Update Halqa on this node.")
        }
        let body = try EventBody(json: try reader.require("body"))
        let signature = try reader.bytes("sig", count: 64)
        let id = EventID.of(bytes)
        let authorship: Authorship
        if body.isParticipant {
            authorship = .room
        } else {
            guard let signer = PublicKey(raw: try reader.bytes("signer", count: 32)) else {
                throw reader.wrong("signer", "is not an Ed25519 public key")
            }
            let at = try reader.int("at", in: 0...Int64.max)
            authorship = .facilitator(signer: signer, at: Int64(at), clock: try reader.int("clock"))
        }
        let session: EventID
        if case .sessionCreated = body {
            session = id
        } else {
            session = try reader.id("session")
        }
        try reader.finish()
        fields = Fields(
            id: id, bytes: bytes, session: session, body: body, authorship: authorship, signature: signature,
            signedBytes: Event.cutting("sig", from: bytes, members: members ?? []))
    }

    /// The canonical bytes of the same object without the member `key`: canonical members are
    /// joined by commas alone, so it is the bytes with that member and one comma cut out.
    static func cutting(_ key: String, from bytes: [UInt8], members: [JSONParser.Member]) -> [UInt8] {
        guard let k = members.firstIndex(where: { $0.key == key }) else { return bytes }
        let range = members[k].range
        // With the comma before it, or (the first member) the one after it.
        let cut = k > 0 ? (range.lowerBound - 1)..<range.upperBound : range.lowerBound..<(range.upperBound + (members.count > 1 ? 1 : 0))
        var out = bytes
        out.removeSubrange(cut)
        return out
    }

    /// Makes and signs a facilitator event.
    public static func facilitator(_ body: EventBody, session: EventID?, by key: SigningKey, at: Int64, clock: Int) -> Event {
        var fields: [String: JSONValue] = [
            "v": .integer(version), "body": body.json, "signer": .string(key.publicKey.base64),
            "at": .integer(at), "clock": .integer(Int64(clock)),
        ]
        if let session { fields["session"] = .string(session.hex) }
        return Event(
            signing: fields, with: key, body: body, session: session,
            authorship: .facilitator(signer: key.publicKey, at: at, clock: clock))
    }

    /// Makes a participant's event, signed with the session's room key.
    public static func participant(_ body: EventBody, session: EventID, roomKey: SigningKey) -> Event {
        Event(
            signing: ["v": .integer(version), "body": body.json, "session": .string(session.hex)], with: roomKey,
            body: body, session: session, authorship: .room)
    }

    /// Signs fields this node wrote; they are canonical by construction, so they are not
    /// parsed back (a test checks that `Event(bytes:)` reads them the same).
    private init(signing fields: [String: JSONValue], with key: SigningKey, body: EventBody, session: EventID?, authorship: Authorship) {
        var fields = fields
        let signedBytes = JSONValue.object(fields).canonicalBytes
        let signature = key.sign(signedBytes)
        fields["sig"] = .string(Data(signature).base64EncodedString())
        let bytes = JSONValue.object(fields).canonicalBytes
        let id = EventID.of(bytes)
        self.fields = Fields(
            id: id, bytes: bytes, session: session ?? id, body: body, authorship: authorship, signature: signature,
            signedBytes: signedBytes)
    }

    /// Whether the signature checks: a facilitator event against its signer, a
    /// participant's against the session's room key.
    public func hasValidSignature(roomKey: PublicKey?) -> Bool {
        switch authorship {
        case .facilitator(let signer, _, _): signer.isValidSignature(signature, for: signedBytes)
        case .room: roomKey?.isValidSignature(signature, for: signedBytes) ?? false
        }
    }

    /// The Lamport clock of a facilitator event; participants' events have none.
    public var clock: Int? {
        if case .facilitator(_, _, let clock) = authorship { clock } else { nil }
    }

    /// The wall-clock time of a facilitator event, in milliseconds since 1970.
    public var at: Int64? {
        if case .facilitator(_, let at, _) = authorship { at } else { nil }
    }
}

extension EventBody {
    var json: JSONValue {
        var f: [String: JSONValue] = ["kind": .string(kind)]
        switch self {
        case .sessionCreated(let c):
            f["title"] = .string(c.title)
            f["deck"] = c.deck.json
            f["minimumToReveal"] = .integer(Int64(c.minimumToReveal))
            f["roomKey"] = .string(c.roomKey.base64)
            f["nonce"] = .string(Data(c.nonce).base64EncodedString())
            if let programme = c.programme { f["programme"] = programme.json }
        case .promptOpened(let p), .promptClosed(let p):
            f["prompt"] = .integer(Int64(p))
        case .reflectionsRevealed(let p, let order):
            f["prompt"] = .integer(Int64(p))
            f["order"] = .array(order.map { .string($0.hex) })
        case .reflectionHidden(let r, let reason):
            f["reflection"] = .string(r.hex)
            f["reason"] = .string(reason)
        case .noteWritten(let p, let text):
            if let p { f["prompt"] = .integer(Int64(p)) }
            f["text"] = .string(text)
        case .facilitatorGranted(let key):
            f["key"] = .string(key.base64)
        case .nodeAdmitted(let key, let role, let name):
            f["key"] = .string(key.base64)
            f["role"] = .string(role.wireName)
            f["name"] = .string(name)
        case .sessionClosed:
            break
        case .reflectionSubmitted(let p, let text, let nonce):
            f["prompt"] = .integer(Int64(p))
            f["text"] = .string(text)
            f["nonce"] = .string(Data(nonce).base64EncodedString())
        case .resonated(let r, let nonce):
            f["reflection"] = .string(r.hex)
            f["nonce"] = .string(Data(nonce).base64EncodedString())
        }
        return .object(f)
    }

    init(json: JSONValue) throws(MeetingError) {
        var r = try FieldReader(json, context: "An event body")
        let kind = try r.string("kind")
        switch kind {
        case "session-created":
            guard let roomKey = PublicKey(raw: try r.bytes("roomKey", count: 32)) else {
                throw r.wrong("roomKey", "is not an Ed25519 public key")
            }
            self = .sessionCreated(
                SessionCreated(
                    title: try r.string("title"), deck: try Deck(json: try r.require("deck")),
                    minimumToReveal: try r.int("minimumToReveal"), roomKey: roomKey,
                    nonce: try r.bytes("nonce", count: 16), programme: try r.optional("programme").map(ProgrammePlace.init(json:))))
        case "prompt-opened": self = .promptOpened(prompt: try r.int("prompt"))
        case "prompt-closed": self = .promptClosed(prompt: try r.int("prompt"))
        case "revealed":
            let prompt = try r.int("prompt")
            var order: [EventID] = []
            for item in try r.array("order") {
                guard case .string(let s) = item, let id = EventID(hex: s) else { throw r.wrong("order", "must list event ids") }
                order.append(id)
            }
            self = .reflectionsRevealed(prompt: prompt, order: order)
        case "hidden": self = .reflectionHidden(reflection: try r.id("reflection"), reason: try r.string("reason"))
        case "note": self = .noteWritten(prompt: try r.optionalInt("prompt"), text: try r.string("text"))
        case "facilitator-granted":
            guard let key = PublicKey(raw: try r.bytes("key", count: 32)) else { throw r.wrong("key", "is not an Ed25519 public key") }
            self = .facilitatorGranted(key: key)
        case "node-admitted":
            guard let key = PublicKey(raw: try r.bytes("key", count: 32)) else { throw r.wrong("key", "is not an Ed25519 public key") }
            let roleName = try r.string("role")
            guard let role = Replica.Role(wireName: roleName) else { throw r.wrong("role", "must be \"co-facilitator\" or \"archivist\"") }
            self = .nodeAdmitted(key: key, role: role, name: try r.string("name"))
        case "session-closed": self = .sessionClosed
        case "reflection":
            self = .reflectionSubmitted(prompt: try r.int("prompt"), text: try r.string("text"), nonce: try r.bytes("nonce", count: 16))
        case "resonance":
            self = .resonated(reflection: try r.id("reflection"), nonce: try r.bytes("nonce", count: 16))
        default:
            throw MeetingError(.invalidEvent, "Unknown event kind \"\(kind)\". Update Halqa on this node if a newer one wrote it.")
        }
        try r.finish()
    }
}
