import ArgumentParser
import Foundation
import Meeting
import Node
import Synchronization

/// Replication between two nodes over the real transport (TLS 1.3, pinned keys), one on each
/// of two virtual-hall hosts (scripts/bench-replication runs both sides).
///
/// `serve` (host 1) builds a session of N events, admits every node that asks, offers the same
/// event bytes on a plain TCP port for comparison, then writes facilitator notes one at a time,
/// each carrying the monotonic clock (shared by every process on the machine) of its making.
/// `join` (host 2) is admitted N times, each a fresh node, measuring the catch-up; fetches the
/// plain copy; then follows the live notes and prints their propagation latency.
struct BenchReplication: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-replication",
        abstract: "Measure catch-up (vs a plain TCP copy) and live propagation between two nodes.",
        subcommands: [Serve.self, Join.self])

    static let peerPort = 9001, copyPort = 9002

    struct Serve: AsyncParsableCommand {
        @Option(help: "A data folder (emptied first).") var dir: String
        @Option(help: "This host's address.") var host: String
        @Option(help: "Events in the session.") var events = 10_000
        @Option(help: "Live events to write once a node is linked.") var live = 1_000
        @Option(help: "Nodes that will catch up, one after another.") var rounds = 3

        func run() async throws {
            try? FileManager.default.removeItem(atPath: dir)
            let store = try TranscriptStore(folder: dir)
            let session = try await makeSession(events: events, in: store)
            let all = await session.state.allEvents
            emit("session: \(all.count) events, \(all.reduce(0) { $0 + $1.bytes.count }) bytes of events")
            try PlainCopy.serve(all.map(\.bytes), host: host, port: BenchReplication.copyPort)
            let a = Replicator(
                session: session, identity: try PeerTransportIdentity(key: session.nodeKey), name: "bench-a",
                participantURL: nil, joinCode: "ABCDEFGH", say: { _ in })
            await a.start(onChange: {})
            let serving = Task { try await a.run(host: host, port: BenchReplication.peerPort, bound: { _ in emit("ready") }) }
            defer { serving.cancel() }
            // Admit whoever asks (one fresh node per round); the last one stays to replicate live.
            while true {
                let status = await a.status()
                if status.admitted.count >= rounds, status.admitted.contains(where: \.connected) { break }
                if let waiting = status.waiting.first { try await a.admit(waiting.id, as: .coFacilitator) }
                try await Task.sleep(for: .milliseconds(2))
            }
            try await Task.sleep(for: .milliseconds(500))
            for i in 0..<live {
                try await session.writeNote("live \(i) \(Monotonic.nanoseconds())")
                try await Task.sleep(for: .milliseconds(5))
            }
            try await Task.sleep(for: .seconds(3))
        }
    }

    struct Join: AsyncParsableCommand {
        @Option(help: "Data folders go here (emptied first).") var dir: String
        @Option(help: "The serving host's address.") var host: String
        @Option(help: "This host's address.") var me: String
        @Option var rounds = 3
        @Option var live = 1_000

        func run() async throws {
            try? FileManager.default.removeItem(atPath: dir)
            emit(
                "catch-up of a newly admitted co-facilitator (admission → every event verified and on its disk), next to a plain TCP copy:")
            emit(
                "round  on the wire s  caught up s  halqa wire bytes  tcp copy s  tcp wire bytes  wire time ×  caught-up time ×  bytes ×  ×floor"
            )
            emit(
                "       (on the wire: admission → last event received; caught up: → every event verified and on disk; wire bytes: received by this host's interface, TCP/IP and TLS included; ×floor: caught up ÷ verifying the same signatures alone on every core, measured after it)"
            )
            var last: (LiveSession, Joiner.Admitted)?
            for round in 1...rounds {
                let store = try TranscriptStore(folder: dir + "/\(round)")
                var admitted: Joiner.Admitted?
                var received = Wire.receivedBytes()
                while admitted == nil {
                    received = Wire.receivedBytes()
                    // The benchmark stands in for the person at the joining laptop, who confirms at once.
                    if case .admitted(let a)? = try? await Joiner.ask(
                        host: host, port: BenchReplication.peerPort, fingerprint: nil, name: "bench-\(round)",
                        peerPort: round == rounds ? BenchReplication.peerPort : nil, key: SigningKey(),
                        store: store, show: { _ in }, confirm: { _ in true })
                    {
                        admitted = a
                    }
                    if admitted == nil { try await Task.sleep(for: .milliseconds(200)) }
                }
                let halqaWire = Wire.receivedBytes() - received
                let beforeCopy = Wire.receivedBytes()
                let copy = try PlainCopy.fetch(host: host, port: BenchReplication.copyPort)
                let copyWire = Wire.receivedBytes() - beforeCopy
                let a = admitted!
                // The floor in the same round: verifying what was caught up, on every core.
                let caughtUp = await a.session.state
                let floor = verificationFloor(caughtUp.allEvents, roomKey: caughtUp.created.roomKey, oneCore: false).all
                emit(
                    String(
                        format: "%5d  %13.4f  %11.3f  %16d  %10.4f  %14d  %11.1f  %16.0f  %7.2f  %6.2f", round, a.transferSeconds,
                        a.catchUpSeconds, halqaWire,
                        copy.seconds, copyWire, a.transferSeconds / copy.seconds, a.catchUpSeconds / copy.seconds,
                        Double(halqaWire) / Double(copyWire), a.catchUpSeconds / floor))
                last = (a.session, a)
            }
            guard let (session, admitted) = last else { return }
            try await BenchReplication.measureVerificationFloor(session, caughtUpIn: admitted.catchUpSeconds, scratch: dir)
            let latencies = Mutex<[Double]>([])
            let seen = Mutex(0)
            let b = Replicator(
                session: session, identity: try PeerTransportIdentity(key: session.nodeKey), name: "bench-b",
                participantURL: nil, joinCode: nil, say: { _ in })
            await b.start(onChange: {
                let now = Monotonic.nanoseconds()
                let notes = await session.state.notes
                seen.withLock { count in
                    for note in notes.dropFirst(count) {
                        let parts = note.text.split(separator: " ")
                        if parts.count == 3, parts[0] == "live", let made = UInt64(parts[2]) {
                            latencies.withLock { $0.append(Double(now - made) / 1e6) }
                        }
                    }
                    count = notes.count
                }
            })
            await b.remember(admitted.host.key, host: admitted.host.host, port: admitted.host.port)
            let serving = Task { try await b.run(host: me, port: BenchReplication.peerPort, bound: { _ in }) }
            defer { serving.cancel() }
            let deadline = ContinuousClock.now + .seconds(60)
            while latencies.withLock({ $0.count }) < live, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            let sorted = latencies.withLock { $0 }.sorted()
            guard !sorted.isEmpty else {
                emit("no live events arrived")
                return
            }
            func pct(_ p: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
            emit("\nlive propagation, \(sorted.count) facilitator events one every 5 ms (made and stored on A → verified and stored on B):")
            emit(String(format: "p50 %.2f ms   p99 %.2f ms   max %.2f ms", pct(0.5), pct(0.99), sorted.last!))
        }
    }

    static func measureVerificationFloor(_ session: LiveSession, caughtUpIn catchUp: Double, scratch: String) async throws {
        let events = try session.store.events(of: session.id)
        let state = await session.state
        let floor = verificationFloor(events, roomKey: state.created.roomKey)
        emit(
            String(
                format:
                    "\nverifying the %d events' signatures alone (the floor): %.3f s on 1 core, %.3f s on %d; the last catch-up took %.2f× the %d-core floor",
                events.count, floor.one, floor.all, floor.cores, catchUp / floor.all, floor.cores))
        // `halqa import` of the same session's export, next to verifying what the export holds
        // just before and just after it: this host's speed drifts by a fifth within minutes, and
        // the mean of the two brackets the import (one round's "after" is the next one's
        // "before"). Three rounds, and their median.
        let export = Transcript(state).json()
        let exported = state.exportableEvents
        func floorNow() -> Double { verificationFloor(exported, roomKey: state.created.roomKey, oneCore: false).all }
        let rounds = 3
        var ratios: [Double] = []
        var before = floorNow()
        for round in 1...rounds {
            let store = try TranscriptStore(folder: "\(scratch)/import-\(round)")
            let start = ContinuousClock.now
            let result = try await store.importTranscript(export)
            let seconds = (ContinuousClock.now - start).seconds
            let after = floorNow()
            ratios.append(seconds / ((before + after) / 2))
            emit(
                String(
                    format:
                        "import of its export (%d events, %.1f MB): %.3f s; verifying them alone %.3f s before and %.3f s after, on %d cores: %.2f× their mean",
                    result.events, Double(export.count) / 1e6, seconds, before, after, floor.cores, ratios.last!))
            try? FileManager.default.removeItem(atPath: "\(scratch)/import-\(round)")
            before = after
        }
        ratios.sort()
        emit(
            String(
                format: "import ×floor over %d rounds: median %.2f (%.2f–%.2f)", rounds, ratios[rounds / 2], ratios.first!, ratios.last!))
    }

    /// What checking the signatures alone costs (issue 16: catch-up within 1.5× of that
    /// floor): seconds on one core (unless `oneCore` is false), seconds on all of them, how many
    /// cores, and the CPU seconds (every thread's) the run on all took.
    static func verificationFloor(
        _ events: [Event], roomKey: PublicKey, oneCore: Bool = true
    ) -> (one: Double, all: Double, cores: Int, allCPU: Double) {
        func seconds(_ work: () -> Void) -> Double {
            let start = ContinuousClock.now
            work()
            return (ContinuousClock.now - start).seconds
        }
        let one =
            oneCore
            ? seconds {
                for event in events where !event.hasValidSignature(roomKey: roomKey) { fatalError("a stored event does not verify") }
            } : .nan
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let cpu = BenchArchive.Spent.cpuNow()
        let all = seconds {
            DispatchQueue.concurrentPerform(iterations: cores) { part in
                for i in stride(from: part, to: events.count, by: cores) where !events[i].hasValidSignature(roomKey: roomKey) {
                    fatalError("a stored event does not verify")
                }
            }
        }
        return (one, all, cores, BenchArchive.Spent.cpuNow() - cpu)
    }

    /// A session of about `events` events: reflections in revealed groups of 50, and notes.
    static func makeSession(events: Int, in store: TranscriptStore) async throws -> LiveSession {
        let deck = try DeckParser.parse(fileAt: "seeds/decks/real-man.deck").get()
        let session = try await LiveSession.start(deck: deck, title: "Benchmark", in: store)
        try await session.open(prompt: 0)
        var made = await session.state.allEvents.count
        while made < events {
            let group = min(50, events - made - 1)
            if group < 3 {
                try await session.writeNote("note \(made)")
                made += 1
                continue
            }
            let base = made
            try await withThrowingTaskGroup(of: Void.self) { g in
                for i in 0..<group {
                    g.addTask {
                        _ = try await session.submitReflection(
                            prompt: 0, text: "reflection \(base + i): what my father taught me about anger")
                    }
                }
                try await g.waitForAll()
            }
            try await session.reveal(prompt: 0)
            made += group + 1
        }
        return session
    }
}

