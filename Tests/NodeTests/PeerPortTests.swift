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
            channels.append(
                try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
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

    @Test(
        "One address's connections beyond its limit are closed at once, and while it holds the rest another laptop pairs and links; silent connections are closed at the hello deadline"
    )
    func connectionLimits() async throws {
        var limits = PeerLimits()
        limits.connectionsPerAddress = 8
        limits.helloDeadline = .seconds(120)
        let folderH = TemporaryFolder()
        let folderB = TemporaryFolder()
        let h = try await R.start(
            try await LiveSession.start(deck: try R.deck(), in: TranscriptStore(folder: folderH.path)),
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
        let folderD = TemporaryFolder()
        let d = try await R.start(
            try await LiveSession.start(deck: try R.deck(), in: TranscriptStore(folder: folderD.path)),
            name: "laptop-d", joinCode: "ABCDEFGH", limits: limits)
        defer { d.stop() }
        let silent = try await Self.flood(5, from: "127.0.0.20", to: d.port)
        #expect(await Self.eventually { Self.closed(silent) == 5 }, "silent connections still open: \(5 - Self.closed(silent))")
    }

    @Test("At most five laptops wait to be admitted; the next is told why; the console's warnings stay bounded")
    func boundedLists() async throws {
        let folderA = TemporaryFolder()
        // Not the hello deadline's test: a busy machine (the whole suite at once) may take
        // longer than 10 s to pair five laptops, and a closed connection is not what this asks.
        var limits = PeerLimits()
        limits.helloDeadline = .seconds(120)
        let a = try await R.start(
            try await LiveSession.start(deck: try R.deck(), in: TranscriptStore(folder: folderA.path)),
            name: "laptop-a", joinCode: "ABCDEFGH", limits: limits)
        defer { a.stop() }
        // Laptops asking to join from their own addresses: each pairs, then waits (the
        // connections stay open until the test ends).
        func pair(from source: String) async throws -> (PeerMessage?, PeerTransport.Channel) {
            let connection = try await PeerTransport.connect(
                host: "127.0.0.1", port: a.port, identity: try PeerTransportIdentity(key: SigningKey()).identity,
                expect: nil, from: source, helloDeadline: limits.helloDeadline)
            let channel = connection.channel
            let outbound = channel.outbound
            try await outbound.write(
                PeerMessage.hello(PeerHello(name: "asking", peerPort: nil, participantURL: nil, session: nil, wantsAdmission: true)).buffer)
            var messages = channel.inbound.makeAsyncIterator()
            _ = try await Replicator.next(&messages)  // its greeting
            let second = try await Replicator.next(&messages)
            if case .pairCommit? = second { try await outbound.write(PeerMessage.pairNonce(Pairing.nonce()).buffer) }
            return (second, channel)
        }
        var held: [PeerTransport.Channel] = []
        defer {
            for channel in held {
                channel.outbound.finish()
                channel.channel.close(promise: nil)
            }
        }
        for i in 0..<5 {
            let (answer, channel) = try await pair(from: "127.0.0.\(30 + i)")
            held.append(channel)
            guard case .pairCommit? = answer else {
                Issue.record("laptop \(i) was not let pair: \(String(describing: answer))")
                return
            }
        }
        #expect(await R.eventually { await a.replicator.status().waiting.count == 5 })
        let (sixth, sixthChannel) = try await pair(from: "127.0.0.40")
        held.append(sixthChannel)
        guard case .refused(let why)? = sixth else {
            Issue.record("a sixth laptop was let wait: \(String(describing: sixth))")
            return
        }
        #expect(why.contains("already waiting"), "\(why)")
        #expect(await a.replicator.status().waiting.count == 5)
        // The facilitator turns three away; then one address may hold two seats, not three.
        for entry in await a.replicator.status().waiting.prefix(3) { try await a.replicator.turnAway(entry.id) }
        #expect(await R.eventually { await a.replicator.status().waiting.count == 2 })
        // (A connection this node closes is gone within a second; until then its seat is held.)
        try await Task.sleep(for: .seconds(2))
        var answers: [Bool] = []
        for _ in 0..<3 {
            let (answer, channel) = try await pair(from: "127.0.0.41")
            held.append(channel)
            if case .pairCommit? = answer { answers.append(true) } else { answers.append(false) }
        }
        #expect(answers == [true, true, false], "seats for one address: \(answers)")
        // Thirty strangers claim the session: each is refused and warned about, and the
        // warnings kept stay few.
        for _ in 0..<30 {
            let stranger = SigningKey()
            let connection = try await PeerTransport.connect(
                host: "127.0.0.1", port: a.port, identity: try PeerTransportIdentity(key: stranger).identity,
                expect: nil)
            try await connection.channel.executeThenClose { inbound, outbound in
                try await outbound.write(
                    PeerMessage.hello(
                        PeerHello(name: "stranger", peerPort: nil, participantURL: nil, session: a.session.id, wantsAdmission: false)
                    ).buffer)
                for try await _ in inbound {}
            }
        }
        #expect(await R.eventually { await a.replicator.warningCount >= 20 })
        #expect(await a.replicator.warningCount == Replicator.maxWarnings)
    }

    @Test("Spoofed mDNS hints, announced after the real ones, do not keep two admitted nodes apart")
    func spoofedHint() async throws {
        let folderR = TemporaryFolder()
        // A stranger's listener, where the spoofed announcements point.
        let rogue = try await R.start(
            try await LiveSession.start(deck: try R.deck(), in: TranscriptStore(folder: folderR.path)),
            name: "laptop-a", joinCode: nil)
        defer { rogue.stop() }
        try await Self.linkDespiteHints(to: rogue.port)
    }

    /// A listener that takes every call and never says a word.
    static func silentListener() async throws -> any Channel {
        try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
    }

    @Test("A spoofed hint to a machine that takes the call and says nothing does not keep two admitted nodes apart")
    func silentHint() async throws {
        let silent = try await Self.silentListener()
        defer { silent.close(promise: nil) }
        var limits = PeerLimits()
        limits.helloDeadline = .seconds(5)
        try await Self.linkDespiteHints(to: try #require(silent.localAddress?.port), limits: limits)
    }

    /// Two admitted nodes restart knowing only what mDNS says: for each, its real address, then
    /// a spoof pointing at `rogue` (tried first, as newest). They must link again.
    static func linkDespiteHints(to rogue: Int, limits: PeerLimits = PeerLimits()) async throws {
        let folderA = TemporaryFolder()
        let folderB = TemporaryFolder()
        let session = try await LiveSession.start(deck: try R.deck(), in: TranscriptStore(folder: folderA.path))
        let a = try await R.start(session, name: "laptop-a", joinCode: "ABCDEFGH")
        let b = try await R.admit(to: a, role: .coFacilitator, folder: folderB, name: "laptop-b")
        #expect(await R.eventually { await a.replicator.status().admitted.allSatisfy(\.connected) })
        // Both laptops restart, remembering no address: all they know is what mDNS says, the
        // real announcement first, then a machine's spoof of each tag (so newest first).
        a.stop()
        b.stop()
        try await Task.sleep(for: .milliseconds(300))
        let tagA = Presence.nodeTag(of: a.replicator.myKey, in: session.id)
        let tagB = Presence.nodeTag(of: b.replicator.myKey, in: session.id)
        func hear(_ replicator: Replicator, real: (String, Int), spoofed tag: String) async {
            await replicator.seen(nodeTag: tag, host: real.0, peerPort: real.1)
            await replicator.seen(nodeTag: tag, host: "127.0.0.1", peerPort: rogue)
        }
        let a2 = try await R.start(
            a.session, name: "laptop-a", joinCode: "ABCDEFGH", port: a.port, limits: limits,
            before: { await hear($0, real: ("127.0.0.1", b.port), spoofed: tagB) })
        defer { a2.stop() }
        let b2 = try await R.start(
            b.session, name: "laptop-b", joinCode: "ABCDEFGH", port: b.port, limits: limits,
            before: { await hear($0, real: ("127.0.0.1", a.port), spoofed: tagA) })
        defer { b2.stop() }
        #expect(await R.eventually(90) { await a2.replicator.status().admitted.allSatisfy(\.connected) }, "the spoof kept A and B apart")
        try await session.open(prompt: 0)
        #expect(await R.eventually { await b2.session.state.openPrompt == 0 })
    }

    @Test(
        "A laptop joining at an address where nothing listens, or where something takes the call and says nothing, is told so once, in words, and keeps nothing"
    )
    func joiningAWrongAddress() async throws {
        let folder = TemporaryFolder()
        let store = try TranscriptStore(folder: folder.path)
        let silent = try await Self.silentListener()
        defer { silent.close(promise: nil) }
        let nobody = freePort()
        for (port, said) in [
            (nobody, "Cannot reach 127.0.0.1:\(nobody): nothing there takes calls (connection refused)."),
            (
                try #require(silent.localAddress?.port),
                "took the call, but said nothing for \(Int(PeerLimits().helloDeadline.seconds)) s (a Halqa node answers at once)."
            ),
        ] {
            let shown = R.Lines()
            let joining = Task {
                try await Joiner.join(
                    address: "127.0.0.1:\(port)", name: "laptop-b", peerPort: nil, store: store, show: { shown.add($0) },
                    confirm: { _ in true })
            }
            #expect(await R.eventually(60) { shown.all.contains(said) }, "shown: \(shown.all)")
            #expect(shown.all.contains("Other Halqa nodes reach this one at"), "it says where to find the right address")
            if port == nobody {
                // It goes on trying every 2 s, and says so once.
                try await Task.sleep(for: .seconds(5))
                #expect(shown.all.components(separatedBy: said).count == 2, "shown: \(shown.all)")
            }
            joining.cancel()
            _ = await joining.result
        }
        #expect(try store.sessionIDs().isEmpty)
    }
}
