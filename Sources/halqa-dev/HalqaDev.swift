import ArgumentParser
import Crypto
import Foundation
import GRDB
import Meeting

/// Tools for developing Halqa: benchmarks and the child process of the crash test.
/// Not installed for users.
@main
struct HalqaDev: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "halqa-dev",
        abstract: "Halqa developer tools: benchmarks and test helpers.",
        subcommands: [
            BenchStore.self, BenchHost.self, BenchAirtime.self, BenchReplication.self, BenchWipe.self, BenchSeal.self, BenchCatchUp.self,
            AckStream.self,
            Sample.self, SyntheticYear.self, BenchArchive.self,
        ])
}

/// Submits reflections for ever, printing each acknowledgement as it comes, so that a test
/// can `kill -9` it at any moment and check that nothing acknowledged was lost.
struct AckStream: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ack-stream", abstract: "Submit reflections until killed, printing `ack ID N` after each is durable.")

    @Option var data: String
    @Option var deck: String
    @Option var concurrency = 8

    func run() async throws {
        let deck = try DeckParser.parse(fileAt: self.deck).get()
        let store = try TranscriptStore(folder: data)
        let session = try await LiveSession.start(deck: deck, in: store)
        try await session.open(prompt: 0)
        emit("session \(session.id.hex)")
        let counter = Counter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    while true {
                        let n = await counter.next()
                        let id = try await session.submitReflection(prompt: 0, text: "reflection number \(n) — عکاسی \(n)")
                        emit("ack \(id.hex) \(n)")
                    }
                }
            }
            try await group.next()
        }
    }

    actor Counter {
        var n = 0
        func next() -> Int {
            n += 1
            return n
        }
    }
}

/// Writes a line straight to the file descriptor: a line printed is a line a test or script
/// can read at once, even if the process is killed the next instant.
func emit(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

/// Writes the sample transcript in `seeds/sample/`: a fictional session run through the real
/// meeting core, so organisers can try import, search and export before hosting.
struct Sample: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write a fictional finished session as a JSON transcript.")

    @Option var deck = "seeds/decks/real-man.deck"
    @Option var output = "seeds/sample/sample-session.json"

    func run() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("halqa-sample-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let session = try await LiveSession.start(
            deck: try DeckParser.parse(fileAt: deck).get(),
            title: "Sample session (fictional)", in: TranscriptStore(folder: folder))
        let rounds: [[String]] = [
            [
                "That a real man never cries, not even at his mother's funeral.",
                "میرے چچا کہتے تھے کہ مرد وہ ہے جو گھر کو قابو میں رکھے۔",
                "That he provides, and that he answers an insult the same day.",
                "Nobody said it. We saw it: the loudest man was obeyed.",
            ],
            [
                "My father never hit us, but his silence frightened me more than shouting.",
                "والد صاحب غصے میں برتن توڑ دیتے تھے۔ میں نے سیکھا کہ غصہ طاقت ہے۔",
                "He taught me to walk away and come back later. I forgot that lesson for years.",
                "That anger is a man's right and calm is a woman's duty.",
            ],
        ]
        for (prompt, texts) in rounds.enumerated() {
            try await session.open(prompt: prompt)
            for text in texts { _ = try await session.submitReflection(prompt: prompt, text: text) }
            let shown = try await session.reveal(prompt: prompt)
            try await session.resonate(with: shown[0].id)
            try await session.resonate(with: shown[2].id)
            try await session.resonate(with: shown[2].id)
        }
        try await session.writeNote("Several men spoke about fathers who were silent rather than violent.", prompt: 1)
        try await session.writeNote("Fictional sample data, made by `halqa-dev sample`.")
        try await session.closeSession()
        try Transcript(await session.state).json().write(to: URL(fileURLWithPath: output))
        print("wrote \(output)")
    }
}

