import ArgumentParser
import Foundation
import Meeting

/// The organiser's archive at the scale of the alliance's year (issue 18): a synthetic year
/// collected as `halqa archive import` does, next to verifying the same signatures alone on
/// all cores, in one run; then search p50/p95, the page's list, and the size on disk.
struct BenchArchive: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-archive",
        abstract: "Import, search and list a synthetic year of the archive; import next to its verification floor.")

    @Option(help: "A work folder: the exports (kept for the next run) and the archive (made anew).") var dir: String
    @Option var groups = 180
    @Option var sessions = 50
    @Option var men = 15
    @Option(help: "Searches to time.") var searches = 300
    @Option(help: "Files per import call; 0 (the default) imports them all in one, as `halqa archive import` of a stick does.")
    var filesPerImport = 0

    func validate() throws {
        guard groups >= 1, sessions >= 1, men >= 1 else { throw ValidationError("--groups, --sessions and --men must each be at least 1.") }
        guard filesPerImport >= 0 else { throw ValidationError("--files-per-import must be 0 (one call for all) or more.") }
    }

    func run() async throws {
        let usb = "\(dir)/usb-\(groups)x\(sessions)x\(men)"
        let data = "\(dir)/archive"
        if !FileManager.default.fileExists(atPath: usb + "/done") {
            try? FileManager.default.removeItem(atPath: usb)
            let start = ContinuousClock.now
            let course = try ProgrammeParser.parse(fileAt: "seeds/programmes/move.programme").get()
            let made = try SyntheticYear.write(course, to: usb, groups: groups, sessions: sessions, men: men)
            try Data().write(to: URL(fileURLWithPath: usb + "/done"))
            emit(
                String(
                    format: "made the year: %d sessions, %d events, %d reflections and answers, in %.0f s", made.sessions, made.events,
                    made.reflections, (ContinuousClock.now - start).seconds))
        }
        let files = try ArchiveImport.files(in: [usb]).filter { $0.hasSuffix(".json") }
        let exportBytes = files.reduce(0) { $0 + ((try? FileManager.default.attributesOfItem(atPath: $1)[.size] as? Int) ?? 0) }
        emit("cores: \(ProcessInfo.processInfo.activeProcessorCount); \(files.count) exports, \(exportBytes / 1_000_000) MB")

        // Import, as `halqa archive import` does (each file verified, folded and stored whole):
        // one call for the whole stick, as the command makes, or `--files-per-import` at a time.
        // Its floor: every event's signature verified on all cores, decoding not counted, 250
        // files at a time, half of them before the import and half after (alternating), so a
        // shared machine's noise falls on both alike. Wall time and this process's CPU time.
        try? FileManager.default.removeItem(atPath: data)
        let store = try TranscriptStore(folder: data)
        var floor = Spent()
        var imported = Spent()
        var events = 0
        var added = 0
        guard !files.isEmpty else { throw ValidationError("\(usb) holds no exports: remove the folder and run again to make them.") }
        let calls = BenchArchive.split(files, filesPerImport > 0 ? filesPerImport : files.count)
        var first = 0
        for (k, call) in calls.enumerated() {
            var callFloor = Spent()
            let floorChunks = BenchArchive.split(call, 250)
            // Every other chunk of 250: those of one parity before the import, the rest after.
            func floorHalf(_ parity: Int) async throws {
                for (j, chunk) in floorChunks.enumerated() where (j + k) % 2 == parity {
                    let (spent, count) = try await BenchArchive.floor(of: chunk)
                    callFloor += spent
                    events += count
                }
            }
            try await floorHalf(0)
            var refused: ImportOutcome?
            let started = ContinuousClock.now
            let callImport = await BenchArchive.measure {
                await store.importFiles(call, passphrase: AskOnce { "" }) { outcome in
                    if outcome.kind == .added { added += 1 } else { refused = outcome }
                    if calls.count == 1, outcome.kind == .added, added % 1000 == 0 {
                        progress(String(format: "%5d files stored in %.1f s", added, (ContinuousClock.now - started).seconds))
                    }
                }
            }
            try await floorHalf(1)
            floor += callFloor
            imported += callImport
            // As the archive grows: does a call cost more, next to its floor, than the one before?
            progress(
                String(
                    format: "files %5d–%5d: import %.1f s, floor %.1f s, ×%.2f (CPU ×%.2f)", first + 1, first + call.count,
                    callImport.wall, callFloor.wall, callImport.wall / callFloor.wall, callImport.cpu / callFloor.cpu))
            first += call.count
            if let refused { throw ValidationError("\(refused.file): \(refused.message)") }
        }
        emit(
            String(
                format:
                    "import (%d call%@): %d sessions, %d events in %.1f s (CPU %.1f s); verifying their signatures alone %.1f s (CPU %.1f s); ×floor %.2f (CPU ×%.2f)",
                calls.count, (calls.count == 1 ? "" : "s") as NSString, added, events, imported.wall, imported.cpu, floor.wall, floor.cpu,
                imported.wall / floor.wall, imported.cpu / floor.cpu))
        await store.checkpoint()
        let size = try FileManager.default.contentsOfDirectory(atPath: data).reduce(0) {
            $0 + ((try? FileManager.default.attributesOfItem(atPath: data + "/" + $1)[.size] as? Int) ?? 0)
        }
        emit(String(format: "archive on disk: %.0f MB (the exports: %.0f MB)", Double(size) / 1e6, Double(exportBytes) / 1e6))

        // The page's list: the first page, a group's, a page deep in the year, a week's, a language's.
        let encoder = JSONEncoder()
        let lists: [(String, ArchiveFilter, Int)] = [
            ("first page", ArchiveFilter(), 0), ("one group", ArchiveFilter(group: "G-090"), 0), ("page 100", ArchiveFilter(), 5_000),
            ("week 7, Urdu", ArchiveFilter(week: 7, language: "ur"), 0),
            ("one month", ArchiveFilter(from: "2026-03-01", to: "2026-03-31"), 0),
        ]
        for (name, filter, offset) in lists {
            var times: [Double] = []
            var total = 0
            for _ in 0..<30 {
                let start = ContinuousClock.now
                let page = try store.archive(filter, offset: offset, limit: 50)
                _ = try encoder.encode(page)
                times.append((ContinuousClock.now - start).seconds * 1000)
                total = page.total
            }
            emit(
                String(
                    format: "list %-13@ %5d sessions  p50 %6.1f ms  p95 %6.1f ms", name as NSString, total, percentile(times, 50),
                    percentile(times, 95)))
        }

        // Search: common and rare words, two-word searches, Urdu typed with Arabic letters.
        let queries = [
            "father", "anger", "silence", "ashamed sister", "village weak", "honour", "money wife", "والد", "غصے", "كمزور", "عزت",
            "بیوی پیسوں", "زما پلار", "غوسه", "کلي کمزوری", "ښوونځي", "شرمېږي", "walk", "school teacher", "listen",
        ]
        var times: [Double] = []
        var hits = 0
        var generator = SeededGenerator(seed: 7)
        for _ in 0..<searches {
            let query = queries.randomElement(using: &generator)!
            let start = ContinuousClock.now
            let found = try store.searchBySession(query)
            times.append((ContinuousClock.now - start).seconds * 1000)
            hits += found.map(\.passages.count).reduce(0, +)
        }
        emit(
            String(
                format: "search: %d searches of %d kinds, %.0f passages each on average: p50 %.1f ms, p95 %.1f ms, max %.1f ms", searches,
                queries.count, Double(hits) / Double(searches), percentile(times, 50), percentile(times, 95), times.max() ?? 0))
    }

    /// Wall time and this process's CPU time (user and system, every thread), in seconds.
    struct Spent {
        var wall = 0.0
        var cpu = 0.0

        static func += (total: inout Spent, more: Spent) {
            total.wall += more.wall
            total.cpu += more.cpu
        }

        static func + (one: Spent, other: Spent) -> Spent { Spent(wall: one.wall + other.wall, cpu: one.cpu + other.cpu) }

        static func cpuNow() -> Double {
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        }
    }

    /// `items` in runs of at most `size`.
    static func split<T>(_ items: [T], _ size: Int) -> [[T]] {
        stride(from: 0, to: items.count, by: max(1, size)).map { Array(items[$0..<min($0 + size, items.count)]) }
    }

    /// Verifying the signatures of every event of `files` alone, on all cores (the files are
    /// read and decoded first, untimed); and how many events they hold.
    static func floor(of files: [String]) async throws -> (Spent, Int) {
        let sessions = try files.map { file -> ([Event], PublicKey) in
            let transcript = try JSONDecoder().decode(Transcript.self, from: Data(contentsOf: URL(fileURLWithPath: file)))
            let decoded = try transcript.events.map { try Event(bytes: Array(Data(base64Encoded: $0)!)) }
            guard
                let room = decoded.lazy.compactMap({ event -> PublicKey? in
                    if case .sessionCreated(let created) = event.body { return created.roomKey }
                    return nil
                }).first
            else { throw ValidationError("\(file) has no session-created event") }
            return (decoded, room)
        }
        let all = sessions.flatMap { events, room in events.map { ($0, room) } }
        let spent = await measure {
            let cores = ProcessInfo.processInfo.activeProcessorCount
            DispatchQueue.concurrentPerform(iterations: cores) { part in
                for i in stride(from: part, to: all.count, by: cores) where !all[i].0.hasValidSignature(roomKey: all[i].1) {
                    fatalError("an event of the synthetic year does not verify")
                }
            }
        }
        return (spent, all.count)
    }

    /// What `work` took.
    static func measure(_ work: () async throws -> Void) async rethrows -> Spent {
        let (cpu, wall) = (Spent.cpuNow(), ContinuousClock.now)
        try await work()
        return Spent(wall: (ContinuousClock.now - wall).seconds, cpu: Spent.cpuNow() - cpu)
    }

    func percentile(_ values: [Double], _ p: Double) -> Double {
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p / 100))]
    }
}
