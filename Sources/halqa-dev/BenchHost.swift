import ArgumentParser
import AsyncHTTPClient
import Foundation
import HummingbirdWSClient
import Logging
import NIOCore
import Node

/// Simulated participants over real WebSocket and HTTP connections against a `halqa host`
/// process on loopback: joins, live sockets, one reflection each, then a reveal.
struct BenchHost: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-host",
        abstract: "200 participants at once: acknowledgement latency, reveal fan-out time, node memory.")

    @Option(help: "The halqa executable to measure.") var halqa: String
    @Option var clients = 200
    @Option var deck = "seeds/decks/real-man.deck"
    @Flag(help: "Participants seal what they say, as pages do (POST /api/sealed; the room's view sealed).") var sealed = false
    @Option(help: "A cgroup (v1 cpu) folder to put the node in once it runs: a weak laptop (scripts/bench-host --weak).")
    var cgroup: String?

    func run() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("halqa-bench-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: data) }
        let port = Int.random(in: 20000...40000)
        let (node, banner, startup) = try HostProcess.launch(
            halqa, ["host", "--deck", deck, "--port", "\(port)", "--bind", "127.0.0.1", "--data", data, "--minimum", "3", "--no-discovery"])
        defer { HostProcess.stop(node) }
        if let cgroup {
            try "\(node.processIdentifier)\n".write(toFile: cgroup + "/cgroup.procs", atomically: false, encoding: .utf8)
        }
        func after(_ marker: String) -> String { HostProcess.after(marker, in: banner) }
        let code = after("type  ")
        let secret = after("facilitate#key=")
        let base = "http://127.0.0.1:\(port)"

        var config = HTTPClient.Configuration()
        config.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: clients + 8)
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
        do {
            try await measure(http: http, base: base, port: port, code: code, secret: secret, node: node, startup: startup)
        } catch {
            try? await http.shutdown()
            throw error
        }
        try await http.shutdown()
    }

    func measure(http: HTTPClient, base: String, port: Int, code: String, secret: String, node: Process, startup: Duration) async throws {
        let clients = self.clients
        let sealed = self.sealed
        func post(_ path: String, _ body: String, token: String? = nil) async throws -> (Int, Data) {
            var request = HTTPClientRequest(url: base + path)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            if let token { request.headers.add(name: "Authorization", value: "Bearer " + token) }
            request.body = .bytes(ByteBuffer(string: body))
            let response = try await http.execute(request, timeout: .seconds(30))
            let bytes = try await response.body.collect(upTo: 1 << 22)
            return (Int(response.status.code), Data(bytes.readableBytesView))
        }
        // What a page does: seal `message` to the node's key, post it, open the answer.
        var nodeKey: [UInt8] = []
        if sealed {
            let response = try await http.execute(HTTPClientRequest(url: base + "/api/seal-key"), timeout: .seconds(30))
            let body = try await response.body.collect(upTo: 1 << 16)
            let key = (try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as! [String: Any])["key"] as! String
            nodeKey = Base64URL.decode(key)!
        }
        let sealKey = nodeKey
        func send(_ message: [String: Any]) async throws -> (Int, [String: Any]) {
            try await postSealed(http, base, message, to: sealKey) ?? (0, [:])
        }

        // Everyone joins and opens a live socket.
        let joined = try await withThrowingTaskGroup(of: (String, String?).self) { group in
            for _ in 0..<clients {
                group.addTask {
                    if sealed {
                        let (_, body) = try await send(["op": "join", "body": ["code": code]])
                        return (body["token"] as! String, body["view"] as? String)
                    }
                    let (_, body) = try await post("/api/join", #"{"code":"\#(code)"}"#)
                    return ((try JSONSerialization.jsonObject(with: body) as! [String: Any])["token"] as! String, nil)
                }
            }
            return try await group.reduce(into: [(String, String?)]()) { $0.append($1) }
        }
        let tokens = joined.map(\.0)
        progress("\(tokens.count) joined")
        let viewKey = joined.first?.1.flatMap(Base64URL.decode)
        let watch = Watch(expected: clients, viewKey: viewKey)
        let logger: Logger = {
            var logger = Logger(label: "bench")
            logger.logLevel = .error
            return logger
        }()
        let sockets = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for token in tokens {
                    group.addTask {
                        try await WebSocketClient.connect(
                            url: "ws://127.0.0.1:\(port)/api/live", configuration: .init(maxFrameSize: 1 << 22), logger: logger
                        ) { inbound, outbound, _ in
                            try await outbound.write(
                                .text(sealed ? #"{"type":"hello","sealed":true,"deflate":true}"# : #"{"type":"hello","token":"\#(token)"}"#)
                            )
                            // Every phone keeps following until the taps are done, as in a meeting.
                            for try await message in inbound.messages(maxSize: 1 << 22) {
                                await watch.received(message, count: clients)
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        await watch.waitUntilAllConnected()
        progress("\(clients) sockets following")

        // The prompt opens; everyone writes at once.
        _ = try await post("/api/console/open", #"{"prompt":0}"#, token: secret)
        let cpuBeforeWriting = HostProcess.cpuSeconds(node)
        let burst = ContinuousClock.now
        let latencies = try await withThrowingTaskGroup(of: (Int, Double).self) { group in
            for (i, token) in tokens.enumerated() {
                group.addTask {
                    let t0 = ContinuousClock.now
                    let text = "Reflection \(i): my father was silent when he was angry."
                    let status =
                        sealed
                        ? try await send(["op": "reflect", "token": token, "body": ["prompt": 0, "text": text]]).0
                        : try await post("/api/reflections", #"{"prompt":0,"text":"\#(text)"}"#, token: token).0
                    return (status, (ContinuousClock.now - t0).milliseconds)
                }
            }
            return try await group.reduce(into: [(Int, Double)]()) { $0.append($1) }
        }
        let burstSeconds = (ContinuousClock.now - burst).seconds
        let writingCPU = HostProcess.cpuSeconds(node) - cpuBeforeWriting
        let acknowledged = latencies.filter { $0.0 == 201 }.count
        progress("\(acknowledged) acknowledged")

        // The reveal, until the last client holds every reflection.
        let revealStart = ContinuousClock.now
        await watch.startReveal()
        _ = try await post("/api/console/reveal", #"{"prompt":0}"#, token: secret)
        let fanOut = try await watch.waitUntilAllRevealed(since: revealStart)

        // Resonance: everyone taps one shown reflection (another's) at once.
        let shown = await shownIDs(http: http, base: base, token: tokens[0])
        let cpuBeforeTaps = HostProcess.cpuSeconds(node)
        let taps = try await withThrowingTaskGroup(of: (Int, Double).self) { group in
            for (i, token) in tokens.enumerated() {
                group.addTask {
                    let t0 = ContinuousClock.now
                    let id = shown[(i + 1) % max(1, shown.count)]
                    let status =
                        sealed
                        ? try await send(["op": "resonate", "token": token, "body": ["reflection": id]]).0
                        : try await post("/api/resonance", #"{"reflection":"\#(id)"}"#, token: token).0
                    return (status, (ContinuousClock.now - t0).milliseconds)
                }
            }
            return try await group.reduce(into: [(Int, Double)]()) { $0.append($1) }
        }
        let tapsCPU = HostProcess.cpuSeconds(node) - cpuBeforeTaps
        // The floor: the same number of requests at once that store nothing (a page asking what
        // it did: `mine` sealed, the session plain), so what storing costs can be told apart.
        let cpuBeforeReads = HostProcess.cpuSeconds(node)
        let reads = try await withThrowingTaskGroup(of: (Int, Double).self) { group in
            for token in tokens {
                group.addTask {
                    let t0 = ContinuousClock.now
                    var status = 0
                    if sealed {
                        status = try await send(["op": "mine", "token": token]).0
                    } else {
                        var request = HTTPClientRequest(url: base + "/api/session")
                        request.headers.add(name: "Authorization", value: "Bearer " + token)
                        let response = try await http.execute(request, timeout: .seconds(30))
                        _ = try await response.body.collect(upTo: 1 << 24)
                        status = Int(response.status.code)
                    }
                    return (status, (ContinuousClock.now - t0).milliseconds)
                }
            }
            return try await group.reduce(into: [(Int, Double)]()) { $0.append($1) }
        }
        let readsCPU = HostProcess.cpuSeconds(node) - cpuBeforeReads
        sockets.cancel()
        let readSorted = reads.map { $0.1 }.sorted()
        let tapSorted = taps.map { $0.1 }.sorted()
        func tapPercentile(_ p: Double) -> Double { tapSorted[min(tapSorted.count - 1, Int(Double(tapSorted.count) * p))] }

        let memory = HostProcess.memory(node)
        let sorted = latencies.map(\.1).sorted()
        func percentile(_ p: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
        print("participants:                      \(sealed ? "sealed (as pages send)" : "plain JSON (scripts)")")
        print("node start-up to listening:        \(String(format: "%.0f", startup.milliseconds)) ms")
        print("clients connected (HTTP + socket): \(clients)")
        print("reflections acknowledged:          \(acknowledged) of \(clients)")
        print("acknowledged reflections/s:        \(String(format: "%.0f", Double(acknowledged) / burstSeconds))")
        print(
            "acknowledgement p50 / p99:         \(String(format: "%.1f", percentile(0.5))) / \(String(format: "%.1f", percentile(0.99))) ms"
        )
        print("reveal until all \(clients) hold all \(clients): \(String(format: "%.1f", fanOut.milliseconds)) ms")
        print(
            "taps taken, all at once:           \(taps.filter { $0.0 == 204 }.count) of \(clients); acknowledgement p50 / p99: \(String(format: "%.1f", tapPercentile(0.5))) / \(String(format: "%.1f", tapPercentile(0.99))) ms"
        )
        print(
            "node CPU per reflection / tap:     \(String(format: "%.2f", writingCPU * 1000 / Double(clients))) / \(String(format: "%.2f", tapsCPU * 1000 / Double(clients))) ms (the burst's, shared by what the node does meanwhile)"
        )
        print(
            "requests storing nothing, at once: \(reads.filter { $0.0 == 200 }.count) of \(clients); p50 / p99 \(String(format: "%.1f", readSorted[readSorted.count / 2])) / \(String(format: "%.1f", readSorted[min(readSorted.count - 1, readSorted.count * 99 / 100)])) ms; node CPU \(String(format: "%.2f", readsCPU * 1000 / Double(clients))) ms each (\(sealed ? "sealed `mine`" : "GET /api/session"))"
        )
        print("node peak resident memory:         \(String(format: "%.1f", memory.peak)) MB (now \(String(format: "%.1f", memory.now)) MB)")
    }
}

/// A request sealed as a page seals it, posted to the node at `base`: the status and body
/// inside the answer, or nil if the answer does not open.
func postSealed(_ http: HTTPClient, _ base: String, _ message: [String: Any], to nodeKey: [UInt8]) async throws -> (Int, [String: Any])? {
    let (body, open) = Sealing.sealRequest(Array(try JSONSerialization.data(withJSONObject: message)), to: nodeKey)
    var request = HTTPClientRequest(url: base + "/api/sealed")
    request.method = .POST
    request.headers.add(name: "Content-Type", value: "application/octet-stream")
    request.body = .bytes(ByteBuffer(bytes: body))
    let response = try await http.execute(request, timeout: .seconds(60))
    let bytes = try await response.body.collect(upTo: 1 << 16)
    guard let answer = open(Array(bytes.readableBytesView)) else { return nil }
    let object = try JSONSerialization.jsonObject(with: Data(answer)) as! [String: Any]
    return (object["status"] as! Int, object["body"] as? [String: Any] ?? [:])
}

/// The ids of the reflections the room shows now, as a participant reads them.
func shownIDs(http: HTTPClient, base: String, token: String) async -> [String] {
    var request = HTTPClientRequest(url: base + "/api/session")
    request.headers.add(name: "Authorization", value: "Bearer " + token)
    guard let response = try? await http.execute(request, timeout: .seconds(30)),
        let body = try? await response.body.collect(upTo: 1 << 24),
        let object = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any],
        let state = object["state"] as? [String: Any], let revealed = state["revealed"] as? [[String: Any]]
    else { return [] }
    return revealed.compactMap { $0["id"] as? String }
}

func progress(_ line: String) { FileHandle.standardError.write(Data(("… " + line + "\n").utf8)) }

/// A `halqa host` process that a benchmark starts and stops.
enum HostProcess {
    /// Starts `halqa` with `arguments` and waits for its banner (ends with "Press Ctrl-C").
    static func launch(_ halqa: String, _ arguments: [String]) throws -> (Process, String, Duration) {
        let node = Process()
        node.executableURL = URL(fileURLWithPath: halqa)
        node.arguments = arguments
        let output = Pipe()
        node.standardOutput = output
        node.standardError = output
        let started = ContinuousClock.now
        try node.run()
        var banner = ""
        while !banner.contains("Press Ctrl-C") {
            let chunk = output.fileHandleForReading.availableData
            guard !chunk.isEmpty else {
                stop(node)
                throw ValidationError("halqa host did not start:\n\(banner)")
            }
            banner += String(decoding: chunk, as: UTF8.self)
        }
        return (node, banner, ContinuousClock.now - started)
    }

    static func stop(_ node: Process) {
        guard node.isRunning else { return }
        kill(node.processIdentifier, SIGTERM)
        node.waitUntilExit()
    }

    /// The word after `marker` in the banner (the join code, the facilitator's secret).
    static func after(_ marker: String, in banner: String) -> String {
        String(banner[banner.range(of: marker)!.upperBound...].prefix { !$0.isWhitespace })
    }

    /// The CPU time the node's threads have used so far, in seconds (scheduler nanoseconds).
    static func cpuSeconds(_ node: Process) -> Double {
        let tasks = "/proc/\(node.processIdentifier)/task"
        let threads = (try? FileManager.default.contentsOfDirectory(atPath: tasks)) ?? []
        let nanoseconds = threads.reduce(0.0) { total, thread in
            let line = (try? String(contentsOfFile: "\(tasks)/\(thread)/schedstat", encoding: .utf8)) ?? ""
            return total + (Double(line.split(separator: " ").first ?? "0") ?? 0)
        }
        return nanoseconds / 1e9
    }

    /// The node's peak and current resident memory, in MB.
    static func memory(_ node: Process) -> (peak: Double, now: Double) {
        let status = (try? String(contentsOfFile: "/proc/\(node.processIdentifier)/status", encoding: .utf8)) ?? ""
        func megabytes(_ key: String) -> Double {
            (Double(status.split(separator: "\n").first { $0.hasPrefix(key) }?.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
        }
        return (megabytes("VmHWM:"), megabytes("VmRSS:"))
    }
}

/// Follows what every simulated participant has received.
actor Watch {
    let expected: Int
    private var connected = 0
    private var revealedClients = 0
    private var revealing = false
    private var lastReveal: ContinuousClock.Instant?
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private(set) var finished = false

    /// The room view's key, when clients follow the sealed view.
    let viewKey: [UInt8]?

    init(expected: Int, viewKey: [UInt8]? = nil) {
        self.expected = expected
        self.viewKey = viewKey
    }

    func received(_ message: WebSocketMessage, count: Int) {
        if case .text(let text) = message, text.contains(#""beat""#) { return }
        if !revealing {
            connected += 1
            if connected == expected { resumeAll() }
            return
        }
        // A client holds every reflection when its state lists all of them, or (a sealed
        // page, sent what changed) when the change adds them all.
        guard !finished, let state = open(message) else { return }
        let shown = ((state["revealed"] as? [Any])?.count ?? 0) + ((state["add"] as? [Any])?.count ?? 0)
        guard shown == count else { return }
        revealedClients += 1
        lastReveal = .now
        if revealedClients == expected {
            finished = true
            resumeAll()
        }
    }

    /// A state as sent (`state`), or the room's view or change as it opens with the view key
    /// (binary; or `sealed-state`, base64, from older nodes).
    private func open(_ message: WebSocketMessage) -> [String: Any]? {
        var sealed: [UInt8]
        switch message {
        case .binary(let buffer): sealed = Array(buffer.readableBytesView)
        case .text(let text):
            guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { return nil }
            guard viewKey != nil, let base64 = object["data"] as? String else { return object["data"] as? [String: Any] }
            sealed = Array(Data(base64Encoded: base64) ?? Data())
        }
        guard let viewKey, let opened = Sealing.open(sealed, withKey: viewKey) else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(ViewDeflation.inflate(opened) ?? [])) as? [String: Any]
    }

    func startReveal() { revealing = true }

    func waitUntilAllConnected() async {
        if connected >= expected { return }
        await withCheckedContinuation { waiters.append($0) }
    }

    func waitUntilAllRevealed(since start: ContinuousClock.Instant) async throws -> Duration {
        if revealedClients < expected {
            await withCheckedContinuation { waiters.append($0) }
        }
        return lastReveal! - start
    }

    private func resumeAll() {
        let all = waiters
        waiters.removeAll()
        for w in all { w.resume() }
    }
}
