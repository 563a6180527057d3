import ArgumentParser
import AsyncHTTPClient
import Foundation
import HummingbirdWSClient
import Logging
import Meeting
import NIOCore
import Node
import Synchronization

/// A meeting as the hall's Wi-Fi carries it: every phone loads the page, joins sealed, follows
/// the room on the live socket, writes one reflection to each prompt and taps "resonates" on
/// some shown ones; the facilitator opens, reveals and closes each prompt. tcpdump counts every
/// byte the node sends to phones (TCP payload: HTTP headers and bodies, WebSocket frames),
/// next to the floor: each revealed text, its id and its count, once per phone. Run inside a
/// network namespace of its own (scripts/bench-airtime: `unshare -n`), where the loopback
/// carries nothing else: phones speak from 127.0.0.1, the facilitator from 127.0.0.2.
struct BenchAirtime: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-airtime", abstract: "Bytes a meeting sends to phones, next to what they need.")

    @Option(help: "The halqa executable to measure.") var halqa: String
    @Option var phones = 100
    @Option var prompts = 3
    @Option(help: "Reflections each phone taps \"resonates\" on, per prompt.") var taps = 3
    @Option(help: "Characters in each reflection.") var length = 250
    @Option var deck = "seeds/decks/real-man.deck"
    @Option(help: "The decks whose words the reflections are made of.") var words = "seeds"

    func run() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("halqa-airtime-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: data) }
        let port = Int.random(in: 20000...40000)
        let air = try Air(port: port)
        defer { air.stop() }
        let (node, banner, _) = try HostProcess.launch(
            halqa, ["host", "--deck", deck, "--port", "\(port)", "--bind", "0.0.0.0", "--data", data, "--minimum", "3", "--no-discovery"])
        defer { HostProcess.stop(node) }
        var config = HTTPClient.Configuration()
        config.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: phones + 8)
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
        do {
            let meeting = Meeting(
                http: http, phone: "http://127.0.0.1:\(port)", facilitator: "http://127.0.0.2:\(port)",
                code: HostProcess.after("type  ", in: banner), secret: HostProcess.after("facilitate#key=", in: banner), options: self)
            try await meeting.run(air: air)
        } catch {
            progress("failed: \(error)")
            try? await http.shutdown()
            throw error
        }
        try await http.shutdown()
    }
}

/// The bytes on the loopback, as tcpdump sees them: to phones, from phones, and to the facilitator.
final class Air: Sendable {
    let toPhones = Atomic<Int>(0), fromPhones = Atomic<Int>(0), packets = Atomic<Int>(0)
    private let tcpdump = Process()
    /// What tcpdump says on stderr (a file: a pipe's end stays open in this process too).
    private let said = FileManager.default.temporaryDirectory.appendingPathComponent("halqa-airtime-\(UUID().uuidString).tcpdump")

    init(port: Int) throws {
        tcpdump.executableURL = URL(fileURLWithPath: "/usr/bin/tcpdump")
        tcpdump.arguments = ["-i", "lo", "-nn", "-q", "-l", "--immediate-mode", "-B", "65536", "-s", "96", "tcp port \(port)"]
        let lines = Pipe()
        tcpdump.standardOutput = lines
        _ = FileManager.default.createFile(atPath: said.path, contents: nil)
        tcpdump.standardError = try FileHandle(forWritingTo: said)
        try tcpdump.run()
        let phone = "127.0.0.1.\(port)"
        let node = "127.0.0.1.\(port):"
        Thread.detachNewThread { [self] in
            var rest = ""
            while true {
                let chunk = lines.fileHandleForReading.availableData
                if chunk.isEmpty { return }
                rest += String(decoding: chunk, as: UTF8.self)
                var parts = rest.split(separator: "\n", omittingEmptySubsequences: false)
                rest = String(parts.removeLast())
                for line in parts {
                    // 12:00:00.000000 IP 127.0.0.1.8080 > 127.0.0.1.45678: tcp 1234
                    let fields = line.split(separator: " ")
                    guard fields.count >= 7, let bytes = Int(fields[fields.count - 1]) else { continue }
                    packets.add(1, ordering: .relaxed)
                    if fields[2] == phone {
                        toPhones.add(bytes, ordering: .relaxed)
                    } else if fields[4] == node {
                        fromPhones.add(bytes, ordering: .relaxed)
                    }
                }
            }
        }
        // tcpdump says on stderr when it listens.
        let deadline = Date().addingTimeInterval(10)
        while !((try? String(contentsOf: said, encoding: .utf8)) ?? "").contains("listening on") {
            guard tcpdump.isRunning, Date() < deadline else { throw ValidationError("tcpdump did not start") }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// Bytes sent to phones so far, once tcpdump has had a second to tell of what was sent
    /// until now (the beats go on meanwhile: they are part of the meeting's air).
    func settled() async throws -> Int {
        try await Task.sleep(for: .seconds(1))
        return toPhones.load(ordering: .relaxed)
    }

    /// Stops tcpdump; returns what it says it dropped.
    @discardableResult
    func stop() -> String {
        guard tcpdump.isRunning else { return "" }
        kill(tcpdump.processIdentifier, SIGINT)
        // tcpdump leaves its capture loop at the next packet or timeout; it is not waited for long.
        let deadline = Date().addingTimeInterval(3)
        while tcpdump.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if tcpdump.isRunning { kill(tcpdump.processIdentifier, SIGKILL) }
        tcpdump.waitUntilExit()
        let text = (try? String(contentsOf: said, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(at: said)
        return text.split(separator: "\n").first { $0.contains("dropped by kernel") }.map(String.init) ?? ""
    }
}

/// Reflections as phones write them, in English, Urdu and Pashto by turns: words drawn at
/// random from the prompts and notes of every deck under a folder (about 900 words in each
/// language), the same every run. Each phone's text is its own, not a repeat of another's.
/// Drawn words deflate less well than the decks' own prose (19–29 % of its bytes as one
/// text) and about as well as ordinary English prose (35–40 %); the benchmark prints what a
/// prompt's texts came to.
struct Reflections {
    private let words: [Language: [String]]
    private let length: Int

    init(decks folder: String, length: Int) throws {
        var words: [Language: Set<String>] = [:]
        let found = FileManager.default.enumerator(atPath: folder)?.compactMap { $0 as? String }.filter { $0.hasSuffix(".deck") } ?? []
        for name in found {
            guard case .success(let deck) = DeckParser.parse(fileAt: folder + "/" + name) else { continue }
            for text in deck.prompts.flatMap({ [$0.text] + ($0.facilitatorNote.map { [$0] } ?? []) }) + [deck.title] {
                for language in text.languages {
                    words[language, default: []].formUnion(text[language]!.split(whereSeparator: \.isWhitespace).map(String.init))
                }
            }
        }
        guard Language.allCases.allSatisfy({ (words[$0]?.count ?? 0) >= 100 }) else {
            throw ValidationError("the decks under \(folder) have too few words in some language to write reflections from (--words)")
        }
        self.words = words.mapValues { $0.sorted() }
        self.length = length
    }

    /// Phone `i`'s reflection to prompt `p`: about `length` characters, never more.
    func text(phone i: Int, prompt p: Int) -> String {
        var generator = SeededGenerator(seed: UInt64(i * 1009 + p))
        let language = Language.allCases[(i + p) % Language.allCases.count]
        var text = ""
        while true {
            let word = words[language]!.randomElement(using: &generator)!
            guard text.count + word.count + 1 <= length else { return text }
            text += text.isEmpty ? word : " " + word
        }
    }
}
