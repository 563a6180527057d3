/// The second-copy rule of durability, as a state machine (no I/O, no clock): a participant's
/// reflection is acknowledged to the phone once a co-facilitator says it holds it on disk, or
/// once the wait runs out and this node's own copy stands (docs/replication.md).
///
/// The node feeds it what happens — an event pushed, a `stored` from a peer, the phone's
/// request starting to wait, the wait running out — and acts on what it returns. A `stored`
/// may come before the request starts to wait (a fast peer), and a timeout may come at any
/// point; every wait ends exactly once.
///
/// ```swift
/// var copies = SecondCopy()
/// copies.sent(id)                                  // pushed to the co-facilitators
/// copies.stored([id], from: .coFacilitator)        // → [] (nobody waits yet)
/// copies.wait(for: id)                             // → .confirmed
/// ```
public struct SecondCopy: Sendable {
    enum Progress: Sendable, Equatable {
        /// Pushed; no peer has said it holds it, and nothing waits yet.
        case sent
        /// A co-facilitator holds it; nothing waited yet.
        case stored
        /// The phone's request waits for a co-facilitator.
        case waiting
    }

    /// What a wait that starts now does.
    public enum Start: Sendable, Equatable {
        /// A co-facilitator already holds it: acknowledge at once.
        case confirmed
        /// Wait, until ``stored(_:from:)`` or ``timedOut(_:)`` ends it.
        case wait
        /// Its time already ran out (or it was never sent): this node's copy stands.
        case ownCopyStands
    }

    private var progress: [EventID: Progress] = [:]

    public init() {}

    /// How many events are between being pushed and their wait ending.
    public var inFlight: Int { progress.count }

    /// `id` was pushed to the co-facilitators.
    public mutating func sent(_ id: EventID) {
        if progress[id] == nil { progress[id] = .sent }
    }

    /// A peer in role `peer` says these are on its disk. Returns the waits that end now,
    /// confirmed. An archivist's word counts for nothing (it never holds pending reflections),
    /// and ids not sent are ignored.
    public mutating func stored(_ ids: [EventID], from peer: Replica.Role) -> [EventID] {
        guard peer == .coFacilitator else { return [] }
        var confirmed: [EventID] = []
        for id in ids {
            switch progress[id] {
            case .sent?: progress[id] = .stored
            case .waiting?:
                progress[id] = nil
                confirmed.append(id)
            case .stored?, nil: break
            }
        }
        return confirmed
    }

    /// The phone's request for `id` starts waiting.
    public mutating func wait(for id: EventID) -> Start {
        switch progress[id] {
        case .sent?:
            progress[id] = .waiting
            return .wait
        case .stored?:
            progress[id] = nil
            return .confirmed
        // One wait per event: a second (which no real phone makes: every reflection has a
        // nonce) would leave the first unanswered, so it is told at once that nothing waits.
        case .waiting?, nil: return .ownCopyStands
        }
    }

    /// The last co-facilitator's link is gone: no copy can come. Returns the waits that end
    /// now, unconfirmed; events pushed but not yet waited for will find their own copy stands.
    public mutating func noneCanCome() -> [EventID] {
        let waiting = progress.filter { $0.value == .waiting }.map(\.key)
        progress = progress.filter { $0.value == .stored }
        return waiting
    }

    /// The time for `id` ran out. Returns whether a wait ends now, unconfirmed.
    public mutating func timedOut(_ id: EventID) -> Bool {
        progress.removeValue(forKey: id) == .waiting
    }
}
