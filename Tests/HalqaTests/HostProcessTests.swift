import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A `halqa host` process, started as a facilitator would, with what its banner said.
final class HostProcess {
    let process = Process()
    let port: Int
    private(set) var banner = ""
    private let output = Pipe()

    init(_ arguments: [String], data: String, port: Int? = nil) throws {
        self.port = port ?? freePort()
        process.executableURL = CLI.binaries.appendingPathComponent("halqa")
        process.arguments = ["host"] + arguments + ["--port", String(self.port), "--bind", "127.0.0.1", "--data", data, "--no-discovery"]
        process.currentDirectoryURL = CLI.repository
        process.standardOutput = output
        process.standardError = output
        // A crash ends at once, with its signal, rather than wait for a backtrace.
        process.environment = ProcessInfo.processInfo.environment.merging(["SWIFT_BACKTRACE": "enable=no"]) { $1 }
        try process.run()
    }

    /// Stops reading what the node prints, as a `| head` that ended or a `less` that was quit.
    func stopReading() { try? output.fileHandleForReading.close() }

    /// Reads the banner until the node says it is ready, or the process ends; the blocking
    /// reads happen on a thread of their own, not on one Swift concurrency shares.
    func waitUntilReady() async -> Bool {
        let handle = output.fileHandleForReading
        banner = await withCheckedContinuation { continuation in
            Thread {
                var data = Data()
                while !String(decoding: data, as: UTF8.self).contains("Press Ctrl-C") {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break }
                    data += chunk
                }
                continuation.resume(returning: String(decoding: data, as: UTF8.self))
            }.start()
        }
        return banner.contains("Press Ctrl-C")
    }

    func rest() -> String {
        banner + String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }

    var joinCode: String { field(after: "type  ") }
    var secret: String { String(field(after: "facilitate#key=")) }
    var session: String { String(banner.split(separator: "(session ").last!.prefix(12)) }

    private func field(after marker: String) -> String {
        guard let range = banner.range(of: marker) else { return "" }
        return String(banner[range.upperBound...].prefix { !$0.isWhitespace })
    }

    func stop(_ signal: Int32) {
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

    /// One JSON request to this node.
    func call(_ method: String, _ path: String, token: String? = nil, json: String? = nil) async throws -> (Int, [String: Any]) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        if let token { request.setValue("Bearer " + token, forHTTPHeaderField: "Authorization") }
        if let json {
            request.httpBody = Data(json.utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as! HTTPURLResponse).statusCode, (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:])
    }
}

