import Foundation
import Meeting
import NIOCore
import Testing
@testable import Node

/// Threat: a rogue machine on the hall's LAN that floods the node-to-node port, or poses as a
/// node on mDNS, to cut the laptops that hold the meeting off from each other.
@Suite("The node-to-node port holds up", .serialized)
struct PeerPortTests {
    typealias R = ReplicationTests

    @Test("One address's connections beyond its limit are closed at once; silent ones at the hello deadline; an admitted node still links")
    func connectionLimits() async throws {
        let folderA = TemporaryFolder(), folderB = TemporaryFolder()
        var limits = PeerLimits()
        limits.connectionsPerAddress = 8
        limits.helloDeadline = .seconds(2)
        let a = try await R.start(try await LiveSession.start(deck: try R.deck(), in: TranscriptStore(folder: folderA.path)),
                                  name: "laptop-a", joinCode: "ABCDEFGH", limits: limits)
        defer { a.stop() }
        let port = a.port
        let (kept, closedAtOnce, closedLater) = try await onThread {
            // Checked quickly (well within the deadline) once the node has accepted them all.
            let flood = try (0..<30).map { _ in try RawConnection(from: "127.0.0.20", to: port, receiveTimeout: 0.02) }
            Thread.sleep(forTimeInterval: 0.5)
            let atOnce = flood.filter { $0.receiveAll().closed }.count
            // The rest sent nothing: closed at the hello deadline.
            Thread.sleep(forTimeInterval: 3)
            let later = flood.filter { $0.receiveAll().closed }.count - atOnce
            return (flood.count - atOnce - later, atOnce, later)
        }
        #expect(closedAtOnce == 22, "closed at once: \(closedAtOnce)")
        #expect(closedLater == 8 && kept == 0, "silent connections closed at the deadline: \(closedLater), still open: \(kept)")
        // A node that asks properly from elsewhere is admitted and links.
        let b = try await R.admit(to: a, role: .coFacilitator, folder: folderB, name: "laptop-b")
        defer { b.stop() }
        #expect(await R.eventually { await a.replicator.status().admitted.allSatisfy(\.connected) })
    }

    @Test("At most five laptops wait to be admitted; the next is told why; the console's warnings stay bounded")
    func boundedLists() async throws {
        let folderA = TemporaryFolder()
        let a = try await R.start(try await LiveSession.start(deck: try R.deck(), in: TranscriptStore(folder: folderA.path)),
                                  name: "laptop-a", joinCode: "ABCDEFGH")
        defer { a.stop() }
        var asking: [Task<Joiner.Outcome, any Error>] = []
        for i in 0..<5 {
            let store = try TranscriptStore(folder: TemporaryFolder().path)
            asking.append(Task {
                try await Joiner.ask(host: "127.0.0.1", port: a.port, fingerprint: nil, name: "waiting-\(i)", peerPort: nil, store: store,
                                     identity: try PeerTransportIdentity(key: store.nodeKey), show: { _ in }, confirm: { _ in false })
            })
        }
        defer { asking.forEach { $0.cancel() } }
        #expect(await R.eventually { await a.replicator.status().waiting.count == 5 })
        let sixth = try TranscriptStore(folder: TemporaryFolder().path)
        let refused = try await Joiner.ask(host: "127.0.0.1", port: a.port, fingerprint: nil, name: "sixth", peerPort: nil, store: sixth,
                                           identity: try PeerTransportIdentity(key: sixth.nodeKey), show: { _ in }, confirm: { _ in true })
        guard case .refused(let why) = refused else { Issue.record("a sixth laptop was let wait: \(refused)"); return }
        #expect(why.contains("already waiting"), "\(why)")
        #expect(await a.replicator.status().waiting.count == 5)
        // Thirty strangers claim the session: each is refused and warned about, and the
        // warnings kept stay few.
        for _ in 0..<30 {
            let stranger = SigningKey()
            let connection = try await PeerTransport.connect(host: "127.0.0.1", port: a.port, identity: try PeerTransportIdentity(key: stranger).identity,
                                                             expect: nil)
            try await connection.channel.executeThenClose { inbound, outbound in
                try await outbound.write(PeerMessage.hello(PeerHello(name: "stranger", peerPort: nil, participantURL: nil, session: a.session.id, wantsAdmission: false)).buffer)
                for try await _ in inbound {}
            }
        }
        #expect(await R.eventually { await a.replicator.warningCount >= 20 })
        #expect(await a.replicator.warningCount == Replicator.maxWarnings)
    }

    @Test("A spoofed mDNS hint for an admitted node does not stop the two nodes from linking again")
    func spoofedHint() async throws {
        let folderA = TemporaryFolder(), folderB = TemporaryFolder(), folderR = TemporaryFolder()
        let session = try await LiveSession.start(deck: try R.deck(), in: TranscriptStore(folder: folderA.path))
        let a = try await R.start(session, name: "laptop-a", joinCode: "ABCDEFGH")
        defer { a.stop() }
        let b = try await R.admit(to: a, role: .coFacilitator, folder: folderB, name: "laptop-b")
        #expect(await R.eventually { await a.replicator.status().admitted.allSatisfy(\.connected) })
        // A stranger's listener, where the spoofed announcements point.
        let rogue = try await R.start(try await LiveSession.start(deck: try R.deck(), in: TranscriptStore(folder: folderR.path)),
                                      name: "laptop-a", joinCode: nil)
        defer { rogue.stop() }
        // B's laptop goes away; meanwhile a machine announces both nodes' tags at its own address.
        b.stop()
        #expect(await R.eventually { await a.replicator.status().admitted.allSatisfy { !$0.connected } })
        let tagA = Presence.nodeTag(of: a.replicator.myKey, in: session.id), tagB = Presence.nodeTag(of: b.replicator.myKey, in: session.id)
        await a.replicator.seen(nodeTag: tagB, host: "127.0.0.1", peerPort: rogue.port)
        // B comes back on its port, and hears the spoof before it calls anyone.
        let again = try await R.start(b.session, name: "laptop-b", joinCode: "ABCDEFGH", port: b.port,
                                      before: { replicator in
                                          await replicator.seen(nodeTag: tagA, host: "127.0.0.1", peerPort: rogue.port)
                                          await replicator.remember(a.replicator.myKey, host: "127.0.0.1", port: a.port)
                                      })
        defer { again.stop() }
        #expect(await R.eventually(90) { await a.replicator.status().admitted.allSatisfy(\.connected) }, "the spoof kept A and B apart")
        try await session.open(prompt: 0)
        #expect(await R.eventually { await again.session.state.openPrompt == 0 })
    }
}
