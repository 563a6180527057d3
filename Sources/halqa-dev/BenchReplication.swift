import ArgumentParser
import Foundation
import Meeting
import Node
import Synchronization

/// Replication between two nodes over the real transport (TLS 1.3, pinned keys): a newly
/// admitted node catching up on a session of N events, next to a plain TCP copy of the same
/// event bytes in the same run; then live propagation of facilitator events, one at a time.
struct BenchReplication: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench-replication",
        abstract: "Measure catch-up (vs a plain TCP copy) and live propagation between two nodes.")

    @Option(help: "Where the two nodes' data folders go (emptied first).") var dir: String
    @Option(help: "Events in the session to catch up.") var events = 10_000
    @Option(help: "Events for live propagation.") var live = 1_000
    @Option(help: "The address both nodes listen on (inside a hall host: its own address).") var host = "127.0.0.1"
    @Option(help: "Rounds of the catch-up measurement.") var rounds = 3

    func run() async throws {
        try? FileManager.default.removeItem(atPath: dir)
        let deck = try DeckParser.parse(fileAt: "seeds/decks/real-man.deck").get()
        let storeA = try TranscriptStore(folder: dir + "/a")
        let session = try await LiveSession.start(deck: deck, title: "Benchmark", in: storeA)
        try await session.open(prompt: 0)
        // Reflections in groups, each group revealed: what an archivist and a co-facilitator both hold.
        var made = await session.state.allEvents.count
        while made < events {
            let group = min(50, events - made - 1)
            if group < 3 { try await session.writeNote("note \(made)"); made += 1; continue }
            let base = made
            try await withThrowingTaskGroup(of: Void.self) { g in
                for i in 0..<group { g.addTask { _ = try await session.submitReflection(prompt: 0, text: "reflection \(base + i): what my father taught me about anger") } }
                try await g.waitForAll()
            }
            try await session.reveal(prompt: 0)
            made += group + 1
        }
        let all = await session.state.allEvents
        let eventBytes = all.reduce(0) { $0 + $1.bytes.count }
        print("session: \(all.count) events, \(eventBytes) bytes of events (avg \(eventBytes / all.count) B)")

        let say: @Sendable (String) -> Void = { _ in }
        let a = Replicator(session: session, identity: try PeerTransportIdentity(key: storeA.nodeKey), name: "bench-a",
                           participantURL: nil, joinCode: "ABCDEFGH", say: say)
        await a.start(onChange: {})
        let (ports, sink) = AsyncStream<Int>.makeStream()
        let serving = Task { try await a.run(host: host, port: 0, bound: { sink.yield($0); sink.finish() }) }
        defer { serving.cancel() }
        var it = ports.makeAsyncIterator()
        let port = await it.next()!

        print("\ncatch-up of a newly admitted co-facilitator (admission → every event verified and on its disk):")
        print("round  halqa s  halqa bytes  tcp copy s  tcp bytes  time ×  bytes ×")
        var lastB: LiveSession?
        for round in 1...rounds {
            let storeB = try TranscriptStore(folder: dir + "/b\(round)")
            let asking = Task {
                try await Joiner.ask(host: host, port: port, fingerprint: a.myKey.fingerprint, name: "bench-b\(round)", peerPort: nil,
                                     store: storeB, identity: try PeerTransportIdentity(key: storeB.nodeKey), show: { _ in })
            }
            var waiting: Replicator.Status.Waiting?
            while waiting == nil { waiting = await a.status().waiting.first; try await Task.sleep(for: .milliseconds(5)) }
            try await a.admit(waiting!.id, as: .coFacilitator)
            guard let admitted = try await asking.value else { throw ValidationError("not admitted") }
            let copy = try PlainCopy.measure(all.map(\.bytes), host: host)
            let timeRatio = admitted.catchUpSeconds / copy.seconds
            let byteRatio = Double(admitted.catchUpBytes) / Double(copy.bytes)
            print(String(format: "%5d  %7.3f  %11d  %10.4f  %9d  %6.1f  %7.2f", round, admitted.catchUpSeconds, admitted.catchUpBytes,
                         copy.seconds, copy.bytes, timeRatio, byteRatio))
            lastB = admitted.session
        }

        // Live: the last admitted node replicates with A; A writes notes one at a time.
        guard let b = lastB else { return }
        let arrivals = AsyncStream<Void>.makeStream()
        let bReplicator = Replicator(session: b, identity: try PeerTransportIdentity(key: b.store.nodeKey), name: "bench-b",
                                     participantURL: nil, joinCode: nil, say: say)
        await bReplicator.start(onChange: { arrivals.continuation.yield() })
        await bReplicator.remember(a.myKey, host: host, port: port)
        let (bPorts, bSink) = AsyncStream<Int>.makeStream()
        let bServing = Task { try await bReplicator.run(host: host, port: 0, bound: { bSink.yield($0); bSink.finish() }) }
        defer { bServing.cancel() }
        var bit = bPorts.makeAsyncIterator()
        let bPort = await bit.next()!
        await a.remember(bReplicator.myKey, host: host, port: bPort)
        while await a.status().singleCopy { try await Task.sleep(for: .milliseconds(10)) }
        try await Task.sleep(for: .milliseconds(300))
        var latencies: [Double] = []
        var arrived = arrivals.stream.makeAsyncIterator()
        let before = await b.state.notes.count
        for i in 0..<live {
            let start = ContinuousClock.now
            try await session.writeNote("live \(i)")
            while await b.state.notes.count < before + i + 1 { _ = await arrived.next() }
            latencies.append((ContinuousClock.now - start).milliseconds)
        }
        latencies.sort()
        func pct(_ p: Double) -> Double { latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
        print("\nlive propagation, \(live) facilitator events one at a time (A signs and stores → B has verified and stored it):")
        print(String(format: "p50 %.2f ms   p99 %.2f ms   max %.2f ms", pct(0.5), pct(0.99), latencies.last ?? 0))
    }
}

/// A plain TCP copy of the same bytes (length-prefixed, as Halqa frames them), over the same
/// address, for comparison.
enum PlainCopy {
    static func measure(_ chunks: [[UInt8]], host: String) throws -> (seconds: Double, bytes: Int) {
        var payload: [UInt8] = []
        for c in chunks {
            let n = UInt32(c.count)
            payload += [UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] + c
        }
        let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr(host)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(server, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(server, $0, &length) } }
        listen(server, 1)
        let total = payload.count
        let received = Mutex(0)
        let reader = Thread {
            let c = accept(server, nil, nil)
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            var got = 0
            while got < total {
                let n = read(c, &buffer, buffer.count)
                if n <= 0 { break }
                got += n
            }
            close(c)
            received.withLock { $0 = got }
        }
        let start = ContinuousClock.now
        reader.start()
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, length) } }
        var sent = 0
        payload.withUnsafeBytes { raw in
            while sent < total {
                let n = write(client, raw.baseAddress! + sent, total - sent)
                if n <= 0 { break }
                sent += n
            }
        }
        close(client)
        while received.withLock({ $0 }) < total { usleep(100) }
        let seconds = (ContinuousClock.now - start).seconds
        close(server)
        return (seconds, total)
    }
}
