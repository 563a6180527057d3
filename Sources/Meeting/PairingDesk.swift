import Foundation

/// The host's side of admitting nodes, as a state machine (no I/O): who holds a seat while
/// pairing, who waits for the facilitator, and who was admitted but has not yet been
/// confirmed by the person at that laptop (docs/replication.md, "Admitting a node").
///
/// `Line` is whatever the node needs to answer a waiting laptop (its connection); the desk
/// only keeps it. Every limit is here: a handful of seats, two per address, so that a flood
/// of pairing requests cannot grow the console's list or crowd out the facilitator's own
/// laptops.
///
/// ```swift
/// var desk = PairingDesk<Connection>()
/// guard desk.seat(id, from: address) == nil else { ... }       // refused: say why
/// desk.waits(id, PairingDesk.Waiting(key: k, name: n, code: c, line: connection))
/// let entry = desk.take(id)                                   // the facilitator admits it
/// desk.admitted(entry.key, code: entry.code, digest: "7F3K-9QPA")
/// desk.linked(entry.key)                                      // its person said yes
/// ```
public struct PairingDesk<Line: Sendable>: Sendable {
    public static var maxSeats: Int { 5 }
    public static var maxSeatsPerAddress: Int { 2 }

    /// A laptop that waits for the facilitator.
    public struct Waiting: Sendable {
        public var key: PublicKey
        public var name: String
        public var code: String
        /// Where it called from, and the port it said it takes calls on.
        public var address: String?
        public var peerPort: Int?
        public var line: Line

        public init(key: PublicKey, name: String, code: String, address: String?, peerPort: Int?, line: Line) {
            self.key = key
            self.name = name
            self.code = code
            self.address = address
            self.peerPort = peerPort
            self.line = line
        }
    }

    /// Why a pairing gets no seat.
    public enum NoSeat: Error, Sendable, Equatable {
        case full, thisAddress

        /// What the joining laptop is told.
        public var message: String {
            switch self {
            case .full:
                "\(PairingDesk.maxSeats) laptops are already waiting to be admitted here. Ask the facilitator to admit or turn them away, then try again."
            case .thisAddress: "This laptop is already waiting to be admitted here. Ask the facilitator to admit or turn it away."
            }
        }
    }

    private var seats: [UUID: String] = [:]
    public private(set) var waiting: [UUID: Waiting] = [:]
    /// Admitted here, its person not yet confirming: the code and digest the console keeps
    /// showing until it links or declines.
    public private(set) var confirming: [PublicKey: (code: String, digest: String)] = [:]

    public init() {}

    /// Takes a seat for pairing `id` from `address`, or says why there is none.
    public mutating func seat(_ id: UUID, from address: String) -> NoSeat? {
        guard seats.count < PairingDesk.maxSeats else { return .full }
        guard seats.values.filter({ $0 == address }).count < PairingDesk.maxSeatsPerAddress else { return .thisAddress }
        seats[id] = address
        return nil
    }

    /// The seated pairing `id` has its code and waits for the facilitator.
    public mutating func waits(_ id: UUID, _ entry: Waiting) {
        guard seats[id] != nil else { return }
        waiting[id] = entry
    }

    /// Takes a waiting laptop off the list (to admit it or turn it away): a second click
    /// finds it gone. Nil if it is not waiting.
    public mutating func take(_ id: UUID) -> Waiting? { waiting.removeValue(forKey: id) }

    /// Puts back a laptop whose admission failed, if its pairing is still seated.
    public mutating func putBack(_ id: UUID, _ entry: Waiting) { waits(id, entry) }

    /// It was admitted and sent what its person compares: `code` and `digest`.
    public mutating func admitted(_ key: PublicKey, code: String, digest: String) { confirming[key] = (code, digest) }

    /// Its person said yes, and it linked. Returns whether the console changes.
    @discardableResult
    public mutating func linked(_ key: PublicKey) -> Bool { confirming.removeValue(forKey: key) != nil }

    /// Its person said no. Returns whether it had been admitted here (then the console warns);
    /// a "no" from a laptop never admitted means nothing.
    public mutating func declined(_ key: PublicKey) -> Bool { confirming.removeValue(forKey: key) != nil }

    /// Pairing `id` (of `key`) ended: its seat, its place on the list and any confirmation
    /// shown for it go. Returns whether the console changes.
    public mutating func ended(_ id: UUID, key: PublicKey) -> Bool {
        seats[id] = nil
        let wasWaiting = waiting.removeValue(forKey: id) != nil
        let wasConfirming = confirming.removeValue(forKey: key) != nil
        return wasWaiting || wasConfirming
    }

    /// How many pairings hold a seat.
    public var seated: Int { seats.count }
}