/// Durable reflections per second through the real store, next to the disk's floor.
struct BenchStore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-store",
        abstract: "Measure durable reflections per second with 1, 16 and 256 concurrent submitters.")

    @Option(help: "A folder on the disk to measure (it is emptied first).") var dir: String
    @Option(help: "Reflections per run.") var count = 2048
    @Option(help: "Transactions for the floor measurement.") var floorCount = 300
    @Option(parsing: .upToNextOption) var submitters: [Int] = [1, 16, 256]
    @Option(help: "Sessions already in the store when reveals are measured (an organiser's or a busy facilitator's laptop).") var archived =
        200

    func run() async throws {
        try await measureReveals()
        print("")
        let deck = Deck(title: LocalizedText([.en: "Benchmark"]), prompts: [Prompt(text: LocalizedText([.en: "A prompt"]))])
        let floor = try measureFloor()
        print("disk floor (SQLite, one row per transaction, synchronous=FULL): \(format(floor)) rows/s")
        let signing = await measureSigning()
        print(
            "ceiling: Ed25519 signing alone (every reflection is signed with the room key), on all \(ProcessInfo.processInfo.activeProcessorCount) cores: \(format(signing)) signatures/s = \(String(format: "%.1f", signing / floor))× floor"
        )
        print("")
        print("submitters  reflections/s  × floor  p50 ack ms  p99 ack ms  fsyncs  reflections/fsync")
        for n in submitters {
            let folder = dir + "/run-\(n)"
            try? FileManager.default.removeItem(atPath: folder)
            let store = try TranscriptStore(folder: folder)
            let session = try await LiveSession.start(deck: deck, in: store)
            try await session.open(prompt: 0)
            let perTask = max(1, count / n)
            let start = ContinuousClock.now
            let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
                for t in 0..<n {
                    group.addTask {
                        var mine: [Double] = []
                        for i in 0..<perTask {
                            let t0 = ContinuousClock.now
                            _ = try await session.submitReflection(prompt: 0, text: "Reflection \(t)-\(i): I noticed my hands first.")
                            mine.append((ContinuousClock.now - t0).milliseconds)
                        }
                        return mine
                    }
                }
                return try await group.reduce(into: [Double]()) { $0 += $1 }
            }
            let seconds = (ContinuousClock.now - start).seconds
            let rate = Double(latencies.count) / seconds
            let fsyncs = await store.participantTransactions()
            let sorted = latencies.sorted()
            print(
                [
                    pad("\(n)", 10), pad(format(rate), 13), pad(String(format: "%.1f", rate / floor), 7),
                    pad(String(format: "%.2f", sorted[sorted.count / 2]), 10),
                    pad(String(format: "%.2f", sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))]), 10),
                    pad("\(fsyncs)", 6), pad(String(format: "%.1f", Double(latencies.count) / Double(fsyncs)), 17),
                ].joined(separator: "  "))
        }
    }

    /// What a reveal and a close cost: the batch leaves the pending file for the main file in
    /// id order and the pending file is rebuilt (docs/storage.md). Next to it, for comparison,
    /// what rebuilding the whole main file (`VACUUM`, the other way to erase arrival order)
    /// costs on the same store.
    func measureReveals() async throws {
        let folder = dir + "/reveal"
        try? FileManager.default.removeItem(atPath: folder)
        let store = try TranscriptStore(folder: folder)
        let deck = Deck(
            title: LocalizedText([.en: "Benchmark"]), prompts: (0..<3).map { Prompt(text: LocalizedText([.en: "Prompt \($0)"])) })
        let text = String(repeating: "I learned anger at home, and I am unlearning it. ", count: 5)
        func fill(_ session: LiveSession, prompt: Int, _ n: Int) async throws {
            try await session.open(prompt: prompt)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for t in 0..<32 {
                    group.addTask {
                        for i in stride(from: t, to: n, by: 32) {
                            _ = try await session.submitReflection(prompt: prompt, text: "\(i) " + text)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        for _ in 0..<archived {
            let session = try await LiveSession.start(deck: deck, in: store)
            try await fill(session, prompt: 0, 30)
            try await session.reveal(prompt: 0)
            try await session.closeSession()
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: folder + "/halqa.sqlite")[.size] as? Int) ?? 0
        print(
            "reveals, in a store already holding \(archived) sessions (halqa.sqlite \(String(format: "%.1f", Double(size) / 1e6)) MB); 250-character reflections"
        )
        print("reflections  reveal ms (p50, max of 5)  close ms (p50)  whole-file VACUUM ms (for comparison)")
        for n in [30, 300] {
            var reveals: [Double] = []
            var closes: [Double] = []
            var vacuums: [Double] = []
            for _ in 0..<5 {
                let session = try await LiveSession.start(deck: deck, in: store)
                try await fill(session, prompt: 0, n)
                var t0 = ContinuousClock.now
                try await session.reveal(prompt: 0)
                reveals.append((ContinuousClock.now - t0).milliseconds)
                try await fill(session, prompt: 1, 3)
                t0 = ContinuousClock.now
                try await session.closeSession()
                closes.append((ContinuousClock.now - t0).milliseconds)
                t0 = ContinuousClock.now
                try await DatabaseQueue(path: store.path).writeWithoutTransaction { db in try db.execute(sql: "VACUUM") }
                vacuums.append((ContinuousClock.now - t0).milliseconds)
            }
            func p50(_ xs: [Double]) -> String { String(format: "%.1f", xs.sorted()[xs.count / 2]) }
            print(
                [
                    pad("\(n)", 11), pad(p50(reveals) + ", " + String(format: "%.1f", reveals.max()!), 26), pad(p50(closes), 14),
                    pad(p50(vacuums), 37),
                ].joined(separator: "  "))
        }
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// Signatures per second over reflection-sized messages, one signer per core: an upper
    /// bound for any store that signs each reflection, whatever its disk.
    func measureSigning() async -> Double {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let perCore = 20_000
        let message = Array(repeating: UInt8(0x61), count: 300)
        let start = ContinuousClock.now
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<cores {
                group.addTask {
                    let key = Curve25519.Signing.PrivateKey()
                    for _ in 0..<perCore { _ = try? key.signature(for: message) }
                }
            }
        }
        return Double(cores * perCore) / (ContinuousClock.now - start).seconds
    }

    /// One row per transaction, WAL, synchronous=FULL: what one fsync per reflection costs.
    func measureFloor() throws -> Double {
        let path = dir + "/floor.sqlite"
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        var config = Configuration()
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        let queue = try DatabaseQueue(path: path, configuration: config)
        try queue.writeWithoutTransaction { db in
            _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "CREATE TABLE r (id BLOB PRIMARY KEY, bytes BLOB NOT NULL) WITHOUT ROWID")
        }
        let payload = Data(repeating: 0x61, count: 300)
        let start = ContinuousClock.now
        for _ in 0..<floorCount {
            try queue.write { db in
                try db.execute(
                    sql: "INSERT INTO r VALUES (?, ?)", arguments: [Data((0..<32).map { _ in UInt8.random(in: 0...255) }), payload])
            }
        }
        return Double(floorCount) / (ContinuousClock.now - start).seconds
    }

    func format(_ x: Double) -> String { x >= 100 ? String(Int(x.rounded())) : String(format: "%.1f", x) }
    func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }
}
