import Foundation
import HalqaTestSupport
import Meeting
import NIOCore
import Synchronization
import Testing

@testable import Node

/// Two or three real nodes in this process, each with its own store, talking over loopback
/// through the real transport (TLS 1.3, pinned Ed25519 keys).
@Suite(.serialized)
struct ReplicationTests {
    final class Lines: Sendable {
        let text = Mutex("")
        func add(_ line: String) { text.withLock { $0 += line + "\n" } }
        var all: String { text.withLock { $0 } }
    }

    /// A node running a replicator for its session.
    struct Running {
        let replicator: Replicator
        let task: Task<Void, any Error>
        let port: Int
        let lines: Lines
        var session: LiveSession { replicator.session }
        func stop() { task.cancel() }
    }

    /// `before` runs once the replicator exists and before it listens or calls anyone.
    static func start(
        _ session: LiveSession, name: String, joinCode: String?, port: Int = 0, limits: PeerLimits = PeerLimits(),
        linkSilence: Duration = .seconds(60), before: (Replicator) async -> Void = { _ in }
    ) async throws -> Running {
        let lines = Lines()
        // The acknowledgement waits long for the second copy here, and a link is taken for
        // silent only after long (unless a test asks for less): the tests are about the
        // mechanism, on a machine that may be slow (a fully parallel suite starves the beats
        // for seconds), not about the timeouts.
        let replicator = Replicator(
            session: session, identity: try PeerTransportIdentity(key: session.nodeKey), name: name,
            participantURL: "http://127.0.0.1:1/", joinCode: joinCode, secondCopyTimeout: .seconds(60),
            limits: limits, linkBeat: min(.seconds(1), linkSilence / 3), linkSilence: linkSilence, say: { lines.add($0) })
        await replicator.start(onChange: {})
        await before(replicator)
        let (ports, sink) = AsyncStream<Int>.makeStream()
        let task = Task {
            try await replicator.run(
                host: "127.0.0.1", port: port,
                bound: {
                    sink.yield($0)
                    sink.finish()
                })
        }
        var it = ports.makeAsyncIterator()
        return Running(replicator: replicator, task: task, port: await it.next()!, lines: lines)
    }

    static func eventually(_ seconds: Double = 60, _ condition: () async -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return await condition()
    }

    static func deck() throws -> Deck {
        try DeckParser.parse(fileAt: FileManager.default.currentDirectoryPath + "/seeds/decks/real-man.deck").get()
    }

    /// Pairs a new node with `host` as `role`, checking that both sides show the same code.
    static func admit(to host: Running, role: Replica.Role, folder: TemporaryFolder, name: String) async throws -> Running {
        let store = try TranscriptStore(folder: folder.path)
        let key = SigningKey()
        let shown = Lines()
        let consoleCode = Lines()
        let port = freePort()
        let asking = Task {
            try await Joiner.ask(
                host: "127.0.0.1", port: host.port, fingerprint: host.replicator.myKey.fingerprint, name: name,
                peerPort: port, key: key, store: store, show: { shown.add($0) },
                // The person at the joining laptop: the code matches the console's, and nothing is kept yet.
                confirm: { offer in consoleCode.all == offer.code + "\n" && ((try? store.sessionIDs().isEmpty) ?? false) })
        }
        // Generous: a cold debug build of BoringSSL under a fully parallel suite is slow.
        let asked = await eventually(90) { await !host.replicator.status().waiting.isEmpty }
        if !asked { asking.cancel() }
        let waiting = try #require(await host.replicator.status().waiting.first)
        #expect(waiting.name == name)
        #expect(waiting.fingerprint == key.publicKey.fingerprint)
        // The facilitator compares the code on the console with the one the node shows.
        #expect(await eventually { shown.all.contains("Confirmation code: \(waiting.code)") })
        consoleCode.add(waiting.code)
        try await host.replicator.admit(waiting.id, as: role)
        guard case .admitted(let admitted) = try await asking.value else {
            Issue.record("not admitted")
            throw CancellationError()
        }
        #expect(admitted.role == role)
        let node = try await start(admitted.session, name: name, joinCode: admitted.joinCode, port: port)
        await node.replicator.remember(admitted.host.key, host: admitted.host.host, port: admitted.host.port)
        return node
    }

