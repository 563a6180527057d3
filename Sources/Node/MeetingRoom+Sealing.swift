import Foundation

/// What the room does for sealed requests (``Sealing``, docs/threat-model.md) and for taps'
/// batches: all held in memory, none of it stored.
extension MeetingRoom {
    /// False if a sealed request with this nonce was opened before (a replay).
    func admitSealed(_ nonce: [UInt8]) -> Bool { replay.admit(nonce) }

    /// A tap came through this node's API from `address` (held in memory until the next batch
    /// only). The laptop's own address stands for the page (`token`) that tapped: scripts and
    /// tests there, never phones.
    func noteTap(from address: String, token: String) {
        tapsSinceBatch += 1
        tappersSinceBatch.insert(ServingLimits.isThisMachine(address) ? "page " + token : address)
    }

    /// Whether `origin` ("http://host:port") is another laptop of this session, one this node
    /// linked with while it ran: its pages may move here (SecurityHeaders).
    func isSessionOrigin(_ origin: String) async -> Bool {
        await replicator?.participantOrigins.contains(origin) ?? false
    }

    /// A page at `address` says its browser cannot seal; the console shows how many.
    func cannotSeal(from address: String) { unsealable.insert(address) }

    /// What a page that holds `held` is sent, sealed with ``viewKey``: what changed since, or
    /// the whole view (in zlib's format if it takes it `deflated`); nil if it holds the current
    /// version (``RoomFeed``).
    func sealedUpdate(since held: HeldView?, deflated: Bool) -> (sealed: [UInt8], version: HeldView)? {
        feed.update(since: held, deflated: deflated)
    }
}