@Suite("halqa host, as a process", .serialized)
struct HostProcessTests {
    @Test("a node whose output no one reads any more (a pipe to `head` that ended) keeps its meeting and stops cleanly")
    func outputGoneAway() async throws {
        let data = TemporaryFolder()
        let node = try HostProcess(["--deck", "seeds/decks/real-man.deck"], data: data.path)
        #expect(await node.waitUntilReady(), "\(node.rest())")
        node.stopReading()
        // The meeting goes on with no one reading; then stopping prints "Stopped. …" to a pipe
        // with no reader (as would "Linked with …" mid-meeting), and the node ends as asked.
        #expect(try await node.call("POST", "/api/console/open", token: node.secret, json: #"{"prompt":0}"#).0 == 200)
        let (joined, body) = try await node.call("POST", "/api/join", json: #"{"code":"\#(node.joinCode)"}"#)
        #expect(joined == 201)
        let token = try #require(body["token"] as? String)
        #expect(try await node.call("POST", "/api/reflections", token: token, json: #"{"prompt":0,"text":"still here"}"#).0 == 201)
        node.stop(SIGTERM)
        #expect(node.process.terminationReason == .exit && node.process.terminationStatus == 0)
    }

    @Test("stopped mid-prompt (SIGTERM, then kill -9) and resumed, the node keeps every acknowledged reflection, its code and its link")
    func restartKeepsEverything() async throws {
        let data = TemporaryFolder()
        let first = try HostProcess(["--deck", "seeds/decks/real-man.deck", "--title", "Restart test"], data: data.path)
        #expect(await first.waitUntilReady(), "\(first.rest())")
        #expect(first.banner.contains("Participants: open  http://127.0.0.1:\(first.port)/"))
        let code = first.joinCode
        let secret = first.secret
        let session = first.session
        #expect(code.count == 9 && secret.count == 26)
        #expect(try await first.call("POST", "/api/console/open", token: secret, json: #"{"prompt":0}"#).0 == 200)
        var acknowledged = 0
        for i in 0..<4 {
            let (status, joined) = try await first.call("POST", "/api/join", json: #"{"code":"\#(code)"}"#)
            #expect(status == 201)
            let token = joined["token"] as! String
            if try await first.call("POST", "/api/reflections", token: token, json: #"{"prompt":0,"text":"before restart \#(i)"}"#).0 == 201
            {
                acknowledged += 1
            }
        }
        first.stop(SIGTERM)
        #expect(first.process.terminationStatus == 0)
        #expect(first.rest().contains("Stopped. Everything is saved; continue with: halqa host --resume \(session)"))

        let second = try HostProcess(["--resume", session], data: data.path)
        #expect(await second.waitUntilReady(), "\(second.rest())")
        #expect(second.joinCode == code && second.secret == secret, "a resumed node keeps its join code and console link")
        let (status, joined) = try await second.call("POST", "/api/join", json: #"{"code":"\#(code)"}"#)
        #expect(status == 201)
        if try await second.call(
            "POST", "/api/reflections", token: joined["token"] as? String, json: #"{"prompt":0,"text":"after restart"}"#
        ).0 == 201 {
            acknowledged += 1
        }
        second.stop(SIGKILL)

        let third = try HostProcess(["--resume", session], data: data.path)
        #expect(await third.waitUntilReady(), "\(third.rest())")
        let (_, console) = try await third.call("GET", "/api/console", token: secret)
        let prompts = console["prompts"] as? [[String: Any]] ?? []
        #expect(acknowledged == 5)
        #expect(prompts.first?["pending"] as? Int == acknowledged)
        let (revealed, after) = try await third.call("POST", "/api/console/reveal", token: secret, json: #"{"prompt":0}"#)
        #expect(revealed == 200)
        let texts =
            ((after["prompts"] as? [[String: Any]])?.first?["revealed"] as? [[String: Any]])?.compactMap { $0["text"] as? String } ?? []
        #expect(Set(texts) == Set((0..<4).map { "before restart \($0)" } + ["after restart"]))
        third.stop(SIGTERM)
    }

    @Test("a port in use and a bad deck are reported in one clear line, with what to do")
    func clearStartupErrors() async throws {
        let data = TemporaryFolder()
        let first = try HostProcess(["--deck", "seeds/decks/real-man.deck"], data: data.path)
        #expect(await first.waitUntilReady())
        let clash = try HostProcess(["--deck", "seeds/decks/real-man.deck"], data: data.path + "/other", port: first.port)
        clash.process.waitUntilExit()
        #expect(clash.process.terminationStatus == 1)
        #expect(
            clash.rest().contains("Port \(first.port) is already in use, by another Halqa or another program. Choose another with --port"))
        first.stop(SIGTERM)

        // Another program holds the port other nodes would call (--port + 1): the node listens
        // for them on another and says which. Asked for that port by name, it stops before
        // anyone is told to open it.
        var port = 0
        var holder: ListeningSocket?
        while holder?.port == nil {
            port = freePort()
            holder = ListeningSocket(port: port + 1)
        }
        let shifted = try HostProcess(["--deck", "seeds/decks/real-man.deck"], data: data.path + "/shifted", port: port)
        #expect(await shifted.waitUntilReady(), "\(shifted.rest())")
        #expect(try await shifted.call("GET", "/api/console", token: shifted.secret).0 == 200)
        shifted.stop(SIGTERM)
        let said = shifted.rest()
        let reached = said.split(separator: "Other Halqa nodes reach this one at 127.0.0.1:").last.map { $0.prefix { $0.isNumber } }
        #expect(reached.flatMap { Int($0) }.map { $0 != port + 1 && $0 > 0 } == true, "\(said)")
        let named = try HostProcess(
            ["--deck", "seeds/decks/real-man.deck", "--peer-port", String(port + 1)], data: data.path + "/named", port: port)
        named.process.waitUntilExit()
        let refused = named.rest()
        #expect(named.process.terminationStatus == 1)
        #expect(refused.contains("Port \(port + 1), for other Halqa nodes, is already in use. Choose another with --peer-port."))
        #expect(!refused.contains("Press Ctrl-C") && !refused.contains("facilitate#key="), "\(refused)")
        withExtendedLifetime(holder) {}

        let bad = data.path + "/bad.deck"
        try "title: x\n[prompt]\ntme: 5\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let badDeck = try HostProcess(["--deck", bad], data: data.path)
        badDeck.process.waitUntilExit()
        #expect(badDeck.process.terminationStatus == 1)
        #expect(badDeck.rest().contains("bad.deck:3: unknown field \"tme\". Did you mean \"time\"?"))
        // With no terminal to ask at (the deck chooser's), it says what to give.
        let neither = try CLI.run(["host", "--data", data.path])
        #expect(neither.status != 0 && neither.stderr.contains("Give a deck to host (--deck NAME or FILE)"))
        let both = try CLI.run(["host", "--deck", "real-man", "--resume", "abc", "--data", data.path])
        #expect(both.status != 0 && both.stderr.contains("Give only one of --deck, --programme"))
    }
}
