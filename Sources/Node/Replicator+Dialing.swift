import Foundation
import Meeting

/// Calling admitted nodes: where each was last reached, what mDNS says, and the dial loop.
extension Replicator {
    /// Listens for other nodes on `port` and keeps calling the admitted nodes this one should
    /// call, until cancelled. Of two nodes, the one with the smaller key calls the other, so
    /// that they never hold two links to each other.
    public nonisolated func run(host: String, port: Int, bound: @escaping @Sendable (Int) -> Void) async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                try await PeerTransport.listen(
                    host: host, port: port, identity: self.identity, limits: self.limits,
                    bound: { p in
                        self.peerPort.withLock { $0 = p }
                        bound(p)
                    }, handle: { connection in await self.accept(connection) })
            }
            group.addTask {
                try await withThrowingDiscardingTaskGroup { calls in
                    while !Task.isCancelled {
                        for (key, candidates) in await self.toCall() {
                            calls.addTask { await self.dial(key, candidates: candidates) }
                        }
                        try await Task.sleep(for: .milliseconds(500))
                    }
                }
            }
        }
    }

    /// Admitted nodes with no link, a larger key than this node's, and somewhere to call:
    /// the address that last worked first, then what mDNS said.
    private func toCall() async -> [(PublicKey, [(host: String, port: Int)])] {
        let state = await session.state
        let linked = Set(links.values.map(\.key))
        var out: [(PublicKey, [(host: String, port: Int)])] = []
        for key in state.facilitators.union(state.archivists) where myKey < key && !linked.contains(key) && !dialing.contains(key) {
            var candidates = addresses[key].map { [$0] } ?? []
            for hint in hints[Presence.nodeTag(of: key, in: session.id)] ?? [] where !candidates.contains(where: { $0 == hint }) {
                candidates.append(hint)
            }
            if !candidates.isEmpty {
                dialing.insert(key)
                out.append((key, candidates))
            }
        }
        return out
    }

    private func doneDialing(_ key: PublicKey) { dialing.remove(key) }

    /// Where a node was seen on the LAN (an mDNS hint, never proof: the call pins its key).
    func seen(nodeTag: String, host: String, peerPort: Int) async {
        var list = hints[nodeTag] ?? []
        list.removeAll { $0.host == host && $0.port == peerPort }
        list.insert((host, peerPort), at: 0)
        hints[nodeTag] = Array(list.prefix(Replicator.hintsPerNode))
        guard hints.count > Replicator.maxHintedNodes else { return }
        // A flood of announcements evicts a stranger's hint, never an admitted node's.
        let state = await session.state
        let admitted = Set(state.facilitators.union(state.archivists).map { Presence.nodeTag(of: $0, in: session.id) })
        if hints.count > Replicator.maxHintedNodes, let stranger = hints.keys.first(where: { $0 != nodeTag && !admitted.contains($0) }) {
            hints[stranger] = nil
        }
    }

    /// Calls an admitted node at each candidate address in turn (the call pins its key, so a
    /// wrong or spoofed address fails at once) and replicates with it until the link closes.
    nonisolated func dial(_ key: PublicKey, candidates: [(host: String, port: Int)]) async {
        if await !call(key, candidates: candidates) {
            // Nowhere answered as that node: wait a little before calling again (a laptop that
            // comes back is linked again within a few seconds: docs/replication.md).
            try? await Task.sleep(for: .milliseconds(500))
        }
        await doneDialing(key)
    }

    /// Whether a link was made (and has now closed).
    private nonisolated func call(_ key: PublicKey, candidates: [(host: String, port: Int)]) async -> Bool {
        for (host, port) in candidates {
            // TCP connects before TLS checks the key: a wrong or spoofed address fails inside,
            // and the next candidate is tried.
            // A machine there that takes the call and says nothing is left at the hello deadline.
            guard
                let connection = try? await PeerTransport.connect(
                    host: host, port: port, identity: identity, expect: key.fingerprint, helloDeadline: limits.helloDeadline)
            else { continue }
            let linked: Bool? = try? await connection.channel.executeThenClose { inbound, outbound in
                try await outbound.write(PeerMessage.hello(await self.hello()).buffer)
                var messages = inbound.makeAsyncIterator()
                let first = try await Replicator.next(&messages)
                guard case .hello(let theirs)? = first, let role = Replicator.role(of: key, in: await session.state) else {
                    if case .refused(let why)? = first { say("\(host) refused this node: \(Presence.printable(why))") }
                    return false
                }
                connection.greeted()
                await self.replicate(
                    with: key, role: role, hello: theirs, address: host, messages: &messages, writer: outbound,
                    close: connection.close)
                return true
            }
            if linked == true { return true }
        }
        return false
    }
}