    @Test("A node admitted after its code matched holds the session; reflections wait for its copy; both run the meeting")
    func pairAndReplicate() async throws {
        let folderA = TemporaryFolder()
        let folderB = TemporaryFolder()
        let storeA = try TranscriptStore(folder: folderA.path)
        let a = try await Self.start(
            try await LiveSession.start(deck: try Self.deck(), title: "Tuesday circle", in: storeA), name: "laptop-a", joinCode: "ABCDEFGH")
        defer { a.stop() }
        #expect(await a.replicator.status().singleCopy)
        let b = try await Self.admit(to: a, role: .coFacilitator, folder: folderB, name: "laptop-b")
        defer { b.stop() }
        #expect(
            await Self.eventually {
                let sa = await a.replicator.status().singleCopy
                let sb = await b.replicator.status().singleCopy
                return !sa && !sb
            })
        #expect(b.session.acceptsReflections)
        #expect(await b.session.state.created.title == "Tuesday circle")

        try await a.session.open(prompt: 0)
        #expect(await Self.eventually { await b.session.state.openPrompt == 0 })
        // A's acknowledgement comes only once B holds the reflection durably.
        for i in 1...3 {
            _ = try await a.session.submitReflection(prompt: 0, text: "through A \(i)")
            #expect(try storeB(b).state(of: a.session.id).pendingCount(prompt: 0) == i)
        }
        _ = try await b.session.submitReflection(prompt: 0, text: "through B")
        #expect(try storeA.state(of: a.session.id).pendingCount(prompt: 0) == 4)
        // B runs the meeting too: its reveal shows on A in the same order.
        try await b.session.reveal(prompt: 0)
        #expect(await Self.eventually { await a.session.state.revealed(prompt: 0).count == 4 })
        #expect(await a.session.state.revealed(prompt: 0).map(\.id) == b.session.state.revealed(prompt: 0).map(\.id))
        var ra = await a.session.replica
        var rb = await b.session.replica
        #expect(ra.digest == rb.digest)
        // B stops: A is the only copy again, and says so.
        b.stop()
        #expect(await Self.eventually { await a.replicator.status().singleCopy })
        _ = try await a.session.submitReflection(prompt: 0, text: "alone")  // the local fsync stands
        _ = (ra, rb)
        ra = await a.session.replica
        rb = await b.session.replica
    }

    func storeB(_ b: Running) -> TranscriptStore { b.session.store }

    @Test("An archivist follows reveals but never holds a pending reflection; its forged events are refused and the facilitator warned")
    func archivist() async throws {
        let folderA = TemporaryFolder()
        let folderC = TemporaryFolder()
        let storeA = try TranscriptStore(folder: folderA.path)
        let a = try await Self.start(try await LiveSession.start(deck: try Self.deck(), in: storeA), name: "laptop-a", joinCode: "ABCDEFGH")
        defer { a.stop() }
        try await a.session.open(prompt: 0)
        for i in 1...3 { _ = try await a.session.submitReflection(prompt: 0, text: "before \(i)") }
        let c = try await Self.admit(to: a, role: .archivist, folder: folderC, name: "organiser")
        defer { c.stop() }
        #expect(!c.session.acceptsReflections)
        #expect(await c.session.state.pendingCount(prompt: 0) == 0)
        #expect(await Self.eventually { await a.replicator.status().admitted.contains { $0.role == "archivist" && $0.connected } })
        _ = try await a.session.submitReflection(prompt: 0, text: "pending one")
        try await Task.sleep(for: .milliseconds(200))
        #expect(await c.session.state.pendingCount(prompt: 0) == 0)
        #expect(try c.session.store.events(of: a.session.id).allSatisfy { if case .reflectionSubmitted = $0.body { false } else { true } })
        try await a.session.reveal(prompt: 0)
        #expect(await Self.eventually { await c.session.state.revealed(prompt: 0).count == 4 })

        // The archivist's key signs a facilitator action: refused everywhere, and A warns.
        let forged = Event.facilitator(.promptClosed(prompt: 0), session: a.session.id, by: c.session.nodeKey, at: 1, clock: 99)
        let connection = try await PeerTransport.connect(
            host: "127.0.0.1", port: a.port, identity: try PeerTransportIdentity(key: c.session.nodeKey).identity,
            expect: a.replicator.myKey.fingerprint)
        let answered = try await connection.channel.executeThenClose { inbound, outbound in
            try await outbound.write(
                PeerMessage.hello(
                    PeerHello(name: "organiser", peerPort: nil, participantURL: nil, session: a.session.id, wantsAdmission: false)
                ).buffer)
            try await outbound.write(PeerMessage.events(session: a.session.id, events: [forged.bytes]).buffer)
            var it = inbound.makeAsyncIterator()
            while let frame = try await it.next() {
                if case .stored = try PeerMessage(decoding: frame.readableBytesView) { return true }
            }
            return false
        }
        // A answered the forged event (the warning is recorded before the answer is sent);
        // a link that ended first, replaced by C's own, would leave the warning unchecked.
        #expect(answered, "A closed the link without answering the forged event")
        #expect(await a.session.state.openPrompt == 0)
        #expect(await a.session.state.event(forged.id) == nil)
        #expect(await a.replicator.status().warnings.contains { $0.contains("Refused 1 event") })
    }

    /// Bytes of every file in a data folder, to search for text that must not be there.
    static func folderBytes(_ path: String) throws -> [(String, Data)] {
        try FileManager.default.contentsOfDirectory(atPath: path).map { ($0, try Data(contentsOf: URL(fileURLWithPath: path + "/" + $0))) }
    }

    /// Threat: anyone who can see a screen, an export or an organiser's laptop, when a prompt
    /// drew fewer reflections than the minimum (a group of two can tell who wrote what).
    @Test("A linked laptop that goes silent (no reset, no beat) is dropped after the silence limit, and the single copy is flagged")
    func silentLaptopIsDropped() async throws {
        let folderA = TemporaryFolder()
        let session = try await LiveSession.start(deck: try Self.deck(), in: TranscriptStore(folder: folderA.path))
        // Beats every 0.5 s, gone after 1.5 s: a suite that starves the pool for a second still
        // sees a beat before the link is let go.
        let a = try await Self.start(session, name: "laptop-a", joinCode: "ABCDEFGH", linkSilence: .milliseconds(1500))
        defer { a.stop() }
        let folderB = TemporaryFolder()
        let b = try await Self.admit(to: a, role: .coFacilitator, folder: folderB, name: "laptop-b")
        #expect(await Self.eventually { await a.replicator.status().admitted.allSatisfy(\.connected) })
        b.stop()
        #expect(await Self.eventually { await !a.replicator.status().admitted.contains(where: \.connected) })
        // B's key calls again, says hello, and then says nothing more: a laptop whose Wi-Fi dropped.
        // (This side's own hello deadline is far off: it is A that must let go.)
        let connection = try await PeerTransport.connect(
            host: "127.0.0.1", port: a.port, identity: PeerTransportIdentity(key: b.session.nodeKey).identity,
            expect: a.replicator.myKey.fingerprint, helloDeadline: .seconds(120))
        let started = ContinuousClock.now
        let heard = try await connection.channel.executeThenClose { inbound, outbound in
            try await outbound.write(
                PeerMessage.hello(
                    PeerHello(name: "laptop-b", peerPort: nil, participantURL: nil, session: session.id, wantsAdmission: false)
                )
                .buffer)
            var beats = 0
            for try await frame in inbound where try PeerMessage(decoding: frame.readableBytesView) == .beat { beats += 1 }
            return beats
        }
        let lasted = ContinuousClock.now - started
        // A beat while it waited, then it let go of the silent link (well before TCP would).
        #expect(heard >= 1, "A did not beat on the link")
        #expect(lasted >= .milliseconds(1500) && lasted < .seconds(30), "A closed the silent link after \(lasted)")
        // A marks the link gone just after closing it (the link's task ends first).
        #expect(await Self.eventually { await a.replicator.status().singleCopy })
        #expect(await Self.eventually { a.lines.all.contains("No word from laptop-b") })
    }

    @Test("The session's settings travel: a co-facilitator's room keeps several reflections per prompt, the minimum and the language")
    func settingsTravel() async throws {
        let folderA = TemporaryFolder()
        var deck = try Self.deck()
        deck.severalPerPrompt = true
        deck.language = .ps
        let session = try await LiveSession.start(deck: deck, minimumToReveal: 4, in: TranscriptStore(folder: folderA.path))
        let a = try await Self.start(session, name: "laptop-a", joinCode: "ABCDEFGH")
        defer { a.stop() }
        let folderB = TemporaryFolder()
        let b = try await Self.admit(to: a, role: .coFacilitator, folder: folderB, name: "laptop-b")
        defer { b.stop() }
        // `halqa node` starts its room with the defaults: the session's own rules win.
        let options = HostOptions(
            deckPath: nil, resume: nil, title: nil, port: 8080, bind: "127.0.0.1", dataFolder: folderB.path,
            minimumToReveal: 3, onePerPrompt: true)
        let room = try await Host.room(for: b.session, joinCode: "ABCDEFGH", store: TranscriptStore(folder: folderB.path), options: options)
        #expect(room.onePerPrompt == false, "B keeps several reflections per prompt")
        #expect(room.language == .ps)
        #expect(await b.session.state.created.minimumToReveal == 4)
    }

    @Test("Small groups: below the reveal minimum nothing of a prompt's reflections is shown, exported or replicated to an archivist")
    func smallGroups() async throws {
        let folderA = TemporaryFolder()
        let folderC = TemporaryFolder()
        let storeA = try TranscriptStore(folder: folderA.path)
        let session = try await LiveSession.start(deck: try Self.deck(), minimumToReveal: 3, in: storeA)
        let a = try await Self.start(session, name: "laptop-a", joinCode: "ABCDEFGH")
        defer { a.stop() }
        let folderB = TemporaryFolder()
        let b = try await Self.admit(to: a, role: .coFacilitator, folder: folderB, name: "laptop-b")
        defer { b.stop() }
        let c = try await Self.admit(to: a, role: .archivist, folder: folderC, name: "organiser")
        defer { c.stop() }
        #expect(await Self.eventually { await a.replicator.status().admitted.allSatisfy(\.connected) })
        let options = HostOptions(
            deckPath: nil, resume: nil, title: nil, port: 8080, bind: "127.0.0.1", dataFolder: folderA.path,
            minimumToReveal: 3, onePerPrompt: true)
        let room = try await Host.room(for: session, joinCode: "ABCDEFGH", store: storeA, options: options)

        try await session.open(prompt: 0)
        let few = ["only two of us tonight: the first", "only two of us tonight: the second"]
        for text in few { _ = try await session.submitReflection(prompt: 0, text: text) }
        await #expect(throws: MeetingError.self) { try await session.reveal(prompt: 0) }
        try await Task.sleep(for: .milliseconds(300))  // time for anything that would replicate
        let needle = Data("only two of us".utf8)
        let shown: [(String, Data)] = [
            ("participant view", Wire.encode(await room.participantView())),
            ("projector view", Wire.encode(await room.screenView())),
            ("console view", Wire.encode(await room.consoleView())),
            ("JSON export", Transcript(await session.state).json()),
            ("Markdown export", Data(Transcript(await session.state).markdown().utf8)),
        ]
        for (what, bytes) in shown { #expect(bytes.range(of: needle) == nil, "\(what) shows a reflection below the minimum") }
        #expect(await room.consoleView().prompts[0].pending == 2, "the console counts them, without text")
        for (file, bytes) in try Self.folderBytes(folderC.path) {
            #expect(bytes.range(of: needle) == nil, "the archivist's \(file) holds a reflection below the minimum")
        }
        #expect(await c.session.state.pendingCount(prompt: 0) == 0)
        // The co-facilitator holds them (the second copy of the no-loss rule), and no more.
        #expect(try Self.folderBytes(folderB.path).contains { $0.1.range(of: needle) != nil })
        // The prompt closes unrevealed: its reflections are destroyed on the host and on the
        // co-facilitator, in every file (the database, the pending file, their WALs).
        try await session.close(prompt: 0)
        #expect(await Self.eventually { await b.session.state.prompts[0].status == .closed })
        await Self.quiet([folderA.path, folderB.path])
        for (node, folder) in [("host", folderA), ("co-facilitator", folderB)] {
            for (file, bytes) in try Self.folderBytes(folder.path) {
                #expect(bytes.range(of: needle) == nil, "the \(node)'s \(file) still holds a destroyed reflection")
            }
        }
        // The same search finds reflections that reached the minimum and were revealed.
        try await session.open(prompt: 1)
        for i in 1...3 { _ = try await session.submitReflection(prompt: 1, text: "enough of us: \(i)") }
        try await session.reveal(prompt: 1)
        #expect(await Self.eventually { await c.session.state.revealed(prompt: 1).count == 3 })
        // (The archivist's state may show them a moment before its commit reaches the file.)
        #expect(
            await Self.eventually {
                (try? Self.folderBytes(folderC.path).contains { $0.1.range(of: Data("enough of us".utf8)) != nil }) ?? false
            })
    }

    /// A deck of `count` prompts, for tests that need many.
    static func deck(prompts count: Int) -> Deck {
        Deck(
            title: LocalizedText([.en: "Many questions"]),
            prompts: (0..<count).map { Prompt(text: LocalizedText([.en: "Question \($0 + 1)"])) })
    }

    /// Waits until no file of the folders changes for half a second: every node has finished
    /// writing what it received.
    static func quiet(_ folders: [String]) async {
        var last: [Data] = []
        var stableSince = Date()
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let now = folders.flatMap { ArrivalOrder.files(in: $0).map(\.bytes) }
            if now != last {
                last = now
                stableSince = Date()
            } else if Date().timeIntervalSince(stableSince) > 0.5 {
                return
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    static func reflectionText() -> String {
        let words = [
            "my", "father", "never", "said", "anger", "was", "wrong", "I", "learned", "to", "hit", "before",
            "my", "son", "watches", "me", "ghussa", "izzat", "and", "now", "I", "stop",
        ]
        let tag = String((0..<10).map { _ in "abcdefghijkmnpqrstuvwxyz".randomElement()! })
        return tag + " " + (0..<Int.random(in: 2...40)).map { _ in words.randomElement()! }.joined(separator: " ")
    }

    /// Threat: someone who takes any of the laptops and reads its files byte by byte, and
    /// remembers who wrote when. The co-facilitator receives reflections one by one as they
    /// arrive; the archivist receives each revealed batch at once.
    @Test(
        "No file of the host, the co-facilitator or the archivist lays reflections out in arrival order, after a reveal or after the close (byte offsets, 12 runs)"
    )
    func noArrivalOrderOnAnyNode() async throws {
        var order = ArrivalOrder()
        // Fresh nodes each run: small tables, where rows written one by one keep their order
        // (in a large, busy table page splits hide it).
        for n in [3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 24, 40] {
            let folderA = TemporaryFolder()
            let folderB = TemporaryFolder()
            let folderC = TemporaryFolder()
            let folders = [("host", folderA.path), ("co-facilitator", folderB.path), ("archivist", folderC.path)]
            let session = try await LiveSession.start(deck: Self.deck(prompts: 2), in: TranscriptStore(folder: folderA.path))
            let a = try await Self.start(session, name: "laptop-a", joinCode: "ABCDEFGH")
            defer { a.stop() }
            let b = try await Self.admit(to: a, role: .coFacilitator, folder: folderB, name: "laptop-b")
            defer { b.stop() }
            let c = try await Self.admit(to: a, role: .archivist, folder: folderC, name: "organiser")
            defer { c.stop() }
            #expect(await Self.eventually { await a.replicator.status().admitted.allSatisfy(\.connected) })
            try await session.open(prompt: 0)
            let texts = (0..<n).map { _ in Self.reflectionText() }
            for text in texts { _ = try await session.submitReflection(prompt: 0, text: text) }
            try await session.reveal(prompt: 0)
            #expect(await Self.eventually { await c.session.state.revealed(prompt: 0).count == n })
            #expect(await Self.eventually { await b.session.state.revealed(prompt: 0).count == n })
            await Self.quiet(folders.map(\.1))
            order.add(texts: texts, folders: folders, phase: "after a reveal")
            // Arrivals for the next prompt, which closes unrevealed with the session.
            try await session.open(prompt: 1)
            for _ in 0..<2 { _ = try await session.submitReflection(prompt: 1, text: Self.reflectionText()) }
            try await session.closeSession()
            #expect(await Self.eventually { await c.session.state.isClosed })
            #expect(await Self.eventually { await b.session.state.isClosed })
            await Self.quiet(folders.map(\.1))
            order.add(texts: texts, folders: folders, phase: "after the close")
        }
        let worst = try #require(order.worst, "no reflection was found in any file")
        #expect(abs(worst.z) < ArrivalOrder.limit, "placement in the files follows arrival order:\n\(order.report)")
    }

    /// Threat: a stranger's laptop in the hall that answers as a host and admits every laptop
    /// at once, so that a co-facilitator's laptop adopts its session and takes its orders.
    @Test(
        "A joining laptop keeps nothing until the person there confirms the code and digest; a rogue host that admits at once is turned away"
    )
    func joinerConfirms() async throws {
        let folderR = TemporaryFolder()
        let folderN = TemporaryFolder()
        let rogueStore = try TranscriptStore(folder: folderR.path)
        let r = try await Self.start(
            try await LiveSession.start(deck: try Self.deck(), title: "Stranger's meeting", in: rogueStore), name: "laptop-a",
            joinCode: "ABCDEFGH")
        defer { r.stop() }
        // The rogue admits whoever asks, at once, without comparing anything.
        let admitting = Task {
            while !Task.isCancelled {
                for waiting in await r.replicator.status().waiting { try? await r.replicator.admit(waiting.id, as: .coFacilitator) }
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        defer { admitting.cancel() }
        let store = try TranscriptStore(folder: folderN.path)
        let offers = Lines()
        func ask(answer: Bool) async throws -> Joiner.Outcome {
            try await Joiner.ask(
                host: "127.0.0.1", port: r.port, fingerprint: nil, name: "co-facilitator", peerPort: nil, key: SigningKey(),
                store: store, show: { _ in },
                confirm: { offer in
                    offers.add(
                        "\(offer.hostFingerprint) \(offer.code) \(offer.digest) \(offer.events) kept:\((try? store.sessionIDs().count) ?? -1)"
                    )
                    return answer
                })
        }
        // The person at the joining laptop sees a code the facilitator's console does not show: no.
        guard case .declined = try await ask(answer: false) else {
            Issue.record("a declined host was adopted")
            return
        }
        var rogueReplica = await r.session.replica
        #expect(offers.all.hasPrefix("\(r.replicator.myKey.fingerprint) "), "the offer names the host's key: \(offers.all)")
        #expect(offers.all.contains(" \(rogueReplica.digest.short) "), "the offer shows the session's digest: \(offers.all)")
        #expect(offers.all.contains("kept:0"), "something was stored before the person confirmed")
        #expect(try store.sessionIDs().isEmpty)
        for (file, bytes) in try Self.folderBytes(folderN.path) {
            #expect(bytes.range(of: Data("Stranger's meeting".utf8)) == nil, "\(file) keeps the declined session")
        }
        // Said yes, the same offer is kept (the confirmation is what decides).
        guard case .admitted(let admitted) = try await ask(answer: true) else {
            Issue.record("a confirmed host was not adopted")
            return
        }
        #expect(try store.sessionIDs() == [admitted.session.id])
    }

    @Test(
        "On the wire, an archivist's link never names a reflection that waits (it would see each arrive); a co-facilitator's does"
    )
    func waitingIDsStayOffTheArchivistsWire() async throws {
        let folderA = TemporaryFolder()
        let a = try await Self.start(
            try await LiveSession.start(deck: try Self.deck(), minimumToReveal: 3, in: TranscriptStore(folder: folderA.path)),
            name: "laptop-a", joinCode: "ABCDEFGH")
        defer { a.stop() }
        try await a.session.open(prompt: 0)
        var waiting: Set<EventID> = []
        for text in ["one", "two"] { waiting.insert(try await a.session.submitReflection(prompt: 0, text: text)) }
        // What an admitted node reads on its link: the host's greeting, then its summary.
        func firstSummary(as role: Replica.Role) async throws -> Set<EventID> {
            let key = SigningKey()
            try await a.session.admit(key.publicKey, as: role, name: "laptop-\(role.wireName)")
            let connection = try await PeerTransport.connect(
                host: "127.0.0.1", port: a.port, identity: try PeerTransportIdentity(key: key).identity, expect: nil)
            return try await connection.channel.executeThenClose { inbound, outbound in
                try await outbound.write(
                    PeerMessage.hello(
                        PeerHello(name: "n", peerPort: nil, participantURL: nil, session: a.session.id, wantsAdmission: false)
                    )
                    .buffer)
                for try await frame in inbound {
                    if case .have(_, let ids) = try PeerMessage(decoding: frame.readableBytesView) { return Set(ids) }
                }
                return []
            }
        }
        let archivist = try await firstSummary(as: .archivist)
        #expect(!archivist.isEmpty, "the archivist's link carried no summary")
        #expect(archivist.isDisjoint(with: waiting), "the archivist was told the ids of waiting reflections")
        // The same check sees them where they belong: a co-facilitator holds them.
        #expect(waiting.isSubset(of: try await firstSummary(as: .coFacilitator)))
    }

    @Test("A machine that is not admitted is refused, reads nothing of the session, and cannot pose as the host")
    func rogue() async throws {
        let folderA = TemporaryFolder()
        let folderR = TemporaryFolder()
        let storeA = try TranscriptStore(folder: folderA.path)
        let a = try await Self.start(
            try await LiveSession.start(deck: try Self.deck(), title: "Secret title", in: storeA), name: "laptop-a", joinCode: "ABCDEFGH")
        defer { a.stop() }
        try await a.session.open(prompt: 0)
        let rogueStore = try TranscriptStore(folder: folderR.path)
        let rogue = try PeerTransportIdentity(key: rogueStore.nodeKey)
        // It claims the session (its id seen somewhere) and sends a forged event at once.
        let forged = Event.facilitator(.promptClosed(prompt: 0), session: a.session.id, by: rogueStore.nodeKey, at: 1, clock: 5)
        let connection = try await PeerTransport.connect(host: "127.0.0.1", port: a.port, identity: rogue.identity, expect: nil)
        var received: [PeerMessage] = []
        try await connection.channel.executeThenClose { inbound, outbound in
            try await outbound.write(
                PeerMessage.hello(
                    PeerHello(name: "laptop-a", peerPort: nil, participantURL: nil, session: a.session.id, wantsAdmission: false)
                ).buffer)
            try await outbound.write(PeerMessage.events(session: a.session.id, events: [forged.bytes]).buffer)
            try await outbound.write(PeerMessage.have(session: a.session.id, ids: []).buffer)
            for try await frame in inbound { received.append(try PeerMessage(decoding: frame.readableBytesView)) }
        }
        #expect(received.count == 1)
        guard case .refused(let why)? = received.first else {
            Issue.record("expected a refusal, got \(received)")
            return
        }
        #expect(why.contains("not admitted"))
        #expect(await a.session.state.event(forged.id) == nil)
        #expect(await a.session.state.openPrompt == 0)
        #expect(
            await a.replicator.status().warnings.contains {
                $0.contains("not admitted") && $0.contains(rogueStore.nodeKey.publicKey.fingerprint)
            })

        // A node that looks for A by its announced key never reaches the rogue's listener.
        let r = try await Self.start(try await LiveSession.start(deck: try Self.deck(), in: rogueStore), name: "laptop-a", joinCode: nil)
        defer { r.stop() }
        let folderN = TemporaryFolder()
        let newStore = try TranscriptStore(folder: folderN.path)
        await #expect(throws: (any Error).self) {
            _ = try await Joiner.ask(
                host: "127.0.0.1", port: r.port, fingerprint: a.replicator.myKey.fingerprint, name: "new", peerPort: nil,
                key: SigningKey(), store: newStore, show: { _ in }, confirm: { _ in true })
        }
        #expect(try newStore.sessionIDs().isEmpty)
    }
}
