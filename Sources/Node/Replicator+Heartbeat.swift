import Foundation
import Meeting
import Synchronization

/// Heartbeats on a link (docs/replication.md, "Heartbeats"): a laptop that vanished (its
/// battery, its lid, its Wi-Fi) resets no connection, so each side says it is there every
/// ``Replicator/linkBeat`` and ends a link that stayed silent for ``Replicator/linkSilence``
/// while it waited to hear from the other.
extension Replicator {
    /// Beats on `writer` and watches `heard`, until cancelled or until the other side is taken
    /// for gone (then `close` ends the connection, and the link's reading ends).
    nonisolated func beat(on writer: Writer, heard: Heard, name: String, close: @escaping @Sendable () -> Void) -> Task<Void, Never> {
        Task { [linkBeat, linkSilence, say] in
            await withDiscardingTaskGroup { group in
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: linkBeat)
                        try? await writer.write(PeerMessage.beat.buffer)
                    }
                }
                // Separate from the beats: a write to a dead peer may wait, the watch must not.
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: linkBeat / 2)
                        if heard.silent(for: linkSilence) {
                            say("No word from \(name) for \(linkSilence.seconds) s: taking it for gone.")
                            close()
                            return
                        }
                    }
                }
            }
        }
    }
}

/// When a link last heard the other node, and whether it is busy with what it heard (a long
/// merge on a slow laptop is not the other's silence).
final class Heard: Sendable {
    private let last = Mutex((at: ContinuousClock.now, busy: false))

    /// A message came; this side works on it until ``done()``.
    func message() { last.withLock { $0 = (.now, true) } }
    func done() { last.withLock { $0 = (.now, false) } }

    /// Whether nothing came for `limit` while this side waited; while it is busy (a merge, or
    /// a reply that a vanished peer no longer reads), for 30 s at least.
    func silent(for limit: Duration) -> Bool {
        last.withLock { ContinuousClock.now - $0.at > ($0.busy ? max(limit * 8, .seconds(30)) : limit) }
    }
}