/// Bytes this network namespace's interfaces have received (loopback aside).
enum Wire {
    static func receivedBytes() -> Int {
        let root = "/sys/class/net"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return names.filter { $0 != "lo" }.reduce(0) { total, name in
            let text = (try? String(contentsOfFile: "\(root)/\(name)/statistics/rx_bytes", encoding: .utf8)) ?? "0"
            return total + (Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0)
        }
    }
}

/// The machine's monotonic clock, the same for every process and network namespace on it.
enum Monotonic {
    static func nanoseconds() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }
}

/// A plain TCP copy of the same bytes (length-prefixed, as Halqa frames them), for comparison.
enum PlainCopy {
    /// Serves the bytes to every connection, in a thread of its own.
    static func serve(_ chunks: [[UInt8]], host: String, port: Int) throws {
        var payload: [UInt8] = []
        for c in chunks {
            let n = UInt32(c.count)
            payload += [UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] + c
        }
        let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in(host: host, port: port)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(server, 4) == 0 else { throw ValidationError("cannot listen on \(host):\(port)") }
        let bytes = payload
        Thread {
            while true {
                let c = accept(server, nil, nil)
                if c < 0 { return }
                var sent = 0
                bytes.withUnsafeBytes { raw in
                    while sent < bytes.count {
                        let n = write(c, raw.baseAddress! + sent, bytes.count - sent)
                        if n <= 0 { break }
                        sent += n
                    }
                }
                close(c)
            }
        }.start()
    }

