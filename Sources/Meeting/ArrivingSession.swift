import Foundation

/// A session arriving from another node, frame by frame: each frame's events are decoded and
/// their signatures checked on every core while the next frames are still on the wire, so
/// that a joining node has little left to do when the last one arrives. Nothing is kept but
/// in memory; ``verified()`` folds what arrived.
///
/// ```swift
/// var arriving = ArrivingSession(session: admission.sessionID)
/// for frame in frames { await arriving.take(frame) }
/// let state = try await arriving.verified()
/// ```
public struct ArrivingSession: Sendable {
    /// The session the host said it sends (its id is the hash of its session-created event),
    /// if known: without it, every signature is checked at the end.
    public let session: EventID?
    private var roomKey: PublicKey?
    private var pieces: [Task<[Checked], Never>] = []

    struct Checked: Sendable {
        var event: Event
        var verdict: SessionState.Verdict
    }

    public init(session: EventID?) { self.session = session }

    /// Starts on one frame's events. Until the session's own session-created event has been
    /// seen (a host sends it first), a frame is decoded here and its signatures checked later.
    public mutating func take(_ list: [[UInt8]]) async {
        // A host sends faster than every core checks: past a few frames ahead, wait for the
        // oldest, so that reading (and the host's sending) keeps pace with the checking.
        let ahead = 2 * ProcessInfo.processInfo.activeProcessorCount
        if pieces.count > ahead { _ = await pieces[pieces.count - ahead - 1].value }
        if let roomKey, let session {
            pieces.append(
                Task {
                    // A join given up (declined, refused, the connection gone) leaves frames not begun.
                    guard !Task.isCancelled else { return [] }
                    return await Concurrently.map(list) { bytes -> Checked? in
                        guard let event = try? Event(bytes: bytes) else { return nil }
                        return Checked(event: event, verdict: event.session == session ? .of(event, roomKey: roomKey) : .unchecked)
                    }.compactMap { $0 }
                })
            return
        }
        let events = await SessionState.decoding(list)
        if let creation = events.first(where: { $0.id == session }), case .sessionCreated(let created) = creation.body,
            creation.hasValidSignature(roomKey: nil)
        {
            roomKey = created.roomKey
        }
        let checked = events.map { Checked(event: $0, verdict: .unchecked) }
        pieces.append(Task { checked })
    }

    /// Stops checking what arrived (a join given up): frames not begun are left.
    public func cancel() {
        for piece in pieces { piece.cancel() }
    }

    /// Everything that arrived, folded, with forged events (a bad signature, a signer without
    /// authority) left out.
    public func verified() async throws(MeetingError) -> SessionState {
        var events: [Event] = []
        var verdicts: [SessionState.Verdict] = []
        for piece in pieces {
            for item in await piece.value {
                events.append(item.event)
                verdicts.append(item.verdict)
            }
        }
        var folded: SessionState?
        if roomKey == nil {
            // Nothing was checked as it arrived: folded while the signatures are checked. If
            // every one checks, the fold is the one checking first gives; if not (a forgery
            // among them), it is done again the slow way, which finds which.
            let (fold, signed) = try await SessionState.foldingWhileVerifying(events)
            if await signed.value { folded = fold }
        }
        let state =
            if let folded { folded } else { try await SessionState.verifying(events, verdicts: verdicts, checkedWith: roomKey) }
        let refused = Set(state.ignored.filter(\.value.isForgery).keys)
        return refused.isEmpty ? state : state.removing(refused)
    }
}
