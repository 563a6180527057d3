import Foundation
import HalqaTestSupport
import Meeting
import NIOCore
import NIOPosix
import Testing
@testable import Node

/// Threat: a rogue machine on the hall's LAN that floods the node-to-node port, or poses as a
/// node on mDNS, to cut the laptops that hold the meeting off from each other.
@Suite("The node-to-node port holds up", .serialized)
struct PeerPortTests {
    typealias R = ReplicationTests

    /// Opens `count` plain TCP connections from `source` to `port`, sending nothing.
    static func flood(_ count: Int, from source: String, to port: Int) async throws -> [any Channel] {
        var channels: [any Channel] = []
        for _ in 0..<count {
            channels.append(try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .bind(to: try SocketAddress(ipAddress: source, port: 0))
                .connect(host: "127.0.0.1", port: port).get())
        }
        return channels
    }

    static func closed(_ channels: [any Channel]) -> Int { channels.filter { !$0.isActive }.count }

    /// Waits until `condition` holds (true), or `seconds` pass (false).
    static func eventually(_ seconds: Double = 30, _ condition: () -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return condition()
    }

    @Test("One address's connections beyond its limit are closed at once, and while it holds the rest another laptop pairs and links; silent connections are closed at the hello deadline")
    func connectionLimits() async throws {
        var limits = PeerLimits()
        limits.connectionsPerAddress = 8
        limits.helloDeadline = .seconds(120)
        let folderH = TemporaryFolder(), folderB = TemporaryFolder()
        let h = try await R.start(try await LiveSession.start(deck: try R.deck(), in: TranscriptStore(folder: folderH.path)),
                                  name: "laptop-h", joinCode: "ABCDEFGH", limits: limits)
        defer { h.stop() }
        let held = try await Self.flood(30, from: "127.0.0.21", to: h.port)
        #expect(await Self.eventually { Self.closed(held) == 22 }, "closed: \(Self.closed(held)) of 30")
        // While that address holds its eight, a laptop elsewhere pairs and links.
        let b = try await R.admit(to: h, role: .coFacilitator, folder: folderB, name: "laptop-b")
        defer { b.stop() }
        #expect(await R.eventually { await h.replicator.status().admitted.allSatisfy(\.connected) })
        #expect(Self.closed(held) == 22, "the eight held connections were dropped before their deadline")
        for channel in held { try? await channel.close() }

        // A node whose connections must say hello within 2 s closes silent ones.
        limits.helloDeadline = .seconds(2)
        let d = try await R.start(try await LiveSession.start(deck: try R.deck(), in: TranscriptStore(folder: TemporaryFolder().path)),
                                  name: "laptop-d", joinCode: "ABCDEFGH", limits: limits)
        defer { d.stop() }
        let silent = try await Self.flood(5, from: "127.0.0.20", to: d.port)
        #expect(await Self.eventually { Self.closed(silent) == 5 }, "silent connections still open: \(5 - Self.closed(silent))")
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