    /// Reads everything the server sends: time from connecting to the last byte.
    static func fetch(host: String, port: Int) throws -> (seconds: Double, bytes: Int) {
        let start = ContinuousClock.now
        let c = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(c) }
        var address = sockaddr_in(host: host, port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(c, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw ValidationError("cannot reach the plain copy at \(host):\(port)") }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var got = 0
        while true {
            let n = read(c, &buffer, buffer.count)
            if n <= 0 { break }
            got += n
        }
        return ((ContinuousClock.now - start).seconds, got)
    }
}

extension sockaddr_in {
    init(host: String, port: Int) {
        self.init()
        sin_family = sa_family_t(AF_INET)
        sin_port = in_port_t(UInt16(port).bigEndian)
        sin_addr.s_addr = inet_addr(host)
    }
}

/// How long `halqa wipe` takes on a closed session of N reflections, next to a second session
/// that stays (the database is rebuilt around it).
struct BenchWipe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench-wipe", abstract: "Time wiping a closed session of N reflections.")

    @Option(help: "A data folder (emptied first).") var dir: String
    @Option var reflections = 5_000

    func run() async throws {
        try? FileManager.default.removeItem(atPath: dir)
        let store = try TranscriptStore(folder: dir)
        let wiped = try await BenchReplication.makeSession(events: reflections * 51 / 50 + 2, in: store)
        try await wiped.closeSession()
        let kept = try await BenchReplication.makeSession(events: 500, in: store)
        try await kept.closeSession()
        await store.checkpoint()
        let size = ((try? FileManager.default.attributesOfItem(atPath: dir + "/" + TranscriptStore.fileName)[.size]) as? Int) ?? 0
        let started = ContinuousClock.now
        let result = try await store.wipe(wiped.id)
        emit(
            String(
                format: "wiped %d reflections and %d other events from a %.1f MB database in %.3f s",
                result.reflections, result.events, Double(size) / 1e6, (ContinuousClock.now - started).seconds))
    }
}
